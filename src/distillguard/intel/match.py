"""Match indicators that partners share against our accounts and exchanges, and feed the
result into findings as reasons, so a campaign seen at another lab is acted on here from its
first requests.

An account matches a partner's bundle on one strong indicator (client fingerprint, keyed
e-mail or payment pseudonym, prompt-template signature) or on weak indicators of at least two
kinds (IP, subnet, user agent, e-mail domain); ASNs are context only. A matched account's
risk becomes at least ``intel.match_risk`` and its reasons start with
"matches indicators shared by <identity> on <date>: <kinds>".
"""

from __future__ import annotations

import ipaddress
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.config import Settings
from distillguard.detection.engine import Executor
from distillguard.detection.features import EMAIL_DOMAIN
from distillguard.detection.neardup import shingles
from distillguard.errors import InputError
from distillguard.findings import Findings
from distillguard.intel import _templates
from distillguard.intel._indicators import STRONG, WEAK, parse
from distillguard.pseudonym import consortium_key, pseudonym
from distillguard.rules import VERDICTS, Rules

PROMPTS_PER_ACCOUNT = 8


@dataclass
class SharedIndicator:
    id: str
    kind: str
    value: str
    source: str  # the sharing identity's name
    shared_on: str  # date the indicator was created


@dataclass
class MatchResult:
    indicators: int
    skipped: int
    matches: dict[str, list[SharedIndicator]] = field(default_factory=dict)
    """account → the shared indicators it matched (only accounts that match)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "indicators": self.indicators,
            "skipped_patterns": self.skipped,
            "accounts": {
                a: [ind.__dict__ for ind in inds] for a, inds in sorted(self.matches.items())
            },
        }


def read_bundles(paths: list[Path]) -> list[SharedIndicator]:
    """Indicators from STIX 2.1 bundle files (JSON), with who shared them and when."""
    out: list[SharedIndicator] = []
    for path in paths:
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"cannot read bundle: {exc.strerror}", path=path) from exc
        except ValueError as exc:
            raise InputError(f"not JSON: {exc}", path=path) from exc
        out += indicators_of(doc, str(path))
    return out


def indicators_of(doc: Any, where: str = "bundle") -> list[SharedIndicator]:
    if (
        not isinstance(doc, dict)
        or doc.get("type") != "bundle"
        or not isinstance(doc.get("objects", []), list)
    ):
        raise InputError(f"{where}: not a STIX bundle (need type 'bundle' and an objects list)")
    objects = [o for o in doc.get("objects", []) if isinstance(o, dict)]
    names = {
        o.get("id"): str(o.get("name", "unknown")) for o in objects if o.get("type") == "identity"
    }
    out = []
    for o in objects:
        if o.get("type") != "indicator" or o.get("pattern_type", "stix") != "stix":
            continue
        parsed = parse(str(o.get("pattern", "")))
        out.append(
            SharedIndicator(
                id=str(o.get("id", "")),
                kind=parsed.kind if parsed else "",
                value=parsed.value if parsed else "",
                source=names.get(o.get("created_by_ref"), "an unnamed partner"),
                shared_on=str(o.get("created", ""))[:10],
            )
        )
    return out


def match(
    store: Executor, findings: Findings | None, shared: list[SharedIndicator], settings: Settings
) -> MatchResult:
    """Which of our accounts (in the findings' window, or the whole store) match ``shared``."""
    usable = [s for s in shared if s.kind]
    result = MatchResult(indicators=len(usable), skipped=len(shared) - len(usable))
    if not usable:
        return result
    by_kind: dict[str, list[SharedIndicator]] = defaultdict(list)
    for s in usable:
        by_kind[s.kind].append(s)
    where = findings.window_condition("ts") if findings else ""
    hits: dict[str, dict[str, SharedIndicator]] = defaultdict(dict)  # account → kind → indicator

    def exact(kind: str, column: str) -> None:
        if kind not in by_kind:
            return
        values = {s.value: s for s in by_kind[kind]}
        rows = store.query_with(
            f"SELECT DISTINCT account_id, {column} AS v FROM exchanges WHERE {column} IN "
            f"(SELECT v FROM _v){where}",
            _v=pa.table({"v": pa.array(list(values), pa.string())}),
        ).to_pylist()
        for r in rows:
            hits[r["account_id"]].setdefault(kind, values[r["v"]])

    exact("ip", "ip")
    exact("user-agent", "user_agent")
    exact("client-fingerprint", "client_fp")
    if "subnet" in by_kind:
        nets = []
        for s in by_kind["subnet"]:
            try:
                nets.append((ipaddress.ip_network(s.value, strict=False), s))
            except ValueError:
                result.skipped += 1
        rows = store.query(
            f"SELECT DISTINCT account_id, ip FROM exchanges WHERE ip IS NOT NULL{where}"
        ).to_pylist()
        v4 = [(n, s) for n, s in nets if n.version == 4]
        hit: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, SharedIndicator] | None
        prefixes = {
            str(n.network_address).rsplit(".", 1)[0]: (n, s) for n, s in v4 if n.prefixlen == 24
        }
        for r in rows:
            ip = r["ip"]
            hit = prefixes.get(ip.rsplit(".", 1)[0]) if "." in ip else None
            if hit is None:
                try:
                    addr = ipaddress.ip_address(ip)
                except ValueError:
                    continue
                hit = next(((n, s) for n, s in nets if addr in n), None)
            if hit is not None:
                hits[r["account_id"]].setdefault("subnet", hit[1])
    if {"email-domain", "email-pseudonym", "payment-pseudonym"} & by_kind.keys():
        key = (
            consortium_key(settings)
            if {"email-pseudonym", "payment-pseudonym"} & by_kind.keys()
            else b""
        )
        domains = {s.value.lower(): s for s in by_kind.get("email-domain", [])}
        emails = {s.value: s for s in by_kind.get("email-pseudonym", [])}
        payments = {s.value: s for s in by_kind.get("payment-pseudonym", [])}
        active = f"SELECT DISTINCT account_id FROM exchanges WHERE true{where}"
        for r in store.query(
            f"SELECT account_id, email, {EMAIL_DOMAIN.format(p='')} AS domain, "
            f"payment_fp FROM accounts WHERE account_id IN ({active})",
        ).to_pylist():
            a = r["account_id"]
            if r["domain"] in domains:
                hits[a].setdefault("email-domain", domains[r["domain"]])
            if emails and r["email"] and (p := pseudonym(key, "email", r["email"])) in emails:
                hits[a].setdefault("email-pseudonym", emails[p])
            if (
                payments
                and r["payment_fp"]
                and (p := pseudonym(key, "payment", r["payment_fp"])) in payments
            ):
                hits[a].setdefault("payment-pseudonym", payments[p])
    if "prompt-template" in by_kind:
        _match_templates(
            store, by_kind["prompt-template"], consortium_key(settings), where, hits, result
        )
    for account, kinds in hits.items():
        strong = [s for k, s in kinds.items() if k in STRONG]
        weak = [s for k, s in kinds.items() if k in WEAK]
        if strong or len(weak) >= 2:
            result.matches[account] = sorted(strong + weak, key=lambda s: (s.kind, s.id))
    return result


def _match_templates(
    store: Executor,
    shared: list[SharedIndicator],
    key: bytes,
    where: str,
    hits: dict[str, dict[str, SharedIndicator]],
    result: MatchResult,
) -> None:
    decoded = [(s, _templates.decode(s.value)) for s in shared]
    good = [(s, v) for s, v in decoded if v]
    result.skipped += len(decoded) - len(good)
    if not good:
        return
    rows = store.query(
        f"""SELECT account_id, {_templates.TEMPLATE_TEXT} AS text FROM exchanges
            WHERE prompt IS NOT NULL AND length(prompt) >= 20{where}
            QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY ts, request_id)
                    <= {PROMPTS_PER_ACCOUNT}"""
    ).to_pylist()
    for r in rows:
        if "prompt-template" in hits.get(r["account_id"], {}):
            continue
        ours = _templates.keyed_hashes(shingles(r["text"]), key)
        for s, sketch in good:
            if _templates.contains(ours, sketch):
                hits[r["account_id"]]["prompt-template"] = s
                break


def apply_to_findings(
    findings: Findings, result: MatchResult, settings: Settings, rules: Rules
) -> int:
    """Raise matched accounts' risk and verdict and add the reason, in the findings files
    (``accounts.parquet``, ``findings.json``); write ``intel_matches.json``. Returns the
    number of accounts changed."""
    rows = findings.accounts.to_pylist()
    changed = 0
    for r in rows:
        inds = result.matches.get(r["account_id"])
        if not inds:
            continue
        reasons = [
            x for x in json.loads(r["reasons"] or "[]") if x.get("signal") != "shared_indicator"
        ]
        sources = sorted({f"{i.source} on {i.shared_on}" for i in inds})
        kinds = sorted({i.kind for i in inds})
        reasons.insert(
            0,
            {
                "signal": "shared_indicator",
                "value": float(len(inds)),
                "baseline": 0.0,
                "weight": 0.0,
                "text": f"matches indicators shared by {'; '.join(sources)}: {', '.join(kinds)}",
            },
        )
        r["reasons"] = json.dumps(reasons)
        if not r.get("allowlisted"):
            r["risk"] = max(float(r["risk"]), settings.intel.match_risk)
            r["verdict"] = rules.verdict(r["risk"])
        changed += 1
    table = pa.Table.from_pylist(rows, schema=findings.accounts.schema)
    pq.write_table(table, findings.path / "accounts.parquet", compression="zstd")
    findings.accounts = table
    doc_path = findings.path / "findings.json"
    if doc_path.is_file():
        doc = json.loads(doc_path.read_text(encoding="utf-8"))
        flagged = [dict(r, reasons=json.loads(r["reasons"])) for r in rows if r["verdict"] != "ok"]
        doc["accounts"] = flagged
        doc["verdicts"] = {v: sum(r["verdict"] == v for r in rows) for v in VERDICTS}
        doc_path.write_text(json.dumps(doc, indent=1, default=str) + "\n", encoding="utf-8")
    (findings.path / "intel_matches.json").write_text(
        json.dumps(result.to_json(), indent=1) + "\n", encoding="utf-8"
    )
    return changed
