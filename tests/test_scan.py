"""scan and evaluate end to end on a small simulated scenario from the real corpus."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import distillguard as dg
from distillguard.evaluate import Truth, evaluate, load_truth, render_markdown
from distillguard.rules import load_rules
from distillguard.scan import ScanResult, scan

HARD_NEGATIVES = (
    "benchmark_runner",
    "enterprise_batch",
    "licensed_distiller",
    "coding_agent",
    "app_backend",
)


@pytest.fixture(scope="module")
def scanned(
    small_sim: dg.SimReport, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ScanResult, dg.Store, Path]]:
    work = tmp_path_factory.mktemp("scan")
    settings = dg.load_settings(db=work / "dg.duckdb")
    out = Path(small_sim.out)
    with dg.Store.open(settings.db) as store:
        dg.ingest_files([out / "exchanges", out / "accounts.parquet"], "native", store, settings)
        yield scan(store, load_rules(), work / "findings"), store, out


def test_findings_files_and_reasons(scanned: tuple[ScanResult, dg.Store, Path]) -> None:
    result, _, _ = scanned
    for name in (
        "accounts.parquet",
        "clusters.parquet",
        "findings.json",
        "scan.json",
        "exchange_signals.parquet",
    ):
        assert (result.out / name).is_file(), name
    rules = load_rules()
    for row in result.accounts.to_pylist():
        assert 0.0 <= row["risk"] <= 1.0
        if not row["allowlisted"]:
            assert row["verdict"] == rules.verdict(row["risk"])
        if row["verdict"] in ("review", "act"):
            why = json.loads(row["reasons"])
            assert why and all({"signal", "value", "baseline", "text"} <= set(r) for r in why)
    doc = json.loads((result.out / "findings.json").read_text())
    assert doc["findings_version"] == "1" and doc["clusters"]
    for c in doc["clusters"]:
        assert (
            c["accounts"] == len(c["account_ids"]) and c["shared_infrastructure"] and c["reasons"]
        )


def test_campaigns_found_and_hard_negatives_spared(
    scanned: tuple[ScanResult, dg.Store, Path],
) -> None:
    result, store, out = scanned
    report = evaluate(result.out, load_truth(out / "truth.parquet"), store)
    ours = report["methods"]["distillguard"]
    # At 20K exchanges a small agentic campaign's accounts carry ~100-200 requests each,
    # under the behavioural evidence floor; every other campaign is caught whole.
    for campaign, row in ours["campaigns"].items():
        if campaign != "camp-agentic":
            assert row["recall"] == 1.0, campaign
            assert row["purity"] is not None and row["purity"] >= 0.98, campaign
    assert ours["precision"] == 1.0
    for persona in HARD_NEGATIVES:
        assert ours["fp_by_persona"].get(persona, {"flagged": 0})["flagged"] == 0, persona
    assert ours["fpr"] <= 0.01
    assert ours["recall"] > report["methods"]["rate limit"]["recall"]
    assert ours["recall"] > report["methods"]["isolation forest"]["recall"]
    md = render_markdown(report)
    assert "| distillguard |" in md and "| rate limit |" in md and "| isolation forest |" in md


def test_allowlisted_accounts_stay_ok(scanned: tuple[ScanResult, dg.Store, Path]) -> None:
    result, _, _ = scanned
    allowed = [r for r in result.accounts.to_pylist() if r["allowlisted"]]
    assert allowed and all(r["verdict"] == "ok" for r in allowed)
    assert all("allowlisted" in r["reasons"] for r in allowed if r["own_risk"] >= 0.3)


def test_mixed_reseller_accounts_report_their_campaign_share(
    scanned: tuple[ScanResult, dg.Store, Path],
) -> None:
    result, _, out = scanned
    truth = {
        r["account_id"]: r["persona"] for r in pq.read_table(out / "truth.parquet").to_pylist()
    }
    shares = [
        r["campaign_share"]
        for r in result.accounts.to_pylist()
        if truth.get(r["account_id"]) == "hydra_reseller" and r["cluster_id"]
    ]
    assert shares and 0.3 < sum(shares) / len(shares) < 0.9


def test_scan_of_an_empty_store_is_a_clear_error(tmp_path: Path) -> None:
    with (
        dg.Store.open(tmp_path / "e.duckdb") as store,
        pytest.raises(dg.InputError, match="no exchanges"),
    ):
        scan(store, load_rules(), tmp_path / "f")


def test_evaluate_without_findings(tmp_path: Path, store: dg.Store) -> None:
    with pytest.raises(dg.InputError, match="run `distillguard scan"):
        evaluate(tmp_path, Truth({}, {}, {}), store)


def test_detection_delay_in_time_order(scanned: tuple[ScanResult, dg.Store, Path]) -> None:
    result, store, out = scanned
    report = evaluate(
        result.out,
        load_truth(out / "truth.parquet"),
        store,
        baselines=False,
        delay_checkpoints=4,
        rules=load_rules(),
    )
    delay = report["delay"]
    assert len(delay["checkpoints"]) == 4
    for campaign, row in delay["campaigns"].items():
        assert 0 <= row["exchanges_before_act"] <= row["total_exchanges"], campaign
        if row["first_act_checkpoint"] is None:
            assert row["share_before_act"] == 1.0
    hydra = delay["campaigns"]["camp-hydra"]
    assert hydra["first_act_checkpoint"] is not None and hydra["share_before_act"] < 1.0
    assert "Detection delay" in render_markdown(report)


def test_scan_learns_weights_from_analyst_labels(
    scanned: tuple[ScanResult, dg.Store, Path], tmp_path: Path
) -> None:
    _, store, out = scanned
    truth = pq.read_table(out / "truth.parquet").to_pylist()
    labels = {t["account_id"]: t["label"] == "attack" for t in truth[:200]}
    result = scan(store, load_rules(), tmp_path / "learned", labels=labels)
    assert (tmp_path / "learned" / "learned_rules.yaml").is_file()
    assert result.accounts.num_rows > 0
    with pytest.raises(dg.InputError, match="at least one attack and one legitimate"):
        scan(store, load_rules(), tmp_path / "bad", labels={truth[0]["account_id"]: True})
