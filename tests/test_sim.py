"""The simulator: deterministic, contract-conformant, and shaped like the published campaigns."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import distillguard as dg
from distillguard.sim.actors import RELEASE_DAY, T0
from distillguard.sim.textpool import load_corpus

DAY = 86_400


def _digest(directory: Path) -> str:
    h = hashlib.sha256()
    for part in sorted((directory / "exchanges").glob("*.parquet")):
        t = pq.read_table(part, columns=["request_id", "ts", "account_id", "prompt", "model"])
        h.update(str(t.to_pylist()).encode())
    h.update(str(pq.read_table(directory / "accounts.parquet").to_pylist()).encode())
    return h.hexdigest()


def test_same_seed_same_output_other_seed_other_output(tmp_path: Path) -> None:
    a = dg.simulate("mixed", 3_000, seed=5, out=tmp_path / "a")
    b = dg.simulate("mixed", 3_000, seed=5, out=tmp_path / "b")
    dg.simulate("mixed", 3_000, seed=6, out=tmp_path / "c")
    assert a.exchanges == b.exchanges == 3_000
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b") != _digest(tmp_path / "c")


def test_output_conforms_to_the_contract(small_sim: dg.SimReport, tmp_path: Path) -> None:
    settings = dg.load_settings(db=tmp_path / "c.duckdb")
    out = Path(small_sim.out)
    with dg.Store.open(settings.db) as store:
        rep = dg.ingest_files(
            [
                out / "exchanges",
                out / "accounts.parquet",
                out / "truth.parquet",
                out / "exchange_truth.parquet",
            ],
            "native",
            store,
            settings,
        )
        assert rep.rejected == 0
        assert store.count(dg.Kind.EXCHANGES) == small_sim.exchanges == 20_000
        assert store.count(dg.Kind.ACCOUNTS) == store.count(dg.Kind.TRUTH) == small_sim.accounts


def test_every_persona_and_campaign_is_present(small_sim: dg.SimReport) -> None:
    truth = pq.read_table(Path(small_sim.out) / "truth.parquet").to_pylist()
    personas = {t["persona"] for t in truth}
    assert personas == set(dg.SCENARIOS["mixed"])
    for t in truth:
        assert (t["label"] == "attack") == (t["campaign_id"] is not None)
    ids = [t["account_id"] for t in truth]
    assert len(ids) == len(set(ids))
    assert not any(p in i for i in ids for p in ("hydra", "attack", "legit", "camp"))


@pytest.fixture(scope="module")
def frame(small_sim: dg.SimReport):  # type: ignore[no-untyped-def]
    out = Path(small_sim.out)
    ex = pa.concat_tables([pq.read_table(p) for p in sorted((out / "exchanges").glob("*.parquet"))])
    truth = pq.read_table(out / "truth.parquet")
    accounts = pq.read_table(out / "accounts.parquet")
    return ex, truth, accounts


def _rows_of(frame, persona: str):  # type: ignore[no-untyped-def]
    ex, truth, _ = frame
    ids = [t["account_id"] for t in truth.to_pylist() if t["persona"] == persona]
    return ex.filter(pc.is_in(ex["account_id"], value_set=pa.array(ids)))


def _days(rows) -> np.ndarray:  # type: ignore[no-untyped-def]
    ts = rows["ts"].cast("int64").to_numpy() / 1e6
    return (ts - T0) / DAY


def test_pivot_campaign_moves_half_its_traffic_to_the_new_model_within_a_day(frame) -> None:  # type: ignore[no-untyped-def]
    rows = _rows_of(frame, "model_pivot")
    days = _days(rows)
    new = np.array(rows["model"].to_pylist()) == "atlas-4"
    assert not new[days < RELEASE_DAY].any()
    window = (days > RELEASE_DAY + 1) & (days < RELEASE_DAY + 3)
    assert 0.35 < new[window].mean() < 0.65
    hobby = _rows_of(frame, "hobbyist")
    hnew = np.array(hobby["model"].to_pylist()) == "atlas-4"
    assert hnew[(_days(hobby) > RELEASE_DAY) & (_days(hobby) < RELEASE_DAY + 1)].mean() < 0.05


def test_benchmark_runners_sweep_on_release_day_with_step_by_step_prompts(frame) -> None:  # type: ignore[no-untyped-def]
    rows = _rows_of(frame, "benchmark_runner")
    days = _days(rows)
    assert ((days > RELEASE_DAY) & (days < RELEASE_DAY + 1)).any()
    prompts = rows["prompt"].to_pylist()
    assert any("step by step" in p or "Show your work" in p or "def " in p for p in prompts)


def test_enterprise_batch_uses_one_template_on_a_clockwork_schedule(frame) -> None:  # type: ignore[no-untyped-def]
    ex, truth, _ = frame
    for t in truth.to_pylist():
        if t["persona"] != "enterprise_batch":
            continue
        rows = ex.filter(pc.equal(ex["account_id"], t["account_id"]))
        heads = {p[:40] for p in rows["prompt"].to_pylist()}
        assert len(heads) == 1
        ts = np.sort(rows["ts"].cast("int64").to_numpy() / 1e6)
        gaps = np.diff(ts)
        same_night = gaps[gaps < 3600]
        assert same_night.std() / same_night.mean() < 0.2


def test_hydra_accounts_are_light_replaced_and_mix_customer_traffic(
    frame, small_sim: dg.SimReport
) -> None:  # type: ignore[no-untyped-def]
    ex, truth, accounts = frame
    ids = {t["account_id"] for t in truth.to_pylist() if t["persona"] == "hydra_reseller"}
    created = {
        a["account_id"]: a["created_at"].timestamp()
        for a in accounts.to_pylist()
        if a["account_id"] in ids
    }
    assert sum(1 for c in created.values() if c > T0 + 3 * DAY) >= len(ids) // 3  # replacements
    rows = ex.filter(pc.is_in(ex["account_id"], value_set=pa.array(sorted(ids))))
    per_account = rows.group_by("account_id").aggregate([("request_id", "count")])
    assert max(per_account["request_id_count"].to_pylist()) < 150 * 10
    et = pq.read_table(Path(small_sim.out) / "exchange_truth.parquet")
    campaign = et["campaign_id"].to_pylist()
    share = sum(c is None for c in campaign) / len(campaign)
    assert 0.3 < share < 0.5
    assert set(et["account_id"].to_pylist()) <= ids


def test_multilingual_campaign_speaks_several_scripts(frame) -> None:  # type: ignore[no-untyped-def]
    prompts = _rows_of(frame, "multilingual_coercion")["prompt"].to_pylist()
    scripts = {"cjk": "\u4e00", "cyrillic": "\u0400", "hangul": "\uac00", "arabic": "\u0600"}
    seen = {
        name
        for name, lo in scripts.items()
        if any(any(lo <= ch <= chr(ord(lo) + 0x4FF) for ch in p) for p in prompts)
    }
    assert len(seen) >= 3


def test_without_a_corpus_the_generator_is_used(tmp_path: Path) -> None:
    rep = dg.simulate("legit", 2_000, seed=1, out=tmp_path / "g")
    assert rep.corpus == "generator" and rep.exchanges == 2_000
    truth = pq.read_table(tmp_path / "g" / "truth.parquet")
    assert set(truth["label"].to_pylist()) == {"legit"}


def test_corpus_splits_are_disjoint(corpus: Path) -> None:
    tune, evalu = load_corpus(corpus, "tune"), load_corpus(corpus, "eval")
    assert not set(tune.chat) & set(evalu.chat)
    assert len(tune.gsm8k) + len(evalu.gsm8k) == len(load_corpus(corpus, "all").gsm8k)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scenario": "nope"}, "unknown scenario 'nope'"),
        ({"scale": 10}, "--scale must be between"),
        ({"split": "half"}, "unknown split"),
    ],
)
def test_bad_requests_are_refused(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "scenario": "mixed",
        "scale": 2_000,
        "seed": 1,
        "out": tmp_path / "x",
    } | kwargs
    with pytest.raises(dg.SimulationError, match=message):
        dg.simulate(**args)  # type: ignore[arg-type]


def test_refuses_to_overwrite_and_reports_missing_corpus(tmp_path: Path) -> None:
    dg.simulate("legit", 1_000, seed=1, out=tmp_path / "o")
    with pytest.raises(dg.SimulationError, match="already holds a simulation"):
        dg.simulate("legit", 1_000, seed=1, out=tmp_path / "o")
    with pytest.raises(dg.CorpusError, match="missing corpus file"):
        dg.simulate("legit", 1_000, seed=1, out=tmp_path / "p", corpus=tmp_path)


def test_all_traffic_falls_inside_the_window(frame) -> None:  # type: ignore[no-untyped-def]
    ex, _, _ = frame
    days = _days(ex)
    assert days.min() >= 0 and days.max() < 42


def test_capped_volumes_are_redistributed_not_lost() -> None:
    from distillguard.sim.campaigns import _within_caps

    out = _within_caps(np.array([500, 10, 10, 3]), np.array([100, 100, 100, 300]))
    assert out.sum() == 523 and (out <= [100, 100, 100, 300]).all()
    full = _within_caps(np.array([500, 10]), np.array([100, 100]))
    assert full.tolist() == [100, 100]  # every account at its cap: smaller than asked
