"""Metrics of a set of flagged accounts against ground truth.

- account precision, recall and false-positive rate (flagged = verdict review or act);
- exchange-weighted recall: the share of campaign exchanges that came from flagged accounts
  (for mixed reseller accounts only the exchanges attributed to the campaign count);
- false positives per legitimate persona;
- per campaign: account recall, and the purity and coverage of its main cluster.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

LEGIT, ATTACK = "legit", "attack"


@dataclass
class Truth:
    """Ground truth per account (and per exchange for mixed accounts)."""

    label: dict[str, str]
    persona: dict[str, str]
    campaign: dict[str, str | None]
    campaign_exchanges: dict[str, int] = field(default_factory=dict)
    """Exchanges attributed to a campaign, for accounts where that differs from all of them."""
    evasion: dict[str, str] = field(default_factory=dict)
    """Attack account → its campaign's evasion knobs (comma-separated, or ``none``), when the
    truth records them (the simulator's adversarial scenarios)."""


def evaluate_flags(
    flagged: set[str],
    exchanges: dict[str, int],
    truth: Truth,
    clusters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Metrics for ``flagged`` accounts; ``exchanges`` counts each active account's exchanges;
    ``clusters`` maps account → cluster id (for purity), when the method clusters."""
    active = [a for a in exchanges if a in truth.label]
    attack = [a for a in active if truth.label[a] == ATTACK]
    legit = [a for a in active if truth.label[a] == LEGIT]
    tp = sum(a in flagged for a in attack)
    fp = sum(a in flagged for a in legit)
    camp_ex = {a: truth.campaign_exchanges.get(a, exchanges[a]) for a in attack}
    total_camp = sum(camp_ex.values())
    caught = sum(n for a, n in camp_ex.items() if a in flagged)
    fp_by_persona = Counter(truth.persona[a] for a in legit if a in flagged)
    legit_by_persona = Counter(truth.persona[a] for a in legit)
    per_campaign: dict[str, dict[str, Any]] = {}
    by_campaign: dict[str, list[str]] = defaultdict(list)
    for a in attack:
        by_campaign[str(truth.campaign[a])].append(a)
    members: dict[str, list[str]] = defaultdict(list)
    for a, cid in (clusters or {}).items():
        members[cid].append(a)
    for camp, accounts in sorted(by_campaign.items()):
        row: dict[str, Any] = {
            "accounts": len(accounts),
            "recall": sum(a in flagged for a in accounts) / len(accounts),
            "exchange_recall": (
                sum(camp_ex[a] for a in accounts if a in flagged)
                / max(sum(camp_ex[a] for a in accounts), 1)
            ),
        }
        if clusters is not None:
            in_clusters = Counter(clusters[a] for a in accounts if a in clusters)
            if in_clusters:
                main, n = in_clusters.most_common(1)[0]
                row["main_cluster"] = main
                row["coverage"] = n / len(accounts)
                # purity over the members whose truth is known (accounts held out of the
                # truth — e.g. the ones analysts labelled — are neither right nor wrong)
                known = [a for a in members[main] if a in truth.label]
                row["purity"] = sum(truth.campaign.get(a) == camp for a in known) / max(
                    len(known), 1
                )
            else:
                row.update(main_cluster=None, coverage=0.0, purity=None)
        per_campaign[camp] = row
    by_evasion: dict[str, list[str]] = defaultdict(list)
    for a in attack:
        if a in truth.evasion:
            by_evasion[truth.evasion[a]].append(a)
    evasion = {
        knobs: {
            "accounts": len(accounts),
            "recall": sum(a in flagged for a in accounts) / len(accounts),
            "exchange_recall": sum(camp_ex[a] for a in accounts if a in flagged)
            / max(sum(camp_ex[a] for a in accounts), 1),
        }
        for knobs, accounts in sorted(by_evasion.items())
    }
    return {
        "accounts": len(active),
        "attack_accounts": len(attack),
        "legit_accounts": len(legit),
        "flagged": len(flagged & set(active)),
        "precision": tp / max(tp + fp, 1),
        "recall": tp / max(len(attack), 1),
        "fpr": fp / max(len(legit), 1),
        "false_positives": fp,
        "exchange_recall": caught / max(total_camp, 1),
        "fp_by_persona": {
            p: {"flagged": fp_by_persona.get(p, 0), "accounts": n}
            for p, n in sorted(legit_by_persona.items())
        },
        "campaigns": per_campaign,
        "evasion": evasion,
    }


CALIBRATION_BINS = (0.0, 0.05, 0.15, 0.3, 0.6, 0.85, 1.0000001)


def calibration(risk: dict[str, float], truth: Truth) -> dict[str, Any]:
    """Is ``risk`` a probability? Brier score and, per risk band, how many accounts fall in it,
    their mean risk and the share that are attacks (a reliability table)."""
    pairs = [(r, truth.label[a] == ATTACK) for a, r in risk.items() if a in truth.label]
    if not pairs:
        return {"accounts": 0, "brier": None, "bins": []}
    brier = sum((r - y) ** 2 for r, y in pairs) / len(pairs)
    bins = []
    for lo, hi in pairwise(CALIBRATION_BINS):
        inside = [(r, y) for r, y in pairs if lo <= r < hi]
        if inside:
            bins.append(
                {
                    "low": lo,
                    "high": min(hi, 1.0),
                    "accounts": len(inside),
                    "mean_risk": sum(r for r, _ in inside) / len(inside),
                    "attack_rate": sum(y for _, y in inside) / len(inside),
                }
            )
    return {"accounts": len(pairs), "brier": brier, "bins": bins}
