"""Benchmark: `scan` on the Spark engine beside the DuckDB engine and a bare DuckDB scan, on one
store and the same cores.

    python benchmarks/spark_bench.py --db /tmp/dg-bench/dg.duckdb --master 'local[2]' \
        --threads 2 --memory-limit 6GB --driver-memory 8g

Each step runs in its own process: the bare DuckDB scan (every column of every exchange),
the DuckDB scan computing every signal (as the Spark engine always does: it has no stored
signals), the DuckDB scan with signals stored (every later scan), and the Spark scan (session
start included; its JVM heap is ``--driver-memory``). The findings of the two engines are
compared table by table.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from _step import run_step

TABLES = ("accounts", "clusters", "cohorts", "account_features")


def _same(a: Path, b: Path) -> bool:
    for name in TABLES:
        x, y = pq.read_table(a / f"{name}.parquet"), pq.read_table(b / f"{name}.parquet")
        if x.schema != y.schema or x.num_rows != y.num_rows:
            return False
        for col in x.column_names:
            for u, v in zip(x.column(col).to_pylist(), y.column(col).to_pylist(), strict=True):
                if isinstance(u, float) and isinstance(v, float):
                    if not (abs(u - v) <= 1e-9 or (math.isnan(u) and math.isnan(v))):
                        return False
                elif u != v:
                    return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", required=True)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads (the same cores)")
    ap.add_argument("--memory-limit", default="6GB")
    ap.add_argument("--driver-memory", default="8g")
    ap.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "dg-spark-bench"))
    args = ap.parse_args()
    out = Path(args.out)
    parts = str(Path(args.db + ".data") / "exchanges" / "*.parquet")
    bare = run_step(
        "import duckdb\n"
        f"con = duckdb.connect(config={{'memory_limit': {args.memory_limit!r}, 'threads': {args.threads}}})\n"
        f"con.sql(\"SELECT count(*), sum(hash(COLUMNS(*))) FROM read_parquet('{parts}')\").fetchall()"
    )
    open_store = (
        f"dg.Store.open({args.db!r}, read_only=True, threads={args.threads}, "
        f"memory_limit={args.memory_limit!r})"
    )

    def duck(stored: bool) -> tuple[float, float]:
        body = (
            "from distillguard.rules import load_rules\n"
            "from distillguard.detection.pipeline import scan\n"
            "import distillguard.detection.pipeline as s\n"
            + ("" if stored else "s.ensure_signals = lambda *a, **k: []\n")
            + f"with {open_store} as st:\n"
            f"    print(scan(st, load_rules(), {str(out / 'duckdb')!r}).timings)"
        )
        return run_step(body)

    spark = run_step(
        "from distillguard.rules import load_rules\n"
        "from distillguard.detection.pipeline import scan\n"
        "from distillguard.detection.spark import SparkExecutor\n"
        f"with {open_store} as st:\n"
        "    accounts = st.query('SELECT * FROM accounts')\n"
        f"    with SparkExecutor.open(str(st.data_dir / 'exchanges'), accounts, master={args.master!r},\n"
        f"            conf={{'spark.driver.memory': {args.driver_memory!r}}}) as sp:\n"
        f"        print(scan(st, load_rules(), {str(out / 'spark')!r}, engine=sp).timings)"
    )
    computed = duck(stored=False)
    duck(stored=True)  # stores the signals if they were not
    stored = duck(stored=True)
    rows = [
        ("bare DuckDB full scan (all columns)", bare),
        ("DuckDB engine, signals computed", computed),
        ("DuckDB engine, signals stored", stored),
        (f"Spark engine, {args.master}", spark),
    ]
    print("| step | wall s | peak RSS MB (Python process) |\n|---|---:|---:|")
    for name, (seconds, mb) in rows:
        print(f"| {name} | {seconds:.1f} | {mb:,.0f} |")
    print(f"Spark / DuckDB signals computed: {spark[0] / computed[0]:.1f}x")
    print(f"Spark / DuckDB signals stored: {spark[0] / stored[0]:.1f}x")
    print(f"Spark / bare scan: {spark[0] / bare[0]:.1f}x")
    print(f"findings identical: {_same(out / 'duckdb', out / 'spark')}")
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
