"""The exchange log never keeps an answered exchange out of Parquet because of another one.

Each test reproduces a way the spool could lose or hide exchanges, on small inputs whose
outcome is worked out by hand."""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from distillguard.gateway._config import LogSettings
from distillguard.gateway._log import ExchangeLog

BASE: dict[str, Any] = {
    "account_id": "acct-1", "endpoint": "messages", "model": "m", "prompt": "hello",
    "n_messages": 1, "n_tools": 0, "thinking": False, "input_tokens": 3,
    "output_tokens": 4, "status": 200, "ts": 1_790_000_000_000_000,
}  # fmt: skip


def _log(tmp_path: Path) -> ExchangeLog:
    return ExchangeLog(LogSettings(dir=tmp_path / "log"))


def _rows(log: ExchangeLog) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for part in sorted(log.parts.rglob("*.parquet")):
        rows += pq.read_table(part).to_pylist()
    return rows


def test_an_out_of_range_integer_is_quarantined_and_the_rest_of_the_segment_flushed(
    tmp_path: Path,
) -> None:
    log = _log(tmp_path)
    for i in range(5):
        log.write({**BASE, "request_id": f"r{i}"})
    # 2**64 - 1 fits no int64 column: before, the whole segment stayed a *.claim for ever
    log.write({**BASE, "request_id": "huge", "max_tokens": 18446744073709551615})
    log.write({**BASE, "request_id": "r5"})
    log._rotate()
    assert log.flush_ready() == 6
    assert sorted(r["request_id"] for r in _rows(log)) == [f"r{i}" for i in range(6)]
    assert not list(log.spool.glob("*.claim"))
    assert not list(log.spool.glob("*.ready"))
    (reject_file,) = (log.root / "rejects").iterdir()
    (reject,) = [orjson.loads(line) for line in reject_file.read_bytes().splitlines()]
    assert reject["line"] == 6
    assert reject["error"].startswith("max_tokens:")
    assert orjson.loads(reject["record"])["request_id"] == "huge"
    assert log.quarantined == 1
    assert stat.S_IMODE(reject_file.stat().st_mode) == 0o600


def test_a_failed_flush_keeps_its_claim_and_the_same_process_retries_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import distillguard.gateway._log as logmod

    log = _log(tmp_path)
    log.write({**BASE, "request_id": "r0"})
    log._rotate()
    real = logmod.pq.write_table
    calls = {"n": 0}

    def full_disk(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(28, "No space left on device")
        real(*args, **kwargs)

    monkeypatch.setattr(logmod.pq, "write_table", full_disk)
    assert log.flush_ready() == 0
    assert log.errors == 1
    assert len(list(log.spool.glob("*.claim"))) == 1
    assert log.status()["pending"] == 1
    assert log.flush_ready() == 1  # our own claim, retried
    assert [r["request_id"] for r in _rows(log)] == ["r0"]
    assert log.status()["pending"] == 0


def test_a_record_json_cannot_carry_is_logged_without_its_text(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.write({**BASE, "request_id": "r0", "prompt": "lone \ud800 surrogate"})
    log._rotate()
    assert log.flush_ready() == 1
    (row,) = _rows(log)
    assert row["request_id"] == "r0"
    assert row["prompt"] == ""
    assert orjson.loads(row["extra"])["log"]["dropped"] == ["prompt"]


def test_a_new_segment_is_locked_before_a_flusher_can_see_it(tmp_path: Path) -> None:
    log = _log(tmp_path)
    assert log._segment is not None
    # the only name a flusher looks at is already locked by its writer
    fd = os.open(log._segment, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    assert stat.S_IMODE(log._segment.stat().st_mode) == 0o600
    # a segment a dead process created but never renamed is empty: it is removed
    orphan = log.spool / ".seg-1-999999-dead.new"
    orphan.touch()
    os.utime(orphan, (0, 0))  # long ago: its process died before renaming it
    log.write({**BASE, "request_id": "r0"})
    assert log.flush_ready() == 0  # the live segment is not claimed
    assert not orphan.exists()
    assert log._segment.exists()


def test_parquet_partitions_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.write({**BASE, "request_id": "r0"})
    log._rotate()
    assert log.flush_ready() == 1
    (part,) = log.parts.rglob("*.parquet")
    assert stat.S_IMODE(part.stat().st_mode) == 0o600


def test_a_flusher_whose_gateway_died_before_it_started_flushes_once_and_exits(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    log = _log(tmp_path)
    log.write({**BASE, "request_id": "r0"})
    log._rotate()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # the gateway: gone before its flusher looked for it
    flusher = subprocess.Popen(
        [sys.executable, "-m", "distillguard.gateway._flusher",
         log.settings.model_dump_json(), str(dead.pid)]
    )  # fmt: skip
    try:
        assert flusher.wait(timeout=60) == 0
    finally:
        flusher.kill()
    assert [r["request_id"] for r in _rows(log)] == ["r0"]
