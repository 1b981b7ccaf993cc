from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

import distillguard as dg
from helpers import exchange, write_jsonl


@pytest.fixture
def filled(tmp_path: Path, store: dg.Store, settings: dg.Settings) -> dg.Store:
    rows = [exchange(request_id=f"r{d}", ts=f"2026-05-{d:02d}T12:00:00Z") for d in range(1, 11)]
    dg.ingest_files([write_jsonl(tmp_path / "w.jsonl", rows)], "native", store, settings)
    return store


def test_time_windows_are_half_open(filled: dg.Store) -> None:
    got = filled.read(
        since=datetime(2026, 5, 3, 12, tzinfo=UTC),
        until=datetime(2026, 5, 6, 12, tzinfo=UTC),
        columns=["request_id"],
    )
    assert got.column("request_id").to_pylist() == ["r3", "r4", "r5"]


def test_streaming_batches_cover_the_window(filled: dg.Store) -> None:
    batches = list(filled.iter_batches(batch_rows=3, columns=["request_id"]))
    assert sum(b.num_rows for b in batches) == 10
    assert filled.count(dg.Kind.EXCHANGES) == 10  # a stream leaves the store usable


def test_export_window_to_parquet(tmp_path: Path, filled: dg.Store) -> None:
    n = filled.export_parquet(
        dg.Kind.EXCHANGES, tmp_path / "o" / "w.parquet", since=datetime(2026, 5, 9, tzinfo=UTC)
    )
    assert n == 2 and (tmp_path / "o" / "w.parquet").is_file()


def test_unknown_column_and_windowless_kind_are_refused(filled: dg.Store) -> None:
    with pytest.raises(dg.StoreError, match="no column 'password'"):
        filled.read(columns=["password"])
    with pytest.raises(dg.StoreError, match="no column"):
        filled.read(columns=['prompt" FROM exchanges; DROP TABLE exchanges; --'])
    with pytest.raises(dg.StoreError, match="no time column"):
        filled.read(dg.Kind.TRUTH, since=datetime(2026, 1, 1, tzinfo=UTC))


def test_read_only_open_of_a_missing_store(tmp_path: Path) -> None:
    with pytest.raises(dg.StoreError, match="no store here"):
        dg.Store.open(tmp_path / "none.duckdb", read_only=True)


def test_schema_version_mismatch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with dg.Store.open(path):
        pass
    con = duckdb.connect(str(path))
    con.execute("UPDATE _meta SET value = '0' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(dg.StoreError, match="schema version 0"):
        dg.Store.open(path)


def test_a_version_1_store_opens_and_reads_as_1_1(filled: dg.Store, settings: dg.Settings) -> None:
    """Contract 1.1 only added nullable columns: a 1.0 store and its Parquet parts (written
    without those columns) are read as they are, the new columns null."""
    (part,) = filled.parts()
    filled.close()
    old = pq.read_table(part)
    new_columns = ["end_user", "reasoning", "response_id", "response_model"]
    pq.write_table(old.drop_columns(new_columns), part)
    con = duckdb.connect(str(settings.db))
    con.execute("UPDATE _meta SET value = '1' WHERE key = 'schema_version'")
    con.close()
    with dg.Store.open(settings.db) as store:
        got = store.query("SELECT end_user, response_id, reasoning FROM exchanges").to_pylist()
        assert len(got) == 10 and all(set(r.values()) == {None} for r in got)
    con = duckdb.connect(str(settings.db), read_only=True)
    assert con.execute("SELECT value FROM _meta WHERE key = 'schema_version'").fetchone() == (
        dg.SCHEMA_VERSION,
    )
    con.close()


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    bad = tmp_path / "bad.duckdb"
    bad.write_text("this is not duckdb")
    with pytest.raises(dg.StoreError, match="cannot open the store"):
        dg.Store.open(bad)


def test_summary_of_an_empty_store(store: dg.Store) -> None:
    s = store.summary()
    assert s["exchanges"] == 0 and s["first_ts"] is None and s["models"] == []


def test_exchanges_live_in_parquet_parts_beside_the_database(
    filled: dg.Store, settings: dg.Settings
) -> None:
    parts = filled.parts()
    assert len(parts) == 1 and parts[0].parent == Path(str(settings.db) + ".data") / "exchanges"
    assert not list(parts[0].parent.glob(".spool-*"))  # the ingest spool is gone


def test_a_moved_store_still_reads_its_parts(
    tmp_path: Path, filled: dg.Store, settings: dg.Settings
) -> None:
    filled.close()
    moved = tmp_path / "moved"
    settings.db.parent.rename(moved)
    with dg.Store.open(moved / settings.db.name, read_only=True) as store:
        assert store.count(dg.Kind.EXCHANGES) == 10


def test_memory_store_cleans_up_its_data(tmp_path: Path) -> None:
    settings = dg.load_settings(db=":memory:")
    with dg.Store.open(":memory:") as store:
        path = write_jsonl(tmp_path / "m.jsonl", [exchange()])
        assert dg.ingest_files([path], "native", store, settings).inserted == 1
        data = store.data_dir
        assert store.count(dg.Kind.EXCHANGES) == 1
    assert not data.exists()


def test_a_new_store_and_its_parquet_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    import os

    with dg.Store.open(tmp_path / "s.duckdb"):
        pass
    assert os.stat(tmp_path / "s.duckdb").st_mode & 0o077 == 0
    assert os.stat(tmp_path / "s.duckdb.data").st_mode & 0o077 == 0
    assert os.stat(tmp_path / "s.duckdb.data" / "exchanges").st_mode & 0o077 == 0
