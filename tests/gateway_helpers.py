"""Real processes for gateway tests: the mock upstream, gateways, and redis-server."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

ADMIN_TOKEN = "dgadm-test-token-0123456789abcdef"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise RuntimeError(f"process exited ({proc.returncode}): {out[-2000:]}")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from distillguard.cli import main; main()", *args]


@contextmanager
def mock_upstream(**kw: Any) -> Iterator[str]:
    port = free_port()
    extra = [f"--{k.replace('_', '-')}={v}" for k, v in kw.items()]
    proc = subprocess.Popen(_cli("mock-upstream", "--port", str(port), *extra),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/v1/models", proc)
        yield url
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()


@dataclass
class GatewayProc:
    url: str
    config_path: Path
    proc: subprocess.Popen[bytes]

    def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, self.url + path, headers=ADMIN, timeout=10, **kw)

    def account(self, account_id: str, **fields: Any) -> str:
        """Create an account; return a fresh API key for it."""
        r = self.admin("PUT", f"/admin/accounts/{account_id}", json=fields)
        assert r.status_code == 200, r.text
        r = self.admin("POST", f"/admin/accounts/{account_id}/keys")
        assert r.status_code == 200, r.text
        return str(r.json()["api_key"])

    def decide(self, **decision: Any) -> dict[str, Any]:
        r = self.admin("POST", "/admin/decisions", json=decision)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


def gateway_config(tmp: Path, upstream: str, **overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "port": free_port(),
        "upstream": {
            "openai": {"base_url": upstream + "/v1"},
            "anthropic": {"base_url": upstream},
        },
        "models": [
            {"id": "atlas-3"},
            {"id": "atlas-4", "released_at": "2026-01-01T00:00:00Z"},
        ],
        "state": {"path": str(tmp / "state.sqlite"), "cache_ttl_s": 0.0},
        "log": {"dir": str(tmp / "log"), "flush_interval_s": 0.5},
        "admin": {"token_sha256": hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def start_gateway(tmp: Path, cfg: dict[str, Any], name: str = "gateway.yaml") -> GatewayProc:
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / name
    path.write_text(yaml.safe_dump(cfg))
    env = {k: v for k, v in os.environ.items() if k != "DISTILLGUARD_GATEWAY_ADMIN_TOKEN"}
    proc = subprocess.Popen(_cli("gateway", "--config", str(path)), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{cfg['port']}"
    wait_http(url + "/healthz", proc)
    return GatewayProc(url, path, proc)


def logged(log_dir: Path) -> list[dict[str, Any]]:
    """Every exchange in the gateway's Parquet partitions."""
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for part in sorted((log_dir / "exchanges").rglob("*.parquet")):
        rows += pq.read_table(part).to_pylist()
    return rows


def wait_logged(log_dir: Path, n: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    rows = logged(log_dir)
    while len(rows) < n and time.monotonic() < deadline:
        time.sleep(0.1)
        rows = logged(log_dir)
    return rows


def redis_binary() -> str | None:
    return shutil.which("redis-server")


@contextmanager
def redis_server() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A real redis-server on a free loopback port; CI fails rather than skips without one."""
    binary = redis_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (.ci/run installs it)")
        pytest.skip("redis-server not installed")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0", proc
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()


# -- fault scenarios shared by the reliability tests and benchmarks/reliability_runs.py --------

ASK = [{"role": "user", "content": "What is 17 * 23?"}]


def pause_redis(url: str, stop: threading.Event) -> None:
    """Inject timeouts until ``stop``: Redis holds every client's commands for 60 ms in each
    100 ms (``CLIENT PAUSE``)."""
    import redis

    client = redis.Redis.from_url(url)
    while not stop.is_set():
        client.execute_command("CLIENT", "PAUSE", "60", "ALL")
        time.sleep(0.1)
    client.close()


async def flood(urls: list[str], key: str, n: int, concurrency: int) -> list[str]:
    """``n`` chat requests from ``concurrency`` clients spread over ``urls``: each one's status,
    or the name of the transport error that ended it."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> str:
            async with gate:
                try:
                    r = await http.post(urls[i % len(urls)] + "/v1/chat/completions",
                                        json={"model": "atlas-3", "messages": ASK},
                                        headers={"authorization": f"Bearer {key}"})  # fmt: skip
                except httpx.HTTPError as exc:
                    return type(exc).__name__
                return str(r.status_code)

        return list(await asyncio.gather(*(one(i) for i in range(n))))


def load_until(
    g: GatewayProc, key: str, answered: list[str], stop: threading.Event, i: int
) -> None:
    """One client until ``stop``: both APIs, streamed and not; the request id of every answer
    it received whole goes into ``answered``."""
    with httpx.Client(timeout=10) as http:
        n = 0
        while not stop.is_set():
            n += 1
            stream = (i + n) % 2 == 0
            try:
                if i % 2:
                    body = {"model": "atlas-3", "messages": ASK, "stream": stream}
                    with http.stream("POST", g.url + "/v1/chat/completions", json=body,
                                     headers={"authorization": f"Bearer {key}"}) as r:  # fmt: skip
                        data = b"".join(r.iter_bytes())
                        ok = r.status_code == 200 and (not stream or data.endswith(b"[DONE]\n\n"))
                else:
                    body = {"model": "atlas-3", "messages": ASK, "max_tokens": 50, "stream": stream}
                    with http.stream("POST", g.url + "/v1/messages", json=body,
                                     headers={"x-api-key": key}) as r:  # fmt: skip
                        data = b"".join(r.iter_bytes())
                        ok = r.status_code == 200 and (not stream or b"message_stop" in data)
            except httpx.HTTPError:
                continue  # cut off by a kill: not answered
            if ok:
                answered.append(r.headers["x-distillguard-request-id"])


def kill_and_restart(
    tmp: Path, cfg: dict[str, Any], g: GatewayProc, key: str, answered: list[str],
    seconds: float, name: str, clients: int = 6,
) -> GatewayProc:  # fmt: skip
    """Load ``g`` for ``seconds``, SIGKILL it, and start a new gateway on the same log
    directory with ``cfg`` (it recovers what the dead one left)."""
    stop = threading.Event()
    threads = [threading.Thread(target=load_until, args=(g, key, answered, stop, i))
               for i in range(clients)]  # fmt: skip
    for t in threads:
        t.start()
    time.sleep(seconds)
    g.proc.send_signal(signal.SIGKILL)
    g.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    if g.proc.stdout:
        g.proc.stdout.close()
    return start_gateway(tmp, cfg, name=name)


def wait_all_logged(log_dir: Path, answered: list[str], timeout: float = 30.0) -> list[str]:
    """The request ids in the log once every answered one is there (or the time is up)."""
    deadline = time.monotonic() + timeout
    ids: list[str] = []
    while time.monotonic() < deadline:
        ids = [str(r["request_id"]) for r in logged(log_dir)]
        if set(answered) <= set(ids):
            break
        time.sleep(0.2)
    return ids


def flood_with_redis_faults(tmp: Path, upstream: str, redis_url: str) -> tuple[int, list[str]]:
    """Four replicas on one Redis, an account allowed 10 requests a day, 600 requests from
    256 concurrent clients while Redis commands time out (``redis_timeout_s`` 0.02 and
    :func:`pause_redis`): the 200s the replicas logged, and what the clients saw."""
    procs: list[GatewayProc] = []
    try:
        for i in range(4):
            cfg = gateway_config(
                tmp / f"r{i}", upstream, tiers={"tiny": {"rpd": 10}},
                state={"backend": "redis", "redis_url": redis_url, "cache_ttl_s": 30.0,
                       "redis_timeout_s": 0.02, "redis_prefix": "flood:"},
                log={"dir": str(tmp / f"r{i}" / "log")},
                verification={"high_volume_requests_per_day": None},
                online={"velocity": {"enabled": False}},
            )  # fmt: skip
            procs.append(start_gateway(tmp / f"r{i}", cfg))
        key = procs[0].account("acct_flood", tier="tiny", verification="id",
                               created_at="2025-01-01T00:00:00Z")  # fmt: skip
        stop = threading.Event()
        pauser = threading.Thread(target=pause_redis, args=(redis_url, stop))
        pauser.start()
        try:
            seen = asyncio.run(flood([p.url for p in procs], key, 600, 256))
        finally:
            stop.set()
            pauser.join()
    finally:
        for p in procs:
            p.stop()
    # counted from the logs: a connection a client lost is not an answer it can count
    admitted = sum(1 for i in range(4) for r in logged(tmp / f"r{i}" / "log") if r["status"] == 200)
    return admitted, seen


def rss_kb(pid: int) -> int:
    """Resident memory of a process (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


SLOW_SERVER = {"header_timeout_s": 1.0, "body_timeout_s": 1.0, "idle_timeout_s": 1.0,
               "max_buffered_body_bytes": 8 * 1024 * 1024}  # fmt: skip
"""The ``server`` settings :func:`slow_client_attack` expects: 1 s deadlines, 8 MiB of bodies."""


def slow_client_attack(g: GatewayProc, key: str) -> dict[str, Any]:
    """Slow and stalled clients against a gateway configured with :data:`SLOW_SERVER`:

    - 300 connections that never finish their headers (how many the gateway closed);
    - 40 connections without a key announcing 3.9 MB bodies (the status lines they got);
    - 150 connections with ``key`` stalling 3.9 MB bodies (their statuses);
    - the gateway's RSS before and after, in kB, and whether ``/healthz`` answered meanwhile.
    """
    host, port = "127.0.0.1", int(g.url.rsplit(":", 1)[1])
    out: dict[str, Any] = {"rss_before_kb": rss_kb(g.proc.pid)}
    socks: list[socket.socket] = []
    try:
        for _ in range(300):
            s = socket.create_connection((host, port))
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        out["healthz_meanwhile"] = httpx.get(g.url + "/healthz").status_code
        time.sleep(2.0)
        closed = 0
        for s in socks:
            s.settimeout(2.0)
            closed += s.recv(1) == b""
        out["slow_headers_closed"] = closed
        started = time.perf_counter()
        no_key = []
        for _ in range(40):
            s = socket.create_connection((host, port))
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                      b"content-type: application/json\r\ncontent-length: 3900000\r\n\r\n")  # fmt: skip
            s.settimeout(5.0)
            no_key.append(s.recv(12).decode("latin-1"))
            socks.append(s)
        out["no_key"] = no_key
        out["no_key_seconds"] = time.perf_counter() - started
        head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nauthorization: Bearer {key}\r\n"
                "content-type: application/json\r\ncontent-length: 3900000\r\n\r\n").encode()  # fmt: skip
        stalled = []
        for _ in range(150):
            s = socket.create_connection((host, port))
            s.sendall(head + b'{"model": "atlas-3", "messages": [' + b" " * 200_000)
            stalled.append(s)
        statuses = []
        for s in stalled:
            s.settimeout(10.0)
            statuses.append(s.recv(12)[9:12].decode("latin-1"))
        socks += stalled
        out["stalled"] = statuses
        out["rss_after_kb"] = rss_kb(g.proc.pid)
    finally:
        for s in socks:
            s.close()
    return out
