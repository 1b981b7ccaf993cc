"""Clusters (campaigns) scored as one entity, and their rows of the findings.

A cluster's row is its members' account rows summed (:func:`.entities.aggregate`),
scored with the account evidence plus ``cluster_evidence`` against the account population:
``coordinated_accounts`` (how many act together) and ``harness_young`` (the share of members
that are young accounts running one harness: the system prompt, tool set or client stack that
the cluster shares). Members then inherit ``cluster_weight ×`` the cluster's risk.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import numpy as np
import pyarrow as pa

from distillguard.detection.entities import aggregate
from distillguard.detection.evidence import column
from distillguard.detection.linking import Clusters, token_holders
from distillguard.detection.scoring import reasons, score_accounts
from distillguard.rules import Evidence, Rules
from distillguard.store import Store

CAPABILITIES = {
    "coding": "coding_share",
    "math": "math_share",
    "agentic": "agentic_share",
    "planning": "planning_share",
    "trace_extraction": "trace_share",
    "rubric_grading": "rubric_share",
    "censorship_rewrite": "censorship_share",
}
"""Capability → the share column that measures it."""

HARNESS_KINDS = frozenset({"system_prompt", "tools", "client_fp"})
YOUNG_SHARE = 0.5
"""A member is young when at least this share of its traffic came in its first 30 days."""

COLUMNS = (
    "cluster_id",
    "accounts",
    "account_ids",
    "exchanges",
    "first_seen",
    "last_seen",
    "capabilities",
    "shared_infrastructure",
    "organisation",
    "risk",
    "verdict",
    "reasons",
)


def cluster_rules(rules: Rules) -> dict[str, Evidence]:
    """The evidence a cluster is scored with: the account evidence plus ``cluster_evidence``."""
    return {**rules.evidence, **rules.cluster_evidence}


def young_accounts(attrs: pa.Table) -> dict[str, bool]:
    """Account → whether it is young (at least ``YOUNG_SHARE`` of its traffic in its first
    30 days)."""
    return dict(
        zip(
            attrs.column("account_id").to_pylist(),
            (column(attrs, "young_share") >= YOUNG_SHARE).tolist(),
            strict=True,
        )
    )


def harness_young(attrs: pa.Table, tokens: pa.Table, clusters: Clusters) -> dict[str, float]:
    """Per cluster: the share of members that are young and hold a harness token (system
    prompt, tools, client) that another member of the cluster holds too."""
    young = young_accounts(attrs)
    held: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for key, holders in token_holders(tokens, HARNESS_KINDS).items():
        for account in holders & clusters.of_account.keys():
            held[account].add(key)
    out = {}
    for cid, members in clusters.members.items():
        counts: dict[tuple[str, str], int] = defaultdict(int)
        for a in members:
            for key in held[a]:
                counts[key] += 1
        shared = {key for key, n in counts.items() if n >= 2}
        hits = sum(1 for a in members if young.get(a) and held[a] & shared)
        out[cid] = hits / max(len(members), 1)
    return out


def score_clusters(
    store: Store, attrs: pa.Table, tokens: pa.Table, clusters: Clusters, rules: Rules
) -> tuple[pa.Table, dict[str, float]]:
    """The clusters table of the findings, and each cluster's risk."""
    if not clusters.members:
        return empty(), {}
    table = aggregate(attrs, clusters.members)
    young = harness_young(attrs, tokens, clusters)
    ids = table.column("account_id").to_pylist()
    table = table.append_column("coordinated_accounts", table.column("accounts"))
    table = table.append_column("harness_young", pa.array([young[c] for c in ids], pa.float64()))
    evidence = cluster_rules(rules)
    scores = score_accounts(table, rules, evidence, fit_on=attrs)
    # coordination is judged on its own scale: 1 means the cluster has it
    scores.baselines.update({name: 0.0 for name in rules.cluster_evidence})
    risk = {cid: float(r) for cid, r in zip(scores.account_id, scores.risk, strict=True)}
    identity = _identity(store, attrs, clusters)
    rows = table.to_pylist()
    out: dict[str, list[Any]] = {k: [] for k in COLUMNS}
    for i, row in enumerate(rows):
        cid = row["account_id"]
        who = identity.get(cid, {})
        out["cluster_id"].append(cid)
        out["accounts"].append(len(clusters.members[cid]))
        out["account_ids"].append(clusters.members[cid])
        out["exchanges"].append(int(row["exchanges"]))
        out["first_seen"].append(row["first_seen"])
        out["last_seen"].append(row["last_seen"])
        out["capabilities"].append(
            json.dumps({c: round(float(row.get(s) or 0), 4) for c, s in CAPABILITIES.items()})
        )
        out["shared_infrastructure"].append(
            json.dumps(
                [
                    {"kind": k, "token": t, "accounts": n}
                    for k, t, n in clusters.tokens.get(cid, [])[:12]
                ]
            )
        )
        out["organisation"].append(
            json.dumps(
                {
                    "org_ids": sorted(who.get("org_ids") or [])[:20],
                    "email_domains": sorted(who.get("email_domains") or [])[:20],
                    "billing_countries": sorted(who.get("billing_countries") or []),
                    "programs": sorted(who.get("programs") or []),
                    "main_country": who.get("main_country"),
                }
            )
        )
        out["risk"].append(round(risk[cid], 4))
        out["verdict"].append(rules.verdict(risk[cid]))
        out["reasons"].append(json.dumps(reasons(scores, rules, i, top=5, evidence_rules=evidence)))
    order = np.argsort([int(c.split("-")[-1]) for c in out["cluster_id"]], kind="stable")
    return pa.table(out).take(pa.array(order)), risk


def _identity(store: Store, attrs: pa.Table, clusters: Clusters) -> dict[str, dict[str, Any]]:
    mapping = pa.table(
        {
            "account_id": list(clusters.of_account),
            "cluster_id": list(clusters.of_account.values()),
        }
    )
    rows = store.query_with(
        """SELECT m.cluster_id,
                  list(DISTINCT a.org_id) FILTER (WHERE a.org_id IS NOT NULL) AS org_ids,
                  list(DISTINCT a.email_domain) FILTER (WHERE a.email_domain IS NOT NULL) AS email_domains,
                  list(DISTINCT a.billing_country) FILTER (WHERE a.billing_country IS NOT NULL) AS billing_countries,
                  list(DISTINCT a.program) FILTER (WHERE a.program IS NOT NULL) AS programs,
                  mode(a.main_country ORDER BY a.main_country) AS main_country
           FROM _attrs a JOIN _map m USING (account_id) GROUP BY 1""",
        _attrs=attrs.select(
            ["account_id", "org_id", "email_domain", "billing_country", "program", "main_country"]
        ),
        _map=mapping,
    ).to_pylist()
    return {r["cluster_id"]: r for r in rows}


def empty() -> pa.Table:
    return pa.table(
        {
            "cluster_id": pa.array([], pa.string()),
            "accounts": pa.array([], pa.int64()),
            "account_ids": pa.array([], pa.list_(pa.string())),
            "exchanges": pa.array([], pa.int64()),
            "first_seen": pa.array([], pa.timestamp("us", tz="UTC")),
            "last_seen": pa.array([], pa.timestamp("us", tz="UTC")),
            "capabilities": pa.array([], pa.string()),
            "shared_infrastructure": pa.array([], pa.string()),
            "organisation": pa.array([], pa.string()),
            "risk": pa.array([], pa.float64()),
            "verdict": pa.array([], pa.string()),
            "reasons": pa.array([], pa.string()),
        }
    )
