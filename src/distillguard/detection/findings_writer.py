"""Writing the findings (docs/findings.md): the account and cohort tables, each clustered
account's campaign share, ``findings.json``; every file owner-only."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from distillguard._files import write_text
from distillguard.detection.cohorts import CohortScores
from distillguard.detection.engine import Executor
from distillguard.detection.linking import Clusters
from distillguard.detection.scoring import AccountScores, reasons
from distillguard.rules import VERDICTS, Rules

FINDINGS_VERSION = "1"


def numeric_features(attrs: pa.Table) -> pa.Table:
    """The account features that are numbers (what the console compares with the
    population), with the account id: no identity text leaves the scan this way."""
    keep = [
        name
        for name, typ in zip(attrs.column_names, attrs.schema.types, strict=True)
        if name == "account_id"
        or pa.types.is_integer(typ)
        or pa.types.is_floating(typ)
        or pa.types.is_boolean(typ)
    ]
    return attrs.select(keep)


def cohort_findings(cohorts: CohortScores, rules: Rules) -> pa.Table:
    """One row per cohort of a reported kind, and per linking cohort of any kind: the token,
    its holders, its risk and reasons."""
    kinds = set(rules.cohorts.report_kinds)
    keys = sorted(
        (k for k, r in cohorts.risk.items() if k[0] in kinds or r >= rules.cohorts.gate),
        key=lambda k: (-cohorts.risk[k], k),
    )
    return pa.table(
        {
            "kind": pa.array([k[0] for k in keys], pa.string()),
            "token": pa.array([k[1] for k in keys], pa.string()),
            "accounts": pa.array([len(cohorts.members[k]) for k in keys], pa.int64()),
            "account_ids": pa.array([cohorts.members[k] for k in keys], pa.list_(pa.string())),
            "risk": pa.array([round(cohorts.risk[k], 4) for k in keys], pa.float64()),
            "links": pa.array([cohorts.risk[k] >= rules.cohorts.gate for k in keys], pa.bool_()),
            "reasons": pa.array([json.dumps(cohorts.reasons(rules, k)) for k in keys], pa.string()),
        }
    )


def campaign_shares(
    engine: Executor, signals: str, clusters: Clusters
) -> dict[str, tuple[float, int]]:
    """For each clustered account: the share (and count) of its exchanges that look like its
    campaign's: elicitation, grading or rewrite requests, or the cluster's shared templates."""
    if not clusters.of_account:
        return {}
    templates = sorted(
        {
            (cid, int(tok.split(":", 1)[1]), tok.split(":", 1)[0])
            for cid, toks in clusters.tokens.items()
            for kind, tok, _ in toks
            if kind == "template"
        }
    )
    tmpl = pa.table(
        {
            "cluster_id": pa.array([t[0] for t in templates], pa.string()),
            "fp": pa.array([t[1] for t in templates], pa.int64()),
            "side": pa.array([t[2] for t in templates], pa.string()),
        }
    )
    mapping = pa.table(
        {
            "account_id": pa.array(list(clusters.of_account), pa.string()),
            "cluster_id": pa.array(list(clusters.of_account.values()), pa.string()),
        }
    )
    # each (cluster, side, fingerprint) is one row of _tmpl: the joins add no rows
    rows = engine.query_with(
        f"""SELECT s.account_id, count(*) AS n,
              CAST(sum(CASE WHEN s.trace_extraction OR s.rubric_grading OR s.censorship_rewrite
                            OR h.fp IS NOT NULL OR t.fp IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT)
                AS campaign
            FROM {signals} s JOIN _map m ON m.account_id = s.account_id
            LEFT JOIN _tmpl h ON h.side = 'head' AND h.cluster_id = m.cluster_id AND h.fp = s.head_fp
            LEFT JOIN _tmpl t ON t.side = 'tail' AND t.cluster_id = m.cluster_id AND t.fp = s.tail_fp
            GROUP BY s.account_id""",
        _tmpl=tmpl,
        _map=mapping,
    ).to_pylist()
    return {r["account_id"]: (int(r["campaign"]) / int(r["n"]), int(r["campaign"])) for r in rows}


def account_findings(
    attrs: pa.Table,
    own: AccountScores,
    clusters: Clusters,
    cluster_risk: dict[str, float],
    share: dict[str, tuple[float, int]],
    rules: Rules,
    allowlisted: frozenset[str],
) -> pa.Table:
    """One row per account: its risk (its own, raised by its campaign's), verdict, campaign and
    reasons, highest risk first."""
    exchanges = attrs.column("exchanges").to_pylist()
    out: dict[str, list[Any]] = {
        k: []
        for k in (
            "account_id",
            "risk",
            "verdict",
            "own_risk",
            "cluster_id",
            "cluster_risk",
            "exchanges",
            "campaign_share",
            "campaign_exchanges",
            "allowlisted",
            "reasons",
        )
    }
    cap = VERDICTS.index(rules.allowlist_verdict)
    for i, account in enumerate(own.account_id):
        cid = clusters.of_account.get(account)
        c_risk = cluster_risk.get(cid, 0.0) if cid else 0.0
        risk = max(float(own.risk[i]), rules.linking.cluster_weight * c_risk)
        why = reasons(own, rules, i)
        if cid:
            tokens = clusters.tokens.get(cid, [])[:3]
            via = (
                ", ".join(f"{k} shared by {n} accounts" for k, _, n in tokens)
                or "shared infrastructure"
            )
            why.insert(
                0,
                {
                    "signal": "cluster",
                    "value": round(c_risk, 4),
                    "baseline": 0.0,
                    "weight": round(rules.linking.cluster_weight * c_risk, 3),
                    "direction": "raises",
                    "text": f"member of {cid} (risk {c_risk:.2f}, {len(clusters.members[cid])} accounts) via {via}",
                },
            )
        verdict = rules.verdict(risk)
        if account in allowlisted and VERDICTS.index(verdict) > cap:
            verdict = rules.allowlist_verdict
            why.insert(
                0,
                {
                    "signal": "allowlisted",
                    "value": 1.0,
                    "baseline": 0.0,
                    "weight": 0.0,
                    "direction": "caps",
                    "text": "allowlisted: a contract permits bulk generation",
                },
            )
        if account in share:  # clustered: what looks like its campaign's traffic
            s, n = share[account]
        elif verdict in ("review", "act"):  # flagged on its own: all of its traffic
            s, n = 1.0, int(exchanges[i])
        else:
            s, n = 0.0, 0
        out["account_id"].append(account)
        out["risk"].append(round(risk, 4))
        out["verdict"].append(verdict)
        out["own_risk"].append(round(float(own.risk[i]), 4))
        out["cluster_id"].append(cid)
        out["cluster_risk"].append(round(c_risk, 4) if cid else None)
        out["exchanges"].append(int(exchanges[i]))
        out["campaign_share"].append(round(s, 4))
        out["campaign_exchanges"].append(n)
        out["allowlisted"].append(account in allowlisted)
        out["reasons"].append(orjson.dumps(why, option=orjson.OPT_SERIALIZE_NUMPY).decode())
    # highest risk first, ties by account id: the same order whatever order the rows came in
    return pa.table(out).sort_by([("risk", "descending"), ("account_id", "ascending")])


def write_findings_json(
    out: Path,
    accounts: pa.Table,
    clusters: pa.Table,
    verdicts: dict[str, int],
    since: datetime | None,
    until: datetime | None,
) -> None:
    """``findings.json``: the clusters and every account whose verdict is not ``ok``."""
    flagged = [r for r in accounts.to_pylist() if r["verdict"] != "ok"]
    for r in flagged:
        r["reasons"] = orjson.loads(r["reasons"])
    rows = clusters.to_pylist()
    for c in rows:
        for key in ("capabilities", "shared_infrastructure", "organisation", "reasons"):
            c[key] = orjson.loads(c[key])
    doc = {
        "findings_version": FINDINGS_VERSION,
        "window": {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        },
        "verdicts": verdicts,
        "clusters": rows,
        "accounts": flagged,
    }
    text = orjson.dumps(
        doc,
        default=str,  # times as str() writes them, as every reader of findings.json expects
        option=orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_SERIALIZE_NUMPY,
    )
    write_text(out / "findings.json", text.decode() + "\n")
