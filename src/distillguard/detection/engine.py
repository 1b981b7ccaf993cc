"""The seam between the detection pipeline and the engine that runs its exchange-level SQL.

The pipeline's stage builders (:mod:`.features`, :mod:`.campaign_tables`,
:mod:`.findings_writer`) write their SQL once, in DuckDB's dialect, restricted to what another
engine can express: fingerprints through :data:`FINGERPRINT` rather than DuckDB's ``hash()``,
explicit column lists rather than ``* EXCLUDE``, epoch buckets rather than ``time_bucket``.
An :class:`Executor` runs that SQL: :class:`~distillguard.store.Store` on DuckDB as written,
:class:`.spark.SparkExecutor` on Apache Spark after :func:`.spark.spark_sql` translates it
(sqlglot). Account-level work (attributes, graph, scoring, findings) reads the small
aggregated tables in one process, on DuckDB. Reports, intel and ``evaluate``'s baselines
query through the same seam.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

if TYPE_CHECKING:
    from distillguard.rules import Institutional

FINGERPRINT = "dg_fingerprint"
"""A 60-bit fingerprint of a string, the same on every engine: the first 15 hex digits of its
MD5 as a non-negative BIGINT (NULL for NULL). DuckDB defines it as a macro on every store
connection (:data:`FINGERPRINT_MACRO`); Spark's translation spells it out."""

FINGERPRINT_MACRO = (
    f"CREATE OR REPLACE TEMP MACRO {FINGERPRINT}(x) AS "
    "CAST('0x' || left(md5(CAST(x AS VARCHAR)), 15) AS BIGINT)"
)


def fingerprint(expr: str) -> str:
    """SQL for the fingerprint of ``expr``."""
    return f"{FINGERPRINT}({expr})"


class Executor(Protocol):
    """What the pipeline needs from an engine. ``exchanges`` and ``accounts`` are relations
    with the contract's columns; Arrow tables passed by name are readable as relations for
    one query."""

    name: str

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table: ...

    def query_with(
        self, sql: str, params: list[Any] | None = None, /, **tables: pa.Table
    ) -> pa.Table: ...

    def copy_to_parquet(self, sql: str, params: list[Any], out: str | Path) -> None:
        """Write the result to ``out``: one Parquet file (DuckDB) or a Parquet dataset
        directory (Spark); :func:`parquet_files` reads either."""

    def parquet(self, path: str | Path) -> str:
        """A relation over a Parquet file or dataset directory written by
        :meth:`copy_to_parquet`."""

    def count_window(self, since: datetime | None = None, until: datetime | None = None) -> int: ...

    def write_signals(
        self,
        since: datetime | None,
        until: datetime | None,
        institutional: Institutional | None,
        out: str | Path,
    ) -> None:
        """Compute the per-exchange signals of ``[since, until)``
        (:func:`~distillguard.detection.features.exchange_signals_sql`) into ``out``, as
        :meth:`copy_to_parquet` writes."""


def parquet_files(path: str | Path) -> str:
    """DuckDB's relation over a Parquet file, or over every part of a dataset directory."""
    p = Path(path)
    target = str(p / "*.parquet") if p.is_dir() else str(p)
    return "read_parquet('" + target.replace("'", "''") + "')"
