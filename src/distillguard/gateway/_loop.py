"""Closing the loop: ``decide`` loads findings into a gateway; ``watch`` rescans the gateway's
own log on a sliding window and pushes what the policy asks for, every few minutes.

Both talk to the gateway only through its admin API (so they work the same against one
embedded process or many replicas sharing Redis).
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.errors import GatewayError, InputError
from distillguard.gateway._config import GatewayConfig
from distillguard.gateway._policy import Policy, decisions_from_findings

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")


def parse_duration(text: str, option: str) -> float:
    """'30s', '5m', '2h', '1d' (or plain seconds) → seconds."""
    m = _DURATION.match(text)
    if not m:
        raise GatewayError(f"{option}: {text!r} is not a duration like 30s, 5m, 2h or 1d")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86_400}[m.group(2) or "s"]


@dataclass
class AdminClient:
    """The admin API over HTTP (stdlib ``urllib``: nothing to install for a cron job)."""

    url: str
    token: str
    timeout_s: float = 30.0

    def call(self, method: str, path: str, body: Any = None) -> Any:
        if not self.url.startswith(("http://", "https://")):
            raise GatewayError(f"--gateway: {self.url!r} must start with http:// or https://")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url.rstrip("/") + path,
            data=data,
            method=method,
            headers={"authorization": f"Bearer {self.token}", "content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode("utf-8", "replace")
            raise GatewayError(f"{method} {path}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise GatewayError(f"cannot reach the gateway at {self.url}: {exc}") from None


def read_findings(path: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Clusters and flagged accounts from ``findings.json`` (written by ``scan``)."""
    doc = Path(path) / "findings.json"
    try:
        data = json.loads(doc.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(
            f"cannot read: {exc.strerror}; run `distillguard scan --out` first", path=doc
        ) from exc
    except ValueError as exc:
        raise InputError(f"not valid JSON: {exc}", path=doc) from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("clusters"), list)
        or not isinstance(data.get("accounts"), list)
    ):
        raise InputError("not a findings file: needs 'clusters' and 'accounts' lists", path=doc)
    return data["clusters"], data["accounts"]


def plan(policy: Policy, findings: str | Path, *, source: str = "policy") -> dict[str, Any]:
    """The admin-API batch that applies ``policy`` to a findings directory."""
    clusters, accounts = read_findings(findings)
    decisions = decisions_from_findings(policy, clusters, accounts, source=source)
    membership: dict[str, str | None] = {}
    decided = {d.target for d in decisions if d.scope == "cluster"}
    for c in clusters:
        if str(c.get("cluster_id")) in decided:
            for account_id in c.get("account_ids") or []:
                membership[str(account_id)] = str(c["cluster_id"])
    items = []
    for d in decisions:
        hours = None
        if d.expires_at is not None:
            hours = max((d.expires_at - datetime.now(UTC)).total_seconds() / 3600, 0.01)
        items.append({"action": d.action, "scope": d.scope, "target": d.target,
                      "params": d.params, "reason": d.reason, "source": source,
                      "expires_in_hours": hours})  # fmt: skip
    return {"decisions": items, "clusters": membership, "replace_source": source}


def watch_once(
    config: GatewayConfig,
    client: AdminClient,
    policy: Policy,
    *,
    db: Path,
    out: Path,
    window_s: float,
    say: Callable[[str], None] = lambda s: None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """One round: load new log partitions and accounts, scan the window ending ``until``
    (default: now), push decisions."""
    from distillguard.catalogue import Catalogue
    from distillguard.config import load_settings
    from distillguard.detection.pipeline import scan
    from distillguard.ingest import ingest_files
    from distillguard.rules import load_rules
    from distillguard.store import Store

    settings = load_settings(db=db, progress=False)
    parts_dir = Path(config.log.dir) / "exchanges"
    manifest = out / "loaded-parts.txt"
    out.mkdir(parents=True, exist_ok=True)
    done = set(manifest.read_text().split()) if manifest.exists() else set()
    new_parts = [p for p in sorted(parts_dir.rglob("*.parquet")) if str(p) not in done]
    accounts = client.call("GET", "/admin/export/accounts")
    until = until or datetime.now(UTC)
    since = until - timedelta(seconds=window_s)
    with Store.open(db) as store:
        if accounts:
            acc_file = out / "accounts-export.parquet"
            table = pa.Table.from_pylist(accounts)
            pq.write_table(table, acc_file)
            ingest_files([acc_file], "native", store, settings)
        if new_parts:
            ingest_files(new_parts, "native", store, settings)
            with manifest.open("a") as fh:
                fh.writelines(f"{p}\n" for p in new_parts)
        say(f"loaded {len(new_parts)} log partitions, {len(accounts or [])} accounts")
        if store.count_window(since, until) == 0:
            say("no exchanges in the window; nothing to scan")
            return {"scanned": 0}
        findings = out / "findings"
        if findings.exists():
            shutil.rmtree(findings)
        catalogue = Catalogue.model_validate({"models": [m.model_dump() for m in config.models]})
        result = scan(
            store, load_rules(None), findings, since=since, until=until, catalogue=catalogue
        )
    batch = plan(policy, findings, source="watch")
    answer = client.call("POST", "/admin/decisions/batch", batch)
    decisions_log = Path(config.log.dir) / "decisions.jsonl"
    if decisions_log.is_file():
        shutil.copyfile(decisions_log, findings / "decisions.jsonl")
    say(
        f"scanned {result.accounts.num_rows} accounts, {result.clusters.num_rows} clusters: "
        f"{len(answer['created'])} decisions created, {len(answer['unchanged'])} unchanged, "
        f"{len(answer['lifted'])} lifted, {answer['suppressed']} suppressed by analysts"
    )
    return dict(answer)


def watch_forever(
    config: GatewayConfig,
    client: AdminClient,
    policy: Policy,
    *,
    db: Path,
    out: Path,
    window_s: float,
    interval_s: float,
    rounds: int | None,
    say: Callable[[str], None],
) -> None:
    n = 0
    while rounds is None or n < rounds:
        started = time.monotonic()
        try:
            watch_once(config, client, policy, db=db, out=out, window_s=window_s, say=say)
        except GatewayError as exc:
            say(f"round failed: {exc}; retrying next interval")
        n += 1
        if rounds is not None and n >= rounds:
            break
        time.sleep(max(0.0, interval_s - (time.monotonic() - started)))
