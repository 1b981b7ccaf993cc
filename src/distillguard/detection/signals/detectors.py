"""Per-exchange text detectors over the prompt (and system prompt) of each request."""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc

from distillguard.detection.signals._contract import Detector, Level, Reason
from distillguard.detection.signals._patterns import PatternSignal
from distillguard.detection.signals.text import TEXT_SIGNALS


class PatternDetector(Detector):
    """Scores 1.0 where the pattern signal matches ``column``, else 0.0."""

    level: Level = "exchange"
    signal: ClassVar[PatternSignal]
    columns: tuple[str, ...] = ("prompt",)

    def __init__(self, column: str = "prompt") -> None:
        self.column = column

    def fit(self, table: pa.Table) -> PatternDetector:
        """Learn the population rate (the baseline shown in explanations)."""
        scores = self.score(table)
        self.rate_ = float(pc.mean(scores).as_py() or 0.0) if len(scores) else 0.0
        return self

    def score(self, table: pa.Table) -> pa.Array:
        text = table.column(self.column)
        hit = pc.fill_null(pc.match_substring_regex(text, self.signal.regex()), False)
        excluded = self.signal.exclude_regex()
        if excluded is not None:
            unless = pc.fill_null(pc.match_substring_regex(text, excluded), False)
            hit = pc.and_(hit, pc.invert(unless))
        return pc.cast(hit, pa.float64())

    def explain(self, table: pa.Table, row: int) -> Reason:
        text = table.column(self.column)[row].as_py()
        found = self.signal.explain(text)
        detail = (
            "; ".join(f"{lang}: {frag[:60]!r}" for lang, frag in found[:3])
            if found
            else f"no {self.signal.description} pattern"
        )
        return Reason(self.name, 1.0 if found else 0.0, getattr(self, "rate_", 0.0), detail)

    def sql(self) -> str:
        return f"CAST({self.signal.sql(self.column)} AS DOUBLE)"


def _pattern(signal: PatternSignal) -> type[PatternDetector]:
    return type(
        f"{signal.name.title().replace('_', '')}Detector",
        (PatternDetector,),
        {"name": signal.name, "signal": signal, "__doc__": f"Fires on {signal.description}."},
    )


EXCHANGE_DETECTORS: tuple[type[Detector], ...] = tuple(_pattern(s) for s in TEXT_SIGNALS)
"""One detector class per text signal (``TraceExtractionDetector``, ``LlmJudgeDetector``, …)."""
