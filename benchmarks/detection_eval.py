"""Detection evaluation: simulate → ingest → scan → evaluate, for one or more seeds of a
scenario, and print one Markdown report with the targets checked (the source of
docs/evaluation.md).

    python benchmarks/detection_eval.py --corpus ../shared/corpus --scale 1000000 \\
        --scenario adversarial --seeds 4242 --split eval --work /tmp/dg-eval

Reseeds of the project's own simulator are *regression* results: the detector's authors also
wrote the generator. They say whether a change broke something the simulator can show, not
how the detector does on traffic written by someone else.

Targets (issue 12, and the original detection issue for ``mixed``):

- account recall ≥ 99 %, exchange-weighted recall ≥ 99.5 %;
- legitimate-account FPR ≤ 0.05 % (adversarial) or ≤ 0.1 % (mixed);
- 0 false positives in every hard-negative persona (adversarial) or among benchmark runners,
  enterprise batch pipelines and allowlisted accounts (mixed);
- recall ≥ 95 % for each evasion knob alone (adversarial);
- cluster purity ≥ 0.98 for every campaign (mixed); the agentic campaign at ``act``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

import distillguard as dg
from distillguard.catalogue import load_catalogue
from distillguard.detection.pipeline import scan
from distillguard.evaluate import evaluate, load_truth, render_markdown, write_report
from distillguard.evaluate.metrics import Truth
from distillguard.rules import load_rules
from distillguard.sim.adversarial import HARD_NEGATIVE_MIX

MIXED_NO_FP = ("benchmark_runner", "enterprise_batch", "licensed_distiller")


def targets(
    scenario: str, report: dict[str, Any], findings: Path, truth: Truth
) -> list[tuple[str, bool, str]]:
    """(target, met, measured) rows for one evaluated run."""
    m = report["methods"]["distillguard"]
    rows = [
        ("account recall ≥ 99 %", m["recall"] >= 0.99, f"{m['recall']:.4f}"),
        (
            "exchange-weighted recall ≥ 99.5 %",
            m["exchange_recall"] >= 0.995,
            f"{m['exchange_recall']:.4f}",
        ),
    ]
    fpr_target = 0.0005 if scenario == "adversarial" else 0.001
    rows.append((f"legitimate FPR ≤ {fpr_target:.2%}", m["fpr"] <= fpr_target, f"{m['fpr']:.4%}"))
    no_fp = HARD_NEGATIVE_MIX if scenario == "adversarial" else MIXED_NO_FP
    for persona in no_fp:
        got = m["fp_by_persona"].get(persona, {"flagged": 0, "accounts": 0})
        rows.append(
            (
                f"0 false positives: {persona}",
                got["flagged"] == 0,
                f"{got['flagged']} / {got['accounts']}",
            )
        )
    for knobs, row in m.get("evasion", {}).items():
        if "," not in knobs and knobs != "none":
            rows.append(
                (f"recall ≥ 95 %: {knobs} alone", row["recall"] >= 0.95, f"{row['recall']:.4f}")
            )
    if scenario == "mixed":
        for camp, row in m["campaigns"].items():
            purity = row.get("purity")
            rows.append(
                (f"purity ≥ 0.98: {camp}", purity is not None and purity >= 0.98, f"{purity}")
            )
    accounts = pq.read_table(findings / "accounts.parquet").to_pylist()
    agentic = [
        r for r in accounts if (truth.campaign.get(r["account_id"]) or "").endswith("agentic")
    ]
    if agentic:
        acted = sum(r["verdict"] == "act" for r in agentic)
        rows.append(
            ("agentic campaign at act", acted == len(agentic), f"{acted} / {len(agentic)} accounts")
        )
    return rows


def run(seed: int, args: argparse.Namespace) -> tuple[str, bool]:
    work = Path(args.work) / f"{args.scenario}-{seed}"
    shutil.rmtree(work, ignore_errors=True)
    sim = work / "sim"
    t0 = time.perf_counter()
    dg.simulate(args.scenario, args.scale, seed, sim, corpus=args.corpus, split=args.split)
    settings = dg.load_settings(db=work / "dg.duckdb", progress=False)
    with dg.Store.open(settings.db) as store:
        dg.ingest_files([sim / "exchanges", sim / "accounts.parquet"], "native", store, settings)
    catalogue = load_catalogue(sim / "models.yaml")
    rules = load_rules(args.rules)
    with dg.Store.open(settings.db, read_only=True) as store:
        t1 = time.perf_counter()
        result = scan(store, rules, work / "findings", catalogue=catalogue)
        t2 = time.perf_counter()
        truth = load_truth(sim / "truth.parquet")
        report = evaluate(
            work / "findings",
            truth,
            store,
            baselines=not args.no_baselines,
            delay_checkpoints=args.delay,
            rules=rules,
            catalogue=catalogue,
        )
    write_report(report, work / "findings")
    learned = _with_labels(seed, work, settings, truth, args) if args.label_share else ""
    checks = targets(args.scenario, report, work / "findings", truth)
    table = ["| target | met | measured |", "|---|---|---:|"]
    table += [f"| {name} | {'yes' if ok else '**no**'} | {value} |" for name, ok, value in checks]
    head = (
        f"### {args.scenario}, seed {seed} (corpus half `{args.split}`)\n\n"
        f"{args.scale:,} exchanges · scan {t2 - t1:.1f}s "
        f"({', '.join(f'{k} {v:.1f}s' for k, v in result.timings.items())})"
        f" · simulate+ingest {t1 - t0:.1f}s\n\n"
    )
    body = head + "\n".join(table) + "\n\n" + render_markdown(report) + learned
    return body, all(ok for _, ok, _ in checks)


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
        evasion={a: v for a, v in truth.evasion.items() if a not in picked},
    )
    catalogue = load_catalogue(work / "sim" / "models.yaml")
    with dg.Store.open(settings.db, read_only=True) as store:
        scan(
            store,
            load_rules(args.rules),
            work / "findings-labels",
            labels=labels,
            catalogue=catalogue,
        )
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
    ap.add_argument("--scenario", default="adversarial", help="mixed or adversarial")
    ap.add_argument("--scale", type=int, default=1_000_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[4242])
    ap.add_argument("--split", default="eval", help="corpus half: tune, eval or all")
    ap.add_argument("--rules", default=None, help="detection rules YAML (default: packaged)")
    ap.add_argument("--delay", type=int, default=0, help="detection-delay checkpoints (0: off)")
    ap.add_argument("--no-baselines", action="store_true", help="skip the baselines")
    ap.add_argument(
        "--label-share",
        type=float,
        default=0.0,
        help="also rescan with analyst labels on this share of accounts (0: off)",
    )
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "dg-eval"))
    args = ap.parse_args()
    results = [run(s, args) for s in args.seeds]
    print(
        f"## Detection evaluation · {time.strftime('%Y-%m-%d')} (regression: our own simulator)\n"
    )
    print("\n".join(body for body, _ in results))
    met = all(ok for _, ok in results)
    print(f"\nall targets met: {'yes' if met else 'no'}")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
