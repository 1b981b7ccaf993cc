"""Detection evaluation: simulate → ingest → scan → evaluate, for a tuning seed and held-out
seeds, and print one Markdown report (the source of docs/evaluation.md).

    python benchmarks/detection_eval.py --corpus ../shared/corpus --scale 1000000 \\
        --tune 101 --heldout 202 303 --work /tmp/dg-eval

The tuning seed uses the corpus half ``tune``; held-out seeds use the half ``eval``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

import distillguard as dg
from distillguard.evaluate import evaluate, load_truth, render_markdown, write_report
from distillguard.evaluate.metrics import Truth
from distillguard.rules import load_rules
from distillguard.scan import scan


def run(seed: int, split: str, args: argparse.Namespace) -> str:
    work = Path(args.work) / f"seed-{seed}"
    shutil.rmtree(work, ignore_errors=True)
    sim = work / "sim"
    t0 = time.perf_counter()
    dg.simulate("mixed", args.scale, seed, sim, corpus=args.corpus, split=split)
    settings = dg.load_settings(db=work / "dg.duckdb", progress=False)
    with dg.Store.open(settings.db) as store:
        dg.ingest_files([sim / "exchanges", sim / "accounts.parquet"], "native", store, settings)
    with dg.Store.open(settings.db, read_only=True) as store:
        t1 = time.perf_counter()
        result = scan(store, load_rules(args.rules), work / "findings")
        t2 = time.perf_counter()
        truth = load_truth(sim / "truth.parquet")
        report = evaluate(
            work / "findings",
            truth,
            store,
            delay_checkpoints=args.delay,
        )
    write_report(report, work / "findings")
    learned = _with_labels(seed, work, settings, truth, args) if args.label_share else ""
    head = (
        f"### seed {seed} (corpus half `{split}`{', tuning' if split == 'tune' else ', held out'})\n\n"
        f"{args.scale:,} exchanges · scan {t2 - t1:.1f}s ({', '.join(f'{k} {v:.1f}s' for k, v in result.timings.items())})"
        f" · simulate+ingest {t1 - t0:.1f}s\n\n"
    )
    return head + render_markdown(report) + learned


def _with_labels(
    seed: int, work: Path, settings: dg.Settings, truth: Truth, args: argparse.Namespace
) -> str:
    """Rescan with analyst labels on a random share of accounts (`scan --labels`) and
    measure on the accounts that were *not* labelled."""
    rng = random.Random(seed)
    accounts = sorted(truth.label)
    picked = set(rng.sample(accounts, round(args.label_share * len(accounts))))
    labels = {a: truth.label[a] == "attack" for a in picked}
    held = Truth(
        label={a: v for a, v in truth.label.items() if a not in picked},
        persona={a: v for a, v in truth.persona.items() if a not in picked},
        campaign={a: v for a, v in truth.campaign.items() if a not in picked},
        campaign_exchanges={a: v for a, v in truth.campaign_exchanges.items() if a not in picked},
    )
    with dg.Store.open(settings.db, read_only=True) as store:
        scan(store, load_rules(args.rules), work / "findings-labels", labels=labels)
        report = evaluate(work / "findings-labels", held, store, baselines=False)
    return (
        f"\n#### seed {seed} with analyst labels on {args.label_share:.0%} of accounts "
        f"({sum(labels.values())} attack, {len(labels) - sum(labels.values())} legitimate); "
        "metrics on the unlabelled accounts only\n\n" + render_markdown(report)
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--scale", type=int, default=1_000_000)
    ap.add_argument("--tune", type=int, default=101)
    ap.add_argument("--heldout", type=int, nargs="*", default=[202, 303])
    ap.add_argument("--rules", default=None, help="detection rules YAML (default: packaged)")
    ap.add_argument("--delay", type=int, default=14, help="detection-delay checkpoints (0: off)")
    ap.add_argument(
        "--label-share",
        type=float,
        default=0.0,
        help="also rescan with analyst labels on this share of accounts (0: off)",
    )
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "dg-eval"))
    args = ap.parse_args()
    sections = [run(args.tune, "tune", args)] + [run(s, "eval", args) for s in args.heldout]
    print(f"## Detection evaluation · {time.strftime('%Y-%m-%d')}\n")
    print("\n".join(sections))


if __name__ == "__main__":
    main()
