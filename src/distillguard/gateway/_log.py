"""The exchange log: a durable on-disk spool, turned into Parquet partitions in the background.

Every exchange is appended, as one JSON line, to the process's current spool segment
*before* its answer is complete on the wire (for a stream: before the last event is sent),
with one ``write(2)`` on an ``O_APPEND`` descriptor. The kernel holds it from then on, so a
``kill -9`` loses nothing that was answered; ``fsync: true`` also survives power loss.

A flusher rotates segments (by size, or every ``flush_interval_s``), turns each into
``exchanges/date=YYYY-MM-DD/part-<segment>.parquet`` in the contract's schema (the same one
``scan`` reads), optionally loads it into the embedded store, and only then deletes it. A
segment whose writer died (its ``flock`` is free) is recovered by the next process that looks.
Parquet files are written to a temporary name and renamed, so readers never see half a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from distillguard.gateway._config import LogSettings
from distillguard.schema import EXCHANGES

log = logging.getLogger("distillguard.gateway")

_SCHEMA = EXCHANGES.arrow_schema()
# the spool keeps ``ts`` as integer microseconds
_SPOOL_SCHEMA = pa.schema([f.with_type(pa.int64()) if f.name == "ts" else f for f in _SCHEMA])
_REQUIRED = [f.name for f in _SCHEMA if not f.nullable]
_TS = _SCHEMA.get_field_index("ts")
_DAY_US = 86_400_000_000
_TEXT_FIELDS = ("system", "prompt", "messages", "tools", "response")


def _digest(text: str) -> str:
    return "blake2b:" + hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).hexdigest()


def capture(record: dict[str, Any], mode: str, max_bytes: int) -> dict[str, Any]:
    """Apply the content-capture setting to a record's text fields."""
    for name in _TEXT_FIELDS:
        value = record.get(name)
        if value is None:
            continue
        if mode == "off":
            record[name] = "" if name == "prompt" else None
        elif mode == "hashed":
            # JSON columns must stay JSON: keep only their counts (n_messages, n_tools)
            record[name] = None if name in ("messages", "tools") else _digest(value)
        elif len(value) > max_bytes // 4 and len(value.encode("utf-8", "replace")) > max_bytes:
            record[name] = None if name in ("messages", "tools") else value[: max_bytes // 4]
    return record


class ExchangeLog:
    """Spool writer and Parquet flusher for one gateway process."""

    def __init__(self, settings: LogSettings) -> None:
        self.settings = settings
        self.root = Path(settings.dir)
        self.spool = self.root / "spool"
        self.parts = self.root / "exchanges"
        self.spool.mkdir(parents=True, exist_ok=True)
        self.parts.mkdir(parents=True, exist_ok=True)
        self._fd = -1
        self._segment: Path | None = None
        self._rows = 0
        self._opened = 0.0
        self._task: asyncio.Task[None] | None = None
        self._flusher: subprocess.Popen[bytes] | None = None
        self._decisions_fd = os.open(
            self.root / "decisions.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640
        )
        self.written = 0
        self.flushed = 0
        self.errors = 0
        self._open_segment()

    # -- writing ------------------------------------------------------------------------------
    def _open_segment(self) -> None:
        name = f"seg-{time.time_ns()}-{os.getpid()}-{secrets.token_hex(3)}.jsonl"
        path = self.spool / name
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._fd, self._segment, self._rows, self._opened = fd, path, 0, time.monotonic()

    def write(self, record: dict[str, Any]) -> None:
        """Append one exchange; returns once the kernel has it."""
        os.write(self._fd, orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        if self.settings.fsync:
            os.fsync(self._fd)
        self._rows += 1
        self.written += 1
        if self._rows >= self.settings.segment_rows:
            self._rotate()

    def decision(self, entry: dict[str, Any]) -> None:
        """Append one line to ``decisions.jsonl`` (the log reports read)."""
        os.write(self._decisions_fd, orjson.dumps(entry) + b"\n")

    def _rotate(self) -> None:
        if self._segment is None or self._rows == 0:
            return
        old_fd, old = self._fd, self._segment
        self._open_segment()
        os.rename(old, old.with_suffix(".ready"))
        os.close(old_fd)  # releases the lock

    # -- flushing -----------------------------------------------------------------------------
    def start(self) -> None:
        """Rotate segments on time, and keep a flusher process running.

        Building Parquet is CPU work that would hold the event loop (and the GIL) for tens
        of milliseconds; a separate process does it, so answers never wait on it. The
        flusher exits when this process dies, after recovering what it left behind."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    def _spawn_flusher(self) -> None:
        self._flusher = subprocess.Popen(  # noqa: S603 - our own module, our own settings
            [
                sys.executable,
                "-m",
                "distillguard.gateway._flusher",
                self.settings.model_dump_json(),
            ],
            stdin=subprocess.DEVNULL,
        )

    async def _run(self) -> None:
        self._spawn_flusher()
        while True:
            await asyncio.sleep(min(self.settings.flush_interval_s, 1.0))
            try:
                if time.monotonic() - self._opened >= self.settings.flush_interval_s:
                    self._rotate()
                if self._flusher is not None and self._flusher.poll() is not None:
                    self.errors += 1
                    log.error("log flusher exited (%s); restarting it", self._flusher.returncode)
                    self._spawn_flusher()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep serving; segments stay for later
                self.errors += 1
                log.error("exchange log rotation failed (segments kept for retry): %s", exc)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._flusher is not None:
            self._flusher.terminate()
            await asyncio.to_thread(self._flusher.wait)
        self._rotate()
        os.close(self._fd)
        os.close(self._decisions_fd)
        if self._segment is not None and self._rows == 0:
            self._segment.unlink(missing_ok=True)
        await asyncio.to_thread(self.flush_ready)

    def _claimable(self) -> Iterator[Path]:
        """Segments ready to flush: rotated ones, and live ones whose writer is gone."""
        for path in sorted(self.spool.iterdir()):
            if path.suffix == ".ready":
                yield path
            elif path.suffix == ".jsonl" and path != self._segment:
                try:
                    fd = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    continue  # rotated or claimed meanwhile
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # another live process writes it
                finally:
                    os.close(fd)
                yield path

    def flush_ready(self) -> int:
        """Turn every claimable segment into Parquet; returns the exchanges written."""
        total = 0
        for path in self._claimable():
            claimed = path.with_name(f"{path.stem}.{os.getpid()}.claim")
            try:
                os.rename(path, claimed)
            except FileNotFoundError:
                continue  # another process claimed it first
            total += self._flush_segment(claimed)
        for stale in self.spool.glob("*.claim"):
            # a claim whose process died mid-flush: take it over
            pid = (
                int(stale.stem.rsplit(".", 1)[-1]) if stale.stem.rsplit(".", 1)[-1].isdigit() else 0
            )
            if pid != os.getpid() and not _alive(pid):
                total += self._flush_segment(stale)
        self.flushed += total
        if total and self.settings.store is not None:
            self._load_store()
        return total

    def _flush_segment(self, path: Path) -> int:
        table = read_segment(path)
        if table.num_rows:
            stem = path.name.split(".")[0]
            days = table.column("ts").cast(pa.int64()).to_numpy() // _DAY_US
            unique = np.unique(days)
            for day in unique:
                rows = table if len(unique) == 1 else table.filter(pa.array(days == day))
                date = datetime.fromtimestamp(int(day) * 86_400, UTC).strftime("%Y-%m-%d")
                out = self.parts / f"date={date}" / f"part-{stem}.parquet"
                out.parent.mkdir(parents=True, exist_ok=True)
                tmp = out.with_name(out.name + ".tmp")
                pq.write_table(rows, tmp, compression="zstd")
                os.replace(tmp, out)
        path.unlink()
        return int(table.num_rows)

    def _load_store(self) -> None:
        from distillguard.schema import Kind
        from distillguard.store import Store

        manifest = self.root / "store-loaded.txt"
        done = set(manifest.read_text().split()) if manifest.exists() else set()
        todo = [p for p in sorted(self.parts.rglob("*.parquet")) if str(p) not in done]
        if not todo or self.settings.store is None:
            return
        with Store.open(self.settings.store) as store:
            for p in todo:
                store.load_table(Kind.EXCHANGES, pq.read_table(p, schema=_SCHEMA))
                with manifest.open("a") as fh:
                    fh.write(f"{p}\n")


def read_segment(path: Path) -> pa.Table:
    """A spool segment as an Arrow table in the contract's exchange schema.

    Arrow's JSON reader parses the whole segment natively (about twice as fast as parsing
    each line in Python, and the flusher shares the machine with the gateway). A segment it
    cannot take whole (a malformed line, a record missing a required field) is read line by
    line instead, skipping what cannot be used. A last line without its newline is the write
    a crash cut short, never acknowledged to the client: it is left out either way."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if 0 < end < 2**31 - 1:
        try:
            table = pj.read_json(
                pa.BufferReader(pa.py_buffer(data).slice(0, end)),
                read_options=pj.ReadOptions(use_threads=False, block_size=end),
                parse_options=pj.ParseOptions(
                    explicit_schema=_SPOOL_SCHEMA, unexpected_field_behavior="ignore"
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # not every line is a well-formed record
        else:
            if all(table.column(name).null_count == 0 for name in _REQUIRED):
                ts = table.column("ts").cast(pa.timestamp("us", tz="UTC"))
                return table.set_column(_TS, "ts", ts).cast(_SCHEMA)
    return to_table(list(_read_lines(data[:end])))


def _read_lines(data: bytes) -> Iterator[dict[str, Any]]:
    for line in data.split(b"\n"):  # JSON lines: only \n ends a record
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict) and "request_id" in record:
            yield record


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Spool records → an Arrow table in the contract's exchange schema."""
    columns = {}
    for f in _SCHEMA:
        columns[f.name] = pa.array([r.get(f.name) for r in rows], type=f.type)
    return pa.table(columns, schema=_SCHEMA)


def flusher_main(settings_json: str) -> None:
    """The flusher process: flush every interval; on the parent's death, flush once more."""
    settings = LogSettings.model_validate_json(settings_json)
    with contextlib.suppress(OSError):
        # background work: when the machine is busy, answering requests comes first (the
        # spool is durable, and the flusher needs a few percent of a core to keep up)
        os.nice(10)
    parent = os.getppid()
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    flusher = ExchangeLog.__new__(ExchangeLog)
    flusher.settings = settings
    flusher.root = Path(settings.dir)
    flusher.spool = flusher.root / "spool"
    flusher.parts = flusher.root / "exchanges"
    flusher._segment = None
    flusher.flushed = 0
    while not stop:
        orphaned = os.getppid() != parent
        try:
            flusher.flush_ready()
        except Exception as exc:  # noqa: BLE001 - segments stay in the spool for the next try
            log.error("exchange log flush failed (segments kept for retry): %s", exc)
        if orphaned:
            return
        deadline = time.monotonic() + settings.flush_interval_s
        while not stop and time.monotonic() < deadline and os.getppid() == parent:
            time.sleep(0.05)
