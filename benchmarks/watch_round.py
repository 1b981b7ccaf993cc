"""Benchmark: one whole `watch` round over a 24 h window of a large store, against a real
gateway.

    python benchmarks/watch_round.py --db /tmp/c30m/dg.duckdb --work /tmp/dg-watch

Set-up (not timed): the store is copied (its DuckDB file copied, its Parquet parts and stored
signals hard-linked: they are never rewritten), and a new log partition is written where the
gateway's flusher writes them: the store's last hour of traffic again, one hour later, under
new request ids. A gateway (`distillguard gateway`, embedded state) is started and told every
account of the store through its admin API, as a provider's account system would.

Timed: `watch_once` as `distillguard watch` runs it each interval: the admin API's account
export (every account) ingested, the new partition ingested with its signals, a scan of the
24 hours ending after the new hour, the policy's decisions pushed to the gateway.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import yaml

import distillguard as dg
from distillguard.gateway._config import load_gateway_config
from distillguard.gateway._loop import AdminClient, watch_once
from distillguard.gateway._policy import load_policy

ADMIN_TOKEN = "watch-bench-admin-token-not-a-secret"  # noqa: S105 - a throwaway local token
ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("org_id", "tier", "verification", "program", "created_at", "email", "payment_fp",
          "billing_country", "allowlisted")  # fmt: skip
"""What the gateway's admin API holds of an account (and exports to `watch`)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _copy_store(db: Path, work: Path) -> Path:
    copy = work / "store" / db.name
    copy.parent.mkdir(parents=True)
    shutil.copy2(db, copy)
    subprocess.run(["cp", "-al", str(db) + ".data", str(copy) + ".data"], check=True)  # noqa: S607
    return copy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path, help="scratch directory (emptied)")
    ap.add_argument("--window-hours", type=float, default=24.0)
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    started = time.perf_counter()
    db = _copy_store(args.db, args.work)
    log = args.work / "log"
    with dg.Store.open(db, read_only=True) as store:
        end = store.query("SELECT max(ts) AS t FROM exchanges")["t"][0].as_py()
        hour = store.query(
            "SELECT * EXCLUDE (request_id, ts), request_id || '-w' AS request_id, "
            "ts + INTERVAL 1 HOUR AS ts FROM exchanges WHERE ts > ?",
            [end - timedelta(hours=1)],
        )
        accounts = store.query(f"SELECT account_id, {', '.join(FIELDS)} FROM accounts").to_pylist()
        models = [
            r["model"] for r in store.query("SELECT DISTINCT model FROM exchanges").to_pylist()
        ]
    part = log / "exchanges" / "dt=bench" / "part-new.parquet"
    part.parent.mkdir(parents=True)
    pq.write_table(hour, part)
    port = _free_port()
    cfg = {
        "port": port,
        "upstream": {"openai": {"base_url": "http://127.0.0.1:9/v1"}},
        "models": [{"id": m} for m in models],
        "state": {"path": str(args.work / "state.sqlite")},
        "log": {"dir": str(log)},
        "admin": {"token_sha256": hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()},
    }
    config_file = args.work / "gateway.yaml"
    config_file.write_text(yaml.safe_dump(cfg))
    url = f"http://127.0.0.1:{port}"
    gateway = subprocess.Popen(
        [sys.executable, "-m", "distillguard.cli", "gateway", "--config", str(config_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(
            base_url=url, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        ) as c:
            for _ in range(300):
                try:
                    if c.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            for a in accounts:
                body = {k: a[k] for k in FIELDS if a[k] is not None}
                if "created_at" in body:
                    body["created_at"] = body["created_at"].isoformat()
                c.put(f"/admin/accounts/{a['account_id']}", json=body).raise_for_status()
        setup = time.perf_counter() - started
        marks: list[tuple[float, str]] = []
        t0 = time.perf_counter()
        answer = watch_once(
            load_gateway_config(config_file),
            AdminClient(url, ADMIN_TOKEN, timeout_s=600),
            load_policy(ROOT / "examples" / "policy.yaml"),
            db=db,
            out=args.work / "watch",
            window_s=args.window_hours * 3600,
            say=lambda msg: marks.append((time.perf_counter() - t0, msg)),
            until=end + timedelta(hours=1, seconds=1),
        )
        wall = time.perf_counter() - t0
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)
    print(
        f"set-up (copy, new partition, {len(accounts):,} accounts into the gateway): {setup:.1f} s"
    )
    print(f"new partition: {hour.num_rows:,} exchanges; window {args.window_hours:g} h")
    for at, msg in marks:
        print(f"  {at:7.1f} s  {msg}")
    print(f"watch round: {wall:.1f} s ({len(answer.get('created', []))} decisions created)")


if __name__ == "__main__":
    main()
