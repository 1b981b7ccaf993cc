"""The embedded store: one DuckDB file, Parquet in and out, queries over time windows.

Layout for a store at ``dg.duckdb``::

    dg.duckdb                     accounts, truth, exchange_truth, _meta (DuckDB tables)
    dg.duckdb.data/exchanges/     part-*.parquet: the exchange log, one part per ingested file

Exchanges are the volume (content columns of kilobytes per row), so they stay in
compressed Parquet parts that DuckDB scans in parallel; the DuckDB file exposes them as the
view ``exchanges``. Everything is queried through DuckDB. All SQL the package runs against
the store goes through :class:`Store`; analytics build SQL and hand it here.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.detection.engine import FINGERPRINT_MACRO, parquet_files
from distillguard.detection.features import exchange_signals_sql
from distillguard.errors import StoreError
from distillguard.rules import Institutional
from distillguard.schema import (
    COMPATIBLE_VERSIONS,
    EXTRA_COLUMN,
    KINDS,
    SCHEMA_VERSION,
    UNAUTHENTICATED,
    Kind,
    KindSpec,
)

_STAGING = "_staging_{kind}"
PARQUET_KINDS = frozenset({Kind.EXCHANGES})
"""Kinds stored as Parquet parts under the data directory (the rest are DuckDB tables)."""
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _duck_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    if pa.types.is_int64(t):
        return "BIGINT"
    if pa.types.is_int32(t):
        return "INTEGER"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    return "VARCHAR"


def _ddl(spec: KindSpec, table: str, *, staging: bool = False) -> str:
    cols = [f'"{f.name}" {_duck_type(f.type)}' for f in spec.fields]
    cols.append(f'"{EXTRA_COLUMN}" VARCHAR')
    if staging:
        cols.append('"_seq" BIGINT')
    elif spec.upsert:
        cols[0] += " PRIMARY KEY"
    return f'CREATE TABLE IF NOT EXISTS "{table}" ({", ".join(cols)})'


@dataclass(frozen=True)
class MergeResult:
    """What a merge from staging into a table did."""

    inserted: int
    duplicates: int
    replaced: int


class Store:
    """A DuckDB file (or ``:memory:``) holding the contract's tables.

    Use as a context manager, or call :meth:`close`::

        with Store.open("distillguard.duckdb") as store:
            store.count(Kind.EXCHANGES)
    """

    name = "duckdb"
    """The engine (:class:`~distillguard.detection.engine.Executor`) this store is."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, path: str, data_dir: Path, *, owns_data: bool
    ) -> None:
        self._con = con
        self.path = path
        self.data_dir = data_dir
        self._owns_data = owns_data
        self._spool: dict[Kind, tuple[pq.ParquetWriter, Path]] = {}

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        read_only: bool = False,
        threads: int | None = None,
        memory_limit: str | None = None,
    ) -> Store:
        target = str(path)
        if target != ":memory:":
            p = Path(target)
            if read_only and not p.exists():
                raise StoreError(
                    f"{p}: no store here (run `distillguard ingest` or `simulate` first)"
                )
            if not read_only:
                p.parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {}
        if threads is not None:
            config["threads"] = threads
        if memory_limit is not None:
            config["memory_limit"] = memory_limit
        created = target != ":memory:" and not read_only and not Path(target).exists()
        try:
            con = duckdb.connect(target, read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise StoreError(f"{target}: cannot open the store: {exc}") from exc
        if created:
            # the store holds prompts and personal data: readable by its owner only
            with contextlib.suppress(OSError):
                os.chmod(target, 0o600)
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET enable_progress_bar = false")
            con.execute(FINGERPRINT_MACRO)
        except duckdb.Error as exc:
            raise StoreError(f"{target}: cannot configure the store: {exc}") from exc
        if target == ":memory:":
            data_dir, owns = Path(tempfile.mkdtemp(prefix="distillguard-")), True
        else:
            data_dir, owns = Path(target + ".data").resolve(), False
        store = cls(con, target, data_dir, owns_data=owns)
        if not read_only:
            store._create()
        store._refresh_views()
        return store

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        for writer, path in self._spool.values():
            writer.close()
            path.unlink(missing_ok=True)
        self._spool.clear()
        self._con.close()
        if self._owns_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _create(self) -> None:
        with self._wrap("create tables"):
            self._con.execute(
                "CREATE TABLE IF NOT EXISTS _meta (key VARCHAR PRIMARY KEY, value VARCHAR)"
            )
            rows = self._con.execute(
                "SELECT value FROM _meta WHERE key='schema_version'"
            ).fetchall()
            row = rows[0] if rows else None
            if row is None:
                self._con.execute(
                    "INSERT INTO _meta VALUES ('schema_version', ?)", [SCHEMA_VERSION]
                )
            elif row[0] in COMPATIBLE_VERSIONS and row[0] != SCHEMA_VERSION:
                # the later versions only add nullable columns: the views supply them
                self._con.execute(
                    "UPDATE _meta SET value = ? WHERE key = 'schema_version'", [SCHEMA_VERSION]
                )
            elif row[0] != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: store has schema version {row[0]}, this distillguard writes "
                    f"version {SCHEMA_VERSION}"
                )
            for spec in KINDS.values():
                if spec.kind not in PARQUET_KINDS:
                    self._con.execute(_ddl(spec, spec.kind.value))
            for kind in PARQUET_KINDS:
                # the exchanges' Parquet holds prompts: only the store's owner may enter
                self._parts_dir(kind).mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                self.data_dir.chmod(0o700)

    def _parts_dir(self, kind: Kind) -> Path:
        return self.data_dir / kind.value

    def parts(self, kind: Kind = Kind.EXCHANGES) -> list[Path]:
        """The Parquet parts holding ``kind`` (empty for table-backed kinds)."""
        if kind not in PARQUET_KINDS:
            return []
        return sorted(self._parts_dir(kind).glob("part-*.parquet"))

    def _refresh_views(self, con: duckdb.DuckDBPyConnection | None = None) -> None:
        """(Re)define the views over the Parquet parts; an empty, typed view when none exist.

        Views are temporary (per connection), so a moved store keeps working."""
        con = con or self._con
        with self._wrap("define views"):
            for kind in PARQUET_KINDS:
                spec = KINDS[kind]
                cols = [*spec.fields]
                if self.parts(kind):
                    glob = str(self._parts_dir(kind) / "part-*.parquet").replace("'", "''")
                    body = self._filled(kind, f"read_parquet('{glob}', union_by_name = true)", con)
                else:
                    typed = ", ".join(
                        f'CAST(NULL AS {_duck_type(f.type)}) AS "{f.name}"' for f in cols
                    )
                    body = f'SELECT {typed}, CAST(NULL AS VARCHAR) AS "{EXTRA_COLUMN}" WHERE false'
                con.execute(f'CREATE OR REPLACE TEMP VIEW "{kind.value}" AS {body}')

    def _filled(self, kind: Kind, source: str, con: duckdb.DuckDBPyConnection) -> str:
        """``SELECT`` over ``source`` with the contract's later columns, which parts written
        under an earlier contract lack, as nulls."""
        present = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        missing = [
            f'CAST(NULL AS {_duck_type(f.type)}) AS "{f.name}"'
            for f in KINDS[kind].fields
            if f.name not in present
        ]
        return f"SELECT *{''.join(', ' + m for m in missing)} FROM {source}"

    def part_relation(self, part: Path, kind: Kind = Kind.EXCHANGES) -> str:
        """One part of ``kind`` as a relation with every contract column (for work done once
        per part)."""
        source = "read_parquet('" + str(part).replace("'", "''") + "')"
        with self._wrap(f"read {part}"):
            return f"({self._filled(kind, source, self._con)})"

    @contextlib.contextmanager
    def _wrap(self, what: str) -> Iterator[None]:
        try:
            yield
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: {what} failed: {exc}") from exc

    # -- writing ----------------------------------------------------------------------------
    def begin_load(self, kind: Kind) -> None:
        """Start a load: :meth:`stage` batches go to a spool, :meth:`finish_load` merges them."""
        spec = KINDS[kind]
        if kind in PARQUET_KINDS:
            path = self._parts_dir(kind) / f".spool-{uuid.uuid4().hex}.parquet"
            schema = spec.arrow_schema().append(pa.field("_seq", pa.int64()))
            try:
                writer = pq.ParquetWriter(
                    path,
                    schema,
                    compression="zstd",
                    compression_level=1,
                    dictionary_pagesize_limit=64 << 20,
                )
            except OSError as exc:
                raise StoreError(f"{path}: cannot write the ingest spool: {exc}") from exc
            self._spool[kind] = (writer, path)
            return
        staging = _STAGING.format(kind=kind.value)
        with self._wrap(f"prepare {kind.value} load"):
            self._con.execute(f'DROP TABLE IF EXISTS "{staging}"')
            self._con.execute(
                _ddl(spec, staging, staging=True).replace("CREATE TABLE", "CREATE TEMP TABLE")
            )

    def stage(self, kind: Kind, batch: pa.Table, first_seq: int) -> None:
        """Append validated rows (contract columns + extra) to the load's spool."""
        seq = pa.array(range(first_seq, first_seq + batch.num_rows), pa.int64())
        data = batch.append_column("_seq", seq)
        if kind in PARQUET_KINDS:
            writer, path = self._spool[kind]
            try:
                writer.write_table(data)
            except OSError as exc:
                raise StoreError(f"{path}: cannot write the ingest spool: {exc}") from exc
            return
        staging = _STAGING.format(kind=kind.value)
        with self._wrap(f"stage {kind.value}"):
            self._con.register("_dg_batch", data)
            try:
                self._con.execute(f'INSERT INTO "{staging}" SELECT * FROM _dg_batch')
            finally:
                self._con.unregister("_dg_batch")

    def finish_load(self, kind: Kind) -> MergeResult:
        """Merge the spool: first row wins for exchanges, last row wins for accounts and truth."""
        if kind in PARQUET_KINDS:
            return self._finish_parquet(kind)
        spec = KINDS[kind]
        table, staging = kind.value, _STAGING.format(kind=kind.value)
        key = spec.key
        cols = ", ".join(f'"{c}"' for c in [*spec.names, EXTRA_COLUMN])
        with self._wrap(f"merge {kind.value}"):
            staged = self._scalar(f'SELECT count(*) FROM "{staging}"')
            before = self._scalar(f'SELECT count(*) FROM "{table}"')
            if spec.upsert:
                existing = self._scalar(
                    f'SELECT count(DISTINCT s."{key}") FROM "{staging}" s '
                    f'JOIN "{table}" t ON t."{key}" = s."{key}"'
                )
                self._con.execute(
                    f'INSERT OR REPLACE INTO "{table}" SELECT {cols} FROM "{staging}" '
                    f'QUALIFY row_number() OVER (PARTITION BY "{key}" ORDER BY _seq DESC) = 1'
                )
            else:
                existing = 0
                self._con.execute(
                    f'INSERT INTO "{table}" SELECT {cols} FROM "{staging}" s '
                    f'WHERE NOT EXISTS (SELECT 1 FROM "{table}" t WHERE t."{key}" = s."{key}") '
                    f'QUALIFY row_number() OVER (PARTITION BY "{key}" ORDER BY _seq) = 1'
                )
            after = self._scalar(f'SELECT count(*) FROM "{table}"')
            self._con.execute(f'DROP TABLE "{staging}"')
        inserted = after - before
        return MergeResult(
            inserted=inserted, duplicates=staged - inserted - existing, replaced=existing
        )

    def _finish_parquet(self, kind: Kind) -> MergeResult:
        """Keep the first row of each new key (keys only are compared), then write one part."""
        writer, spool = self._spool.pop(kind)
        writer.close()
        key = KINDS[kind].key
        src = "read_parquet('" + str(spool).replace("'", "''") + "')"
        part = self._parts_dir(kind) / f"part-{uuid.uuid4().hex}.parquet"
        tmp = part.with_suffix(".tmp")
        try:
            with self._wrap(f"merge {kind.value}"):
                staged = self._scalar(f"SELECT count(*) FROM {src}")
                self._con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _keep AS SELECT min(_seq) AS _seq FROM {src} s "
                    f'WHERE NOT EXISTS (SELECT 1 FROM "{kind.value}" e WHERE e."{key}" = s."{key}") '
                    f'GROUP BY s."{key}"'
                )
                kept = self._scalar("SELECT count(*) FROM _keep")
                if kept:
                    where = "" if kept == staged else " WHERE _seq IN (SELECT _seq FROM _keep)"
                    target = str(tmp).replace("'", "''")
                    self._con.execute(
                        f"COPY (SELECT * EXCLUDE (_seq) FROM {src}{where}) TO '{target}' "
                        "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
                    )
                    tmp.rename(part)
                self._con.execute("DROP TABLE _keep")
        finally:
            spool.unlink(missing_ok=True)
            tmp.unlink(missing_ok=True)
        self._refresh_views()
        return MergeResult(inserted=kept, duplicates=staged - kept, replaced=0)

    def load_table(self, kind: Kind, table: pa.Table) -> MergeResult:
        """Stage and merge one already-validated table."""
        self.begin_load(kind)
        self.stage(kind, table, 0)
        return self.finish_load(kind)

    # -- reading ----------------------------------------------------------------------------
    def _scalar(self, sql: str, params: list[Any] | None = None) -> int:
        rows = self._con.execute(sql, params or []).fetchall()
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def count(self, kind: Kind) -> int:
        with self._wrap(f"count {kind.value}"):
            return self._scalar(f'SELECT count(*) FROM "{kind.value}"')

    def window_sql(
        self,
        kind: Kind = Kind.EXCHANGES,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        columns: list[str] | None = None,
    ) -> tuple[str, list[Any]]:
        """SQL (and parameters) selecting rows of ``kind`` with ``since <= ts < until``."""
        spec = KINDS[kind]
        allowed = {*spec.names, EXTRA_COLUMN}
        for c in columns or []:
            if c not in allowed or not _IDENT.match(c):
                raise StoreError(f"{kind.value} has no column {c!r}")
        sel = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        where, params = [], []
        time_col = (
            "ts" if kind is Kind.EXCHANGES else ("created_at" if kind is Kind.ACCOUNTS else None)
        )
        if (since or until) and time_col is None:
            raise StoreError(f"{kind.value} has no time column to window on")
        if since is not None:
            where.append(f'"{time_col}" >= ?')
            params.append(since)
        if until is not None:
            where.append(f'"{time_col}" < ?')
            params.append(until)
        sql = f'SELECT {sel} FROM "{kind.value}"' + (
            f" WHERE {' AND '.join(where)}" if where else ""
        )
        return sql, params

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Run SQL and return the result as an Arrow table."""
        with self._wrap("query"):
            return self._con.sql(sql, params=params or None).to_arrow_table()

    def query_with(
        self, sql: str, params: list[Any] | None = None, /, **tables: pa.Table
    ) -> pa.Table:
        """Run SQL (with optional ``?`` parameters) that reads the given Arrow tables by
        name; returns an Arrow table."""
        with self._wrap("query"):
            for name, table in tables.items():
                self._con.register(name, table)
            try:
                return self._con.sql(sql, params=params or None).to_arrow_table()
            finally:
                for name in tables:
                    self._con.unregister(name)

    def copy_to_parquet(self, sql: str, params: list[Any], out: str | Path) -> None:
        """Write the result of ``sql`` to one Parquet file."""
        target = str(out).replace("'", "''")
        with self._wrap(f"write {out}"):
            self._con.execute(
                f"COPY ({sql}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)", params
            )

    def parquet(self, path: str | Path) -> str:
        """A relation over a Parquet file or dataset directory."""
        return parquet_files(path)

    def write_signals(
        self,
        since: datetime | None,
        until: datetime | None,
        institutional: Institutional | None,
        out: str | Path,
    ) -> None:
        """Compute the window's per-exchange signals into one Parquet file (``scan`` reads the
        stored ones instead: :mod:`distillguard.detection.signal_store`)."""
        sql, params = exchange_signals_sql(since, until, institutional)
        self.copy_to_parquet(sql, params, out)

    def count_window(self, since: datetime | None = None, until: datetime | None = None) -> int:
        sql, params = self.window_sql(
            Kind.EXCHANGES, since=since, until=until, columns=["request_id"]
        )
        with self._wrap("count"):
            return self._scalar(f"SELECT count(*) FROM ({sql})", params)

    def read(
        self,
        kind: Kind = Kind.EXCHANGES,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        columns: list[str] | None = None,
    ) -> pa.Table:
        sql, params = self.window_sql(kind, since=since, until=until, columns=columns)
        return self.query(sql, params)

    def iter_batches(
        self,
        kind: Kind = Kind.EXCHANGES,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        columns: list[str] | None = None,
        batch_rows: int = 100_000,
    ) -> Iterator[pa.RecordBatch]:
        """Stream a window as Arrow record batches (bounded memory)."""
        sql, params = self.window_sql(kind, since=since, until=until, columns=columns)
        with self._wrap("stream"):
            cursor = self._con.cursor()  # a partly read stream must not block the store
            try:
                self._refresh_views(cursor)
                yield from cursor.sql(sql, params=params or None).to_arrow_reader(batch_rows)
            finally:
                cursor.close()

    def export_parquet(
        self,
        kind: Kind,
        out: str | Path,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """Write a window to one Parquet file; returns the row count."""
        sql, params = self.window_sql(kind, since=since, until=until)
        out_path = Path(out)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with self._wrap(f"export {kind.value} to {out_path}"):
            n = self._scalar(f"SELECT count(*) FROM ({sql})", params)
            rel = self._con.sql(sql, params=params or None)
            rel.write_parquet(str(out_path), compression="zstd")
        return n

    def summary(self) -> dict[str, Any]:
        """What the store holds: counts, time span, models, top endpoints, truth mix."""
        with self._wrap("summarise"):
            out: dict[str, Any] = {k.value: self.count(k) for k in KINDS}
            row = self._con.execute(
                "SELECT min(ts), max(ts), count(DISTINCT account_id) FILTER (WHERE account_id <> ?), "
                'sum(input_tokens), sum(output_tokens) FROM "exchanges"',
                [UNAUTHENTICATED],
            ).fetchall()[0]
            out.update(
                first_ts=row[0],
                last_ts=row[1],
                active_accounts=int(row[2] or 0),
                input_tokens=int(row[3] or 0),
                output_tokens=int(row[4] or 0),
            )
            out["models"] = self._con.execute(
                "SELECT model, count(*) n FROM exchanges GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
            ).fetchall()
            out["endpoints"] = self._con.execute(
                "SELECT endpoint, count(*) n FROM exchanges GROUP BY 1 ORDER BY 2 DESC"
            ).fetchall()
            out["truth_mix"] = self._con.execute(
                "SELECT t.label, t.persona, count(DISTINCT t.account_id), count(e.request_id) "
                "FROM truth t LEFT JOIN exchanges e USING (account_id) GROUP BY 1, 2 ORDER BY 1, 4 DESC"
            ).fetchall()
            return out
