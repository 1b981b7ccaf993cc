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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

from distillguard.errors import ConfigError
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


def _digest(text: str, key: bytes) -> str:
    mac = hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16, key=key)
    return "hmac-blake2b:" + mac.hexdigest()


def capture_key(settings: LogSettings) -> bytes:
    """The secret key of ``hashed`` content capture: without it, a digest in the log cannot
    be checked against a guessed prompt. Read from ``capture_key_file`` (default
    ``<dir>/capture.key``), created with 32 random bytes, mode 0600, when missing. Replicas
    whose digests must be comparable share the file."""
    path = Path(settings.capture_key_file or Path(settings.dir) / "capture.key")
    if not path.exists():
        # written whole under a temporary name, then linked into place: a replica starting
        # at the same moment reads either no file or the whole key, and one key wins
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_hex(32).encode())
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
        tmp.unlink()
    key = path.read_bytes().strip()
    if not 16 <= len(key) <= 64:
        raise ConfigError(f"{path}: a capture key must be 16 to 64 bytes, not {len(key)}")
    return key


def capture(record: dict[str, Any], mode: str, max_bytes: int, key: bytes = b"") -> dict[str, Any]:
    """Apply the content-capture setting to a record's text fields (``hashed``: a keyed
    BLAKE2b digest under ``key``)."""
    for name in _TEXT_FIELDS:
        value = record.get(name)
        if value is None:
            continue
        if mode == "off":
            record[name] = "" if name == "prompt" else None
        elif mode == "hashed":
            # JSON columns must stay JSON: keep only their counts (n_messages, n_tools)
            record[name] = None if name in ("messages", "tools") else _digest(value, key)
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
        self.key = capture_key(settings) if settings.content == "hashed" else b""
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
        self.quarantined = 0
        self._open_segment()

    # -- writing ------------------------------------------------------------------------------
    def _open_segment(self) -> None:
        """A new segment, locked before any flusher can see it: it is created and locked
        under a name flushers ignore, then renamed into place."""
        name = f"seg-{time.time_ns()}-{os.getpid()}-{secrets.token_hex(3)}"
        path = self.spool / f"{name}.jsonl"
        hidden = self.spool / f".{name}.new"
        fd = os.open(hidden, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(hidden, path)
        self._fd, self._segment, self._rows, self._opened = fd, path, 0, time.monotonic()

    def write(self, record: dict[str, Any]) -> None:
        """Append one exchange; returns once the kernel has it."""
        try:
            line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        except (orjson.JSONEncodeError, TypeError) as exc:
            # a value JSON cannot carry: the exchange is still logged, without its text
            line = orjson.dumps(_degraded(record, exc), option=orjson.OPT_APPEND_NEWLINE)
        os.write(self._fd, line)
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
                str(os.getpid()),
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
            elif path.suffix in (".jsonl", ".new") and path != self._segment:
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
                if path.suffix == ".new":
                    # created by a process that died before renaming it (a live one renames
                    # it within microseconds): never written to
                    with contextlib.suppress(FileNotFoundError):
                        if time.time() - path.stat().st_mtime > 60:
                            path.unlink()
                    continue
                yield path

    def flush_ready(self) -> int:
        """Turn every claimable segment into Parquet; returns the exchanges written.

        A record that cannot become a row is moved to ``rejects/`` and the rest of its
        segment is flushed; a segment that fails for any other reason (a full disk) keeps
        its claim and is retried on the next round, by this process or a later one."""
        total = 0
        tried = set()
        for path in self._claimable():
            claimed = path.with_name(f"{path.stem}.{os.getpid()}.claim")
            try:
                os.rename(path, claimed)
            except FileNotFoundError:
                continue  # another process claimed it first
            tried.add(claimed)
            total += self._flush_claim(claimed)
        for stale in sorted(self.spool.glob("*.claim")):
            # our own claim that failed on an earlier round, or one whose process died
            tail = stale.stem.rsplit(".", 1)[-1]
            pid = int(tail) if tail.isdigit() else 0
            if stale not in tried and (pid == os.getpid() or not _alive(pid)):
                total += self._flush_claim(stale)
        self.flushed += total
        if total and self.settings.store is not None:
            self._load_store()
        return total

    def _flush_claim(self, path: Path) -> int:
        try:
            return self._flush_segment(path)
        except FileNotFoundError:
            return 0  # taken over and flushed by another process
        except Exception as exc:  # noqa: BLE001 - the claim stays; the next round retries
            self.errors += 1
            log.error("exchange log: flushing %s failed (kept for retry): %s", path.name, exc)
            return 0

    def _flush_segment(self, path: Path) -> int:
        table, rejects = read_segment(path)
        stem = path.name.split(".")[0]
        if table.num_rows:
            days = table.column("ts").cast(pa.int64()).to_numpy() // _DAY_US
            unique = np.unique(days)
            for day in unique:
                rows = table if len(unique) == 1 else table.filter(pa.array(days == day))
                date = datetime.fromtimestamp(int(day) * 86_400, UTC).strftime("%Y-%m-%d")
                out = self.parts / f"date={date}" / f"part-{stem}.parquet"
                out.parent.mkdir(parents=True, exist_ok=True)
                tmp = out.with_name(out.name + ".tmp")
                _create_private(tmp)  # Arrow then truncates it, keeping its mode
                pq.write_table(rows, tmp, compression="zstd")
                os.replace(tmp, out)
        if rejects:  # once the rows are safe: a retried segment is quarantined once
            self._quarantine(stem, rejects)
        path.unlink()
        return int(table.num_rows)

    def _quarantine(self, stem: str, rejects: list[SpoolReject]) -> None:
        """Records that cannot become rows, kept with the reason in ``rejects/<segment>.jsonl``."""
        folder = self.root / "rejects"
        folder.mkdir(exist_ok=True)
        lines = b"".join(
            orjson.dumps(
                {"segment": stem, "line": r.line, "error": r.error,
                 "record": r.raw.decode("utf-8", "replace")},
                option=orjson.OPT_APPEND_NEWLINE,
            )
            for r in rejects
        )  # fmt: skip
        fd = os.open(folder / f"{stem}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, lines)
        finally:
            os.close(fd)
        self.quarantined += len(rejects)
        log.error(
            "exchange log: %d record(s) of %s could not be stored; kept in rejects/%s.jsonl (%s)",
            len(rejects), stem, stem, rejects[0].error,
        )  # fmt: skip

    def write_status(self) -> None:
        """The flusher's counters, for the gateway's ``/metrics`` (see :meth:`status`)."""
        status = {"pid": os.getpid(), "flushed": self.flushed, "errors": self.errors,
                  "quarantined": self.quarantined, "at": time.time()}  # fmt: skip
        tmp = self.root / f".flusher-status.{os.getpid()}.tmp"
        with contextlib.suppress(OSError):
            tmp.write_bytes(orjson.dumps(status))
            os.replace(tmp, self.root / "flusher-status.json")

    def status(self) -> dict[str, float]:
        """What an operator alerts on: the flusher's counters, and the segments waiting.

        ``pending`` counts rotated and claimed segments not yet in Parquet, ``oldest_s`` is
        the age of the oldest; both grow without bound when flushing is stuck."""
        out: dict[str, float] = {"flushed": 0, "errors": 0, "quarantined": 0}
        with contextlib.suppress(OSError, ValueError, TypeError):
            saved = orjson.loads((self.root / "flusher-status.json").read_bytes())
            for name in out:
                out[name] = float(saved.get(name, 0))
        out["flushed"] += self.flushed
        out["errors"] += self.errors
        out["quarantined"] += self.quarantined
        pending = 0
        oldest = 0.0
        now = time.time()
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.spool):
                if entry.name.endswith((".ready", ".claim")):
                    pending += 1
                    with contextlib.suppress(OSError):
                        oldest = max(oldest, now - entry.stat().st_mtime)
        out["pending"] = pending
        out["oldest_s"] = round(oldest, 3)
        return out

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


@dataclass(frozen=True, slots=True)
class SpoolReject:
    """A spool line that cannot become a row: its line number, the reason, the bytes."""

    line: int
    error: str
    raw: bytes


def read_segment(path: Path) -> tuple[pa.Table, list[SpoolReject]]:
    """A spool segment as an Arrow table in the contract's exchange schema, and the lines
    that cannot be rows.

    Arrow's JSON reader parses the whole segment natively (about twice as fast as parsing
    each line in Python, and the flusher shares the machine with the gateway). A segment it
    cannot take whole (a malformed line, a record missing a required field, a number out of
    its column's range) is read line by line instead, and each line that cannot be a row is
    returned as a :class:`SpoolReject`. A last line without its newline is the write a crash cut
    short, never acknowledged to the client: it is left out either way."""
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
                return table.set_column(_TS, "ts", ts).cast(_SCHEMA), []
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    rejects: list[SpoolReject] = []
    for number, line in enumerate(data[:end].split(b"\n")[:-1], 1):  # only \n ends a record
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            rejects.append(SpoolReject(number, f"not JSON: {exc}", line))
            continue
        if not isinstance(record, dict):
            rejects.append(SpoolReject(number, "not a JSON object", line))
            continue
        missing = [name for name in _REQUIRED if record.get(name) is None]
        if missing:
            rejects.append(SpoolReject(number, f"{missing[0]}: missing", line))
            continue
        rows.append(record)
        numbers.append(number)
    try:
        return to_table(rows), rejects
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
        pass  # some row holds a value its column cannot: find which, one row at a time
    good: list[dict[str, Any]] = []
    for number, record in zip(numbers, rows, strict=True):
        try:
            to_table([record])
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError) as exc:
            field = _bad_field(record)
            raw = orjson.dumps(record, option=orjson.OPT_PASSTHROUGH_DATACLASS)
            rejects.append(SpoolReject(number, f"{field}: {exc}"[:500], raw))
        else:
            good.append(record)
    return to_table(good), sorted(rejects, key=lambda r: r.line)


def _bad_field(record: dict[str, Any]) -> str:
    """The first contract column ``record`` holds a value for that its type cannot take."""
    for f in _SCHEMA:
        try:
            pa.array([record.get(f.name)], type=f.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
            return str(f.name)
    return "(row)"


def _degraded(record: dict[str, Any], exc: Exception) -> dict[str, Any]:
    """``record`` with every value JSON cannot encode dropped, and a note saying so."""
    out: dict[str, Any] = {}
    dropped = []
    for name, value in record.items():
        try:
            orjson.dumps(value)
        except (orjson.JSONEncodeError, TypeError):
            dropped.append(name)
            value = "" if name in _REQUIRED else None
        out[name] = value
    out["extra"] = orjson.dumps({"log": {"dropped": dropped, "error": str(exc)[:200]}}).decode()
    return out


def _create_private(path: Path) -> None:
    """Create ``path`` readable by its owner only (exchange logs hold prompts)."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))


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


def flusher_main(settings_json: str, parent: int) -> None:
    """The flusher process: flush every interval; on the death of ``parent`` (the gateway
    process, passed in: a gateway killed while this process was still starting would
    otherwise leave it waiting on its new parent for ever), flush once more and exit."""
    settings = LogSettings.model_validate_json(settings_json)
    with contextlib.suppress(OSError):
        # background work: when the machine is busy, answering requests comes first (the
        # spool is durable, and the flusher needs a few percent of a core to keep up)
        os.nice(10)
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
    flusher.flushed = flusher.errors = flusher.quarantined = 0
    while not stop:
        orphaned = os.getppid() != parent
        try:
            flusher.flush_ready()
        except Exception as exc:  # noqa: BLE001 - segments stay in the spool for the next try
            flusher.errors += 1
            log.error("exchange log flush failed (segments kept for retry): %s", exc)
        flusher.write_status()
        if orphaned:
            return
        deadline = time.monotonic() + settings.flush_interval_s
        while not stop and time.monotonic() < deadline and os.getppid() == parent:
            time.sleep(0.05)
