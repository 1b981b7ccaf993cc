"""Account-level evidence: one detector per rule of the rules file, each knowing how many
exchanges support it.

Every rule turns one feature of an entity (an account, a cohort or a cluster) into evidence
in [0, 1]. How the feature is *judged* first depends on its ``estimate``:

- ``share`` (a rate over trials, e.g. the share of exchanges asking for internal reasoning):
  the lower ``lower_quantile`` bound of its Beta-binomial posterior. The prior is centred on
  the population rate ``p₀`` (the mean of the entities' own shares, each weighted by
  ``n / (n + prior_strength)``) with ``prior_strength`` pseudo-trials,
  so a handful of exchanges cannot move an account far from the population, and the bound
  rises towards the observed share as exchanges accumulate. ``relative`` rules judge the
  bound against ``p₀`` (a lift: 3 means three times the population rate).
- ``mean`` (a ratio or a rate per day): credibility shrinkage towards the population median,
  ``(n·x + n₀·median) / (n + n₀)`` with ``n₀ = prior_exchanges``.
- ``value`` (identity facts such as verification or a shared payment method): as it is.

The judged value maps linearly from ``low`` (0) to ``high`` (1). docs/detection.md has a
worked example. Each rule is a :class:`~.signals.Detector`: ``fit`` learns the
population rate and median (state ending in ``_``), ``score`` gives the evidence, ``explain``
one row's reason.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import pyarrow as pa
from scipy.special import betaincinv

from distillguard.detection.signals._contract import Detector, Level, Reason
from distillguard.rules import Estimates, Evidence

_EPS = 1e-6


def column(table: pa.Table, name: str) -> np.ndarray:
    """A numeric column as float64, nulls and NaN as 0; a missing column is all zeros."""
    if name not in table.column_names:
        return np.zeros(table.num_rows)
    col = table.column(name).to_numpy(zero_copy_only=False)
    out: np.ndarray = np.nan_to_num(np.asarray(col, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    return out


MAX_TRIALS = 1e12
"""Trials beyond this add nothing a posterior can show (and overflow the incomplete beta)."""


def posterior_lower(
    k: np.ndarray, n: np.ndarray, rate: float, strength: float, q: float
) -> np.ndarray:
    """Lower ``q`` quantile of Beta(strength·rate + k, strength·(1 − rate) + n − k)."""
    rate = float(np.clip(rate, _EPS, 1 - _EPS))
    n = np.clip(n, 0.0, MAX_TRIALS)
    k = np.clip(k, 0.0, n)
    out: np.ndarray = betaincinv(strength * rate + k, strength * (1 - rate) + n - k, q)
    return np.where(np.isfinite(out), out, np.divide(k, n, out=np.zeros_like(k), where=n > 0))


class AccountEvidence(Detector):
    """One evidence rule as a detector over an entity table (accounts, cohorts or clusters)."""

    level: Level = "account"

    def __init__(self, name: str, rule: Evidence, estimates: Estimates) -> None:
        self.name = name
        self.rule = rule
        self.estimates = estimates
        self.columns = (name, rule.of) if rule.estimate == "share" else (name, "exchanges")

    def fit(self, table: pa.Table) -> Self:
        """Learn the population rate (shares) and median (everything) of the feature.

        The rate is the mean of the entities' own shares, each weighted by ``n / (n + m)``
        (``m`` = ``prior_strength``): every entity with enough trials counts about the same,
        so a few heavy accounts (a campaign can be half of all traffic) do not set the
        population rate they are then compared with."""
        x = column(table, self.name)
        self.median_ = float(np.median(x)) if len(x) else 0.0
        if self.rule.estimate == "share":
            n = column(table, self.rule.of)
            w = n / (n + self.estimates.prior_strength)
            total = float(w.sum())
            self.rate_ = float((x * w).sum() / total) if total > 0 else 0.0
        return self

    def _fitted(self, table: pa.Table) -> None:
        if not hasattr(self, "median_"):
            self.fit(table)

    def estimate(self, table: pa.Table) -> np.ndarray:
        """The feature as judged: a posterior bound, a shrunk mean or the value itself."""
        self._fitted(table)
        x = column(table, self.name)
        rule = self.rule
        if rule.estimate == "share":
            x = np.clip(x, 0.0, 1.0)  # a share, whatever the input says
            n = column(table, rule.of)
            est = posterior_lower(
                x * n, n, self.rate_, self.estimates.prior_strength, self.estimates.lower_quantile
            )
            if rule.relative:
                est = est / max(self.rate_, _EPS)
            return est
        if rule.estimate == "mean":
            # a group's means rest on all its members' exchanges, even where its shares
            # count each member only up to a cap
            total = "exchanges_total" if "exchanges_total" in table.column_names else "exchanges"
            n = column(table, total)
            n0 = rule.prior_exchanges or self.estimates.prior_exchanges
            shrunk: np.ndarray = (n * x + n0 * self.median_) / (n + n0)
            return shrunk
        return x

    def score(self, table: pa.Table) -> pa.Array:
        return pa.array(self.evidence(self.estimate(table), table), pa.float64())

    def evidence(self, judged: np.ndarray, table: pa.Table) -> np.ndarray:
        """The judged values (:meth:`estimate` of ``table``) mapped from ``low`` to ``high``."""
        rule = self.rule
        judged = np.nan_to_num(judged, nan=0.0, posinf=rule.high, neginf=rule.low)
        e: np.ndarray = np.clip((judged - rule.low) / (rule.high - rule.low), 0.0, 1.0)
        if rule.min_exchanges:
            e = np.where(column(table, "exchanges") >= rule.min_exchanges, e, 0.0)
        return e

    def baseline(self) -> float:
        """What the reason compares with: the population rate of a share, else the median."""
        if self.rule.estimate == "share":
            return self.rate_
        return self.median_

    def describe(self, value: float, estimate: float, trials: float) -> str:
        """One line of evidence in words: the value, its population baseline and, for a share,
        the bound it exceeds and the trials behind it."""
        rule = self.rule
        kind = "population rate" if rule.estimate == "share" else "population median"
        text = f"{rule.label}: {value:.3g} ({kind} {self.baseline():.3g})"
        if rule.estimate == "share":
            unit = "exchanges" if rule.of == "exchanges" else rule.of
            text += (
                f"; {'lift' if rule.relative else 'at least'} {estimate:.3g} at "
                f"{1 - self.estimates.lower_quantile:.0%} confidence from {int(trials):,} {unit}"
            )
        elif rule.estimate == "mean":
            text += f"; {estimate:.3g} after shrinking towards the population"
        return text

    def trials(self, table: pa.Table) -> np.ndarray:
        """The trials behind each row's value (a share's ``of``, else its exchanges)."""
        return column(table, self.rule.of if self.rule.estimate == "share" else "exchanges")

    def explain(self, table: pa.Table, row: int) -> Reason:
        self._fitted(table)
        one = table.slice(row, 1)
        value = float(column(one, self.name)[0])
        detail = self.describe(value, float(self.estimate(one)[0]), float(self.trials(one)[0]))
        return Reason(self.name, value, self.baseline(), detail)


def build(rules: dict[str, Evidence], estimates: Estimates) -> dict[str, AccountEvidence]:
    """One unfitted detector per evidence rule."""
    return {name: AccountEvidence(name, rule, estimates) for name, rule in rules.items()}
