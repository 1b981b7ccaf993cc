"""Per-exchange signals computed once per store part: kept, reused, recomputed when the rules
change, and what a scan reads equals the signals computed from the store directly."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import distillguard as dg
from distillguard.detection.features import exchange_signals_sql
from distillguard.detection.signal_store import (
    STALE_S,
    ensure_signals,
    export_window,
    signal_version,
    signals_relation,
)
from distillguard.rules import Institutional
from distillguard.schema import Kind


def _halves(tmp_path: Path, *, by_time: bool) -> tuple[Path, Path, Path]:
    """A simulated month's accounts file and its exchanges split in two halves (in file
    order, or the earlier and the later half of the traffic)."""
    sim = tmp_path / "sim"
    dg.simulate("mixed", 4_000, 5, sim)
    exchanges = pq.read_table(sorted((sim / "exchanges").rglob("*.parquet")))
    if by_time:
        exchanges = exchanges.sort_by("ts")
    half = exchanges.num_rows // 2
    pq.write_table(exchanges.slice(0, half), tmp_path / "first.parquet")
    pq.write_table(exchanges.slice(half), tmp_path / "second.parquet")
    return sim / "accounts.parquet", tmp_path / "first.parquet", tmp_path / "second.parquet"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[dg.Store]:
    accounts, first, _ = _halves(tmp_path, by_time=False)
    settings = dg.load_settings(db=tmp_path / "dg.duckdb", progress=False)
    with dg.Store.open(settings.db) as s:
        dg.ingest_files([accounts, first], "native", s, settings)
        yield s


def test_each_part_is_computed_once_and_kept_private(store: dg.Store) -> None:
    calls: list[tuple[int, int]] = []
    files = ensure_signals(store, None, progress=lambda d, t: calls.append((d, t)))
    parts = store.parts(Kind.EXCHANGES)
    assert [f.name for f in files] == [p.name for p in parts]
    assert calls[-1] == (len(parts), len(parts))
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    stamps = [f.stat().st_mtime_ns for f in files]
    again: list[tuple[int, int]] = []
    assert ensure_signals(store, None, progress=lambda d, t: again.append((d, t))) == files
    assert again == [] and [f.stat().st_mtime_ns for f in files] == stamps


def test_a_new_part_is_the_only_one_computed(store: dg.Store, tmp_path: Path) -> None:
    ensure_signals(store, None)
    settings = dg.load_settings(db=Path(store.path), progress=False)
    dg.ingest_files([tmp_path / "second.parquet"], "native", store, settings)
    calls: list[tuple[int, int]] = []
    out = ensure_signals(store, None, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 1)] and len(out) == len(store.parts(Kind.EXCHANGES))


def test_a_rule_change_is_a_new_version_and_old_ones_age_out(store: dg.Store) -> None:
    ensure_signals(store, None)
    rule = Institutional(asn_org_pattern="university", asns=[64500])
    assert signal_version(rule) != signal_version(None)
    root = store.data_dir / "signals"
    old = root / signal_version(None)
    files = ensure_signals(store, rule)
    assert files[0].parent == root / signal_version(rule)
    assert old.is_dir()  # used recently: kept
    past = time.time() - STALE_S - 60
    os.utime(old, (past, past))
    ensure_signals(store, rule)
    assert not old.exists()


def test_the_stored_window_equals_the_signals_computed_from_the_store(store: dg.Store) -> None:
    files = ensure_signals(store, None)
    rows = store.query("SELECT min(ts) AS a, max(ts) AS b FROM exchanges").to_pylist()[0]
    since = rows["a"] + (rows["b"] - rows["a"]) / 3
    until = rows["a"] + (rows["b"] - rows["a"]) * 2 / 3
    sql, params = signals_relation(files, since, until)
    stored = store.query(sql, params).sort_by("request_id")
    sql, params = exchange_signals_sql(since, until, None)
    direct = store.query(sql, params).sort_by("request_id")
    assert 0 < stored.num_rows < store.count(Kind.EXCHANGES)
    assert stored.equals(direct)


def test_signals_of_a_removed_part_are_removed(store: dg.Store, tmp_path: Path) -> None:
    settings = dg.load_settings(db=Path(store.path), progress=False)
    dg.ingest_files([tmp_path / "second.parquet"], "native", store, settings)
    files = ensure_signals(store, None)
    gone = store.parts(Kind.EXCHANGES)[0]
    lost = pq.read_metadata(gone).num_rows
    total = store.count(Kind.EXCHANGES)
    gone.unlink()
    kept = ensure_signals(store, None)
    assert files[0] not in kept and not files[0].exists()
    sql, params = signals_relation(kept, None, None)
    assert store.query(f"SELECT count(*) AS n FROM ({sql})", params)["n"][0].as_py() == total - lost


def test_a_part_of_an_earlier_contract_gets_null_columns(store: dg.Store) -> None:
    part = store.parts(Kind.EXCHANGES)[0]
    table = pq.read_table(part)
    pq.write_table(table.drop_columns(["reasoning", "end_user"]), part)
    files = ensure_signals(store, None)
    assert pq.read_metadata(files[0]).num_rows == table.num_rows


def test_a_store_whose_signals_cannot_be_kept_is_scanned_all_the_same(
    store: dg.Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distillguard.detection import pipeline as scan_module
    from distillguard.rules import load_rules

    kept = scan_module.scan(store, load_rules(), tmp_path / "kept")

    def refuse(*_args: object, **_kw: object) -> list[Path]:
        raise PermissionError(13, "Permission denied", str(store.data_dir / "signals"))

    monkeypatch.setattr(scan_module, "ensure_signals", refuse)
    said: list[str] = []
    slow = scan_module.scan(store, load_rules(), tmp_path / "slow", progress=said.append)
    assert any("signals not kept" in m for m in said)
    assert slow.accounts.equals(kept.accounts) and slow.clusters.equals(kept.clusters)


@pytest.fixture
def timed(tmp_path: Path) -> Iterator[tuple[dg.Store, list[Path]]]:
    """A store of two parts, the earlier and the later half of the traffic, and their
    kept signal files."""
    accounts, early, late = _halves(tmp_path, by_time=True)
    settings = dg.load_settings(db=tmp_path / "timed.duckdb", progress=False)
    with dg.Store.open(settings.db) as s:
        dg.ingest_files([accounts, early], "native", s, settings)
        dg.ingest_files([late], "native", s, settings)
        yield s, ensure_signals(s, None)


def _span(file: Path) -> tuple[datetime, datetime]:
    ts = pq.read_table(file, columns=["ts"]).column("ts")
    return min(ts.to_pylist()), max(ts.to_pylist())


def _exported(out: Path) -> list[Path]:
    return sorted(out.glob("*.parquet"))


def test_a_whole_store_window_links_the_kept_files(
    timed: tuple[dg.Store, list[Path]], tmp_path: Path
) -> None:
    store, files = timed
    out = tmp_path / "findings" / "exchange_signals.parquet"
    out.parent.mkdir()
    out.write_bytes(b"an older scan's single file")
    export_window(store, files, None, None, out)
    got = _exported(out)
    assert len(got) == 2
    assert all(a.samefile(b) for a, b in zip(got, files, strict=True))
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in got)
    assert sorted(p.name for p in out.parent.iterdir()) == ["exchange_signals.parquet"]


def test_a_window_links_files_inside_it_and_filters_the_rest(
    timed: tuple[dg.Store, list[Path]], tmp_path: Path
) -> None:
    store, files = timed
    early, late = sorted(_span(f) for f in files)
    assert early[1] <= late[0]
    since = early[0] + (early[1] - early[0]) / 2  # the later half of the early part
    until = late[1] + timedelta(microseconds=1)  # the whole late part
    out = tmp_path / "exchange_signals.parquet"
    export_window(store, files, since, until, out)
    got = _exported(out)
    assert len(got) == 2
    whole = [f for f in files if _span(f) == late]
    assert sum(g.samefile(f) for g in got for f in files) == 1
    assert any(g.samefile(whole[0]) for g in got)
    sql, params = signals_relation(files, since, until)
    want = store.query(sql, params).sort_by("request_id")
    have = pq.read_table(out).sort_by("request_id")
    assert have.num_rows == want.num_rows > 0
    assert have.select(want.column_names).cast(want.schema).equals(want)


def test_a_naive_window_is_utc(timed: tuple[dg.Store, list[Path]], tmp_path: Path) -> None:
    store, files = timed
    low, high = _span(files[0])
    since = low + (high - low) / 2
    export_window(store, files, since, None, tmp_path / "aware")
    export_window(store, files, since.replace(tzinfo=None), None, tmp_path / "naive")
    aware = pq.read_table(tmp_path / "aware").sort_by("request_id")
    assert pq.read_table(tmp_path / "naive").sort_by("request_id").equals(aware)


def test_files_are_copied_when_they_cannot_be_linked(
    timed: tuple[dg.Store, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, files = timed

    def cross_device(_a: object, _b: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr("distillguard.detection.signal_store.os.link", cross_device)
    out = tmp_path / "exchange_signals.parquet"
    export_window(store, files, None, None, out)
    got = _exported(out)
    assert len(got) == 2 and not any(a.samefile(b) for a, b in zip(got, files, strict=True))
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(got, files, strict=True))
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in got)


def test_an_empty_window_keeps_the_schema(
    timed: tuple[dg.Store, list[Path]], tmp_path: Path
) -> None:
    store, files = timed
    after = max(_span(f)[1] for f in files) + timedelta(days=1)
    out = tmp_path / "exchange_signals.parquet"
    export_window(store, files, after, None, out)
    table = pq.read_table(out)
    assert table.num_rows == 0
    assert table.schema.names == pq.read_schema(files[0]).names
