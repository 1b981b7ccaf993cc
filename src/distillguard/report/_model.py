"""The content of a campaign report, as plain data (the JSON twin); HTML and PDF render it.

Pure with respect to output: reads the findings and the store, returns a dict. Personal data
never enters the dict in clear: e-mail addresses appear only as domains, payment methods and
e-mail stems as keyed pseudonyms (see :mod:`distillguard.pseudonym`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from distillguard import redaction
from distillguard.config import Settings
from distillguard.features import EMAIL_DOMAIN
from distillguard.findings import Findings
from distillguard.pseudonym import local_key, pseudonym
from distillguard.store import Store

REPORT_VERSION = "1"
PERSONAL_KINDS = frozenset({"payment", "email_stem"})
"""Linking tokens that are personal data and are pseudonymised in reports."""

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def redact(text: str, limit: int) -> str:
    """Mask secrets and personal data (see :mod:`distillguard.redaction`); clip. Only the
    first ``2 × limit`` characters are searched: the work stays bounded on hostile text, and
    a secret cut at that point falls past the final clip."""
    return clip(redaction.redact(text[: 2 * limit]), limit)


def clip(text: str, limit: int) -> str:
    text = _CONTROL.sub("", text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: _iso(v) for k, v in r.items()} for r in table.to_pylist()]


def build(store: Store, findings: Findings, cluster_id: str, settings: Settings) -> dict[str, Any]:
    """Everything a campaign report says, as JSON-ready data."""
    cfg = settings.report
    cluster = findings.cluster(cluster_id)
    members = findings.members(cluster_id)
    key = local_key(settings.db)
    ids = pa.table({"account_id": pa.array(cluster["account_ids"] or [], pa.string())})
    window = findings.window_condition("e.ts")

    def q(sql: str) -> list[dict[str, Any]]:
        # the members are an Arrow table registered for the query
        return _rows(store.query_with(sql, _members=ids))

    member_ex = f"SELECT e.* FROM exchanges e JOIN _members m USING (account_id) WHERE true{window}"
    daily = q(
        f"SELECT strftime(date_trunc('day', ts), '%Y-%m-%d') AS date, count(*) AS exchanges "
        f"FROM ({member_ex}) GROUP BY ALL ORDER BY date"
    )
    daily_by_model = q(
        f"SELECT strftime(date_trunc('day', ts), '%Y-%m-%d') AS date, model, count(*) AS exchanges "
        f"FROM ({member_ex}) GROUP BY ALL ORDER BY date, model"
    )
    models = q(
        f"SELECT model, count(*) AS exchanges FROM ({member_ex}) GROUP BY ALL ORDER BY exchanges DESC, model"
    )
    releases = q(
        f"""SELECT model, strftime(min(ts), '%Y-%m-%dT%H:%MZ') AS released FROM exchanges e
            WHERE true{window} GROUP BY model
            HAVING min(ts) > (SELECT min(ts) FROM exchanges e WHERE true{window}) + INTERVAL 1 DAY
            ORDER BY released"""
    )
    infra = {
        "asns": q(
            f"SELECT asn, count(*) AS exchanges, count(DISTINCT account_id) AS accounts FROM ({member_ex}) "
            f"WHERE asn IS NOT NULL GROUP BY ALL ORDER BY exchanges DESC LIMIT 15"
        ),
        "subnets": q(
            f"SELECT regexp_extract(ip, '^(\\d+\\.\\d+\\.\\d+)\\.', 1) || '.0/24' AS subnet, count(*) AS exchanges, "
            f"count(DISTINCT account_id) AS accounts FROM ({member_ex}) WHERE ip LIKE '%.%.%.%' "
            f"GROUP BY ALL ORDER BY accounts DESC, exchanges DESC LIMIT 15"
        ),
        "client_fingerprints": q(
            f"SELECT client_fp, count(*) AS exchanges, count(DISTINCT account_id) AS accounts FROM ({member_ex}) "
            f"WHERE client_fp IS NOT NULL GROUP BY ALL ORDER BY accounts DESC, exchanges DESC LIMIT 10"
        ),
        "user_agents": q(
            f"SELECT user_agent, count(*) AS exchanges, count(DISTINCT account_id) AS accounts FROM ({member_ex}) "
            f"WHERE user_agent IS NOT NULL GROUP BY ALL ORDER BY accounts DESC, exchanges DESC LIMIT 10"
        ),
        "traffic_countries": q(
            f"SELECT country, count(*) AS exchanges FROM ({member_ex}) WHERE country IS NOT NULL "
            f"GROUP BY ALL ORDER BY exchanges DESC LIMIT 10"
        ),
    }
    acc = q(
        f"""SELECT a.account_id, a.created_at, a.org_id, a.verification, a.tier, a.program,
                  a.billing_country, {EMAIL_DOMAIN.format(p="a.")} AS email_domain,
                  a.payment_fp
           FROM accounts a JOIN _members m USING (account_id)"""
    )
    infra["email_domains"] = _counted(acc, "email_domain", "domain")
    infra["billing_countries"] = _counted(acc, "billing_country", "country")
    infra["payment_methods"] = [
        {"pseudonym": pseudonym(key, "payment", r["value"]), "accounts": r["accounts"]}
        for r in _counted(acc, "payment_fp", "value")
    ]
    creations = Counter((r["created_at"] or "")[:10] for r in acc if r["created_at"])
    linked_by = [
        {
            **t,
            "token": pseudonym(key, t["kind"], str(t["token"]))
            if t["kind"] in PERSONAL_KINDS
            else t["token"],
        }
        for t in cluster.get("shared_infrastructure") or []
    ]
    by_id = {r["account_id"]: r for r in acc}
    accounts = [
        {
            "account_id": m["account_id"],
            "risk": m["risk"],
            "verdict": m["verdict"],
            "exchanges": m["exchanges"],
            "campaign_share": m.get("campaign_share"),
            "created_at": by_id.get(m["account_id"], {}).get("created_at"),
            "verification": by_id.get(m["account_id"], {}).get("verification"),
            "program": by_id.get(m["account_id"], {}).get("program"),
        }
        for m in members
    ]
    graph = _graph(
        store, findings, cluster, [a["account_id"] for a in accounts[: cfg.graph_nodes]], key
    )
    campaign_exchanges = sum(int(m.get("campaign_exchanges") or 0) for m in members)
    prompts = _prompts(q, member_ex, cfg.prompts, cfg.prompt_examples, cfg.prompt_chars)
    attribution = _attribution(cluster, acc, linked_by)
    report = {
        "report_version": REPORT_VERSION,
        "reference": f"{cfg.organisation.reference_prefix}-{cluster_id}-{datetime.now(UTC):%Y%m%d}",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "organisation": cfg.organisation.model_dump(),
        "findings": str(findings.path),
        "window": findings.window,
        "cluster": {
            "cluster_id": cluster_id,
            "risk": cluster["risk"],
            "verdict": cluster["verdict"],
            "accounts": cluster["accounts"],
            "exchanges": cluster["exchanges"],
            "campaign_exchanges": campaign_exchanges,
            "first_seen": _iso(cluster["first_seen"]),
            "last_seen": _iso(cluster["last_seen"]),
            "capabilities": cluster.get("capabilities") or {},
            "reasons": cluster.get("reasons") or [],
        },
        "attribution": attribution,
        "linked_by": linked_by,
        "infrastructure": infra,
        "timeline": {
            "daily": daily,
            "daily_by_model": daily_by_model,
            "releases": releases,
            "creations": [{"date": d, "accounts": n} for d, n in sorted(creations.items())],
        },
        "models": models,
        "accounts": accounts,
        "graph": graph,
        "prompts": prompts,
        "actions": _actions(findings, cluster, members),
    }
    report["summary"] = summary(report)
    return report


def _graph(
    store: Store,
    findings: Findings,
    cluster: dict[str, Any],
    drawn: list[str],
    key: bytes,
) -> dict[str, Any]:
    """Which of the drawn accounts hold which of the cluster's linking tokens (recomputed from
    the per-exchange signals; sync windows, sign-up bursts and near-duplicate groups are not
    recomputed and so not drawn)."""
    wanted = {
        (t["kind"], str(t["token"]))
        for t in (cluster.get("shared_infrastructure") or [])[:12]
        if t["kind"]
        in {"client_fp", "asn", "subnet", "template", "system_prompt", "payment", "email_stem"}
    }
    signals = findings.path / "exchange_signals.parquet"
    if not wanted or not drawn or not signals.is_file():
        return {"accounts": drawn, "edges": []}
    src = "read_parquet('" + str(signals).replace("'", "''") + "')"
    rows = store.query_with(
        rf"""WITH s AS (SELECT * FROM {src} WHERE account_id IN (SELECT account_id FROM _drawn))
        SELECT DISTINCT account_id, 'client_fp' AS kind, client_fp AS token FROM s WHERE client_fp IS NOT NULL
        UNION SELECT DISTINCT account_id, 'asn', asn::VARCHAR FROM s WHERE asn IS NOT NULL
        UNION SELECT DISTINCT account_id, 'subnet', regexp_extract(ip, '^(\d+\.\d+\.\d+)\.', 1) FROM s WHERE ip LIKE '%.%.%.%'
        UNION SELECT DISTINCT account_id, 'template', 'head:' || head_fp::VARCHAR FROM s
        UNION SELECT DISTINCT account_id, 'template', 'tail:' || tail_fp::VARCHAR FROM s
        UNION SELECT DISTINCT account_id, 'system_prompt', system_fp::VARCHAR FROM s WHERE system_fp IS NOT NULL
        UNION SELECT account_id, 'payment', payment_fp FROM accounts WHERE payment_fp IS NOT NULL
              AND account_id IN (SELECT account_id FROM _drawn)
        UNION SELECT account_id, 'email_stem', regexp_replace(lower(split_part(email, '@', 1)), '[0-9]+$', '')
              || '@' || {EMAIL_DOMAIN.format(p="")}
              FROM accounts WHERE email IS NOT NULL AND account_id IN (SELECT account_id FROM _drawn)""",
        _drawn=pa.table({"account_id": pa.array(drawn, pa.string())}),
    ).to_pylist()
    edges = sorted(
        {
            (
                r["account_id"],
                r["kind"],
                pseudonym(key, r["kind"], r["token"])
                if r["kind"] in PERSONAL_KINDS
                else r["token"],
            )
            for r in rows
            if (r["kind"], r["token"]) in wanted
        }
    )
    return {"accounts": drawn, "edges": [list(e) for e in edges]}


def _counted(rows: list[dict[str, Any]], field: str, name: str) -> list[dict[str, Any]]:
    counts = Counter(r[field] for r in rows if r.get(field))
    return [{name: v, "accounts": n} for v, n in counts.most_common(15)]


def _prompts(q: Any, member_ex: str, mode: str, examples: int, limit: int) -> dict[str, Any]:
    if mode == "off" or examples == 0:
        return {"mode": "off", "examples": []}
    rows = q(
        f"""SELECT any_value(left(prompt, {limit * 4}) ORDER BY request_id) AS text, count(*) AS exchanges
            FROM ({member_ex}) WHERE prompt IS NOT NULL AND prompt <> ''
            GROUP BY regexp_replace(lower(left(prompt, 48)), '[0-9]+', '0', 'g')
            ORDER BY exchanges DESC LIMIT {examples}"""
    )
    shown = [
        {
            "text": redact(r["text"], limit) if mode == "redacted" else clip(r["text"], limit),
            "exchanges": r["exchanges"],
        }
        for r in rows
    ]
    return {"mode": mode, "examples": shown}


def _attribution(
    cluster: dict[str, Any], acc: list[dict[str, Any]], linked_by: list[dict[str, Any]]
) -> dict[str, Any]:
    """Who is behind it, and how sure: the evidence that many accounts are one operator."""
    n = max(len(acc), 1)
    evidence: list[str] = []
    kinds = Counter(t["kind"] for t in linked_by)
    org = Counter(r["org_id"] for r in acc if r.get("org_id"))
    top_org, top_org_n = org.most_common(1)[0] if org else (None, 0)
    if kinds.get("payment"):
        evidence.append(
            f"{kinds['payment']} payment method(s) shared across accounts (one payer behind many accounts)"
        )
    if kinds.get("email_stem"):
        evidence.append("sequentially numbered e-mail addresses under one stem")
    if kinds.get("client_fp"):
        evidence.append("one client fingerprint (the same harness or gateway) across accounts")
    if kinds.get("template") or kinds.get("neardup"):
        evidence.append("the same prompt templates across accounts")
    if kinds.get("system_prompt"):
        evidence.append("the same system prompt across accounts")
    if top_org_n >= 2:
        evidence.append(f"{top_org_n} of {len(acc)} accounts in organisation {top_org}")
    domains = Counter(r["email_domain"] for r in acc if r.get("email_domain"))
    if domains:
        d, dn = domains.most_common(1)[0]
        evidence.append(f"{dn} of {len(acc)} accounts use e-mail domain {d}")
    countries = Counter(r["billing_country"] for r in acc if r.get("billing_country"))
    strong = sum(bool(kinds.get(k)) for k in ("payment", "email_stem", "client_fp"))
    confidence = (
        "high"
        if strong >= 2 or top_org_n / n >= 0.5
        else "medium"
        if strong == 1 or kinds.get("template") or kinds.get("neardup")
        else "low"
    )
    organisation = cluster.get("organisation") or {}
    return {
        "operator": top_org if top_org_n / n >= 0.5 else None,
        "confidence": confidence,
        "evidence": evidence,
        "billing_countries": [c for c, _ in countries.most_common(5)],
        "main_traffic_country": organisation.get("main_country"),
        "programs": organisation.get("programs") or [],
        "note": "Naming the organisation behind the operator needs the legal process this "
        "report supports.",
    }


def _actions(
    findings: Findings, cluster: dict[str, Any], members: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Actions taken: the scan's verdicts, and the gateway's decision log when present
    (``decisions.jsonl`` beside the findings: one JSON object per line with ``at``,
    ``action``, ``account_id`` or ``cluster_id``, ``reason``)."""
    scanned = datetime.fromtimestamp(
        (findings.path / "accounts.parquet").stat().st_mtime, UTC
    ).isoformat(timespec="seconds")
    verdicts = Counter(m["verdict"] for m in members)
    out = [
        {
            "at": scanned,
            "action": f"scan verdict {cluster['verdict']}",
            "detail": ", ".join(f"{n} accounts {v}" for v, n in sorted(verdicts.items())),
            "source": "distillguard scan",
        }
    ]
    log = findings.path / "decisions.jsonl"
    if log.is_file():
        ids = {m["account_id"] for m in members}
        for line in log.read_text(encoding="utf-8").splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict) and (
                d.get("cluster_id") == cluster["cluster_id"] or d.get("account_id") in ids
            ):
                out.append(
                    {
                        "at": str(d.get("at", "")),
                        "action": str(d.get("action", "")),
                        "detail": str(d.get("reason", ""))[:300],
                        "source": str(d.get("source", "gateway")),
                    }
                )
    return sorted(out, key=lambda a: a["at"])


def summary(report: dict[str, Any]) -> str:
    """One paragraph in the form the public letters use."""
    c = report["cluster"]
    caps = sorted(
        ((k, v) for k, v in c["capabilities"].items() if v and v >= 0.05),
        key=lambda kv: -kv[1],
    )
    targets = ", ".join(f"{k.replace('_', ' ')} ({v:.0%})" for k, v in caps[:4]) or "general use"
    infra = report["infrastructure"]
    asns = len(infra["asns"])
    fps = len(infra["client_fingerprints"])
    a = report["attribution"]
    who = (
        f"operated by organisation {a['operator']}"
        if a["operator"]
        else "operated by one party (organisation not established)"
    )
    return (
        f"{c['accounts']:,} accounts made {c['exchanges']:,} exchanges between "
        f"{(c['first_seen'] or '')[:10]} and {(c['last_seen'] or '')[:10]}, targeting {targets}, "
        f"through {asns} network(s) (ASNs) and {fps} client fingerprint(s); "
        f"{who}, confidence {a['confidence']}. Risk {c['risk']:.2f}, verdict {c['verdict']}."
    )


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
