"""Every column of the per-account feature and attribute SQL, on a few rows in DuckDB, against
answers worked out by hand (the comments give the arithmetic)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from distillguard.detection.features import (
    HOURS,
    SHARES,
    account_attributes_sql,
    account_features_sql,
    link_tokens_sql,
)

SIGNAL_COLUMNS = (
    "trace_extraction",
    "cot_request",
    "rubric_grading",
    "llm_judge",
    "answer_format",
    "censorship_rewrite",
    "coding",
    "math",
    "planning",
    "agentic",
    "non_latin",
    "institutional",
)


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _exchange(
    rid: str, account: str, ts: str, model: str, *, fires: tuple[str, ...] = (), **kw: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "request_id": rid,
        "account_id": account,
        "ts": _t(ts),
        "model": model,
        "status": 200,
        "n_messages": 1,
        "thinking": False,
        "temperature": None,
        "max_tokens": None,
        "input_tokens": 10,
        "output_tokens": 10,
        "ip": "1.2.3.4",
        "asn": 100,
        "country": "US",
        "client_fp": "fpA",
        "user_agent": "ua",
        "head_fp": 1,
        "tail_fp": 11,
        "system_fp": None,
        "tools_fp": None,
        "params_fp": 5,
        "prompt_fp": 21,
    }
    row.update({c: c in fires for c in SIGNAL_COLUMNS})
    row.update(kw)
    return row


EXCHANGES = [
    # account A: four exchanges over three days
    _exchange("a1", "A", "2026-05-01 10:00", "m1", fires=("trace_extraction", "answer_format", "coding", "institutional"),
              thinking=True, temperature=0.0, max_tokens=1000, input_tokens=10, output_tokens=100,
              system_fp=7, head_fp=1, tail_fp=11, params_fp=5, prompt_fp=16),
    _exchange("a2", "A", "2026-05-01 10:10", "m1", fires=("cot_request", "rubric_grading", "math", "agentic", "institutional"),
              status=429, n_messages=3, temperature=0.7, max_tokens=1000, input_tokens=None, output_tokens=None,
              ip="1.2.3.5", system_fp=7, tools_fp=9, head_fp=1, tail_fp=12, params_fp=6, prompt_fp=24),
    _exchange("a3", "A", "2026-05-02 23:30", "m2", fires=("censorship_rewrite", "planning", "non_latin"),
              status=403, n_messages=5, input_tokens=None, output_tokens=None, asn=200, country="DE",
              system_fp=7, tools_fp=9, head_fp=2, tail_fp=11, params_fp=5, prompt_fp=16),
    _exchange("a4", "A", "2026-05-03 10:00", "m2", fires=("trace_extraction", "llm_judge"),
              thinking=True, temperature=0.0, max_tokens=4000, input_tokens=40, output_tokens=400,
              ip="9.9.9.9", head_fp=3, tail_fp=13, params_fp=5, prompt_fp=41),
    # account B: two exchanges on the release day
    _exchange("b1", "B", "2026-05-02 05:00", "m2", max_tokens=4000, prompt_fp=48),
    _exchange("b2", "B", "2026-05-02 06:00", "m2", max_tokens=4000, prompt_fp=56),
]  # fmt: skip

ACCOUNTS = [
    {"account_id": "A", "org_id": "o1", "created_at": _t("2026-04-20 00:00"), "email": "dev.0001@mail.test",
     "email_domain": None, "payment_fp": "pm1", "billing_country": "DE", "verification": "id",
     "tier": "scale", "program": "research", "allowlisted": False},
    {"account_id": "B", "org_id": "o2", "created_at": _t("2025-01-01 00:00"), "email": "someone@mailinator.com",
     "email_domain": None, "payment_fp": "pm1", "billing_country": "US", "verification": "business",
     "tier": "enterprise", "program": "none", "allowlisted": True},
    *[{"account_id": f"C{i}", "org_id": "o2" if i == 2 else None, "created_at": _t("2026-01-01 00:00"),
       "email": f"dev.{i:04d}@mail.test", "email_domain": None, "payment_fp": "pm1" if i == 2 else "pm2",
       "billing_country": None, "verification": None, "tier": None, "program": None, "allowlisted": None}
      for i in (2, 3, 4, 5)],
]  # fmt: skip


@pytest.fixture(scope="module")
def rows() -> dict[str, dict[str, Any]]:
    con = duckdb.connect()
    con.register("sig", pa.Table.from_pylist(EXCHANGES))
    con.register("accounts", pa.Table.from_pylist(ACCOUNTS))
    con.register(
        "_releases",
        pa.table(
            {
                "model": ["m2"],
                "released_at": pa.array([_t("2026-05-02 00:00")], pa.timestamp("us", tz="UTC")),
            }
        ),
    )
    con.register("_disposable", pa.table({"domain": ["mailinator.com"]}))
    feats = con.sql(account_features_sql("sig", "_releases")).to_arrow_table()
    con.register("_features", feats)
    attrs = con.sql(account_attributes_sql("_features", "_disposable")).to_arrow_table()
    out = {r["account_id"]: r for r in attrs.to_pylist()}
    con.close()
    return out


def test_volume_time_and_tokens(rows: dict[str, dict[str, Any]]) -> None:
    a = rows["A"]
    assert (a["exchanges"], a["active_days"], sorted(a["days"])) == (4, 3, [20574, 20575, 20576])
    assert (a["first_seen"], a["last_seen"]) == (_t("2026-05-01 10:00"), _t("2026-05-03 10:00"))
    # the refused exchanges (429, 403) never reached the model: null tokens, left out of sums
    assert (a["input_tokens"], a["output_tokens"]) == (50, 500)  # 10 + 40, 100 + 400
    assert a["output_input_ratio"] == pytest.approx(10.0)
    assert a["mean_max_tokens"] == pytest.approx(2000)  # (1000 + 1000 + 4000) / 3, NULL left out
    assert a["mean_messages"] == pytest.approx(2.5) and a["multi_turn_n"] == 2  # 3 and 5 messages
    assert a["thinking_n"] == 2


def test_high_cap_is_set_by_the_accounts_not_the_requests(rows: dict[str, dict[str, Any]]) -> None:
    # account medians 1000 (A) and 4000 (B); their 90th percentile 1000 + 0.9 * 3000 = 3700
    assert (rows["A"]["high_cap_n"], rows["B"]["high_cap_n"]) == (1, 2)
    assert rows["A"]["high_cap_share"] == 0.25


def test_signal_counts_and_shares(rows: dict[str, dict[str, Any]]) -> None:
    a = rows["A"]
    counts = {
        "trace_n": 2, "cot_n": 1, "rubric_n": 1, "judge_n": 1, "answer_format_n": 1,
        "censorship_n": 1, "coding_n": 1, "math_n": 1, "planning_n": 1, "agentic_n": 1,
        "non_latin_n": 1, "high_value_n": 3, "temp0_n": 2, "harness_n": 2, "throttled_n": 1,
        "refused_n": 1, "institutional_n": 2, "young_n": 4,
    }  # fmt: skip
    assert {k: a[k] for k in counts} == counts
    for share, count in SHARES.items():
        assert a[share] == pytest.approx(a[count] / 4), share
    assert rows["B"]["young_n"] == 0  # created 16 months before its traffic


def test_hours_rhythm_templates_and_topics(rows: dict[str, dict[str, Any]]) -> None:
    a = rows["A"]
    assert {h: a[h] for h in HOURS if a[h]} == {"h10": 3, "h23": 1}
    # gaps 600, 134 400 and 37 800 s: mean 57 600, population sd 56 389.4
    assert a["gap_cv"] == pytest.approx(math.sqrt(3_179_760_000) / 57_600)
    assert a["gap_median_s"] == 37_800
    assert (a["top_head_share"], a["top_tail_share"]) == (
        0.5,
        0.5,
    )  # heads 1,1,2,3; tails 11,12,11,13
    assert a["topic_breadth"] == pytest.approx(math.log(4) / math.log(5))  # one each of 4 areas


def test_habits_and_infrastructure(rows: dict[str, dict[str, Any]]) -> None:
    a = rows["A"]
    assert (a["main_system_fp"], a["main_system_n"]) == ("7", 3)
    assert (a["main_tools_fp"], a["main_tools_n"]) == ("9", 2)
    assert (a["main_params_fp"], a["main_params_n"]) == ("5", 3)
    assert (a["main_client_fp"], a["main_client_n"]) == ("fpA", 4)
    assert (a["models"], a["ips"], a["asns"], a["client_fps"]) == (2, 3, 2, 1)
    assert (a["main_country"], a["main_asn"]) == ("US", 100)


def test_release_window_and_items_sent_to_several_models(rows: dict[str, dict[str, Any]]) -> None:
    a, b = rows["A"], rows["B"]
    # m2 released 2026-05-02 00:00: A's a3 and a4 fall in the 48 hours, both on m2
    assert (a["release_window_n"], a["release_n"], a["release_share"]) == (2, 2, 1.0)
    assert (b["release_window_n"], b["release_n"]) == (2, 2)
    # items are counted on prompts whose hash is a multiple of 8: 16 (on m1 and m2) and 24,
    # not 41; two items, one sent to two models
    assert (a["items"], a["multi_model_items"]) == (2, 1)
    assert a["multi_model_share"] == pytest.approx(1 / 2)


def test_identity_attributes(rows: dict[str, dict[str, Any]]) -> None:
    a, b = rows["A"], rows["B"]
    assert a["age_days"] == pytest.approx(11 + 10 / 24)
    assert (a["weak_verification"], b["weak_verification"]) == (0.0, 0.0)
    # dev.0001 … dev.0005 under one stem: a run of five sequential sign-ups
    assert (a["email_stem"], a["stem_accounts"], a["email_pattern"]) == ("dev.@mail.test", 5, 1.0)
    assert b["email_pattern"] == 1.0  # a disposable domain
    assert (a["email_sequential"], b["email_sequential"]) == (True, False)
    # pm1 pays for A (org o1), B and C2 (both org o2): two organisations
    assert (a["shared_payment"], b["shared_payment"]) == (2, 2)
    assert (a["billing_mismatch"], b["billing_mismatch"]) == (1.0, 0.0)  # DE vs US traffic
    assert a["volume_per_day"] == pytest.approx(4 / 3)
    # a verified research account: its institutional traffic counts towards the pathway
    assert (a["pathway_n"], a["pathway_share"], b["pathway_n"]) == (2, 0.5, 0)
    assert (a["established_business"], b["established_business"]) == (0.0, 1.0)
    assert (a["allowlisted"], b["allowlisted"]) == (False, True)
    assert (a["org_id"], a["verification"], a["tier"], a["program"]) == (
        "o1",
        "id",
        "scale",
        "research",
    )


def test_link_tokens_of_habits_only(rows: dict[str, dict[str, Any]]) -> None:
    """A system prompt, tool set, parameter set or client is a token only when it is a habit
    (at least 30 % of the account's exchanges, and three of them)."""
    con = duckdb.connect()
    con.register("sig", pa.Table.from_pylist(EXCHANGES))
    con.register("attrs", pa.Table.from_pylist(list(rows.values())))
    got = {(a, k, t) for a, k, t in con.sql(link_tokens_sql("sig", "attrs")).fetchall()}
    con.close()
    assert ("A", "system_prompt", "7") in got and ("A", "params", "5") in got
    assert ("A", "client_fp", "fpA") in got
    assert not any(k == "tools" for _, k, _ in got)  # two uses: not three
    assert ("A", "payment", "pm1") in got and ("B", "payment", "pm1") in got
    assert ("A", "email_stem", "dev.@mail.test") in got
    # a disposable address is evidence about the account, not a link to others
    assert not any(a == "B" and k == "email_stem" for a, k, _ in got)


@pytest.mark.parametrize("reverse", [False, True])
def test_ties_in_habits_and_places_do_not_depend_on_row_order(reverse: bool) -> None:
    # account T: system prompts 3 and 8 twice each, France and Belgium twice each, ASNs 7 and 4
    rows = [
        _exchange(f"t{i}", "T", f"2026-05-01 1{i}:00", "m1", system_fp=fp, country=c, asn=asn)
        for i, (fp, c, asn) in enumerate([(3, "FR", 7), (8, "BE", 4), (3, "FR", 7), (8, "BE", 4)])
    ]
    con = duckdb.connect()
    con.register("sig", pa.Table.from_pylist(rows[::-1] if reverse else rows))
    got = con.sql(account_features_sql("sig", accounts=None)).to_arrow_table().to_pylist()[0]
    con.close()
    # the larger value among equally used habits; the first in order among equally used places
    assert (got["main_system_fp"], got["main_system_n"]) == ("8", 2)
    assert (got["main_country"], got["main_asn"]) == ("BE", 4)
