"""The one contract every detector follows (river / scikit-learn habits).

- ``__init__`` only stores parameters; anything learned by :meth:`Detector.fit` ends in ``_``.
- :meth:`Detector.score` returns one float in [0, 1] per row of its input, deterministically,
  without mutating the input.
- :meth:`Detector.explain` says, for one row, which signal fired, its value and the
  population baseline it was compared with, so an analyst can defend a decision.
- :meth:`Detector.sql` (optional) gives the same score as a SQL expression, so the
  event-level work can run inside DuckDB (or another SQL engine) at scale.

A shared test (``tests/test_detector_contract.py``) runs every registered detector through
the same checks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Literal, Self

import pyarrow as pa

Level = Literal["exchange", "account"]


@dataclass(frozen=True)
class Reason:
    """One piece of evidence: the signal, its value here, and the population baseline."""

    signal: str
    value: float
    baseline: float
    detail: str

    def text(self) -> str:
        return f"{self.signal} = {self.value:.3g} (population {self.baseline:.3g}): {self.detail}"


class Detector(ABC):
    """Base class of every detector. Subclasses set ``name``, ``level`` and ``columns`` (as
    class attributes, or per instance when one class serves several configured items)."""

    name: str
    level: Level
    columns: tuple[str, ...]
    """Input columns the detector reads."""

    def fit(self, table: pa.Table) -> Self:
        """Learn population baselines from ``table``; the default learns nothing."""
        return self

    @abstractmethod
    def score(self, table: pa.Table) -> pa.Array:
        """One float in [0, 1] per row of ``table``."""

    @abstractmethod
    def explain(self, table: pa.Table, row: int) -> Reason:
        """Why row ``row`` scored as it did."""

    def sql(self) -> str | None:
        """The score as a SQL expression over :attr:`columns`, when the engine can compute it."""
        return None
