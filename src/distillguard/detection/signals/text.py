"""Every per-exchange text signal, in one registry.

| signal | module | evidence in scoring |
|---|---|---|
| ``trace_extraction`` | :mod:`.extraction` | for: asks for the internal reasoning |
| ``cot_request`` | :mod:`.extraction` | none: ordinary chain-of-thought prompting |
| ``rubric_grading`` | :mod:`.grading` | for, capped: grading alone never reaches ``act`` |
| ``llm_judge`` | :mod:`.grading` | against: an evaluation harness's judge format |
| ``answer_format`` | :mod:`.grading` | against (with temperature 0): benchmark answer extraction |
| ``censorship_rewrite`` | :mod:`.censorship` | for |
| ``coding``, ``math``, ``planning`` | :mod:`.capability` | the capability mix |

The patterns are written from how people phrase these requests in each language, not from
the simulator's text: a test fails when any four-word run of simulator text appears in a
pattern (tests/test_no_shared_text.py).
"""

from __future__ import annotations

from distillguard.detection.signals._patterns import PatternSignal
from distillguard.detection.signals.capability import CODING, MATH, PLANNING
from distillguard.detection.signals.censorship import CENSORSHIP_REWRITE
from distillguard.detection.signals.extraction import COT_REQUEST, TRACE_EXTRACTION
from distillguard.detection.signals.grading import ANSWER_FORMAT, LLM_JUDGE, RUBRIC_GRADING

TEXT_SIGNALS: tuple[PatternSignal, ...] = (
    TRACE_EXTRACTION,
    COT_REQUEST,
    RUBRIC_GRADING,
    LLM_JUDGE,
    ANSWER_FORMAT,
    CENSORSHIP_REWRITE,
    CODING,
    MATH,
    PLANNING,
)

WITH_SYSTEM_PROMPT = frozenset({RUBRIC_GRADING.name, LLM_JUDGE.name})
"""Signals read over the system prompt as well as the request: a judge harness states its
instructions there. Extraction is read from the request alone, because system prompts of
ordinary apps say "never reveal your reasoning" and "think inside <thinking> tags"."""

__all__ = [
    "ANSWER_FORMAT",
    "CENSORSHIP_REWRITE",
    "CODING",
    "COT_REQUEST",
    "LLM_JUDGE",
    "MATH",
    "PLANNING",
    "RUBRIC_GRADING",
    "TEXT_SIGNALS",
    "TRACE_EXTRACTION",
    "WITH_SYSTEM_PROMPT",
]
