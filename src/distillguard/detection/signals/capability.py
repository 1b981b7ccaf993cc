"""The capability a prompt targets: software engineering, mathematics, long-horizon planning
(agentic tool use is read from the request's tools, not its text)."""

from __future__ import annotations

from distillguard.detection.signals._patterns import PatternSignal

CODING = PatternSignal(
    "coding",
    "software engineering: code, functions, debugging",
    {
        "en": (
            r"```|\bdef \w+\(|\bfunction\s+\w+\s*\(|\bclass \w+[:(]|#include\b|\bimport \w+",
            r"\b(?:python|javascript|typescript|java|golang|rust|c\+\+|sql|bash|regex|json|html|css)\b",
            r"\b(?:implement|refactor|debug|unit tests?|compile|stack trace|bug|api endpoint|repository|pull request)\b",
            r"\bwrite (?:a |an )?(?:program|script|function|query|class|method)\b",
        ),
        "other": (r"代码|函数|编程|コード|関数|코드|함수|код[а-яё]*|funci[oó]n|fonction|Funktion",),
    },
)

MATH = PatternSignal(
    "math",
    "mathematics and quantitative word problems",
    {
        "en": (
            r"\b(?:how many|how much|what is the (?:total|sum|product|probability|value))\b",
            r"\b(?:solve|prove|equation|integral|derivative|theorem|probability|percent|fraction)\b",
            r"\d+\s*[-+*/^×÷=]\s*\d+",
        ),
        "other": (
            r"多少|几个|いくつ|いくら|몇\s*(?:개|명)|얼마|сколько|cu[aá]nt[oa]s?|combien|wie\s+viel",
        ),
    },
)

PLANNING = PatternSignal(
    "planning",
    "long-horizon planning and task decomposition",
    {
        "en": (
            r"\b(?:break (?:down|into)|decompose)\b[^.\n]*\b(?:steps|subtasks|milestones|plan)\b",
            r"\b(?:multi-step|\d+-step|step-by-step|execution|project) plan\b",
            r"\bmilestones?\b[^.\n]*\bdependenc",
        ),
    },
)
