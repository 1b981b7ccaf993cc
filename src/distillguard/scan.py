"""``scan``: exchanges → signals → account behaviour → own risk → cohorts → clusters →
findings.

Every step's SQL runs in the store's DuckDB; the account-, cohort- and cluster-level work
(small even for millions of exchanges) runs in Python. Findings are written as Parquet (for
tools) and JSON (for people and the gateway); their contract is in docs/findings.md.
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
import yaml

from distillguard._files import write_parquet, write_private
from distillguard.campaign_tables import remove_campaign_tables, write_campaign_tables
from distillguard.catalogue import Catalogue
from distillguard.cluster_scoring import score_clusters
from distillguard.cohorts import CohortScores, score_cohorts
from distillguard.config import ReportSettings
from distillguard.entities import with_derived
from distillguard.errors import InputError
from distillguard.features import (
    account_attributes_sql,
    account_features_sql,
    exchange_signals_sql,
    link_tokens_sql,
    text_samples_sql,
)
from distillguard.findings import load_findings
from distillguard.linking import Clusters, link
from distillguard.neardup import neardup_tokens
from distillguard.pseudonym import local_key
from distillguard.rules import VERDICTS, Rules
from distillguard.scoring import (
    AccountScores,
    exculpation,
    fit_weights,
    reasons,
    score_accounts,
)
from distillguard.signal_store import ensure_signals, signals_relation
from distillguard.store import Store

FINDINGS_VERSION = "1"

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


def account_table(
    store: Store, signals: str, rules: Rules, catalogue: Catalogue | None = None
) -> pa.Table:
    """Every account's features and identity attributes over the signals relation."""
    releases = (catalogue or Catalogue()).releases()
    features = store.query_with(account_features_sql(signals, "_releases"), _releases=releases)
    disposable = pa.table({"domain": pa.array(sorted(rules.disposable), pa.string())})
    attrs = store.query_with(
        account_attributes_sql("_features", "_disposable"),
        _features=features,
        _disposable=disposable,
    )
    return with_derived(attrs)


def scan(
    store: Store,
    rules: Rules,
    out: str | Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    labels: dict[str, bool] | None = None,
    catalogue: Catalogue | None = None,
    progress: Progress | None = None,
    report: ReportSettings | None = None,
) -> ScanResult:
    """Scan the store's exchanges in ``[since, until)`` and write findings to ``out``.

    ``catalogue`` names the models and their release times (release-pivot evidence counts
    only catalogued releases). ``labels`` (account → is an attack), from analysts, re-fit the
    evidence weights before scoring; the learned rules are written to
    ``out/learned_rules.yaml`` for review. ``report`` sets what the campaign tables keep
    for reports and the console (representative prompts, graph size)."""
    out_dir = Path(out)
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
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
    # computed once per store part and kept (signal_store); this scan reads its window
    stored = ensure_signals(store, rules.institutional)
    if stored:
        sql, params = signals_relation(stored, since, until)
    else:
        sql, params = exchange_signals_sql(since, until, rules.institutional)
    write_private(signals_path, lambda path: store.copy_to_parquet(sql, params, path))
    done()
    signals = _sql_list(signals_path)

    done = step("account features")
    attrs = account_table(store, signals, rules, catalogue)
    if labels:
        rules = _learn(attrs, labels, rules, out_dir)
    own = score_accounts(attrs, rules)
    done()

    done = step("linking")
    tokens = store.query_with(link_tokens_sql(signals, "_attrs"), _attrs=attrs)
    if "neardup" in rules.linking.kinds:
        near = neardup_tokens(store.query(text_samples_sql(signals)))
        tokens = pa.concat_tables([tokens.cast(near.schema), near])
    allowlisted = frozenset(_allowlisted(attrs))
    own_risk = dict(zip(own.account_id, own.risk.tolist(), strict=True))
    cohorts = score_cohorts(attrs, tokens, rules, own_risk, exclude=allowlisted)
    linking_cohorts = cohorts.linking(rules.cohorts.gate)
    clusters = link(
        tokens,
        own_risk,
        rules.linking,
        cohorts=linking_cohorts,
        admit=rules.cohorts.admit,
        protected=frozenset(
            a
            for a, x in zip(own.account_id, exculpation(own, rules), strict=True)
            if x <= -rules.cohorts.protect
        ),
        exclude=allowlisted,
    )
    done()

    done = step("clusters")
    cluster_table, cluster_risk = score_clusters(store, attrs, tokens, clusters, rules)
    done()

    done = step("findings")
    remove_campaign_tables(out_dir)
    share = _campaign_shares(store, signals, clusters)
    accounts = _account_findings(attrs, own, clusters, cluster_risk, share, rules, allowlisted)
    for name, table in (
        ("accounts.parquet", accounts),
        ("account_features.parquet", _numeric(attrs)),
        ("clusters.parquet", cluster_table),
        ("cohorts.parquet", _cohort_findings(cohorts, rules)),
    ):
        write_parquet(table, out_dir / name)
    result = ScanResult(out_dir, accounts, cluster_table, timings)
    _write_json(result, since, until)
    write_campaign_tables(
        store, load_findings(out_dir), report or ReportSettings(), local_key(Path(store.path))
    )
    done()
    result.timings = timings
    summary = {
        "findings_version": FINDINGS_VERSION,
        "timings_s": timings,
        "verdicts": result.verdict_counts(),
        "clusters": cluster_table.num_rows,
        "cohorts": len(cohorts.risk),
        "cohorts_linking": len(linking_cohorts),
        "releases": [m.id for m in (catalogue or Catalogue()).models if m.released_at],
    }
    _write_text(out_dir / "scan.json", json.dumps(summary, indent=2) + "\n")
    return result


def _learn(attrs: pa.Table, labels: dict[str, bool], rules: Rules, out_dir: Path) -> Rules:
    ids = attrs.column("account_id").to_pylist()
    keep = [i for i, a in enumerate(ids) if a in labels]
    if len({labels[ids[i]] for i in keep}) < 2:
        raise InputError(
            "labels must name at least one attack and one legitimate account present in the window"
        )
    y = np.array([labels[ids[i]] for i in keep], dtype=float)
    learned = fit_weights(attrs.take(pa.array(keep)), y, rules, fit_on=attrs)
    _write_text(
        out_dir / "learned_rules.yaml",
        yaml.safe_dump(learned.model_dump(), sort_keys=False, allow_unicode=True),
    )
    return learned


def _numeric(attrs: pa.Table) -> pa.Table:
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


def _cohort_findings(cohorts: CohortScores, rules: Rules) -> pa.Table:
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
    allowlisted: frozenset[str],
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
    _write_text(result.out / "findings.json", json.dumps(doc, indent=1, default=str) + "\n")


def _write_text(path: Path, text: str) -> None:
    write_private(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
