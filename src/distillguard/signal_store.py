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
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from distillguard._files import write_private
from distillguard.features import exchange_signals_sql, window_terms
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
