"""Export a campaign as a STIX 2.1 bundle (``stix2``), for other labs and cloud providers.

The bundle holds: our identity; an extension definition for the LLM-specific indicator
types; the campaign; the infrastructure it used (``anonymization`` — a proxy network); one
indicator per shared value (IPs, /24 subnets, ASNs, user agents, client fingerprints, e-mail
domains, keyed pseudonyms of e-mail addresses and payment methods, prompt-template MinHash
signatures); ``indicates`` / ``uses`` relationships; a sighting per indicator with its count
and dates; a TLP marking on everything. Never prompt text, never a raw e-mail address or
payment fingerprint.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from distillguard.config import Settings
from distillguard.detection.engine import Executor
from distillguard.detection.features import EMAIL_DOMAIN
from distillguard.findings import Findings
from distillguard.intel import _templates
from distillguard.intel._indicators import STRONG, pattern
from distillguard.pseudonym import consortium_key, pseudonym
from distillguard.rules import Rules

EXTENSION_SCHEMA = "https://github.com/distillguard/distillguard/blob/main/docs/intel.md"
NAMESPACE = uuid.UUID("7f0b6c0e-55a4-4d8e-9b1d-0a6c3f0d1e2b")
"""Namespace of our deterministic STIX ids (the same campaign exported twice keeps its ids)."""

_LABELS = {
    "ip": "IP address used by the campaign",
    "subnet": "/24 subnet used by the campaign's accounts",
    "asn": "network (ASN) the campaign's traffic came from",
    "user-agent": "HTTP user agent of the campaign's clients",
    "email-domain": "e-mail domain of the campaign's accounts",
    "client-fingerprint": "TLS/HTTP client fingerprint of the campaign's harness",
    "email-pseudonym": "keyed pseudonym (HMAC-SHA256, consortium key) of an account e-mail address",
    "payment-pseudonym": "keyed pseudonym (HMAC-SHA256, consortium key) of a payment method",
    "prompt-template": "bottom-k MinHash sketch (consortium-keyed hashing) of a prompt template's "
    "fixed part; never the text",
}


def _sid(kind: str, *parts: str) -> str:
    """A deterministic id in UUIDv4 form (STIX wants v4 for domain objects): the bits of a
    name-based UUID with the version and variant of v4, so re-exports keep their ids."""
    digest = uuid.uuid5(NAMESPACE, "/".join(parts)).bytes
    return f"{kind}--{uuid.UUID(bytes=digest, version=4)}"


def _tlp(name: str) -> Any:
    import stix2

    return {
        "white": stix2.TLP_WHITE,
        "green": stix2.TLP_GREEN,
        "amber": stix2.TLP_AMBER,
        "red": stix2.TLP_RED,
    }[name]


def _values(
    store: Executor, findings: Findings, members: list[str], min_accounts: int
) -> list[dict[str, Any]]:
    """(kind, value, accounts, exchanges, first_seen, last_seen) of the members' infrastructure."""
    where = findings.window_condition("e.ts")
    ex = f"SELECT e.* FROM exchanges e JOIN _m USING (account_id) WHERE true{where}"
    parts = [
        ("ip", "ip", "ip IS NOT NULL", 50),
        (
            "subnet",
            "regexp_extract(ip, '^(\\d+\\.\\d+\\.\\d+)\\.', 1) || '.0/24'",
            "ip LIKE '%.%.%.%'",
            50,
        ),
        ("asn", "asn::VARCHAR", "asn IS NOT NULL", 10),
        ("user-agent", "user_agent", "user_agent IS NOT NULL", 10),
        ("client-fingerprint", "client_fp", "client_fp IS NOT NULL", 10),
    ]
    sql = " UNION ALL ".join(
        f"""(SELECT '{kind}' AS kind, {expr} AS value, count(DISTINCT account_id) AS accounts,
               count(*) AS exchanges, min(ts) AS first_seen, max(ts) AS last_seen
             FROM ({ex}) WHERE {cond} GROUP BY 2 HAVING count(DISTINCT account_id) >= {min_accounts}
             ORDER BY accounts DESC, exchanges DESC LIMIT {limit})"""
        for kind, expr, cond, limit in parts
    )
    ids = pa.table({"account_id": pa.array(members, pa.string())})
    rows: list[dict[str, Any]] = store.query_with(sql, _m=ids).to_pylist()
    return rows


def export_bundle(
    store: Executor,
    findings: Findings,
    cluster_id: str,
    settings: Settings,
    rules: Rules,
) -> dict[str, Any]:
    """The STIX 2.1 bundle (as a JSON-ready dict) for one campaign."""
    import stix2

    key = consortium_key(settings)
    org = settings.report.organisation
    tlp = _tlp(settings.intel.tlp)
    cluster = findings.cluster(cluster_id)
    members = list(cluster["account_ids"] or [])
    first, last = cluster["first_seen"], cluster["last_seen"]
    now = datetime.now(UTC)
    common: dict[str, Any] = {"object_marking_refs": [tlp.id]}

    identity = stix2.Identity(
        id=_sid("identity", org.name),
        name=org.name,
        identity_class="organization",
        description="Provider of an LLM API; reports distillation campaigns against it.",
        contact_information=org.contact,
        created=first,
        modified=first,
        **common,
    )
    ext = stix2.ExtensionDefinition(
        id=_sid("extension-definition", "distillguard-llm-indicators", "1"),
        created_by_ref=identity.id,
        created=first,
        modified=first,
        name="distillguard LLM abuse indicators",
        description="Adds llm_indicator_type to indicators: ip, subnet, asn, user-agent, email-domain, "
        "client-fingerprint, email-pseudonym, payment-pseudonym, prompt-template; and the "
        "x-llm-client, x-llm-account and x-llm-prompt observable types their patterns use.",
        schema=EXTENSION_SCHEMA,
        version="1.0.0",
        extension_types=["property-extension"],
        **common,
    )
    by = {"created_by_ref": identity.id, **common}
    campaign = stix2.Campaign(
        id=_sid("campaign", org.name, cluster_id, str(first)),
        name=f"Distillation campaign {cluster_id}",
        description=(
            f"{cluster['accounts']:,} accounts, {cluster['exchanges']:,} exchanges between "
            f"{first:%Y-%m-%d} and {last:%Y-%m-%d}; capabilities targeted: "
            + ", ".join(
                f"{k} {v:.0%}"
                for k, v in sorted(
                    (cluster.get("capabilities") or {}).items(), key=lambda kv: -kv[1]
                )
                if v >= 0.05
            )
        ),
        objective="Extract model outputs at scale to train a competing model (distillation).",
        first_seen=first,
        last_seen=last,
        created=first,
        modified=now,
        **by,
    )
    infrastructure = stix2.Infrastructure(
        id=_sid("infrastructure", org.name, cluster_id, "proxy"),
        name=f"Proxy network of {cluster_id}",
        description="Networks, clients and accounts the campaign used to reach the API.",
        infrastructure_types=["anonymization"],
        first_seen=first,
        last_seen=last,
        created=first,
        modified=now,
        **by,
    )

    def relationship(source: str, kind: str, target: str) -> Any:
        return stix2.Relationship(
            id=_sid("relationship", source, kind, target),
            source_ref=source,
            relationship_type=kind,
            target_ref=target,
            created=first,
            modified=now,
            **by,
        )

    objects: list[Any] = [identity, ext, campaign, infrastructure]
    objects.append(relationship(campaign.id, "uses", infrastructure.id))

    values = _values(store, findings, members, settings.intel.min_accounts)
    acc = store.query_with(
        f"SELECT a.email, {EMAIL_DOMAIN.format(p='a.')} AS domain, a.payment_fp "
        "FROM accounts a JOIN _m USING (account_id)",
        _m=pa.table({"account_id": pa.array(members, pa.string())}),
    ).to_pylist()
    n = max(len(members), 1)
    domains: dict[str, int] = {}
    for r in acc:
        if r["domain"]:
            domains[r["domain"]] = domains.get(r["domain"], 0) + 1
    disposable = rules.disposable
    for d, c in sorted(domains.items(), key=lambda kv: -kv[1]):
        # a webmail domain shared by a few members says nothing; disposable or dominant ones do
        if c >= settings.intel.min_accounts and (d in disposable or c >= 0.5 * n):
            values.append({"kind": "email-domain", "value": d, "accounts": c, "exchanges": None})
    emails = sorted({pseudonym(key, "email", r["email"]) for r in acc if r["email"]})
    payments = sorted({pseudonym(key, "payment", r["payment_fp"]) for r in acc if r["payment_fp"]})
    values += [
        {"kind": "email-pseudonym", "value": v, "accounts": 1, "exchanges": None} for v in emails
    ]
    values += [
        {"kind": "payment-pseudonym", "value": v, "accounts": None, "exchanges": None}
        for v in payments
    ]
    for texts, count in _template_samples(store, members):
        sig = _templates.signature(texts, key)
        if sig:
            values.append(
                {"kind": "prompt-template", "value": sig, "accounts": None, "exchanges": count}
            )

    for v in values:
        kind, value = v["kind"], str(v["value"])
        indicator = stix2.Indicator(
            id=_sid("indicator", org.name, cluster_id, kind, value),
            name=f"{cluster_id} {kind}",
            description=_LABELS[kind],
            indicator_types=["malicious-activity"] if kind in STRONG else ["anomalous-activity"],
            pattern=pattern(kind, value),
            pattern_type="stix",
            valid_from=first,
            created=first,
            modified=now,
            confidence=85 if kind in STRONG else 50 if kind != "asn" else 15,
            extensions={
                ext.id: {"extension_type": "property-extension", "llm_indicator_type": kind}
            },
            allow_custom=True,
            **by,
        )
        objects.append(indicator)
        objects.append(relationship(indicator.id, "indicates", campaign.id))
        seen_first = v.get("first_seen") or first
        seen_last = v.get("last_seen") or last
        objects.append(
            stix2.Sighting(
                id=_sid("sighting", indicator.id),
                sighting_of_ref=indicator.id,
                where_sighted_refs=[identity.id],
                count=int(v["exchanges"] or v["accounts"] or 1),
                first_seen=seen_first,
                last_seen=max(seen_last, seen_first),
                description=f"seen in {v['accounts'] or 'some'} of the campaign's accounts"
                if v.get("accounts")
                else "seen in the campaign's traffic",
                created=first,
                modified=now,
                **by,
            )
        )
    objects.append(tlp)
    bundle = stix2.Bundle(objects=objects, allow_custom=True)
    doc: dict[str, Any] = json.loads(bundle.serialize())
    return doc


def _template_samples(
    store: Executor, members: list[str], top: int = 5, sample: int = 20
) -> list[tuple[list[str], int]]:
    """Samples of the campaign's most frequent prompt shapes (a fixed start or a fixed end)
    that are templates: used by at least two accounts, at least 20 times, around at least
    10 different contents (one public prompt sent many times is not a template)."""
    rows = store.query_with(
        f"""WITH e AS (
              SELECT {_templates.TEMPLATE_TEXT} AS text, account_id, request_id, unnest([
                       'head:' || regexp_replace(lower(left(prompt, 48)), '[0-9]+', '0', 'g'),
                       'tail:' || regexp_replace(lower(right(prompt, 48)), '[0-9]+', '0', 'g')]) AS shape
              FROM exchanges JOIN _m USING (account_id)
              WHERE prompt IS NOT NULL AND length(prompt) >= 20),
            shapes AS (
              SELECT shape, count(*) AS n FROM e GROUP BY shape
              HAVING count(DISTINCT account_id) >= 2 AND count(*) >= 20
                 AND count(DISTINCT text) >= 10
              ORDER BY n DESC, shape LIMIT {int(top)}),
            drawn AS (
              SELECT e.shape, s.n, e.text, row_number() OVER (
                       PARTITION BY e.shape ORDER BY dg_fingerprint(e.request_id), e.request_id) AS k
              FROM e JOIN shapes s ON s.shape = e.shape)
           SELECT shape, n, text FROM drawn WHERE k <= {int(sample)} ORDER BY n DESC, shape, k""",
        _m=pa.table({"account_id": pa.array(members, pa.string())}),
    ).to_pylist()
    samples: dict[str, tuple[list[str], int]] = {}
    for r in rows:  # in order: the most frequent shape first, its drawn texts in order
        samples.setdefault(r["shape"], ([], int(r["n"])))[0].append(r["text"])
    return list(samples.values())
