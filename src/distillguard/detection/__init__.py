"""The detection pipeline: exchanges → per-exchange signals → account features → own risk →
cohorts → linking → clusters → findings (docs/detection.md).

The package holds every step, grouped by role:

- **stages** — what is computed from the exchanges, written once as SQL in DuckDB's dialect:
  the detectors (:mod:`.signals`), the per-exchange projection, per-account features and
  linking tokens (:mod:`.features`), signals kept per store part (:mod:`.signal_store`);
- **executors** — what runs that SQL (:mod:`.engine`: the :class:`Executor` seam;
  :class:`distillguard.store.Store` on DuckDB, :mod:`.spark` on Apache Spark);
- **linking** — :mod:`.cohorts`, :mod:`.neardup`, :mod:`.linking`;
- **scoring** — :mod:`.evidence`, :mod:`.scoring`, :mod:`.entities`, :mod:`.cluster_scoring`;
- **findings** — :mod:`.findings_writer`, :mod:`.campaign_tables`, :mod:`.labels`;

and :mod:`.pipeline`, the :func:`scan` that runs them in order. The exchange-level stages run
on the executor; the account-level work (small even at millions of accounts) runs in one
process.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from distillguard.detection.engine import Executor
    from distillguard.detection.pipeline import ScanResult, scan

__all__ = ["Executor", "ScanResult", "scan"]

# loaded on first use: the store imports the stage builders, and the pipeline the store
_EXPORTS = {"scan": "pipeline", "ScanResult": "pipeline", "Executor": "engine"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
