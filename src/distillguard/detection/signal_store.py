"""Per-exchange signals computed once per store part and kept beside it.

Matching every detector's regular expressions is most of a scan's cost. A store's exchange
parts never change once written (ingest adds new parts), so each part's signals are
computed once and kept in ``<db>.data/signals/<version>/<part name>``; scans and ``watch``
rounds then read them and aggregate. ``version`` is a hash of the signal SQL itself (every
detector's patterns, the fingerprint rules and the institutional-network rule): change any of
them and the signals are recomputed on the next ingest or scan; another version's files are
removed once unused for a day, and the signals of an exchange part that no longer exists are
removed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from distillguard._files import write_private, write_private_dir
from distillguard.detection.features import exchange_signals_sql, window_terms
from distillguard.rules import Institutional
from distillguard.schema import Kind
from distillguard.store import Store

SIGNALS_DIR = "signals"
STALE_S = 86_400.0
"""Another version's signals unused this long are removed."""
_PART = "__part__"


def signal_version(institutional: Institutional | None) -> str:
    """A hash of the per-exchange signal SQL (detectors, fingerprints, institutional rule)."""
    sql, params = exchange_signals_sql(None, None, institutional, source=_PART)
    return hashlib.sha256(repr((sql, params)).encode()).hexdigest()[:16]


def ensure_signals(
    store: Store,
    institutional: Institutional | None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Compute the signals of every exchange part that has none under the current version;
    returns the signal files of all parts, in part order. ``progress(done, total)`` is
    called after each computed part."""
    version = signal_version(institutional)
    root = store.data_dir / SIGNALS_DIR
    folder = root / version
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    now = time.time()
    for stale in root.iterdir():
        # another version untouched for a day: rules changed (a scan running meanwhile with
        # other rules keeps its own version's files fresh)
        if stale.is_dir() and stale.name != version and now - stale.stat().st_mtime > STALE_S:
            shutil.rmtree(stale, ignore_errors=True)
    folder.touch()
    parts = store.parts(Kind.EXCHANGES)
    names = {part.name for part in parts}
    for orphan in folder.glob("part-*.parquet"):
        if orphan.name not in names:  # its exchange part was removed
            orphan.unlink(missing_ok=True)
    wanted = [(part, folder / part.name) for part in parts]
    todo = [(part, out) for part, out in wanted if not out.is_file()]
    for i, (part, out) in enumerate(todo, start=1):
        sql, params = exchange_signals_sql(None, None, institutional, store.part_relation(part))

        def write(tmp: Path, sql: str = sql, params: list[object] = params) -> None:
            store.copy_to_parquet(sql, params, tmp)

        write_private(out, write)
        if progress:
            progress(i, len(todo))
    return [out for _, out in wanted]


def signals_relation(
    files: list[Path], since: datetime | None, until: datetime | None
) -> tuple[str, list[object]]:
    """The stored signals of ``files`` in ``[since, until)``, as SQL and parameters."""
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    where, params = window_terms(since, until)
    sql = f"SELECT * FROM read_parquet([{listed}])" + (
        " WHERE " + " AND ".join(where) if where else ""
    )
    return sql, params


def _ts_range(file: Path) -> tuple[datetime, datetime] | None:
    """The earliest and latest ``ts`` in a signal file, from its Parquet statistics (``None``
    for an empty file or one written without them)."""
    meta = pq.ParquetFile(file).metadata
    column = meta.schema.to_arrow_schema().get_field_index("ts")
    lows: list[datetime] = []
    highs: list[datetime] = []
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(column).statistics
        if meta.row_group(g).num_rows == 0:
            continue
        if stats is None or not stats.has_min_max:
            return None
        lows.append(_as_utc(stats.min))
        highs.append(_as_utc(stats.max))
    return (min(lows), max(highs)) if lows else None


def _as_utc(t: datetime) -> datetime:
    """A naive time is UTC, as the store's session reads it."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _utc(t: datetime | None) -> datetime | None:
    return None if t is None else _as_utc(t)


def export_window(
    store: Store,
    files: list[Path],
    since: datetime | None,
    until: datetime | None,
    out: Path,
) -> None:
    """The stored signals of ``files`` in ``[since, until)`` as a Parquet dataset directory
    at ``out`` (owner-only, replacing whatever ``out`` held).

    A file wholly inside the window is hard-linked (copied when ``out`` is on another file
    system or linking is refused); a file partly inside it is filtered into a new file; a
    file outside it is left out. A whole-store scan so costs no copy at all."""
    low, high = _utc(since), _utc(until)

    def fill(tmp: Path) -> None:
        written = 0
        for i, file in enumerate(files):
            span = _ts_range(file)
            target = tmp / f"part-{i:05d}.parquet"
            if span is not None and (
                (low is not None and span[1] < low) or (high is not None and span[0] >= high)
            ):
                continue
            if (
                span is not None
                and (low is None or span[0] >= low)
                and (high is None or span[1] < high)
            ):
                _link_or_copy(file, target)
            else:
                _filter(store, file, since, until, target)
            written += 1
        if not written and files:  # nothing in the window: an empty file keeps the schema
            _filter(store, files[0], since, until, tmp / "part-00000.parquet")

    write_private_dir(out, fill)


def _filter(
    store: Store, file: Path, since: datetime | None, until: datetime | None, target: Path
) -> None:
    """The rows of a signal file in ``[since, until)``, into an owner-only ``target``."""
    sql, params = signals_relation([file], since, until)

    def copy(path: Path) -> None:
        store.copy_to_parquet(sql, params, path)

    write_private(target, copy)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or a file this user may not link
        write_private(target, lambda p: shutil.copyfile(source, p))
    else:
        if target.stat().st_mode & 0o077:  # kept signals are owner-only; keep it so
            write_private(target, lambda p: shutil.copyfile(source, p))
