"""Benchmark: `scan` over a store, beside a bare DuckDB full scan of the same Parquet parts.

    python benchmarks/scan_bench.py --db /tmp/dg-bench/dg.duckdb --memory-limit 6GB \
        --models /tmp/dg-bench/sim/models.yaml

The bare scan reads every column of every exchange (a sum of hashes per column), which is
the floor any analysis of the full log pays. Each runs in its own process; peak RSS is its own.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _step import run_step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True)
    ap.add_argument("--memory-limit", default="6GB")
    ap.add_argument("--models", default=None, help="model catalogue (the simulator's models.yaml)")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "dg-scan-bench"))
    args = ap.parse_args()
    parts = str(Path(args.db + ".data") / "exchanges" / "*.parquet")
    bare = run_step(
        "import duckdb\n"
        f"con = duckdb.connect(config={{'memory_limit': {args.memory_limit!r}}})\n"
        f"con.sql(\"SELECT count(*), sum(hash(COLUMNS(*))) FROM read_parquet('{parts}')\").fetchall()"
    )
    scan = run_step(
        "import distillguard as dg\n"
        "from distillguard.catalogue import load_catalogue\n"
        "from distillguard.rules import load_rules\n"
        "from distillguard.scan import scan\n"
        f"with dg.Store.open({args.db!r}, read_only=True, memory_limit={args.memory_limit!r}) as st:\n"
        f"    r = scan(st, load_rules(), {args.out!r}, catalogue=load_catalogue({args.models!r}))\n"
        "    print(r.timings)"
    )
    print("| step | wall s | peak RSS MB |\n|---|---:|---:|")
    print(f"| bare DuckDB full scan (all columns) | {bare[0]:.1f} | {bare[1]:,.0f} |")
    print(f"| distillguard scan | {scan[0]:.1f} | {scan[1]:,.0f} |")
    print(f"\nratio scan / bare scan: {scan[0] / max(bare[0], 1e-9):.1f}x")


if __name__ == "__main__":
    main()
