"""Per-exchange detection signals, each behind one :class:`Detector` contract (the
account-level evidence in :mod:`distillguard.detection.evidence` follows the same contract)."""

from distillguard.detection.signals._contract import Detector, Reason
from distillguard.detection.signals._patterns import PatternSignal
from distillguard.detection.signals.detectors import EXCHANGE_DETECTORS, PatternDetector
from distillguard.detection.signals.text import (
    ANSWER_FORMAT,
    CENSORSHIP_REWRITE,
    CODING,
    COT_REQUEST,
    LLM_JUDGE,
    MATH,
    PLANNING,
    RUBRIC_GRADING,
    TEXT_SIGNALS,
    TRACE_EXTRACTION,
    WITH_SYSTEM_PROMPT,
)

__all__ = [
    "ANSWER_FORMAT",
    "CENSORSHIP_REWRITE",
    "CODING",
    "COT_REQUEST",
    "EXCHANGE_DETECTORS",
    "LLM_JUDGE",
    "MATH",
    "PLANNING",
    "RUBRIC_GRADING",
    "TEXT_SIGNALS",
    "TRACE_EXTRACTION",
    "WITH_SYSTEM_PROMPT",
    "Detector",
    "PatternDetector",
    "PatternSignal",
    "Reason",
]
