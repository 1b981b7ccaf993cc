"""Cohorts: accounts that share something, judged together (low-and-slow campaigns).

A careful operation keeps every account unremarkable: aged and verified, ordinary volumes,
residential addresses, a human rhythm, one card each. What it cannot easily shed is what its
accounts have in common: the harness that drives them (one system prompt, one tool set, one
client stack, one parameter habit), a payment method, a proxy range, the minutes they burst
in. Every token that at least ``min_accounts`` accounts share defines a *cohort*, whether or
not any holder looks suspicious.

Each cohort is scored as one entity (:mod:`distillguard.detection.entities`: the shares, ratios and
identity of its median member, with the trials of all its members behind them, each member
counting for at most ``member_exchanges`` exchanges, so that a minority of campaign accounts
cannot colour a token thousands of customers hold; a small cohort is scored again without its
most suspicious member, keeping the lower risk) with the account evidence plus
``cohort_evidence``, against the population of cohorts. Summed, a cohort's shares rest on thousands of exchanges
where each member's rest on dozens, so the evidence is decided by what the cohort *does*. The
users of one agent product share its system prompt and tools, an organisation's teams share a
card, a class shares a campus: their cohorts score low because their traffic is ordinary, and
their tokens do not link them. A cohort at or above ``cohorts.gate`` makes its token a link
(:func:`distillguard.detection.linking.link`), so its members can form a campaign.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from distillguard.detection.cluster_scoring import HARNESS_KINDS, young_accounts
from distillguard.detection.entities import aggregate
from distillguard.detection.linking import token_holders
from distillguard.detection.scoring import AccountScores, reasons, score_accounts
from distillguard.rules import Evidence, Rules


@dataclass
class CohortScores:
    """Every cohort, its members and its risk."""

    members: dict[tuple[str, str], list[str]]
    risk: dict[tuple[str, str], float]
    table: pa.Table
    scores: AccountScores | None

    def linking(self, gate: float) -> dict[tuple[str, str], float]:
        """The cohorts whose risk reaches ``gate``: their tokens link their members."""
        return {key: r for key, r in self.risk.items() if r >= gate}

    def reasons(self, rules: Rules, key: tuple[str, str], top: int = 5) -> list[dict[str, object]]:
        if self.scores is None or key not in self.risk:
            return []
        row = self._rows[cohort_id(key)]
        return reasons(self.scores, rules, row, top, cohort_rules(rules))

    @property
    def _rows(self) -> dict[str, int]:
        if self.scores is None:
            return {}
        cached: dict[str, int] | None = getattr(self, "_row_index", None)
        if cached is None:
            cached = {cid: i for i, cid in enumerate(self.scores.account_id)}
            self._row_index = cached
        return cached


def cohort_id(key: tuple[str, str]) -> str:
    return f"{key[0]}:{key[1]}"


def cohort_rules(rules: Rules) -> dict[str, Evidence]:
    """The evidence a cohort is scored with: the account evidence plus ``cohort_evidence``."""
    return {**rules.evidence, **rules.cohort_evidence}


def candidates(
    tokens: pa.Table, rules: Rules, exclude: frozenset[str] = frozenset()
) -> dict[tuple[str, str], list[str]]:
    """(kind, token) → holders, for every linking token held by between ``min_accounts`` and
    ``max_accounts`` accounts (allowlisted accounts left out)."""
    settings = rules.cohorts
    holders = token_holders(tokens, frozenset(rules.linking.kinds), exclude)
    return {
        key: sorted(accounts)
        for key, accounts in sorted(holders.items())
        if settings.min_accounts <= len(accounts) <= settings.max_accounts
    }


def _table(
    attrs: pa.Table,
    groups: dict[tuple[str, str], list[str]],
    young: dict[str, bool],
    rules: Rules,
) -> pa.Table:
    """The cohorts' entity rows, with the share of young members running a shared harness."""
    table = aggregate(
        attrs,
        {cohort_id(k): v for k, v in groups.items()},
        member_exchanges=rules.cohorts.member_exchanges,
        with_days=False,
        typical=True,
    )
    key_of = {cohort_id(k): k for k in groups}
    harness = []
    for cid in table.column("account_id").to_pylist():
        key = key_of[cid]
        held = groups[key]
        harness.append(
            sum(young.get(a, False) for a in held) / len(held) if key[0] in HARNESS_KINDS else 0.0
        )
    table = table.append_column("harness_young", pa.array(harness, pa.float64()))
    return table.append_column("coordinated_accounts", table.column("accounts"))


def score_cohorts(
    attrs: pa.Table,
    tokens: pa.Table,
    rules: Rules,
    own_risk: dict[str, float],
    exclude: frozenset[str] = frozenset(),
) -> CohortScores:
    """Find the cohorts in ``tokens`` and score each as one entity.

    No single member decides a cohort: a cohort of fewer than ``robust_below`` members is
    scored twice, with all its members and without its most suspicious one (by ``own_risk``),
    and keeps the lower risk (in a larger one, each member is a small part of the sum). A
    campaign account and an ordinary customer who happen to share a generic system prompt or a
    popular client do not make a harvesting cohort; eleven accounts running one harness do,
    with or without any one of them."""
    members = candidates(tokens, rules, exclude)
    if not members:
        return CohortScores({}, {}, pa.table({"account_id": pa.array([], pa.string())}), None)
    young = young_accounts(attrs)
    table = _table(attrs, members, young, rules)
    scores = score_accounts(table, rules, cohort_rules(rules), fit_on=table)
    first = dict(zip(scores.account_id, np.asarray(scores.risk, float).tolist(), strict=True))
    # only a cohort that would link can be lowered to below the gate: score only those again
    without_top = {
        key: sorted(held, key=lambda a: (-own_risk.get(a, 0.0), a))[1:]
        for key, held in members.items()
        if len(held) < rules.cohorts.robust_below
        and first.get(cohort_id(key), 0.0) >= rules.cohorts.gate
    }
    lower: dict[str, float] = {}
    if without_top:
        robust = score_accounts(
            _table(attrs, without_top, young, rules), rules, cohort_rules(rules), fit_on=table
        )
        lower = dict(zip(robust.account_id, np.asarray(robust.risk, float).tolist(), strict=True))
    risk_of = {cid: min(r, lower.get(cid, r)) for cid, r in first.items()}
    scores.risk = np.array([risk_of[cid] for cid in scores.account_id])
    risk = {key: risk_of[cohort_id(key)] for key in members if cohort_id(key) in risk_of}
    return CohortScores(members, risk, table, scores)
