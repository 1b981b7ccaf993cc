"""Linking accounts into campaigns from shared tokens."""

from __future__ import annotations

import random

import pyarrow as pa

from distillguard.detection.linking import link, modularity_communities
from distillguard.rules import load_rules

RULES = load_rules()


def tokens(rows: list[tuple[str, str, str]]) -> pa.Table:
    return pa.table(
        {
            "account_id": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "token": [r[2] for r in rows],
        }
    )


def population(
    hydra: int = 40, legit: int = 400
) -> tuple[list[tuple[str, str, str]], dict[str, float]]:
    """A hydra whose accounts share nothing but prompt templates and synchronised bursts,
    among ordinary accounts on the same big networks."""
    rows: list[tuple[str, str, str]] = []
    risk: dict[str, float] = {}
    for i in range(hydra):
        a = f"h{i:03d}"
        risk[a] = 0.3  # each looks only a little wrong on its own
        rows += [(a, "template", "tail:111"), (a, "template", "head:222")]
        rows += [(a, "sync", f"2026-05-0{1 + (i + k) % 9}T10:0{k}") for k in range(5)]
        rows += [(a, "asn", "7922"), (a, "subnet", f"73.15.{i}")]
    for j in range(legit):
        a = f"l{j:03d}"
        risk[a] = 0.02
        rows += [
            (a, "asn", "7922"),
            (a, "client_fp", f"sdk-{j % 3}"),
            (a, "system_prompt", "helpful"),
        ]
        rows += [(a, "template", f"head:{1000 + j % 50}")]
    return rows, risk


def test_hydra_sharing_only_timing_and_templates_is_recovered_whole() -> None:
    rows, risk = population()
    clusters = link(tokens(rows), risk, RULES.linking)
    assert len(clusters.members) == 1
    [(cid, members)] = clusters.members.items()
    assert members == sorted(a for a in risk if a.startswith("h"))
    kinds = {k for k, _, _ in clusters.tokens[cid]}
    assert "template" in kinds and "asn" not in kinds


def test_a_big_shared_network_alone_links_nobody() -> None:
    rows = [(f"a{i}", "asn", "16509") for i in range(50)] + [
        (f"a{i}", "subnet", "3.80.1") for i in range(50)
    ]
    clusters = link(tokens(rows), {f"a{i}": 0.9 for i in range(50)}, RULES.linking)
    assert clusters.members == {}


def test_benign_accounts_sharing_a_product_prompt_do_not_cluster() -> None:
    rows = [(f"c{i}", "system_prompt", "coding-tool") for i in range(30)]
    rows += [(f"c{i}", "client_fp", "agent-cli") for i in range(30)]
    clusters = link(tokens(rows), {f"c{i}": 0.04 for i in range(30)}, RULES.linking)
    assert clusters.members == {}


def test_allowlisted_accounts_never_link() -> None:
    rows = [(a, "template", "tail:9") for a in ("x1", "x2", "x3")] + [
        (a, "payment", "pm1") for a in ("x1", "x2", "x3")
    ]
    risk = {"x1": 0.9, "x2": 0.9, "x3": 0.9}
    assert set(link(tokens(rows), risk, RULES.linking).of_account) == {"x1", "x2", "x3"}
    out = link(tokens(rows), risk, RULES.linking, exclude=frozenset({"x1"}))
    assert set(out.of_account) == {"x2", "x3"}


def test_two_campaigns_on_the_same_proxy_range_stay_apart() -> None:
    rows: list[tuple[str, str, str]] = []
    risk: dict[str, float] = {}
    for camp in ("A", "B"):
        for i in range(8):
            a = f"{camp}{i}"
            risk[a] = 0.6
            rows += [
                (a, "payment", f"pm-{camp}"),
                (a, "client_fp", f"fp-{camp}"),
                (a, "asn", "209588"),
            ]
            rows += [(a, "subnet", f"185.234.{k}") for k in range(4)]
            rows += [(a, "sync", f"2026-05-01T1{k}:00") for k in range(6)]
    clusters = link(tokens(rows), risk, RULES.linking)
    groups = sorted(sorted({m[0] for m in ms}) for ms in clusters.members.values())
    assert groups == [["A"], ["B"]]


def test_linking_is_deterministic() -> None:
    rows, risk = population(hydra=25, legit=200)
    first = link(tokens(rows), risk, RULES.linking).members
    assert link(tokens(rows), risk, RULES.linking).members == first


def test_signup_bursts_become_weak_tokens_that_never_link_alone() -> None:
    import duckdb

    from distillguard.detection.features import link_tokens_sql

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE sig AS SELECT 'a' || i AS account_id, NULL::BIGINT AS head_fp,"
        " NULL::BIGINT AS tail_fp, NULL::VARCHAR AS ip, NULL::INT AS asn, TIMESTAMP '2026-05-01' AS ts"
        " FROM range(6) t(i)"
    )
    con.execute(
        "CREATE TABLE attrs AS SELECT 'a' || i AS account_id, 10 AS exchanges,"
        " NULL::VARCHAR AS main_client_fp, 0 AS main_client_n, NULL::VARCHAR AS main_system_fp,"
        " 0 AS main_system_n, NULL::VARCHAR AS main_tools_fp, 0 AS main_tools_n,"
        " NULL::VARCHAR AS main_params_fp, 0 AS main_params_n,"
        " NULL::VARCHAR AS payment_fp, 1 AS shared_payment,"
        " 0.0 AS email_pattern, false AS email_sequential, 1 AS stem_accounts,"
        " NULL::VARCHAR AS email_stem,"
        " CASE WHEN i < 4 THEN TIMESTAMP '2026-04-30 03:01' + INTERVAL (i) MINUTE"
        "      WHEN i = 4 THEN TIMESTAMP '2026-01-02 10:00' END AS created_at"
        " FROM range(6) t(i)"
    )
    rows = con.sql(link_tokens_sql("sig", "attrs")).fetchall()
    signup = sorted((a, t) for a, k, t in rows if k == "signup")
    assert signup == [
        ("a0", "2026-04-30 03:00"),
        ("a1", "2026-04-30 03:00"),
        ("a2", "2026-04-30 03:00"),
        ("a3", "2026-04-30 03:00"),
        ("a4", "2026-01-02 10:00"),
    ]  # a5 has no creation time: no token
    risk = {a: 0.5 for a, _ in signup}
    assert link(tokens([(a, "signup", t) for a, t in signup]), risk, RULES.linking).members == {}


def test_two_campaigns_bridged_by_a_few_shared_harness_fingerprints_stay_apart() -> None:
    """Seen at 30M exchanges: two agentic accounts ran the same harness build as eighteen
    accounts of another campaign; one fingerprint must not fuse 30 + 60 accounts. (Here the
    first pass already keeps them apart; the next test drives the step that separated them
    at 30M directly.)"""
    rows: list[tuple[str, str, str]] = []
    risk: dict[str, float] = {}
    for i in range(30):
        a = f"a{i:02d}"
        risk[a] = 0.5
        rows += [(a, "system_prompt", "sys-A"), (a, "template", "head:A")]
        rows += [(a, "sync", f"2026-05-01T10:{i % 5:02d}")]
    for j in range(60):
        b = f"b{j:02d}"
        risk[b] = 0.5
        rows += [(b, "system_prompt", "sys-B"), (b, "template", "tail:B")]
        rows += [(b, "sync", f"2026-05-01T10:{j % 5:02d}")]  # same hours as A: weak
    rows += [(a, "client_fp", "harness-1.2") for a in ("a00", "a01")]
    rows += [(f"b{j:02d}", "client_fp", "harness-1.2") for j in range(18)]
    clusters = link(tokens(rows), risk, RULES.linking)
    groups = sorted(clusters.members.values(), key=len)
    assert len(groups) == 2  # not one fused cluster of 90
    small, large = groups
    # at most the two bridge accounts (holding both A's identity and the shared harness)
    # land on B's side
    assert set(small) <= {f"a{i:02d}" for i in range(30)} and len(small) >= 28
    assert {m for m in large if m.startswith("a")} <= {"a00", "a01"}


def test_thin_bridge_cut_separates_a_fused_component_and_keeps_a_hydra_whole() -> None:
    from distillguard.detection.linking import _cut_thin_bridges

    by_token: dict[tuple[str, str], list[str]] = {
        ("system_prompt", "sys-A"): [f"a{i:02d}" for i in range(30)],
        ("template", "head:A"): [f"a{i:02d}" for i in range(30)],
        ("system_prompt", "sys-B"): [f"b{j:02d}" for j in range(60)],
        ("template", "tail:B"): [f"b{j:02d}" for j in range(60)],
        ("client_fp", "harness-1.2"): ["a00", "a01"] + [f"b{j:02d}" for j in range(18)],
    }
    part = sorted({a for members in by_token.values() for a in members})
    pieces = sorted(_cut_thin_bridges(part, by_token, RULES.linking, 0), key=len)
    assert len(pieces) == 2
    assert {m[0] for m in pieces[0]} == {"a"} and len(pieces[0]) >= 28
    assert {m for m in pieces[1] if m.startswith("a")} <= {"a00", "a01"}
    # a hydra: two system prompts, each on half the accounts, one gateway fingerprint on all
    hydra = {
        ("system_prompt", "s1"): [f"h{i:03d}" for i in range(0, 200, 2)],
        ("system_prompt", "s2"): [f"h{i:03d}" for i in range(1, 200, 2)],
        ("client_fp", "gateway"): [f"h{i:03d}" for i in range(200)],
    }
    whole = sorted({a for members in hydra.values() for a in members})
    assert _cut_thin_bridges(whole, hydra, RULES.linking, 0) == [whole]


def test_a_cohort_token_links_accounts_that_are_not_suspicious_one_by_one() -> None:
    rows = [(f"s{i}", "system_prompt", "harness") for i in range(5)]
    rows += [(f"s{i}", "client_fp", "runner") for i in range(5)]
    risk = {f"s{i}": 0.05 for i in range(5)}
    assert link(tokens(rows), risk, RULES.linking).members == {}
    gated = {("system_prompt", "harness"): 0.55, ("client_fp", "runner"): 0.55}
    out = link(tokens(rows), risk, RULES.linking, cohorts=gated)
    assert sorted(out.members.values()) == [[f"s{i}" for i in range(5)]]


def test_a_strong_cohort_admits_on_one_token_and_a_weaker_one_does_not() -> None:
    rows = [(f"s{i}", "system_prompt", "harness") for i in range(5)]
    risk = {f"s{i}": 0.05 for i in range(5)}
    gated = {("system_prompt", "harness"): 0.7}
    assert link(tokens(rows), risk, RULES.linking, cohorts=gated, admit=1.0).members == {}
    out = link(tokens(rows), risk, RULES.linking, cohorts=gated, admit=0.6)
    assert sorted(out.members.values()) == [[f"s{i}" for i in range(5)]]


def test_protected_accounts_join_only_through_identity() -> None:
    """A verified research account that happens to share a harness token with a campaign is
    not pulled in; sharing the campaign's payment method is another matter."""
    rows = [
        (a, k, t)
        for a in ("c1", "c2", "c3", "lab")
        for k, t in (("system_prompt", "sys"), ("client_fp", "fp"))
    ]
    risk = {"c1": 0.9, "c2": 0.9, "c3": 0.9, "lab": 0.01}
    assert "lab" in link(tokens(rows), risk, RULES.linking).of_account
    out = link(tokens(rows), risk, RULES.linking, protected=frozenset({"lab"}))
    assert set(out.of_account) == {"c1", "c2", "c3"}
    paid = rows + [(a, "payment", "pm") for a in ("c1", "c2", "c3", "lab")]
    out = link(tokens(paid), risk, RULES.linking, protected=frozenset({"lab"}))
    assert "lab" in out.of_account


def test_an_account_behind_a_proxy_pool_links_through_its_rarest_subnets_only() -> None:
    from distillguard.detection.linking import _keep_rarest_weak_tokens

    holders = {("subnet", f"10.0.{k}"): {"a", "b"} for k in range(30)}
    holders[("subnet", "rare")] = {"a", "b"}
    weights = {key: 0.2 for key in holders} | {("subnet", "rare"): 0.5}
    _keep_rarest_weak_tokens(holders, weights, RULES.linking)
    assert len(weights) == RULES.linking.max_weak_tokens
    assert ("subnet", "rare") in weights


def test_a_suspicious_account_may_join_through_infrastructure_an_ordinary_one_may_not() -> None:
    core = [
        (a, k, t) for a in ("c1", "c2", "c3") for k, t in (("payment", "pm"), ("client_fp", "fp"))
    ]
    infra = [(a, "subnet", f"185.1.{k}") for a in ("c1", "c2", "c3", "x") for k in range(6)]
    crowd = [(f"o{i}", "asn", "7922") for i in range(300)]  # the subnets are rare among them
    for own, joins in ((0.5, True), (0.05, False)):
        risk = {"c1": 0.9, "c2": 0.9, "c3": 0.9, "x": own} | {f"o{i}": 0.01 for i in range(300)}
        out = link(tokens(core + infra + crowd), risk, RULES.linking)
        assert ("x" in out.of_account) is joins, own
        assert {"c1", "c2", "c3"} <= set(out.of_account)


def test_communities_of_two_cliques_joined_by_one_light_edge() -> None:
    """Worked by hand: two triangles of weight 1 joined by one edge of weight 0.1. Splitting
    them has modularity 2 × (3/6.1 − (6.1/12.2)²) ≈ 0.48 (each side holds 3 of the 6.1 total
    weight and half the degree), keeping them whole 0; Leiden finds the split."""
    edges = [
        (("a", "x1"), ("a", "x2"), 1.0),
        (("a", "x2"), ("a", "x3"), 1.0),
        (("a", "x1"), ("a", "x3"), 1.0),
        (("a", "y1"), ("a", "y2"), 1.0),
        (("a", "y2"), ("a", "y3"), 1.0),
        (("a", "y1"), ("a", "y3"), 1.0),
        (("a", "x3"), ("a", "y1"), 0.1),
    ]
    got = modularity_communities(edges, resolution=1.0, seed=0)
    assert sorted(sorted(n[1] for n in c) for c in got) == [["x1", "x2", "x3"], ["y1", "y2", "y3"]]
    assert modularity_communities(list(reversed(edges)), 1.0, 0) and got == (
        modularity_communities(edges, 1.0, 0)
    )


def test_communities_of_no_edges_are_none_and_components_stay_apart() -> None:
    assert modularity_communities([], 1.0) == []
    pairs = [
        (("a", "p"), ("t", "payment", "card-1"), 1.0),
        (("a", "q"), ("t", "payment", "card-1"), 1.0),
    ]
    other = [
        (("a", "r"), ("t", "payment", "card-2"), 1.0),
        (("a", "s"), ("t", "payment", "card-2"), 1.0),
    ]
    got = modularity_communities(pairs + other, 1.0)
    assert sorted(sorted(n[-1] for n in c) for c in got) == [
        ["card-1", "p", "q"],
        ["card-2", "r", "s"],
    ]


def test_clusters_do_not_depend_on_the_order_of_the_token_rows() -> None:
    """A ring of suspicious accounts, each sharing a template with the next: many cuts of it
    are equally good, and which one community detection takes depends on the order it
    meets the nodes in. The engine returns token rows in any order; the clusters must not
    follow it."""
    rows: list[tuple[str, str, str]] = []
    risk: dict[str, float] = {}
    for i in range(30):
        a = f"r{i:02d}"
        risk[a] = 0.9
        rows += [(a, "template", f"head:{i}"), (a, "template", f"head:{(i + 1) % 30}")]
        rows += [(a, "subnet", f"10.0.{i % 3}")]
    results = set()
    for k in range(6):
        mixed = list(rows)
        random.Random(k).shuffle(mixed)
        clusters = link(tokens(mixed), risk, RULES.linking)
        results.add(repr((sorted(clusters.members.values()), clusters.tokens)))
    assert len(results) == 1
