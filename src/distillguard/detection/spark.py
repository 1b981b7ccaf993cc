"""The detection pipeline's exchange-level SQL on Apache Spark (the ``[spark]`` extra).

:func:`spark_sql` translates the stage builders' SQL (written once, in DuckDB's dialect; see
:mod:`distillguard.detection.engine`) to Spark SQL with sqlglot, plus the rewrites that keep results
identical across engines:

- the fingerprint function (:data:`~distillguard.detection.engine.FINGERPRINT`) spelled out as
  ``CAST(conv(left(md5(x), 15), 16, 10) AS BIGINT)``, DuckDB's macro exactly;
- ``epoch(ts)`` as ``unix_micros(ts) / 1e6`` (sqlglot's ``unix_timestamp`` drops the
  fraction of a second);
- ``arg_max(v, (c, v))`` as ``max_by(v, struct(c, v))`` and ``mode(x ORDER BY x)`` as
  ``mode(x, true)``: ties broken the same way;
- ``quantile_cont`` as Spark's exact ``percentile``;
- ``count(DISTINCT x)`` as ``size(collect_set(x))``, the same count without Spark's row
  expansion per distinct aggregate;
- regular expressions with Java's ``(?u)`` flag, so that ``(?i)`` folds case beyond ASCII as
  RE2 does;
- ``?`` parameters as literals.

The per-exchange signals are not translated: :meth:`SparkExecutor.write_signals` runs their
SQL in DuckDB inside each Spark task, over the task's Arrow batches. The detectors' regular
expressions are RE2's, which DuckDB embeds and Java's engine is not: Java backtracks through
their thousands of alternatives at every position (a second per thousand prompts) and its
``\\b`` and case folding differ from RE2's. So this stage means exactly what it means on
DuckDB, and the later stages (aggregations over the signals) are translated.

:class:`SparkExecutor` runs it: ``exchanges`` is a Parquet path or object-store URI (a store's
exchange parts, ``s3a://…``), ``accounts`` an Arrow table or Parquet URI; results come back
as Arrow tables, and large ones (the per-exchange signals) are written as Parquet datasets.
docs/scale.md describes a cluster run.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from distillguard._extras import require
from distillguard.detection.engine import FINGERPRINT, FINGERPRINT_MACRO
from distillguard.detection.features import exchange_signals_sql, window_terms
from distillguard.errors import ConfigError, StoreError
from distillguard.rules import Institutional
from distillguard.schema import KINDS, Kind

DEFAULT_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.parquet.compression.codec": "zstd",
    # UTC microseconds, as the contract and DuckDB write them (Spark's default is INT96)
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.adaptive.enabled": "true",
    # the scan makes no tables: no spark-warehouse directory in the user's working directory
    "spark.sql.warehouse.dir": str(Path(tempfile.gettempdir()) / "distillguard-spark-warehouse"),
}
"""Settings every session gets (UTC is required: hours and days are UTC on every engine, and
signal files keep UTC microseconds); the config file's ``spark.conf`` adds to or overrides the
others."""


_SESSION_CONF = (
    "spark.sql.session.timeZone",
    "spark.sql.parquet.compression.codec",
    "spark.sql.parquet.outputTimestampType",
)
"""The settings the findings depend on, which a session already running takes."""


def _translate(sql: str, params: list[Any] | None) -> Any:
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")
    values = iter(params or [])

    def literal(value: Any) -> exp.Expression:
        if value is None:
            return exp.Null()
        if isinstance(value, bool):
            return exp.Boolean(this=value)
        if isinstance(value, datetime):
            utc = value.astimezone(UTC) if value.tzinfo else value
            text = utc.strftime("%Y-%m-%d %H:%M:%S.%f")
            return exp.cast(exp.Literal.string(text), "TIMESTAMP")
        if isinstance(value, int | float):
            return exp.Literal.number(value)
        return exp.Literal.string(str(value))

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder):
            try:
                return literal(next(values))
            except StopIteration:
                raise StoreError("spark: fewer parameters than placeholders") from None
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == FINGERPRINT:
            (arg,) = node.expressions
            md5 = exp.Anonymous(this="md5", expressions=[exp.cast(arg, "STRING")])
            left = exp.Anonymous(this="left", expressions=[md5, exp.Literal.number(15)])
            conv = exp.Anonymous(
                this="conv", expressions=[left, exp.Literal.number(16), exp.Literal.number(10)]
            )
            return exp.cast(conv, "BIGINT")
        if isinstance(node, exp.Anonymous) and str(node.this).lower() == "epoch_us":
            return exp.Anonymous(this="unix_micros", expressions=list(node.expressions))
        if isinstance(node, exp.TimeToUnix):
            micros = exp.Anonymous(this="unix_micros", expressions=[node.this])
            return exp.Paren(this=exp.Div(this=micros, expression=exp.Literal.number("1e6")))
        if isinstance(node, exp.ArgMax | exp.ArgMin) and isinstance(node.expression, exp.Tuple):
            fields = node.expression.expressions
            node.set("expression", exp.Anonymous(this="struct", expressions=list(fields)))
            return node
        if isinstance(node, exp.Mode) and isinstance(node.this, exp.Order):
            return exp.Anonymous(this="mode", expressions=[node.this.this, exp.true()])
        if isinstance(node, exp.Filter) and _distinct_count(node.this):
            # the filter moves inside: size(collect_set(x) FILTER (WHERE …))
            inner = node.this.this.expressions[0]
            filtered = exp.Filter(
                this=exp.Anonymous(this="collect_set", expressions=[inner]),
                expression=node.expression,
            )
            return exp.Anonymous(this="size", expressions=[filtered])
        if _distinct_count(node) and not isinstance(node.parent, exp.Filter):
            collected = exp.Anonymous(this="collect_set", expressions=[node.this.expressions[0]])
            return exp.Anonymous(this="size", expressions=[collected])
        if isinstance(node, exp.PercentileCont):
            return exp.Anonymous(this="percentile", expressions=[node.this, node.expression])
        if isinstance(node, exp.CTE):
            node.set("materialized", None)
            return node
        if isinstance(node, exp.RegexpLike) and isinstance(node.expression, exp.Literal):
            node.set("expression", exp.Literal.string("(?u)" + node.expression.this))
            return node
        return node

    tree = tree.transform(rewrite)
    if next(values, _END) is not _END:
        raise StoreError("spark: more parameters than placeholders")
    return tree


_END = object()


def _distinct_count(node: Any) -> bool:
    """``count(DISTINCT x)`` of one expression: Spark expands the rows once per distinct
    aggregate of a query to count them; ``size(collect_set(x))`` (also without NULLs) does
    not."""
    from sqlglot import exp

    return (
        isinstance(node, exp.Count)
        and isinstance(node.this, exp.Distinct)
        and len(node.this.expressions) == 1
        and not isinstance(node.this.expressions[0], exp.Tuple)
    )


def spark_sql(sql: str, params: list[Any] | None = None) -> str:
    """``sql`` (DuckDB dialect, ``?`` parameters) as Spark SQL with the parameters inlined."""
    return str(_translate(sql, params).sql(dialect="spark"))


def _local_partitions(master: str) -> dict[str, str]:
    """On ``local[N]``, shuffles into 2N partitions: Spark's default of 200 is sized for
    clusters, and on a few local cores its per-task cost dominates."""
    match = re.fullmatch(r"local\[(\d+|\*)(?:,\s*\d+)?\]|local", master.strip())
    if match is None:
        return {}
    cores = match.group(1) if match.group(1) not in (None, "*") else str(os.cpu_count() or 1)
    return {"spark.sql.shuffle.partitions": str(max(4, 2 * int(cores)))}


def _columns(sql: str) -> set[str]:
    """The exchange contract's columns that ``sql`` names."""
    import sqlglot
    from sqlglot import exp

    named = {c.name for c in sqlglot.parse_one(sql, read="duckdb").find_all(exp.Column)}
    return named & {f.name for f in KINDS[Kind.EXCHANGES].fields}


def _connect() -> Any:
    import duckdb

    con = duckdb.connect(config={"threads": 1})  # one per Spark task: the task is the unit
    con.execute("SET TimeZone = 'UTC'")
    con.execute(FINGERPRINT_MACRO)
    return con


def _signals(batch: pa.Table, sql: str, params: list[Any], con: Any = None) -> pa.Table:
    con = con or _connect()
    con.register("_batch", batch)
    try:
        return con.sql(sql, params=params or None).to_arrow_table()
    finally:
        con.unregister("_batch")


def _signals_of_batches(
    batches: Iterator[pa.RecordBatch], *, sql: str, params: list[Any], schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """A Spark task's signals: the signal SQL run in DuckDB over each Arrow batch."""
    con = _connect()
    for batch in batches:
        table = _signals(pa.Table.from_batches([batch]), sql, params, con).cast(schema)
        yield from table.to_batches()


def _run(what: str, job: Callable[[], Any]) -> Any:
    """Run a Spark job; its failure (a task's error, a path it cannot write) as a
    :class:`StoreError` naming what failed, with the first line of Spark's message."""
    try:
        return job()
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"spark: {what} failed: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    """The first non-blank line of an error's message (Spark's run to pages)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _spark_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "TIMESTAMP"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "STRING"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        return "BIGINT" if t.bit_width > 32 else "INT"
    if pa.types.is_floating(t):
        return "DOUBLE"
    return "STRING"


class SparkExecutor:
    """An :class:`~distillguard.detection.engine.Executor` on a Spark session.

    Use :meth:`open` (it starts the session) as a context manager::

        with SparkExecutor.open("data/exchanges/", accounts, master="local[2]") as spark:
            scan(store, rules, "findings", engine=spark)
    """

    name = "spark"

    def __init__(self, session: Any, exchanges: str, accounts: pa.Table | str) -> None:
        self.session = session
        self._define("exchanges", session.read.option("pathGlobFilter", "*.parquet"), exchanges)
        if isinstance(accounts, pa.Table):
            self._register("accounts", accounts)
        else:
            self._define("accounts", session.read, accounts)

    @classmethod
    @contextmanager
    def open(
        cls,
        exchanges: str,
        accounts: pa.Table | str,
        *,
        master: str = "local[*]",
        conf: Mapping[str, str] | None = None,
    ) -> Iterator[SparkExecutor]:
        """Start a Spark session on ``master`` with :data:`DEFAULT_CONF` and ``conf``, and
        stop it on exit; or join the session already running in this process (under
        ``spark-submit``, or a notebook's), and leave it running."""
        require("spark", "scan --engine spark")
        from pyspark.sql import SparkSession

        running = SparkSession.getActiveSession()
        if running is not None:
            for key in _SESSION_CONF:  # the settings a running session takes
                running.conf.set(key, DEFAULT_CONF[key])
            yield cls(running, exchanges, accounts)
            return

        # Python workers run this interpreter (which has distillguard and RE2)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder.master(master).appName("distillguard")
        settings = {**DEFAULT_CONF, **_local_partitions(master), **(conf or {})}
        for key, value in settings.items():
            builder = builder.config(key, value)
        # the JVM inherits this process's umask: files it writes (findings) owner-only
        old = os.umask(0o077)
        try:
            session = builder.getOrCreate()
        except Exception as exc:
            raise ConfigError(f"spark: cannot start a session on {master}: {exc}") from exc
        finally:
            os.umask(old)
        try:
            yield cls(session, exchanges, accounts)
        finally:
            session.stop()

    def _define(self, name: str, reader: Any, uri: str) -> None:
        """``name`` as a view over the Parquet at ``uri``, with the contract's later columns
        that older files lack as nulls."""
        try:
            frame = reader.parquet(uri)
        except Exception as exc:
            raise StoreError(f"spark: cannot read {name} from {uri}: {exc}") from exc
        present = set(frame.columns)
        schema = KINDS[Kind(name)].arrow_schema(with_extra=False)
        missing = [
            f"CAST(NULL AS {_spark_type(f.type)}) AS `{f.name}`"
            for f in schema
            if f.name not in present
        ]
        if missing:
            frame = frame.selectExpr("*", *missing)
        frame.createOrReplaceTempView(name)

    def _register(self, name: str, table: pa.Table) -> None:
        frame = self.session.createDataFrame(table)
        frame.createOrReplaceTempView(name)

    def _frame(self, sql: str, params: list[Any] | None) -> Any:
        text = spark_sql(sql, params)
        try:
            return self.session.sql(text)
        except Exception as exc:
            raise StoreError(f"spark: query failed: {_first_line(exc)}\n{text[:2000]}") from exc

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        return self.query_with(sql, params)

    def query_with(
        self, sql: str, params: list[Any] | None = None, /, **tables: pa.Table
    ) -> pa.Table:
        for name, table in tables.items():
            self._register(name, table)
        try:
            result: pa.Table = _run("query", lambda: self._frame(sql, params).toArrow())
        finally:
            for name in tables:
                self.session.catalog.dropTempView(name)
        # as DuckDB returns them: every column nullable, counts and ranks 64-bit
        fields = [
            pa.field(f.name, pa.int64() if pa.types.is_int32(f.type) else f.type)
            for f in result.schema
        ]
        return result.cast(pa.schema(fields))

    def copy_to_parquet(self, sql: str, params: list[Any], out: str | Path) -> None:
        """Write the result as a Parquet dataset directory at ``out``."""
        frame = self._frame(sql, params)
        _run(f"writing {out}", lambda: frame.write.mode("overwrite").parquet(str(out)))

    def parquet(self, path: str | Path) -> str:
        return "read_parquet('" + str(path).replace("'", "''") + "')"

    def write_signals(
        self,
        since: datetime | None,
        until: datetime | None,
        institutional: Institutional | None,
        out: str | Path,
    ) -> None:
        """The per-exchange signals of ``[since, until)`` as a Parquet dataset at ``out``:
        Spark reads the window's exchanges and each task runs the signal SQL in DuckDB over
        its Arrow batches."""
        from pyspark.sql.pandas.types import from_arrow_schema

        frame = self._exchanges(since, until)
        sql, params = exchange_signals_sql(None, None, institutional, source="_batch")
        # only the columns the signals read cross from the JVM to the tasks' Python
        used = _columns(sql)
        frame = frame.select(*[c for c in frame.columns if c in used])
        # the signals' schema: the SQL run on no rows of the batches' own Arrow types
        empty = _run("reading the exchanges' schema", lambda: frame.limit(0).toArrow())
        schema = _signals(empty, sql, params).schema
        signals = frame.mapInArrow(
            functools.partial(_signals_of_batches, sql=sql, params=params, schema=schema),
            from_arrow_schema(schema, prefer_timestamp_ntz=False),
        )
        _run(f"writing {out}", lambda: signals.write.mode("overwrite").parquet(str(out)))

    def count_window(self, since: datetime | None = None, until: datetime | None = None) -> int:
        frame = self._exchanges(since, until)
        return int(_run("counting the exchanges", frame.count))

    def _exchanges(self, since: datetime | None, until: datetime | None) -> Any:
        """The exchanges in ``[since, until)``, as a DataFrame."""
        terms, values = window_terms(since, until)
        where = " WHERE " + " AND ".join(terms) if terms else ""
        return self._frame(f"SELECT * FROM exchanges{where}", values)
