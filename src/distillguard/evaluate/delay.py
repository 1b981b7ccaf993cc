"""Detection delay: scan the log in time order and count, per campaign, how many of its
exchanges were served before its first ``act``.

The log's span is cut at ``checkpoints`` evenly spaced times t₁ < … < tₖ; at each, ``scan``
runs over [start, tᵢ) as it would have then. A campaign's delay is the number of exchanges
of its accounts before the first tᵢ at which one of its accounts is ``act`` (so the figure
is an upper bound: the true first ``act`` lies between two checkpoints).
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from distillguard.catalogue import Catalogue
from distillguard.detection.pipeline import scan
from distillguard.evaluate.metrics import ATTACK, Truth
from distillguard.rules import Rules
from distillguard.store import Store


def checkpoints(store: Store, count: int) -> list[datetime]:
    """``count`` evenly spaced cut times after the log's first exchange, the last at its end."""
    row = store.query("SELECT min(ts) AS lo, max(ts) AS hi FROM exchanges").to_pylist()[0]
    lo, hi = row["lo"], row["hi"]
    step = (hi - lo) / count
    return [lo + step * (i + 1) for i in range(count)]


def detection_delay(
    store: Store,
    rules: Rules,
    truth: Truth,
    cuts: list[datetime],
    catalogue: Catalogue | None = None,
) -> dict[str, Any]:
    """Per campaign: first checkpoint with an ``act``, and exchanges served before it."""
    campaign_of = {a: c for a, c in truth.campaign.items() if truth.label.get(a) == ATTACK and c}
    mapping = pa.table({"account_id": list(campaign_of), "campaign": list(campaign_of.values())})
    first_act: dict[str, datetime] = {}
    with tempfile.TemporaryDirectory(prefix="dg-delay-") as tmp:
        for i, cut in enumerate(cuts):
            if store.count_window(None, cut) == 0:
                continue
            result = scan(store, rules, Path(tmp) / f"cut-{i}", until=cut, catalogue=catalogue)
            acted = {r["account_id"] for r in result.accounts.to_pylist() if r["verdict"] == "act"}
            for account in acted:
                camp = campaign_of.get(account)
                if camp and camp not in first_act:
                    first_act[camp] = cut
            if len(first_act) == len(set(campaign_of.values())):
                break
    acts = pa.table(
        {
            "campaign": pa.array(list(first_act), pa.string()),
            "act_at": pa.array(list(first_act.values()), pa.timestamp("us", tz="UTC")),
        }
    )
    counts = store.query_with(
        """SELECT m.campaign, count(*) AS total, count(*) FILTER (WHERE e.ts < a.act_at) AS before
           FROM exchanges e JOIN _m m USING (account_id) LEFT JOIN _a a USING (campaign) GROUP BY 1""",
        _m=mapping,
        _a=acts,
    ).to_pylist()
    out: dict[str, Any] = {}
    for row in sorted(counts, key=lambda r: r["campaign"]):
        camp, total = row["campaign"], int(row["total"])
        act_at = first_act.get(camp)
        before = int(row["before"]) if act_at else total
        out[camp] = {
            "first_act_checkpoint": act_at.isoformat() if act_at else None,
            "exchanges_before_act": before,
            "share_before_act": before / total if total else 0.0,
            "total_exchanges": total,
        }
    return {"checkpoints": [c.isoformat() for c in cuts], "campaigns": out}
