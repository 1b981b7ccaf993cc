"""Real processes for gateway tests: the mock upstream, gateways, and redis-server."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
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
