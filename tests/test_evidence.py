"""Evidence that knows its sample size, exculpatory context, caps and learning from labels,
on small tables with answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from distillguard.detection.evidence import AccountEvidence, posterior_lower
from distillguard.detection.scoring import exculpation, fit_weights, reasons, score_accounts
from distillguard.rules import Estimates, Evidence, load_rules


def test_posterior_lower_bound_in_closed_form() -> None:
    """With rate 0.5 and strength 2 the prior is Beta(1, 1), the uniform distribution, so the
    quantiles have closed forms: Beta(1, 1) → q; Beta(1 + n, 1) → q^(1/(n+1));
    Beta(1, 1 + n) → 1 − (1 − q)^(1/(n+1))."""
    q = 0.1
    got = posterior_lower(
        np.array([0.0, 1.0, 0.0, 3.0]), np.array([0.0, 1.0, 1.0, 3.0]), 0.5, 2.0, q
    )
    want = [q, q ** (1 / 2), 1 - (1 - q) ** (1 / 2), q ** (1 / 4)]
    assert np.allclose(got, want)


def test_a_share_from_few_exchanges_is_weak_evidence() -> None:
    """One exchange in six asking for the internal reasoning is not 17 % extraction: against
    a population rate of 0.5 %, the 90 % lower bound stays under the rule's ``low`` (2 %); the
    same share over 600 exchanges is strong evidence."""
    rule = Evidence(weight=6, low=0.02, high=0.2, label="x", estimate="share")
    det = AccountEvidence("trace_share", rule, Estimates())
    det.rate_, det.median_ = 0.005, 0.0
    table = pa.table({"trace_share": [1 / 6, 1 / 6, 100 / 600], "exchanges": [6, 6, 600]})
    est = det.estimate(table)
    assert est[0] < 0.02 and 0.13 < est[2] < 1 / 6
    assert det.score(table).to_pylist()[0] == 0.0
    assert det.score(table).to_pylist()[2] > 0.6


def test_the_population_rate_is_not_set_by_heavy_accounts() -> None:
    """A campaign can be half of all traffic: the rate is the mean of the accounts' shares,
    each weighted by n / (n + strength), not the pooled share."""
    rule = Evidence(weight=1, low=0, high=1, label="x", estimate="share")
    det = AccountEvidence("s", rule, Estimates(prior_strength=10)).fit(
        pa.table({"s": [0.5, 0.0, 0.0, 0.0], "exchanges": [1_000_000, 90, 90, 90]})
    )
    w = [1_000_000 / 1_000_010, 0.9, 0.9, 0.9]
    assert det.rate_ == pytest.approx(0.5 * w[0] / sum(w))
    assert det.rate_ < 0.3


def test_a_mean_is_shrunk_towards_the_population_median() -> None:
    rule = Evidence(weight=1, low=5, high=15, label="x", estimate="mean", prior_exchanges=50)
    det = AccountEvidence("ratio", rule, Estimates())
    det.median_ = 2.0
    table = pa.table({"ratio": [10.0, 10.0], "exchanges": [50, 950]})
    assert det.estimate(table).tolist() == pytest.approx([6.0, (950 * 10 + 50 * 2) / 1000])


def test_a_relative_share_is_a_lift_over_the_population_rate() -> None:
    rule = Evidence(
        weight=1, low=1.5, high=4, label="x", estimate="share", of="window", relative=True
    )
    det = AccountEvidence("release_share", rule, Estimates(prior_strength=2))
    det.rate_, det.median_ = 0.5, 0.0
    est = det.estimate(pa.table({"release_share": [1.0], "window": [3], "exchanges": [3]}))
    assert est[0] == pytest.approx(0.1 ** (1 / 4) / 0.5)


def test_no_trials_is_no_evidence() -> None:
    rule = Evidence(weight=1, low=1.5, high=4, label="x", estimate="share", of="w", relative=True)
    det = AccountEvidence("r", rule, Estimates())
    det.rate_, det.median_ = 0.2, 0.0
    table = pa.table({"r": [0.0], "w": [0], "exchanges": [100]})
    assert det.score(table).to_pylist() == [0.0]


def _rules() -> object:
    rules = load_rules()
    rules.bias = -5.0
    rules.evidence = {
        "trace_share": Evidence(weight=6, low=0, high=1, label="extraction"),
        "rubric_share": Evidence(weight=5, low=0, high=1, label="grading", alone="review"),
        "young": Evidence(weight=1, low=0, high=1, label="young"),
        "pathway": Evidence(weight=-3, low=0, high=1, label="verified research"),
    }
    return rules


def _table(**cols: list[float]) -> pa.Table:
    n = len(next(iter(cols.values())))
    base = {name: [0.0] * n for name in ("trace_share", "rubric_share", "young", "pathway")}
    base.update(cols)
    return pa.table({"account_id": [f"a{i}" for i in range(n)], "exchanges": [1000] * n, **base})


def test_negative_weights_lower_risk_and_the_reasons_say_so() -> None:
    rules = _rules()
    table = _table(trace_share=[1.0, 1.0], pathway=[0.0, 1.0])
    scores = score_accounts(table, rules)  # type: ignore[arg-type]
    sig = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    assert scores.risk.tolist() == pytest.approx([sig(1.0), sig(-2.0)])
    why = reasons(scores, rules, 1)  # type: ignore[arg-type]
    assert [(r["signal"], r["direction"]) for r in why] == [
        ("trace_share", "raises"),
        ("pathway", "lowers"),
    ]
    assert exculpation(scores, rules).tolist() == [0.0, -3.0]  # type: ignore[arg-type]


def test_grading_alone_is_held_at_review() -> None:
    """Grading (5) plus a little (1) would reach act (sigmoid(1) < 0.85 < sigmoid(2) needs 7):
    here grading + 2 × young context is still 'alone' (others 1 < margin 1.5) and is held
    just under act; with extraction beside it, the cap lifts."""
    rules = _rules()
    rules.bias = -4.0
    table = _table(rubric_share=[1.0, 1.0, 1.0], young=[1.0, 0.0, 1.0], trace_share=[0, 0, 1.0])
    scores = score_accounts(table, rules)  # type: ignore[arg-type]
    act = rules.verdicts["act"]  # type: ignore[attr-defined]
    assert scores.risk[0] == pytest.approx(act - 1e-4)  # sigmoid(2) = 0.88 held at review
    assert rules.verdict(float(scores.risk[0])) == "review"  # type: ignore[attr-defined]
    assert scores.risk[1] == pytest.approx(1 / (1 + math.exp(-1)))  # 0.73, under act anyway
    assert scores.risk[2] > act  # extraction too: not alone
    assert reasons(scores, rules, 0)[0]["direction"] == "caps"  # type: ignore[arg-type]


def test_learned_weights_keep_their_sign() -> None:
    rules = _rules()
    rules.evidence["trace_share"].weight = 0.0  # type: ignore[attr-defined]
    n = 100
    trace = np.r_[np.zeros(n // 2), np.full(n // 2, 0.8)]
    pathway = np.r_[np.ones(n // 2), np.zeros(n // 2)]
    table = _table(trace_share=trace.tolist(), pathway=pathway.tolist())
    labels = np.r_[np.zeros(n // 2), np.ones(n // 2)]
    learned = fit_weights(table, labels, rules)  # type: ignore[arg-type]
    assert learned.evidence["trace_share"].weight > 1.0
    assert learned.evidence["pathway"].weight <= 0.0
    assert all(learned.evidence[k].weight >= 0 for k in ("rubric_share", "young"))
