"""Groups of accounts judged together: the entity rows they sum to, and cohorts that link
low-and-slow accounts while legitimate cohorts stay apart."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from distillguard.detection.cohorts import score_cohorts
from distillguard.detection.entities import aggregate, hour_entropy, with_derived
from distillguard.detection.features import COUNTS, SHARES
from distillguard.detection.linking import link
from distillguard.detection.scoring import score_accounts
from distillguard.rules import load_rules

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def account(
    account_id: str, n: int, hours: dict[int, int] | None = None, **kw: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {name: 0 for name in COUNTS}
    row.update(account_id=account_id, exchanges=n, input_tokens=10 * n, output_tokens=20 * n)
    for h, c in (hours or {10: n}).items():
        row[f"h{h:02d}"] = c
    row.update(
        active_days=1, days=[20574], first_seen=T0, last_seen=T0, young_share=0.0,
        weak_verification=0.0, email_pattern=0.0, billing_mismatch=0.0, shared_payment=1,
        established_business=0.0, pathway_n=0, pathway_share=0.0, release_share=0.0,
        multi_model_share=0.0, volume_per_day=float(n),
    )  # fmt: skip
    row.update(kw)
    for share, count in SHARES.items():
        row[share] = row[count] / n
    row["output_input_ratio"] = row["output_tokens"] / max(row["input_tokens"], 1)
    return row


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return with_derived(pa.Table.from_pylist(rows))


def test_a_group_row_is_the_sum_of_its_members() -> None:
    rows = [
        account("a", 10, trace_n=5, hours={1: 5, 13: 5}, weak_verification=1.0, shared_payment=3),
        account("b", 30, trace_n=0, hours={13: 30}, days=[20574, 20575]),
    ]
    attrs = table(rows)
    g = aggregate(attrs, {"g": ["a", "b", "missing"]}).to_pylist()[0]
    assert (g["accounts"], g["exchanges"], g["trace_n"]) == (2, 40, 5)
    assert g["trace_share"] == pytest.approx(5 / 40)
    assert g["weak_verification"] == 0.5 and g["shared_payment"] == 3
    assert g["active_days"] == 2 and g["volume_per_day"] == 20
    # each member's own rhythm, weighted by its exchanges: a spreads over 2 hours, b over 1
    assert g["hour_entropy"] == pytest.approx((10 * np.log(2) / np.log(24) + 30 * 0) / 40)


def test_a_member_counts_for_at_most_member_exchanges() -> None:
    attrs = table([account("heavy", 10_000, trace_n=5_000), account("light", 20)])
    g = aggregate(attrs, {"g": ["heavy", "light"]}, member_exchanges=20).to_pylist()[0]
    assert g["exchanges"] == 40 and g["trace_n"] == 10  # 20 × 0.5 + 20 × 0
    assert g["exchanges_total"] == 10_020


def test_members_on_one_schedule_are_aligned_and_people_in_many_time_zones_are_not() -> None:
    same = [account(f"s{i}", 48, hours={h: 2 for h in range(24)}) for i in range(3)]
    zones = [
        account(f"z{i}", 40, hours={(9 + 8 * i + k) % 24: 5 for k in range(8)}) for i in range(3)
    ]
    attrs = table(same + zones)
    groups = aggregate(
        attrs, {"same": [r["account_id"] for r in same], "zones": [r["account_id"] for r in zones]}
    )
    by = {r["account_id"]: r for r in groups.to_pylist()}
    assert by["same"]["rhythm_alignment"] == pytest.approx(1.0)
    # three disjoint 8-hour shifts: each profile against the mean one, JS = (log2 1.5 + 1/3) / 2
    assert by["zones"]["rhythm_alignment"] == pytest.approx(1 - (np.log2(1.5) + 1 / 3) / 2)


def test_hour_entropy_of_round_the_clock_and_one_hour() -> None:
    assert hour_entropy(
        np.array([[1.0] * 24, [5.0] + [0.0] * 23, [0.0] * 24])
    ).tolist() == pytest.approx([1.0, 0.0, 0.0])


def _population() -> tuple[pa.Table, pa.Table, dict[str, float]]:
    """Forty ordinary accounts; six light accounts of a low-and-slow operation sharing one
    system prompt, each asking for the internal reasoning in 4 of its 15 exchanges; eight
    users of one agent product sharing its system prompt; one heavy extraction account that
    shares a generic system prompt with one ordinary account."""
    rows = [account(f"o{i:02d}", 60, hours={9 + i % 10: 60}) for i in range(40)]
    rows += [account(f"s{i}", 15, trace_n=4, hours={h: 1 for h in range(15)}) for i in range(6)]
    rows += [account(f"p{i}", 80, coding_n=60, agentic_n=40, hours={8 + i: 80}) for i in range(8)]
    rows += [account("heavy", 2_000, trace_n=1_500, hours={h: 80 for h in range(24)} | {0: 160})]
    tokens = [(f"s{i}", "system_prompt", "harness") for i in range(6)]
    tokens += [(f"p{i}", "system_prompt", "product") for i in range(8)]
    tokens += [("heavy", "system_prompt", "helpful"), ("o00", "system_prompt", "helpful")]
    attrs = table(rows)
    rules = load_rules()
    own = score_accounts(attrs, rules)
    risk = dict(zip(own.account_id, own.risk.tolist(), strict=True))
    tok = pa.table(
        {k: [t[i] for t in tokens] for i, k in enumerate(("account_id", "kind", "token"))}
    )
    return attrs, tok, risk


def test_light_accounts_are_weak_alone_and_strong_as_a_cohort() -> None:
    attrs, tok, risk = _population()
    rules = load_rules()
    assert max(risk[f"s{i}"] for i in range(6)) < rules.verdicts["watch"]
    cohorts = score_cohorts(attrs, tok, rules, risk)
    gate = rules.cohorts.gate
    assert cohorts.risk[("system_prompt", "harness")] >= gate
    assert cohorts.risk[("system_prompt", "product")] < gate  # ordinary work, young or not
    # the heavy account alone does not make a cohort of itself and an ordinary customer
    assert cohorts.risk[("system_prompt", "helpful")] < gate
    why = cohorts.reasons(rules, ("system_prompt", "harness"))
    assert why[0]["signal"] == "trace_share" and why[0]["direction"] == "raises"


def test_a_passing_cohort_links_its_members_into_one_cluster() -> None:
    attrs, tok, risk = _population()
    rules = load_rules()
    cohorts = score_cohorts(attrs, tok, rules, risk)
    clusters = link(
        tok,
        risk,
        rules.linking,
        cohorts=cohorts.linking(rules.cohorts.gate),
        admit=rules.cohorts.admit,
    )
    assert sorted(clusters.members.values()) == [[f"s{i}" for i in range(6)]]


def test_no_cohort_without_shared_tokens() -> None:
    attrs = table([account("a", 10)])
    empty = pa.table(
        {
            "account_id": pa.array([], pa.string()),
            "kind": pa.array([], pa.string()),
            "token": pa.array([], pa.string()),
        }
    )
    out = score_cohorts(attrs, empty, load_rules(), {})
    assert out.risk == {} and out.linking(0.5) == {}


def test_a_typical_group_is_its_median_member() -> None:
    """Three customers and one heavy extraction account: pooled, a third of the traffic asks
    for the internal reasoning; the median member asks for none of it."""
    rows = [account(f"c{i}", 30) for i in range(3)] + [account("x", 30, trace_n=30)]
    attrs = table(rows)
    pooled = aggregate(attrs, {"g": ["c0", "c1", "c2", "x"]}, member_exchanges=30).to_pylist()[0]
    typical = aggregate(
        attrs, {"g": ["c0", "c1", "c2", "x"]}, member_exchanges=30, typical=True
    ).to_pylist()[0]
    assert pooled["trace_share"] == 0.25 and typical["trace_share"] == 0.0
    assert typical["exchanges"] == 120  # the trials behind it stay pooled
    mostly = aggregate(
        table([account(f"x{i}", 30, trace_n=9) for i in range(3)] + [account("c", 30)]),
        {"g": ["x0", "x1", "x2", "c"]},
        typical=True,
    ).to_pylist()[0]
    assert mostly["trace_share"] == pytest.approx(0.3)
