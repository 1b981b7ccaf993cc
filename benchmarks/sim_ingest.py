"""Benchmark: simulate N exchanges, ingest them, re-ingest them; print wall time and peak RSS.

    python benchmarks/sim_ingest.py --scale 1000000 --corpus ../shared/corpus --work /tmp/dg-bench

Each step runs in its own process (so peak memory is the step's own) and the results are
printed as a Markdown table for docs/benchmarks.md. Not a test: machines here are shared.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from _step import run_step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--corpus", default=None)
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "dg-bench"))
    ap.add_argument(
        "--memory-limit", default=None, help="DuckDB memory limit for the ingest, e.g. 2GB"
    )
    args = ap.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    corpus = repr(args.corpus) if args.corpus else "None"
    db = work / "dg.duckdb"
    settings = (
        f"dg.load_settings(db={str(db)!r}, progress=False, memory_limit={args.memory_limit!r})"
    )
    ingest = (
        f"s = {settings}\nwith dg.Store.open(s.db, memory_limit=s.memory_limit) as st:\n"
        f"    r = dg.ingest_files([{str(work / 'sim' / 'exchanges')!r}], 'native', st, s)\n"
        "    assert r.rejected == 0"
    )
    rows = [
        (
            "simulate",
            run_step(
                f"dg.simulate('mixed', {args.scale}, {args.seed}, {str(work / 'sim')!r}, corpus={corpus})"
            ),
        ),
        ("ingest (new)", run_step(ingest)),
        ("ingest again (all duplicates)", run_step(ingest)),
        (
            "bare DuckDB count over the parts",
            run_step(
                f"import duckdb\nduckdb.sql(\"SELECT count(*), sum(output_tokens) FROM read_parquet('{db}.data/exchanges/*.parquet')\").fetchall()"
            ),
        ),
    ]
    size = sum(p.stat().st_size for p in (work / "sim").rglob("*.parquet"))
    store = sum(p.stat().st_size for p in Path(f"{db}.data").rglob("*.parquet")) + db.stat().st_size
    print(
        f"\nscale {args.scale:,} · seed {args.seed} · corpus {args.corpus or 'generator'} · "
        f"{time.strftime('%Y-%m-%d')}\n"
    )
    print("| step | wall s | exchanges/s | peak RSS MB |\n|---|---:|---:|---:|")
    for name, (seconds, mb) in rows:
        rate = f"{args.scale / seconds:,.0f}" if seconds >= 0.05 else "—"
        print(f"| {name} | {seconds:.2f} | {rate} | {mb:,.0f} |")
    print(f"\nsimulated Parquet: {size / 1e6:,.0f} MB · store: {store / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
