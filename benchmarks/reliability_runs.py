"""Fault runs behind docs/reliability.md, repeated and counted (not a test: it prints figures).

    python benchmarks/reliability_runs.py --floods 5 --kills 24 --slow

- **flood**: 4 gateway replicas on one redis-server, an account whose tier allows 10 requests
  a day, 600 requests from 256 concurrent clients spread over the replicas, Redis commands
  timing out (``redis_timeout_s`` 0.02, and Redis holding every client for 60 ms in each
  100 ms with ``CLIENT PAUSE``). Counts the 200s the replicas *logged* for the account.
- **kill -9**: one gateway under 6 clients of both APIs, streamed and not, killed with SIGKILL
  after 0.4–1.5 s, restarted on the same log directory, again and again; counts the answered
  request ids missing from the Parquet log at the end, and those logged twice.

- **slow clients** (``--slow``): 300 connections that never finish their headers, 40 without a
  key announcing 3.9 MB bodies, 150 with a key stalling 3.9 MB bodies; the gateway's RSS.

Needs redis-server on PATH (``make redis-server`` installs it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from gateway_helpers import (
    SLOW_SERVER,
    flood_with_redis_faults,
    gateway_config,
    kill_and_restart,
    mock_upstream,
    redis_server,
    slow_client_attack,
    start_gateway,
    wait_all_logged,
)


def flood_run(tmp: Path, upstream: str) -> tuple[int, Counter[str]]:
    with redis_server() as (url, _):
        admitted, seen = flood_with_redis_faults(tmp, upstream, url)
    return admitted, Counter(seen)


def kill_runs(tmp: Path, kills: int) -> dict[str, Any]:
    with mock_upstream(chunk_delay_ms=1) as up:
        cfg = gateway_config(tmp, up, log={"flush_interval_s": 0.2, "segment_rows": 40})
        g = start_gateway(tmp, cfg)
        key = g.account("acct_crash", tier="enterprise", verification="business")
        answered: list[str] = []
        for run in range(kills):
            g = kill_and_restart(tmp, cfg, g, key, answered, 0.4 + 0.1 * (run % 12), f"g{run}.yaml")
        try:
            ids = wait_all_logged(tmp / "log", answered, timeout=60)
        finally:
            g.stop()
        return {
            "kills": kills,
            "answered": len(answered),
            "lost": len(set(answered) - set(ids)),
            "logged twice": len(ids) - len(set(ids)),
        }


def slow_clients(tmp: Path, upstream: str) -> dict[str, Any]:
    g = start_gateway(tmp, gateway_config(tmp, upstream, server=SLOW_SERVER))
    try:
        key = g.account("acct_slow", tier="enterprise", verification="business")
        seen = slow_client_attack(g, key)
    finally:
        g.stop()
    return {
        "slow headers closed": f"{seen['slow_headers_closed']}/300",
        "no key, body unsent": f"{Counter(seen['no_key'])} in {seen['no_key_seconds']:.2f}s",
        "stalled 3.9 MB bodies": dict(Counter(seen["stalled"])),
        "RSS MB before → after": f"{seen['rss_before_kb'] / 1024:.0f} → "
        f"{seen['rss_after_kb'] / 1024:.0f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--floods", type=int, default=5, help="flood runs (default 5)")
    parser.add_argument("--kills", type=int, default=24, help="kill -9 runs (default 24)")
    parser.add_argument("--slow", action="store_true", help="also the slow-client run (Linux)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.floods:
            with mock_upstream() as upstream:
                for i in range(args.floods):
                    admitted, seen = flood_run(Path(tmp) / f"flood{i}", upstream)
                    print(f"flood {i + 1}: admitted {admitted} of a budget of 10; client saw "
                          + ", ".join(f"{k}×{v}" for k, v in sorted(seen.items())), flush=True)  # fmt: skip
        if args.kills:
            print("kill -9:", kill_runs(Path(tmp) / "kills", args.kills), flush=True)
        if args.slow:
            with mock_upstream() as upstream:
                print("slow clients:", slow_clients(Path(tmp) / "slow", upstream), flush=True)


if __name__ == "__main__":
    main()
