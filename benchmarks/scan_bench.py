"""Benchmark: `scan` over a store, beside a bare DuckDB full scan of the same Parquet parts.

    python benchmarks/scan_bench.py --db /tmp/dg-bench/dg.duckdb --memory-limit 6GB \
        --models /tmp/dg-bench/sim/models.yaml

The bare scan reads every column of every exchange (a sum of hashes per column), which is
the floor any analysis of the full log pays. Each runs in its own process; peak RSS is its own.

The scan runs twice: first as after an ``ingest --no-signals`` when ``--fresh`` removes the
stored per-exchange signals (they are computed for every store part), else with them stored;
then again with the signals stored, as every later scan and ``watch`` round runs. The bare
scan runs before and after the scans (the page cache moves it); ratios use their mean. With
``--window-hours H`` a third scan covers only the last H hours of traffic (a ``watch``
round's scan).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from _step import run_step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True)
    ap.add_argument("--memory-limit", default="6GB")
    ap.add_argument("--models", default=None, help="model catalogue (the simulator's models.yaml)")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "dg-scan-bench"))
    ap.add_argument("--fresh", action="store_true", help="remove stored signals first")
    ap.add_argument("--window-hours", type=float, default=None)
    args = ap.parse_args()
    if args.fresh:
        shutil.rmtree(Path(args.db + ".data") / "signals", ignore_errors=True)
    parts = str(Path(args.db + ".data") / "exchanges" / "*.parquet")
    bare_code = (
        "import duckdb\n"
        f"con = duckdb.connect(config={{'memory_limit': {args.memory_limit!r}}})\n"
        f"con.sql(\"SELECT count(*), sum(hash(COLUMNS(*))) FROM read_parquet('{parts}')\").fetchall()"
    )
    bare = run_step(bare_code)

    def scan(window: str = "") -> tuple[float, float]:
        return run_step(
            "import distillguard as dg\n"
            "from distillguard.catalogue import load_catalogue\n"
            "from distillguard.rules import load_rules\n"
            "from distillguard.detection.pipeline import scan\n"
            "from datetime import timedelta\n"
            f"with dg.Store.open({args.db!r}, read_only=True, memory_limit={args.memory_limit!r}) as st:\n"
            f"{window}"
            f"    r = scan(st, load_rules(), {args.out!r}, catalogue=load_catalogue({args.models!r}){', since=since, until=until' if window else ''})\n"
            "    print(r.timings)"
        )

    first = scan()
    again = scan()
    bare_again = run_step(bare_code)
    rows = [
        (f"distillguard scan, {'signals computed' if args.fresh else 'signals stored'}", first),
        ("distillguard scan, signals stored", again),
    ]
    if args.window_hours:
        hours = args.window_hours
        rows.append((f"distillguard scan of the last {hours:g} h, signals stored", scan(
            "    until = st.query('SELECT max(ts) AS t FROM exchanges')['t'][0].as_py() "
            "+ timedelta(seconds=1)\n"
            f"    since = until - timedelta(hours={hours})\n"
        )))  # fmt: skip
    print("| step | wall s | peak RSS MB |\n|---|---:|---:|")
    print(f"| bare DuckDB full scan (all columns) | {bare[0]:.1f} | {bare[1]:,.0f} |")
    for name, (seconds, mb) in rows:
        print(f"| {name} | {seconds:.1f} | {mb:,.0f} |")
    print(f"| bare DuckDB full scan, again | {bare_again[0]:.1f} | {bare_again[1]:,.0f} |")
    floor = (bare[0] + bare_again[0]) / 2
    for name, (seconds, _) in rows[:2]:
        print(f"ratio {name} / bare scan (mean of both): {seconds / max(floor, 1e-9):.1f}x")


if __name__ == "__main__":
    main()
