"""What the console's pages show, read from the findings and the store with bounded queries.

The findings are reloaded when ``findings.json`` changes (a new scan). Campaign pages reuse
the incident report's model (``report._model.build``), so the console and the report say the
same thing in the same words; personal data appears as in reports: e-mail domains and keyed
pseudonyms, never raw e-mails or payment fingerprints.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distillguard.config import Settings
from distillguard.detection.campaign_tables import CampaignTables
from distillguard.detection.features import EMAIL_DOMAIN
from distillguard.findings import Findings, load_findings
from distillguard.pseudonym import local_key, pseudonym
from distillguard.report._model import clip, redact
from distillguard.store import Store

QUEUE_ROWS = 200
"""Rows a queue page shows at most (the highest risk first)."""
SPARK_DAYS = 30
FEATURES = (
    ("exchanges", "exchanges in the window"), ("active_days", "active days"),
    ("volume_per_day", "exchanges per active day"), ("age_days", "account age, days"),
    ("trace_share", "asks for the model's internal reasoning"),
    ("cot_share", "asks to think step by step"), ("rubric_share", "rubric grading requests"),
    ("judge_share", "LLM-as-judge requests"), ("answer_format_share", "fixed answer formats"),
    ("censorship_share", "censorship rewrites"), ("coding_share", "coding"),
    ("math_share", "maths"), ("agentic_share", "tool use"), ("thinking_share", "thinking on"),
    ("high_cap_share", "high max_tokens"), ("temp0_share", "temperature 0"),
    ("multi_turn_share", "multi-turn"), ("non_latin_share", "non-Latin script"),
    ("young_share", "traffic while under 30 days old"),
    ("release_share", "on a new model right after its release"),
    ("multi_model_share", "same items sent to several models"),
    ("top_head_share", "largest shared prompt opening"),
    ("top_tail_share", "largest shared prompt ending"),
    ("output_input_ratio", "output tokens per input token"), ("topic_breadth", "topic breadth"),
    ("hour_entropy", "spread over the day's hours"), ("gap_cv", "regularity of gaps (CV)"),
    ("gap_median_s", "median gap, seconds"), ("models", "models used"), ("ips", "IP addresses"),
    ("asns", "networks (ASNs)"), ("client_fps", "client fingerprints"),
)  # fmt: skip
"""The account features an account page sets against the population, with their wording."""


@dataclass
class Filters:
    verdict: str = ""
    status: str = ""
    q: str = ""
    kind: str = ""  # "" (both), "campaign" or "account"


@dataclass
class _Loaded:
    stamp: float
    findings: Findings
    clusters: list[dict[str, Any]] = field(default_factory=list)
    by_account: dict[str, dict[str, Any]] = field(default_factory=dict)
    days: dict[str, dict[date, int]] | None = None
    """Daily exchanges of every campaign and flagged account the queue can show, by id, summed
    once per scan."""
    files: dict[str, pa.Table | None] = field(default_factory=dict)
    """The findings' campaign tables, read once."""
    reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Campaign report models, built once per scan."""
    population: dict[str, Any] | None = None
    """Each feature's sorted values over all accounts, and each account's row."""


class ConsoleData:
    def __init__(self, settings: Settings, findings_dir: Path) -> None:
        self.settings = settings
        self.findings_dir = findings_dir
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self.key = local_key(settings.db)

    # -- findings --------------------------------------------------------------------------
    def findings(self) -> _Loaded:
        marker = self.findings_dir / "findings.json"
        stamp = marker.stat().st_mtime if marker.exists() else 0.0
        with self._lock:
            if self._loaded is None or self._loaded.stamp != stamp:
                findings = load_findings(self.findings_dir)
                by_account = {r["account_id"]: r for r in findings.accounts.to_pylist()}
                self._loaded = _Loaded(stamp, findings, findings.all_clusters(), by_account)
            return self._loaded

    def store(self) -> Store:
        return Store.open(self.settings.db, read_only=True)

    def report(self, cluster_id: str) -> dict[str, Any]:
        """The campaign's incident-report model (what its page shows), built once per scan."""
        from distillguard.report._model import build

        loaded = self.findings()
        found = loaded.reports.get(cluster_id)
        if found is None:
            with self.store() as store:
                found = build(
                    store, loaded.findings, cluster_id, self.settings, self._tables(loaded, store)
                )
            loaded.reports[cluster_id] = found
        return found

    def _tables(self, loaded: _Loaded, store: Store) -> CampaignTables:
        return CampaignTables(
            loaded.findings, store, self.settings.report, self.key, cache=loaded.files
        )

    def warm(self) -> None:
        """Count the queue's daily traffic and build every campaign's model, highest risk
        first, so first views are fast (run on a thread at start)."""
        loaded = self.findings()
        self._days(loaded)
        for c in sorted(loaded.clusters, key=lambda c: -float(c["risk"] or 0)):
            if self._loaded is not loaded:
                return  # a new scan arrived: its pages build on demand
            self.report(c["cluster_id"])

    # -- the queue -------------------------------------------------------------------------
    def queue(self, filters: Filters, statuses: dict[str, str]) -> list[dict[str, Any]]:
        """Campaigns, then accounts in no campaign whose verdict is not ``ok``; highest risk
        first, filtered."""
        loaded = self.findings()
        items: list[dict[str, Any]] = []
        for c in loaded.clusters:
            items.append({
                "kind": "campaign", "id": c["cluster_id"], "risk": c["risk"], "verdict": c["verdict"],
                "accounts": c["accounts"], "exchanges": c["exchanges"],
                "first_seen": c["first_seen"], "last_seen": c["last_seen"],
                "capabilities": _top_capabilities(c.get("capabilities") or {}),
                "status": statuses.get(c["cluster_id"], "new"),
                "members": list(c.get("account_ids") or []),
                "reasons": c.get("reasons") or [],
            })  # fmt: skip
        for a in loaded.by_account.values():
            if a["cluster_id"] is None and a["verdict"] != "ok":
                items.append({
                    "kind": "account", "id": a["account_id"], "risk": a["risk"],
                    "verdict": a["verdict"], "accounts": 1, "exchanges": a["exchanges"],
                    "first_seen": None, "last_seen": None, "capabilities": [],
                    "status": statuses.get(a["account_id"], "new"), "members": [a["account_id"]],
                    "reasons": reasons_of(a.get("reasons")),
                })  # fmt: skip
        matched = self._search(filters.q, loaded) if filters.q else None
        out = [
            i
            for i in items
            if (not filters.verdict or i["verdict"] == filters.verdict)
            and (not filters.status or i["status"] == filters.status)
            and (not filters.kind or i["kind"] == filters.kind)
            and (matched is None or _hit(i, filters.q, matched))
        ]
        out.sort(key=lambda i: (-float(i["risk"] or 0), i["id"]))
        out = out[:QUEUE_ROWS]
        self._sparklines(out)
        return out

    def _search(self, q: str, loaded: _Loaded) -> set[str]:
        """Accounts the text names: by account, org, IP, ASN or e-mail domain (store lookups,
        bounded)."""
        text = q.strip()
        hits = {a for a in loaded.by_account if text.lower() in a.lower()}
        with self.store() as store:
            params: list[Any] = [text, text]
            asn = int(text.removeprefix("AS")) if text.removeprefix("AS").isdigit() else None
            rows = store.query(
                "SELECT DISTINCT account_id FROM exchanges WHERE ip = ? OR org_id = ?"
                + (" OR asn = ?" if asn is not None else "")
                + " LIMIT 5000",
                [*params, *([asn] if asn is not None else [])],
            )
            hits.update(rows.column("account_id").to_pylist())
            rows = store.query(
                f"SELECT account_id FROM accounts WHERE lower({EMAIL_DOMAIN.format(p='')}) = lower(?) "
                "OR org_id = ? LIMIT 5000",
                [text, text],
            )
            hits.update(rows.column("account_id").to_pylist())
        return hits

    def _days(self, loaded: _Loaded) -> dict[str, dict[date, int]]:
        """Daily exchanges of every campaign (by cluster id) and every flagged account in no
        campaign (by account id): read from the scan's ``account_daily.parquet`` (counted
        from the store for findings without it) and summed once per scan."""
        if loaded.days is not None:
            return loaded.days
        with self.store() as store:
            table = self._tables(loaded, store).flagged_daily()
        clustered = pc.is_valid(table["cluster_id"])
        days: dict[str, dict[date, int]] = {}
        for part, by in ((table.filter(clustered), "cluster_id"),
                         (table.filter(pc.invert(clustered)), "account_id")):  # fmt: skip
            summed = part.group_by([by, "date"]).aggregate([("exchanges", "sum")])
            for i, d, n in zip(
                summed[by].to_pylist(),
                summed["date"].to_pylist(),
                summed["exchanges_sum"].to_pylist(),
                strict=True,
            ):
                days.setdefault(i, {})[d] = int(n)
        loaded.days = days
        return days

    def _sparklines(self, items: list[dict[str, Any]]) -> None:
        """Daily exchanges over the last ``SPARK_DAYS`` days of each item's traffic."""
        per_item = self._days(self.findings())
        for i in items:
            series = per_item.get(i["id"], {})
            if series:
                last = max(series)
                i["spark"] = [
                    series.get(last - timedelta(days=k), 0) for k in range(SPARK_DAYS - 1, -1, -1)
                ]
            else:
                i["spark"] = []

    # -- an account ------------------------------------------------------------------------
    def features(self, account_id: str) -> list[dict[str, Any]]:
        """The account's features beside the population's median and the share of accounts
        with a strictly lower value (``account_features.parquet`` of the scan; empty for
        older findings)."""
        loaded = self.findings()
        if loaded.population is None:
            path = self.findings_dir / "account_features.parquet"
            population: dict[str, Any] = {"rows": {}, "sorted": {}}
            if path.is_file():
                table = pq.read_table(path, columns=None)
                names = [n for n, _ in FEATURES if n in table.column_names]
                ids = table.column("account_id").to_pylist()
                columns = {n: table.column(n).to_numpy(zero_copy_only=False) for n in names}
                population["index"] = {a: i for i, a in enumerate(ids)}
                population["columns"] = columns
                population["sorted"] = {
                    n: np.sort(v[~np.isnan(v.astype(float))].astype(float))
                    for n, v in columns.items()
                }
            loaded.population = population
        pop = loaded.population
        i = pop.get("index", {}).get(account_id)
        if i is None:
            return []
        out = []
        for name, wording in FEATURES:
            values = pop["sorted"].get(name)
            if values is None or not len(values):
                continue
            raw = pop["columns"][name][i]
            if raw is None or (isinstance(raw, float) and np.isnan(raw)):
                continue
            value = float(raw)
            rank = float(np.searchsorted(values, value, side="left")) / len(
                values
            )  # strictly lower
            out.append({"name": name, "text": wording, "value": value,
                        "median": float(np.median(values)), "percentile": rank})  # fmt: skip
        return out

    def account(self, account_id: str) -> dict[str, Any] | None:
        loaded = self.findings()
        row = loaded.by_account.get(account_id)
        with self.store() as store:
            acc = store.query(
                f"""SELECT account_id, org_id, created_at, verification, tier, program,
                       billing_country, {EMAIL_DOMAIN.format(p="")} AS email_domain, payment_fp
                    FROM accounts WHERE account_id = ?""",
                [account_id],
            ).to_pylist()
            if row is None and not acc:
                return None
            window = loaded.findings.window_condition("ts")
            daily = store.query(
                "SELECT strftime(date_trunc('day', ts), '%Y-%m-%d') AS date, count(*) AS exchanges "
                f"FROM exchanges WHERE account_id = ?{window} GROUP BY ALL ORDER BY date",
                [account_id],
            ).to_pylist()
            models = store.query(
                f"SELECT model, count(*) AS n FROM exchanges WHERE account_id = ?{window} "
                "GROUP BY ALL ORDER BY n DESC LIMIT 8",
                [account_id],
            ).to_pylist()
            prompts = store.query(
                "SELECT ts, model, endpoint, status, left(prompt, 4000) AS prompt FROM exchanges "
                f"WHERE account_id = ?{window} AND prompt <> '' ORDER BY ts DESC LIMIT 12",
                [account_id],
            ).to_pylist()
        info = acc[0] if acc else {}
        if info.get("payment_fp"):
            info["payment"] = pseudonym(self.key, "payment", str(info.pop("payment_fp")))
        else:
            info.pop("payment_fp", None)
        cfg = self.settings.report
        for p in prompts:
            text = p.pop("prompt") or ""
            p["text"] = (
                redact(text, cfg.prompt_chars)
                if cfg.prompts == "redacted"
                else (clip(text, cfg.prompt_chars) if cfg.prompts == "full" else "")
            )
        return {
            "account_id": account_id,
            "finding": {**row, "reasons": reasons_of(row.get("reasons"))} if row else None,
            "info": info,
            "daily": daily,
            "models": models,
            "prompts": prompts if cfg.prompts != "off" else [],
            "prompt_mode": cfg.prompts,
            "features": self.features(account_id),
        }


def reasons_of(value: Any) -> list[dict[str, Any]]:
    """A findings row's ``reasons``: a list, from JSON text or as it is."""
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return []
        return parsed if isinstance(parsed, list) else []
    return []


def _top_capabilities(caps: dict[str, Any]) -> list[tuple[str, float]]:
    ranked = sorted(
        ((str(k), float(v)) for k, v in caps.items() if isinstance(v, int | float) and v > 0),
        key=lambda kv: -kv[1],
    )
    return ranked[:3]


def _hit(item: dict[str, Any], q: str, matched: set[str]) -> bool:
    text = q.lower()
    if text in item["id"].lower() or any(m in matched for m in item["members"]):
        return True
    return any(text in str(r.get("text", "")).lower() for r in item["reasons"])
