"""``scan``: exchanges → signals → account behaviour → own risk → clusters → findings.

Every step's SQL runs in the store's DuckDB; the account- and cluster-level work (small even
for millions of exchanges) runs in Python. Findings are written as Parquet (for tools) and
JSON (for people and the gateway); their contract is in docs/findings.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from distillguard.errors import InputError
from distillguard.features import (
    account_attributes_sql,
    account_features_sql,
    exchange_signals_sql,
    link_tokens_sql,
    text_samples_sql,
)
from distillguard.linking import Clusters, link
from distillguard.neardup import neardup_tokens
from distillguard.rules import VERDICTS, Rules
from distillguard.scoring import AccountScores, fit_weights, reasons, score_accounts
from distillguard.store import Store

FINDINGS_VERSION = "1"
CAPABILITIES = (
    "coding",
    "math",
    "agentic",
    "planning",
    "trace_extraction",
    "rubric_grading",
    "censorship_rewrite",
)

Progress = Callable[[str], None]


@dataclass
class ScanResult:
    out: Path
    accounts: pa.Table
    clusters: pa.Table
    timings: dict[str, float] = field(default_factory=dict)

    def verdict_counts(self) -> dict[str, int]:
        verdicts = self.accounts.column("verdict").to_pylist()
        return {v: verdicts.count(v) for v in VERDICTS}


def _sql_list(path: Path) -> str:
    return "read_parquet('" + str(path).replace("'", "''") + "')"


def scan(
    store: Store,
    rules: Rules,
    out: str | Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    labels: dict[str, bool] | None = None,
    progress: Progress | None = None,
) -> ScanResult:
    """Scan the store's exchanges in ``[since, until)`` and write findings to ``out``.

    ``labels`` (account → is an attack), from analysts, re-fit the evidence weights before
    scoring; the learned rules are written to ``out/learned_rules.yaml`` for review."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    say = progress or (lambda _msg: None)

    def step(name: str) -> Callable[[], None]:
        started = time.perf_counter()
        say(name)
        return lambda: timings.__setitem__(name, round(time.perf_counter() - started, 2))

    if store.count_window(since, until) == 0:
        raise InputError(
            "no exchanges in the store for this window: ingest logs first", path=store.path
        )
    signals_path = out_dir / "exchange_signals.parquet"
    done = step("signals")
    sql, params = exchange_signals_sql(since, until)
    store.copy_to_parquet(sql, params, signals_path)
    done()
    signals = _sql_list(signals_path)

    done = step("account features")
    features = store.query(account_features_sql(signals))
    attrs = store.query_with(
        account_attributes_sql("_features", rules.disposable_domains), _features=features
    )
    if labels:
        rules = _learn(attrs, labels, rules, out_dir)
    own = score_accounts(attrs, rules)
    done()

    done = step("linking")
    tokens = store.query_with(link_tokens_sql(signals, "_attrs"), _attrs=attrs)
    if "neardup" in rules.linking.kinds:
        near = neardup_tokens(store.query(text_samples_sql(signals)))
        tokens = pa.concat_tables([tokens.cast(near.schema), near])
    allowlisted = _allowlisted(attrs)
    clusters = link(
        tokens,
        dict(zip(own.account_id, own.risk.tolist(), strict=True)),
        rules.linking,
        exclude=frozenset(allowlisted),
    )
    done()

    done = step("clusters")
    cluster_table, cluster_risk = _score_clusters(
        store, signals, attrs, clusters, rules, own.baselines
    )
    done()

    done = step("findings")
    share = _campaign_shares(store, signals, clusters)
    accounts = _account_findings(attrs, own, clusters, cluster_risk, share, rules, allowlisted)
    pq.write_table(accounts, out_dir / "accounts.parquet", compression="zstd")
    pq.write_table(cluster_table, out_dir / "clusters.parquet", compression="zstd")
    result = ScanResult(out_dir, accounts, cluster_table, timings)
    _write_json(result, since, until)
    done()
    result.timings = timings
    (out_dir / "scan.json").write_text(
        json.dumps(
            {
                "findings_version": FINDINGS_VERSION,
                "timings_s": timings,
                "verdicts": result.verdict_counts(),
                "clusters": cluster_table.num_rows,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    return result


def _learn(attrs: pa.Table, labels: dict[str, bool], rules: Rules, out_dir: Path) -> Rules:
    ids = attrs.column("account_id").to_pylist()
    keep = [i for i, a in enumerate(ids) if a in labels]
    if len({labels[ids[i]] for i in keep}) < 2:
        raise InputError(
            "labels must name at least one attack and one legitimate account present in the window"
        )
    y = np.array([labels[ids[i]] for i in keep], dtype=float)
    learned = fit_weights(attrs.take(pa.array(keep)), y, rules)
    (out_dir / "learned_rules.yaml").write_text(
        yaml.safe_dump(learned.model_dump(), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    return learned


def _allowlisted(attrs: pa.Table) -> set[str]:
    return {
        a
        for a, x in zip(
            attrs.column("account_id").to_pylist(),
            attrs.column("allowlisted").to_pylist(),
            strict=True,
        )
        if x
    }


def _score_clusters(
    store: Store,
    signals: str,
    attrs: pa.Table,
    clusters: Clusters,
    rules: Rules,
    account_baselines: dict[str, float],
) -> tuple[pa.Table, dict[str, float]]:
    """Score each cluster as one entity over all its members' traffic."""
    if not clusters.members:
        return _empty_clusters(), {}
    mapping = pa.table(
        {
            "account_id": list(clusters.of_account),
            "cluster_id": list(clusters.of_account.values()),
        }
    )
    cluster_signals = (
        f"(SELECT s.* REPLACE (m.cluster_id AS account_id) FROM {signals} s "
        "JOIN _map m ON m.account_id = s.account_id)"
    )
    feats = store.query_with(account_features_sql(cluster_signals), _map=mapping)
    identity = store.query_with(
        """SELECT m.cluster_id AS account_id, avg(a.young_account) AS young_account,
                  avg(a.weak_verification) AS weak_verification, avg(a.email_pattern) AS email_pattern,
                  max(a.shared_payment) AS shared_payment, avg(a.billing_mismatch) AS billing_mismatch,
                  count(*) AS coordinated_accounts,
                  list(DISTINCT a.org_id) FILTER (WHERE a.org_id IS NOT NULL) AS org_ids,
                  list(DISTINCT a.email_domain) FILTER (WHERE a.email_domain IS NOT NULL) AS email_domains,
                  list(DISTINCT a.billing_country) FILTER (WHERE a.billing_country IS NOT NULL) AS billing_countries,
                  list(DISTINCT a.program) FILTER (WHERE a.program IS NOT NULL) AS programs
           FROM _attrs a JOIN _map m USING (account_id) GROUP BY 1""",
        _attrs=attrs,
        _map=mapping,
    )
    table = store.query_with(
        """SELECT f.*, i.* EXCLUDE (account_id), f.exchanges / greatest(f.active_days, 1) AS volume_per_day
           FROM _f f JOIN _i i USING (account_id) ORDER BY f.account_id""",
        _f=feats,
        _i=identity,
    )
    combined = rules.model_copy(deep=True)
    combined.evidence.update(rules.cluster_evidence)
    scores = score_accounts(table, combined)
    # a cluster is compared with the account population, not with the other clusters
    scores.baselines.update(account_baselines)
    scores.baselines.update({name: 1.0 for name in rules.cluster_evidence})
    risk = {cid: float(r) for cid, r in zip(scores.account_id, scores.risk, strict=True)}
    rows = table.to_pylist()
    out: dict[str, list[Any]] = {
        k: []
        for k in (
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
    }
    for i, row in enumerate(rows):
        cid = row["account_id"]
        members = clusters.members[cid]
        out["cluster_id"].append(cid)
        out["accounts"].append(len(members))
        out["account_ids"].append(members)
        out["exchanges"].append(row["exchanges"])
        out["first_seen"].append(row["first_seen"])
        out["last_seen"].append(row["last_seen"])
        out["capabilities"].append(
            json.dumps({c: round(float(row[_share(c)] or 0), 4) for c in CAPABILITIES})
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
                    "org_ids": sorted(row["org_ids"] or [])[:20],
                    "email_domains": sorted(row["email_domains"] or [])[:20],
                    "billing_countries": sorted(row["billing_countries"] or []),
                    "programs": sorted(row["programs"] or []),
                    "main_country": row["main_country"],
                }
            )
        )
        out["risk"].append(round(risk[cid], 4))
        out["verdict"].append(rules.verdict(risk[cid]))
        out["reasons"].append(json.dumps(reasons(scores, combined, i, top=5)))
    return pa.table(out), risk


def _share(capability: str) -> str:
    return {
        "trace_extraction": "trace_share",
        "rubric_grading": "rubric_share",
        "censorship_rewrite": "censorship_share",
    }.get(capability, f"{capability}_share")


def _empty_clusters() -> pa.Table:
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


def _campaign_shares(
    store: Store, signals: str, clusters: Clusters
) -> dict[str, tuple[float, int]]:
    """For each clustered account: the share (and count) of its exchanges that look like its
    campaign's: elicitation, grading or rewrite requests, or the cluster's shared templates."""
    if not clusters.of_account:
        return {}
    templates = [
        (cid, int(tok.split(":", 1)[1]), tok.split(":", 1)[0])
        for cid, toks in clusters.tokens.items()
        for kind, tok, _ in toks
        if kind == "template"
    ]
    tmpl = pa.table(
        {
            "cluster_id": [t[0] for t in templates],
            "fp": pa.array([t[1] for t in templates], pa.uint64()),
            "side": [t[2] for t in templates],
        }
    )
    mapping = pa.table(
        {"account_id": list(clusters.of_account), "cluster_id": list(clusters.of_account.values())}
    )
    rows = store.query_with(
        f"""SELECT s.account_id, count(*) AS n,
              sum((s.trace_extraction OR s.rubric_grading OR s.censorship_rewrite
                   OR EXISTS (SELECT 1 FROM _tmpl t WHERE t.cluster_id = m.cluster_id
                              AND ((t.side = 'tail' AND t.fp = s.tail_fp) OR (t.side = 'head' AND t.fp = s.head_fp))))::INT)
                ::BIGINT AS campaign
            FROM {signals} s JOIN _map m USING (account_id) GROUP BY 1""",
        _tmpl=tmpl,
        _map=mapping,
    ).to_pylist()
    return {r["account_id"]: (int(r["campaign"]) / int(r["n"]), int(r["campaign"])) for r in rows}


def _account_findings(
    attrs: pa.Table,
    own: AccountScores,
    clusters: Clusters,
    cluster_risk: dict[str, float],
    share: dict[str, tuple[float, int]],
    rules: Rules,
    allowlisted: set[str],
) -> pa.Table:
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
        out["reasons"].append(json.dumps(why))
    table = pa.table(out)
    order = np.argsort(-np.array(out["risk"]), kind="stable")
    return table.take(pa.array(order))


def _write_json(result: ScanResult, since: datetime | None, until: datetime | None) -> None:
    flagged = [r for r in result.accounts.to_pylist() if r["verdict"] != "ok"]
    for r in flagged:
        r["reasons"] = json.loads(r["reasons"])
    clusters = result.clusters.to_pylist()
    for c in clusters:
        for key in ("capabilities", "shared_infrastructure", "organisation", "reasons"):
            c[key] = json.loads(c[key])
    doc = {
        "findings_version": FINDINGS_VERSION,
        "window": {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        },
        "verdicts": result.verdict_counts(),
        "clusters": clusters,
        "accounts": flagged,
    }
    (result.out / "findings.json").write_text(
        json.dumps(doc, indent=1, default=str) + "\n", encoding="utf-8"
    )
