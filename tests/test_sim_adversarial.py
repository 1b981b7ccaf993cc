"""The adversarial scenario family: each evasion knob does what docs/simulator.md says, and
each hard negative has the surface it is there to test."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

import distillguard as dg
from distillguard.sim.actors import NEW_MODEL, T0
from distillguard.sim.adversarial.attackers import KNOBS, LOW_AND_SLOW, OPERATIONS
from distillguard.sim.timing import DAY


@pytest.fixture(scope="module")
def adv(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("adv")
    dg.simulate("adversarial", 120_000, seed=5, out=out, corpus=corpus)
    ex = pa.concat_tables([pq.read_table(p) for p in sorted((out / "exchanges").glob("*.parquet"))])
    truth = {r["account_id"]: r for r in pq.read_table(out / "truth.parquet").to_pylist()}
    accounts = {r["account_id"]: r for r in pq.read_table(out / "accounts.parquet").to_pylist()}
    by_persona: dict[str, list[str]] = defaultdict(list)
    for a, t in truth.items():
        by_persona[t["persona"]].append(a)
    return {"out": out, "ex": ex, "truth": truth, "accounts": accounts, "by": by_persona}


def _rows(adv: dict[str, Any], persona: str) -> pa.Table:
    ids = pa.array(adv["by"][persona])
    return adv["ex"].filter(pc.is_in(adv["ex"]["account_id"], value_set=ids))


def test_every_operation_and_hard_negative_is_present_with_its_knobs(adv: dict[str, Any]) -> None:
    assert set(adv["by"]) == set(dg.SCENARIOS["adversarial"])
    for name, (op, _) in OPERATIONS.items():
        evasions = {adv["truth"][a]["evasion"] for a in adv["by"][name]}
        assert evasions == {op.evasion}, name
    for knob in KNOBS:
        assert f"adv_{knob}" in adv["by"]
    assert all(t["evasion"] is None for t in adv["truth"].values() if t["label"] == "legit")
    catalogue = yaml.safe_load((adv["out"] / "models.yaml").read_text())
    assert [m["id"] for m in catalogue["models"]][-1] == NEW_MODEL


def test_aged_accounts_are_old_and_verified(adv: dict[str, Any]) -> None:
    for persona, aged in (("adv_aged", True), ("adv_base", False)):
        for a in adv["by"][persona]:
            acct = adv["accounts"][a]
            age = (T0 - acct["created_at"].timestamp()) / DAY
            assert (age >= 100) is aged
            assert (acct["verification"] in ("phone", "id")) is aged


def test_one_card_per_account_only_with_the_payment_knob(adv: dict[str, Any]) -> None:
    def cards(persona: str) -> Counter[str]:
        return Counter(adv["accounts"][a]["payment_fp"] for a in adv["by"][persona])

    assert max(cards("adv_payment").values()) == 1
    assert max(cards("adv_base").values()) >= 2


def test_residential_exits_rotate_per_request(adv: dict[str, Any]) -> None:
    rows = _rows(adv, "adv_residential")
    per = rows.group_by("account_id").aggregate([("ip", "count_distinct"), ("request_id", "count")])
    for r in per.to_pylist():
        assert r["ip_count_distinct"] >= min(60, r["request_id_count"] // 3)
    base = _rows(adv, "adv_base").group_by("account_id").aggregate([("ip", "count_distinct")])
    assert max(base["ip_count_distinct"].to_pylist()) <= 6


def test_ordinary_volumes_mean_more_accounts(adv: dict[str, Any]) -> None:
    def per_day(persona: str) -> float:
        rows = _rows(adv, persona)
        days = pc.divide(rows["ts"].cast("int64"), 86_400_000_000).cast("int64")
        t = pa.table({"a": rows["account_id"], "d": days})
        counts = t.group_by(["a", "d"]).aggregate([("d", "count")])["d_count"].to_numpy()
        return float(np.median(counts))

    assert per_day("adv_volume") < 60 < per_day("adv_base")
    assert len(adv["by"]["adv_volume"]) > len(adv["by"]["adv_base"])


def test_paraphrase_leaves_no_repeated_template(adv: dict[str, Any]) -> None:
    def top_tail_share(persona: str) -> float:
        tails = Counter(p[-60:] for p in _rows(adv, persona)["prompt"].to_pylist())
        return tails.most_common(1)[0][1] / sum(tails.values())

    assert top_tail_share("adv_paraphrase") < 0.05 < top_tail_share("adv_base")
    # requests written in other languages than the English of the public task pools
    prompts = _rows(adv, "adv_paraphrase")["prompt"].to_pylist()
    foreign = sum(any(ord(ch) > 0x7F for ch in p) for p in prompts) / len(prompts)
    assert foreign > 0.2


def test_mixed_accounts_carry_customers_traffic(adv: dict[str, Any]) -> None:
    et = pq.read_table(adv["out"] / "exchange_truth.parquet").to_pylist()
    mine = set(adv["by"]["adv_mixed"])
    rows = [r for r in et if r["account_id"] in mine]
    assert rows and 0.4 < sum(r["campaign_id"] is None for r in rows) / len(rows) < 0.6


def test_low_and_slow_has_every_evasion(adv: dict[str, Any]) -> None:
    assert frozenset(KNOBS) - {"rotate_stack"} == LOW_AND_SLOW
    assert {adv["truth"][a]["evasion"] for a in adv["by"]["adv_low_and_slow"]} == {
        ",".join(sorted(LOW_AND_SLOW))
    }


def test_hard_negatives_have_the_surface_they_test(adv: dict[str, Any]) -> None:
    accts = adv["accounts"]
    # one product's system prompt and tools on every user account, most opened recently
    product = _rows(adv, "agent_product_user")
    assert len(set(product["system"].to_pylist())) == 1 and product["tools"].null_count == 0
    # a class on one campus: one e-mail domain per class, accounts opened within half a day
    campus = adv["by"]["campus_class"]
    domains = Counter(accts[a]["email_domain"] for a in campus)
    assert max(domains.values()) >= 12
    # a company's teams on one card, one org id
    fleet = adv["by"]["org_fleet"]
    assert len({accts[a]["payment_fp"] for a in fleet}) < len(fleet)
    assert len({accts[a]["org_id"] for a in fleet}) == len({accts[a]["payment_fp"] for a in fleet})
    # fine-tuned model ids appear mid-window and are not in the catalogue
    models = set(_rows(adv, "finetune_customer")["model"].to_pylist())
    assert any(m.startswith("ft:") for m in models)
    # evaluation harnesses send the same item to several models at temperature 0
    ev = _rows(adv, "release_eval")
    per_prompt = ev.group_by("prompt").aggregate([("model", "count_distinct")])
    assert max(per_prompt["model_count_distinct"].to_pylist()) >= 2
    assert set(ev["temperature"].to_pylist()) == {0.0}
    # judge labs compare answers with the public judge prompts
    assert any("[[" in p for p in _rows(adv, "judge_lab")["prompt"].to_pylist())
    # native step-by-step in many scripts, from MGSM and the generator
    native = _rows(adv, "native_stepwise")["prompt"].to_pylist()
    assert sum(any(ord(ch) > 0x2FF for ch in p) for p in native) > len(native) // 3
