"""``evaluate``: findings against ground truth, beside baselines on the same data.

Writes ``evaluation.md`` and ``evaluation.json``; see docs/evaluation.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from distillguard.catalogue import Catalogue
from distillguard.detection.entities import with_derived
from distillguard.detection.features import account_features_sql
from distillguard.errors import InputError
from distillguard.evaluate.baselines import RateLimits, isolation_forest, rate_limit
from distillguard.evaluate.delay import checkpoints, detection_delay
from distillguard.evaluate.metrics import Truth, calibration, evaluate_flags
from distillguard.rules import Rules, load_rules
from distillguard.store import Store

__all__ = ["Truth", "evaluate", "load_truth", "render_markdown"]

FLAGGED = ("review", "act")


def load_truth(truth: str | Path, exchange_truth: str | Path | None = None) -> Truth:
    """Read the simulator's (or an analyst's) truth files."""
    path = Path(truth)
    try:
        rows = pq.read_table(path).to_pylist()
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read truth: {exc}", path=path) from exc
    t = Truth(
        label={r["account_id"]: r["label"] for r in rows},
        persona={r["account_id"]: r["persona"] for r in rows},
        campaign={r["account_id"]: r["campaign_id"] for r in rows},
        evasion={
            r["account_id"]: str(r["evasion"])
            for r in rows
            if r.get("evasion") and r["label"] == "attack"
        },
    )
    ex_path = Path(exchange_truth) if exchange_truth else path.with_name("exchange_truth.parquet")
    if ex_path.is_file():
        counts: dict[str, int] = {}
        table = pq.read_table(ex_path, columns=["account_id", "campaign_id"])
        for account, campaign in zip(
            table.column("account_id").to_pylist(),
            table.column("campaign_id").to_pylist(),
            strict=True,
        ):
            counts[account] = counts.get(account, 0) + (campaign is not None)
        t.campaign_exchanges = counts
    return t


def evaluate(
    findings: str | Path,
    truth: Truth,
    store: Store,
    *,
    baselines: bool = True,
    embedding_baselines: bool = False,
    corpus: str | None = None,
    per_account: int = 16,
    delay_checkpoints: int = 0,
    rules: Rules | None = None,
    catalogue: Catalogue | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Metrics of the findings in ``findings`` and of each baseline, on the same accounts.

    ``progress(done, total)`` is called while prompts are embedded (the slow step)."""
    fdir = Path(findings)
    accounts_path = fdir / "accounts.parquet"
    if not accounts_path.is_file():
        raise InputError("no accounts.parquet here: run `distillguard scan --out` first", path=fdir)
    acc = pq.read_table(accounts_path).to_pylist()
    exchanges = {r["account_id"]: int(r["exchanges"]) for r in acc}
    flagged = {r["account_id"] for r in acc if r["verdict"] in FLAGGED}
    clusters = {r["account_id"]: r["cluster_id"] for r in acc if r["cluster_id"]}
    report: dict[str, Any] = {
        "methods": {"distillguard": evaluate_flags(flagged, exchanges, truth, clusters)},
        "calibration": calibration({r["account_id"]: float(r["risk"]) for r in acc}, truth),
    }
    if baselines:
        signals = store.parquet(fdir / "exchange_signals.parquet")
        limits = RateLimits()
        report["methods"]["rate limit"] = evaluate_flags(
            rate_limit(store, signals, limits), exchanges, truth
        )
        report["methods"]["rate limit"]["parameters"] = limits.__dict__
        features = with_derived(store.query(account_features_sql(signals)))
        report["methods"]["isolation forest"] = evaluate_flags(
            isolation_forest(features), exchanges, truth
        )
        report["methods"]["isolation forest"]["parameters"] = {
            "contamination": 0.05,
            "n_estimators": 200,
        }
    if embedding_baselines:
        from distillguard.evaluate import embedding_baselines as eb
        from distillguard.evaluate.embed import MiniLM

        model = MiniLM()
        signals = store.parquet(fdir / "exchange_signals.parquet")
        samples = eb.sample_prompts(store, signals, per_account=per_account)
        embedded = eb.embed_samples(samples, model, progress=progress)
        reference = model.encode(list(eb.reference_prompts(corpus)))
        report["methods"]["PRADA"] = evaluate_flags(eb.prada(embedded), exchanges, truth)
        report["methods"]["PRADA"]["parameters"] = {
            "delta": 0.96,
            "prompts_per_account": per_account,
        }
        report["methods"]["MMD"] = evaluate_flags(eb.mmd(embedded, reference), exchanges, truth)
        report["methods"]["MMD"]["parameters"] = {
            "benign_fpr": 0.003,
            "prompts_per_account": per_account,
            "reference": "corpus chat" if corpus else "generator chat",
        }
    if delay_checkpoints:
        cuts = checkpoints(store, delay_checkpoints)
        report["delay"] = detection_delay(store, rules or load_rules(), truth, cuts, catalogue)
    return report


def render_markdown(report: dict[str, Any]) -> str:
    methods = report["methods"]
    lines = [
        "| method | accounts flagged | precision | recall | FPR (legit) | false positives | exchange-weighted recall |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in methods.items():
        lines.append(
            f"| {name} | {m['flagged']:,} | {m['precision']:.4f} | {m['recall']:.4f} | {m['fpr']:.4%} | "
            f"{m['false_positives']:,} | {m['exchange_recall']:.4f} |"
        )
    lines += [
        "",
        "False positives per legitimate persona (flagged / accounts):",
        "",
        "| persona | " + " | ".join(methods) + " |",
        "|---|" + "---:|" * len(methods),
    ]
    personas = next(iter(methods.values()))["fp_by_persona"]
    for p in personas:
        cells = [
            f"{m['fp_by_persona'].get(p, {}).get('flagged', 0)} / {personas[p]['accounts']}"
            for m in methods.values()
        ]
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    dg = methods["distillguard"]
    if dg.get("evasion"):
        lines += [
            "",
            "Robustness (distillguard): recall per evasion knob (each campaign's knobs; `none` is "
            "the plain operation)",
            "",
            "| evasion knobs | accounts | recall | exchange recall |",
            "|---|---:|---:|---:|",
        ]
        for knobs, row in dg["evasion"].items():
            lines.append(
                f"| {knobs} | {row['accounts']:,} | {row['recall']:.4f} | {row['exchange_recall']:.4f} |"
            )
    lines += [
        "",
        "Per campaign (distillguard):",
        "",
        "| campaign | accounts | recall | exchange recall | main cluster | coverage | purity |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    for camp, row in dg["campaigns"].items():
        purity = "—" if row.get("purity") is None else f"{row['purity']:.3f}"
        lines.append(
            f"| {camp} | {row['accounts']:,} | {row['recall']:.4f} | {row['exchange_recall']:.4f} | "
            f"{row.get('main_cluster') or '—'} | {row.get('coverage', 0):.3f} | {purity} |"
        )
    cal = report.get("calibration")
    if cal and cal["accounts"]:
        lines += [
            "",
            f"Calibration of `risk` (distillguard): Brier score {cal['brier']:.5f} over "
            f"{cal['accounts']:,} accounts.",
            "",
            "| risk band | accounts | mean risk | share that are attacks |",
            "|---|---:|---:|---:|",
        ]
        for b in cal["bins"]:
            lines.append(
                f"| {b['low']:.2f}–{b['high']:.2f} | {b['accounts']:,} | {b['mean_risk']:.3f} | "
                f"{b['attack_rate']:.3f} |"
            )
    if "delay" in report:
        lines += [
            "",
            f"Detection delay, scanning in time order at {len(report['delay']['checkpoints'])} "
            "checkpoints (exchanges served before the campaign's first `act`; an upper bound):",
            "",
            "| campaign | first act at checkpoint | exchanges before act | share of campaign | campaign exchanges |",
            "|---|---|---:|---:|---:|",
        ]
        for camp, row in report["delay"]["campaigns"].items():
            lines.append(
                f"| {camp} | {row['first_act_checkpoint'] or 'never'} | {row['exchanges_before_act']:,} | "
                f"{row['share_before_act']:.2%} | {row['total_exchanges']:,} |"
            )
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "evaluation.md", out_dir / "evaluation.json"
    md.write_text(render_markdown(report), encoding="utf-8")
    js.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return md, js
