"""The gateway's own request path, in process, with a fake upstream: what one proxied request
costs in distillguard's code alone (no sockets, no HTTP server, no upstream client).

    python benchmarks/gateway_path.py                  # CPU µs per request
    python benchmarks/gateway_path.py --instructions   # instructions per request (valgrind)

CPU time on a shared machine drifts by tens of percent; the instruction count, taken as the
difference between two runs of different lengths under ``valgrind --tool=cachegrind``, is the
same to within a few percent from run to run, so it shows the effect of a small change.
The account is set up as in ``gateway_bench.py``: enterprise tier, verified, in a throttled
cluster whose bucket is checked on every request, online checks on, exchange log on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

BODY = orjson.dumps(
    {
        "model": "atlas-3",
        "messages": [{"role": "user", "content": "What is 17 * 23? Explain briefly."}],
        "max_tokens": 64,
    }
)
ANSWER = orjson.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "atlas-3",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "17 * 23 = 391: 340 + 51."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 50},
    }
)


class _FakeResponse:
    status = 200
    raw_headers = (
        (b"Content-Type", b"application/json"),
        (b"Content-Length", str(len(ANSWER)).encode()),
        (b"X-Request-Id", b"req_1"),
        (b"Date", b"Mon, 23 Nov 2026 10:00:00 GMT"),
        (b"Server", b"uvicorn"),
    )

    async def read(self) -> bytes:
        return ANSWER

    def release(self) -> None:
        return None


class _FakeSession:
    async def post(self, url: str, data: bytes, headers: dict[str, str]) -> _FakeResponse:
        return _FakeResponse()

    async def close(self) -> None:
        return None


async def _run(requests: int, warmup: int) -> float:
    from distillguard.gateway import GatewayConfig
    from distillguard.gateway._app import Gateway
    from distillguard.gateway._state import Account, Decision

    tmp = Path(tempfile.mkdtemp(prefix="dg-path-"))
    cfg = GatewayConfig.model_validate(
        {
            "upstream": {"openai": {"base_url": "http://127.0.0.1:9/v1"}},
            "models": [{"id": "atlas-3"}],
            "state": {"path": str(tmp / "state.sqlite")},
            "log": {"dir": str(tmp / "log"), "content": "full"},
        }
    )
    gw = Gateway(cfg)
    await gw.start()
    proxy = gw.proxy
    assert proxy.session is not None
    await proxy.session.close()
    proxy.session = _FakeSession()  # type: ignore[assignment]
    account: dict[str, Any] = {"account_id": "acct_bench", "tier": "enterprise",
                               "verification": "business",
                               "created_at": datetime(2025, 1, 1, tzinfo=UTC)}  # fmt: skip
    await gw.state.put_account(Account(**account, cluster_id="cl-bench"))
    _, key = await gw.state.create_key("acct_bench")
    await gw.state.put_decision(Decision(action="throttle", scope="cluster", target="cl-bench",
                                         params={"rpm": 10_000_000, "tpm": 10_000_000_000},
                                         reason="bench", source="policy"))  # fmt: skip
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/chat/completions",
        "client": ("127.0.0.1", 50000),
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {key}".encode()),
            (b"user-agent", b"Python/3.11 aiohttp/3.14"),
            (b"content-length", str(len(BODY)).encode()),
            (b"accept", b"*/*"),
            (b"accept-encoding", b"gzip, deflate"),
        ],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise SystemExit(f"the request path answered {message['status']}")

    for _ in range(warmup):
        await proxy(scope, receive, send, "openai")  # type: ignore[arg-type]
    t0 = time.process_time()
    for _ in range(requests):
        await proxy(scope, receive, send, "openai")  # type: ignore[arg-type]
    elapsed = time.process_time() - t0
    gw.log.flush_ready = lambda: 0  # type: ignore[method-assign]  # not part of the path
    await gw.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return elapsed / requests


def _instructions(short: int, long: int, warmup: int) -> float:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")
    counts = []
    for n in (short, long):
        out = subprocess.run(
            [valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
             sys.executable, __file__, "--requests", str(n), "--warmup", str(warmup)],
            capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"},
            check=True,
        )  # fmt: skip
        m = re.search(r"I\s+refs:\s+([\d,]+)", out.stderr)
        if m is None:
            raise SystemExit(f"no instruction count in valgrind's output:\n{out.stderr[-2000:]}")
        counts.append(int(m.group(1).replace(",", "")))
        print(f"  {n} requests: {counts[-1]:,} instructions in all", file=sys.stderr)
    return (counts[1] - counts[0]) / (long - short)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--warmup", type=int, default=1_000)
    ap.add_argument("--instructions", action="store_true",
                    help="count instructions per request under valgrind (two runs, ~1 minute)")  # fmt: skip
    args = ap.parse_args()
    if args.instructions:
        per = _instructions(500, 2_500, 200)
        print(f"request path: {per:,.0f} instructions per request")
        return
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)  # as the gateway sets itself (gateway.gc_threshold)
    seconds = asyncio.run(_run(args.requests, args.warmup))
    print(f"request path: {seconds * 1e6:.1f} µs CPU per request ({args.requests} requests)")


if __name__ == "__main__":
    main()
