"""Detection signals, each behind one :class:`Detector` contract.

Per-exchange text signals live here now; per-account behaviour, linking and scoring build
on them (see docs/detection.md as it grows).
"""

from distillguard.signals._contract import Detector, Reason
from distillguard.signals._patterns import PatternSignal
from distillguard.signals.detectors import EXCHANGE_DETECTORS, PatternDetector
from distillguard.signals.text import (
    CENSORSHIP_REWRITE,
    CODING,
    COT_REQUEST,
    MATH,
    PLANNING,
    RUBRIC_GRADING,
    TEXT_SIGNALS,
    TRACE_EXTRACTION,
)

__all__ = [
    "CENSORSHIP_REWRITE",
    "CODING",
    "COT_REQUEST",
    "EXCHANGE_DETECTORS",
    "MATH",
    "PLANNING",
    "RUBRIC_GRADING",
    "TEXT_SIGNALS",
    "TRACE_EXTRACTION",
    "Detector",
    "PatternDetector",
    "PatternSignal",
    "Reason",
]
