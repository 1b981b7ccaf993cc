"""Benchmark: the per-exchange text detectors' regular expressions over real prompts, run by
three engines on the same cores, to decide which one computes the signals.

    python benchmarks/multi_pattern.py --corpus ../shared/corpus --prompts 300000
    pip install hyperscan   # optional: adds the Hyperscan column

- **DuckDB**: the form the signal SQL uses (each signal an OR of chunked RE2 alternations, its
  exclusions tested only where a pattern matched), on all of DuckDB's threads: what ``ingest``
  runs once per store part and the Spark engine runs inside its tasks.
- **RE2 set**: every pattern and exclusion of every signal in one ``RE2::Set`` (google-re2),
  one pass over each prompt, from a Python loop.
- **Hyperscan** (when the ``hyperscan`` package is installed): one database of every pattern
  (caseless, UTF-8, one match per pattern; Unicode properties where Hyperscan accepts them
  with the pattern), one scan per prompt.

The prompts are the public corpus's texts (chat, benchmarks, instructions, tool use, the
multilingual questions), cycled up to ``--prompts``, each copy given a numbered first line
so no engine sees a repeat. For each engine: prompts per second, and how many of its
per-signal verdicts differ from DuckDB's, and the patterns an engine cannot run as RE2 does.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import re2

from distillguard.detection.signals.text import TEXT_SIGNALS
from distillguard.sim.textpool import load_corpus


def prompts(corpus: str, n: int) -> list[str]:
    pools = load_corpus(corpus)
    base = [
        *pools.chat,
        *pools.gsm8k,
        *pools.humaneval,
        *pools.math,
        *pools.code,
        *pools.general,
        *pools.tool_requests,
        *(q for qs in pools.multilingual.values() for q in qs),
        *(q for qs in pools.multilingual_cot.values() for q in qs),
    ]
    return [f"#{i}\n{base[i % len(base)]}" for i in range(n)]


def run_duckdb(texts: list[str], threads: int) -> tuple[float, list[list[bool]]]:
    con = duckdb.connect(config={"threads": threads})
    con.register("_p", pa.table({"i": range(len(texts)), "prompt": texts}))
    columns = ", ".join(f"{s.sql('prompt')} AS s{k}" for k, s in enumerate(TEXT_SIGNALS))
    started = time.perf_counter()
    rows = con.sql(f"SELECT i, {columns} FROM _p ORDER BY i").fetchall()
    return time.perf_counter() - started, [[bool(v) for v in r[1:]] for r in rows]


def _entries() -> list[tuple[int, bool, str]]:
    """(signal index, is an exclusion, pattern) for every pattern of every signal."""
    out = []
    for k, s in enumerate(TEXT_SIGNALS):
        out += [(k, False, p) for ps in s.patterns.values() for p in ps]
        out += [(k, True, p) for ps in s.exclude.values() for p in ps]
    return out


def _verdicts(hits: set[int], entries: list[tuple[int, bool, str]]) -> list[bool]:
    found = [False] * len(TEXT_SIGNALS)
    excluded = [False] * len(TEXT_SIGNALS)
    for h in hits:
        k, exclusion, _ = entries[h]
        if exclusion:
            excluded[k] = True
        else:
            found[k] = True
    return [f and not x for f, x in zip(found, excluded, strict=True)]


def run_re2_set(texts: list[str]) -> tuple[float, list[list[bool]]]:
    entries = _entries()
    patterns = re2.Set.SearchSet()
    for _, _, p in entries:
        patterns.Add(f"(?i){p}")
    patterns.Compile()
    started = time.perf_counter()
    out = [
        _verdicts(set(patterns.Match(t.encode("utf-8", "surrogatepass")) or ()), entries)
        for t in texts
    ]
    return time.perf_counter() - started, out


def _hit(index: int, _start: int, _end: int, _flags: int, found: set[int]) -> None:
    found.add(index)


def run_hyperscan(texts: list[str]) -> tuple[float, list[list[bool]], int, int] | None:
    try:
        import hyperscan
    except ImportError:
        return None
    base = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_UTF8 | hyperscan.HS_FLAG_SINGLEMATCH
    entries, usable, flags, ascii_only = _entries(), [], [], 0
    for index, (_, _, p) in enumerate(entries):
        # Unicode properties where Hyperscan allows them; it refuses \b with them, and then
        # the pattern is compiled without (ASCII case folding only: RE2 folds all of Unicode)
        for f in (base | hyperscan.HS_FLAG_UCP, base):
            try:
                hyperscan.Database().compile(
                    expressions=[p.encode()], ids=[index], elements=1, flags=[f]
                )
            except hyperscan.error:
                continue
            usable.append(index)
            flags.append(f)
            ascii_only += f == base
            break
    db = hyperscan.Database()
    db.compile(
        expressions=[entries[i][2].encode() for i in usable],
        ids=usable,
        elements=len(usable),
        flags=flags,
    )
    scratch = hyperscan.Scratch(db)
    started = time.perf_counter()
    out = []
    for t in texts:
        hits: set[int] = set()
        db.scan(
            t.encode("utf-8", "surrogatepass"),
            match_event_handler=_hit,
            context=hits,
            scratch=scratch,
        )
        out.append(_verdicts(hits, entries))
    return time.perf_counter() - started, out, len(entries) - len(usable), ascii_only


def _differences(a: list[list[bool]], b: list[list[bool]]) -> int:
    return sum(x != y for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--prompts", type=int, default=300_000)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    texts = prompts(args.corpus, args.prompts)
    size = sum(len(t) for t in texts) / len(texts)
    n_patterns = len(_entries())
    print(f"{len(texts):,} prompts (mean {size:,.0f} characters), {len(TEXT_SIGNALS)} signals, ")
    print(f"{n_patterns} patterns and exclusions; DuckDB on {args.threads} threads\n")
    duck_s, duck = run_duckdb(texts, args.threads)
    set_s, by_set = run_re2_set(texts)
    print(
        "| engine | wall | prompts/s | verdicts differing from DuckDB's "
        "| patterns not compiled | patterns with ASCII-only case folding |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| DuckDB (RE2, chunked alternations) | {duck_s:.1f} s | {len(texts) / duck_s:,.0f} "
        "| — | 0 | 0 |"
    )
    print(
        f"| RE2 set, Python loop | {set_s:.1f} s | {len(texts) / set_s:,.0f} "
        f"| {_differences(duck, by_set):,} | 0 | 0 |"
    )
    hs = run_hyperscan(texts)
    if hs is None:
        print("| Hyperscan | not installed (`pip install hyperscan`) | | | | |")
    else:
        hs_s, by_hs, missing, ascii_only = hs
        print(
            f"| Hyperscan, Python loop | {hs_s:.1f} s | {len(texts) / hs_s:,.0f} "
            f"| {_differences(duck, by_hs):,} | {missing} | {ascii_only} |"
        )
    print(f"\n(corpus: {Path(args.corpus).resolve()})")


if __name__ == "__main__":
    main()
