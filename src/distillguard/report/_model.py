"""The content of a campaign report, as plain data (the JSON twin); HTML and PDF render it.

Pure with respect to output: reads the findings and the store, returns a dict. Personal data
never enters the dict in clear: e-mail addresses appear only as domains, payment methods and
e-mail stems as keyed pseudonyms (see :mod:`distillguard.pseudonym`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from distillguard import redaction
from distillguard._files import write_text
from distillguard.config import Settings
from distillguard.detection.campaign_tables import PERSONAL_KINDS, CampaignTables
from distillguard.detection.engine import Executor
from distillguard.detection.features import EMAIL_DOMAIN
from distillguard.findings import Findings
from distillguard.pseudonym import local_key, pseudonym

REPORT_VERSION = "1"

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
    """Rows as dicts, timestamps as ISO 8601 text."""
    stamps = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
    rows: list[dict[str, Any]] = table.to_pylist()
    for r in rows if stamps else ():
        for name in stamps:
            r[name] = _iso(r[name])
    return rows


def build(
    store: Executor,
    findings: Findings,
    cluster_id: str,
    settings: Settings,
    tables: CampaignTables | None = None,
) -> dict[str, Any]:
    """Everything a campaign report says, as JSON-ready data. ``tables`` (the findings'
    campaign tables, read once) may be shared between calls."""
    cfg = settings.report
    cluster = findings.cluster(cluster_id)
    key = local_key(settings.db)
    ids = pa.table({"account_id": pa.array(cluster["account_ids"] or [], pa.string())})
    tables = tables or CampaignTables(findings, store, cfg, key)
    per_day = tables.daily(cluster_id)
    daily = _rows(_summed(per_day, ["date"], ["date"]))
    daily_by_model = _rows(_summed(per_day, ["date", "model"], ["date", "model"]))
    models = _rows(_summed(per_day, ["model"], [("exchanges", "descending"), "model"]))
    first_use = tables.models()
    releases = []
    if first_use.num_rows:
        start = min(first_use.column("first_seen").to_pylist())
        releases = [
            {"model": r["model"], "released": f"{r['first_seen']:%Y-%m-%dT%H:%MZ}"}
            for r in sorted(first_use.to_pylist(), key=lambda r: (r["first_seen"], r["model"]))
            if r["first_seen"] > start + timedelta(days=1)
        ]
    infra = _infrastructure(tables.infra(cluster_id))
    acc_table = store.query_with(
        f"""SELECT a.account_id, a.created_at, a.org_id, a.verification, a.tier, a.program,
                   a.billing_country, {EMAIL_DOMAIN.format(p="a.")} AS email_domain, a.payment_fp
            FROM accounts a JOIN _members m USING (account_id)""",
        _members=ids,
    )
    acc = {
        name: _tally(acc_table[name])
        for name in ("email_domain", "billing_country", "payment_fp", "org_id")
    }
    infra["email_domains"] = _counted(acc, "email_domain", "domain")
    infra["billing_countries"] = _counted(acc, "billing_country", "country")
    infra["payment_methods"] = [
        {"pseudonym": pseudonym(key, "payment", r["value"]), "accounts": r["accounts"]}
        for r in _counted(acc, "payment_fp", "value")
    ]
    creations = _tally(pc.strftime(acc_table["created_at"], "%Y-%m-%d"))
    linked_by = [
        {
            **t,
            "token": pseudonym(key, t["kind"], str(t["token"]))
            if t["kind"] in PERSONAL_KINDS
            else t["token"],
        }
        for t in cluster.get("shared_infrastructure") or []
    ]
    members = _members(findings, cluster_id)
    accounts = _rows(
        members.drop_columns(["campaign_exchanges"])
        .join(
            acc_table.select(["account_id", "created_at", "verification", "program"]),
            "account_id",
            join_type="left outer",
        )
        .sort_by([("risk", "descending"), ("account_id", "ascending")])
    )
    graph = tables.graph(cluster_id, [a["account_id"] for a in accounts])
    campaign_exchanges = int(pc.sum(members["campaign_exchanges"]).as_py() or 0)
    prompts = _prompts(tables, cluster_id, cfg.prompts, cfg.prompt_chars)
    attribution = _attribution(cluster, acc, acc_table.num_rows, linked_by)
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
        "actions": _actions(findings, cluster, accounts),
    }
    report["summary"] = summary(report)
    return report


_MEMBER_COLUMNS = {
    "account_id": pa.string(),
    "risk": pa.float64(),
    "verdict": pa.string(),
    "exchanges": pa.int64(),
    "campaign_share": pa.float64(),
    "campaign_exchanges": pa.int64(),
}


def _members(findings: Findings, cluster_id: str) -> pa.Table:
    """The campaign's member rows of ``accounts.parquet`` (columns older findings lack are
    null)."""
    table = findings.accounts.filter(pc.equal(findings.accounts["cluster_id"], cluster_id))
    return pa.table(
        {
            name: table[name].cast(kind)
            if name in table.column_names
            else pa.nulls(table.num_rows, kind)
            for name, kind in _MEMBER_COLUMNS.items()
        }
    )


def _tally(column: pa.ChunkedArray | pa.Array) -> Counter[Any]:
    """How many accounts have each value (null and empty values left out), in order of
    first appearance."""
    counts: Counter[Any] = Counter()
    for item in pc.value_counts(column).to_pylist():
        if item["values"] not in (None, ""):
            counts[item["values"]] = item["counts"]
    return counts


def _counted(acc: dict[str, Counter[Any]], field: str, name: str) -> list[dict[str, Any]]:
    return [{name: v, "accounts": n} for v, n in acc[field].most_common(15)]


def _prompts(tables: CampaignTables, cluster_id: str, mode: str, limit: int) -> dict[str, Any]:
    if mode == "off" or tables.report.prompt_examples == 0:
        return {"mode": "off", "examples": []}
    shown = [
        {
            "text": redact(r["text"], limit) if mode == "redacted" else clip(r["text"], limit),
            "exchanges": r["exchanges"],
        }
        for r in tables.prompts(cluster_id).to_pylist()
    ]
    return {"mode": mode, "examples": shown}


_INFRA_NAMES = {  # kind: (report key, field, rows shown)
    "asn": ("asns", "asn", 15),
    "subnet": ("subnets", "subnet", 15),
    "client_fp": ("client_fingerprints", "client_fp", 10),
    "user_agent": ("user_agents", "user_agent", 10),
    "country": ("traffic_countries", "country", 10),
}


def _infrastructure(table: pa.Table) -> dict[str, list[dict[str, Any]]]:
    """The campaign's infrastructure tables in the campaign tables' rank order
    (:func:`campaign_tables.infra_sql` ranks them), each cut to its length."""
    out: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in _INFRA_NAMES.values()}
    every = sorted(table.to_pylist(), key=lambda r: r["rank"])
    for kind, (name, field, shown) in _INFRA_NAMES.items():
        rows = [r for r in every if r["kind"] == kind]
        for r in rows[:shown]:
            value: Any = int(r["value"]) if kind == "asn" else r["value"]
            row = {field: value, "exchanges": r["exchanges"]}
            if kind != "country":
                row["accounts"] = r["accounts"]
            out[name].append(row)
    return out


def _summed(table: pa.Table, keys: list[str], order: list[Any]) -> pa.Table:
    """Exchanges summed by ``keys``, sorted (dates as ``YYYY-MM-DD``)."""
    summed = table.group_by(keys).aggregate([("exchanges", "sum")])
    summed = pa.table({**{k: summed[k] for k in keys}, "exchanges": summed["exchanges_sum"]})
    if "date" in keys:
        summed = summed.set_column(
            summed.column_names.index("date"), "date", pc.strftime(summed["date"], "%Y-%m-%d")
        )
    return summed.sort_by([(k, "ascending") if isinstance(k, str) else k for k in order])


def _attribution(
    cluster: dict[str, Any],
    acc: dict[str, Counter[Any]],
    n_accounts: int,
    linked_by: list[dict[str, Any]],
) -> dict[str, Any]:
    """Who is behind it, and how sure: the evidence that many accounts are one operator.
    ``acc`` counts the members' values of each account field."""
    n = max(n_accounts, 1)
    evidence: list[str] = []
    kinds = Counter(t["kind"] for t in linked_by)
    org = acc["org_id"]
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
        evidence.append(f"{top_org_n} of {n_accounts} accounts in organisation {top_org}")
    domains = acc["email_domain"]
    if domains:
        d, dn = domains.most_common(1)[0]
        evidence.append(f"{dn} of {n_accounts} accounts use e-mail domain {d}")
    countries = acc["billing_country"]
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
    write_text(path, json.dumps(report, indent=1, ensure_ascii=False) + "\n")
