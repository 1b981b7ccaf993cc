"""Scoring: evidence per rule, a logistic combination, caps, and reasons both ways.

risk = sigmoid(bias + Σ weightᵢ · evidenceᵢ), with evidence from :mod:`.evidence`.
Weights may be negative: exculpatory context (a verified research account on its
institution's network, an evaluation harness's temperature-0 answer-extraction traffic, an
LLM-as-judge format, an established business account) lowers risk, and the reasons say so.

A rule with ``alone: <verdict>`` cannot lift an entity above that verdict on its own: unless
the other raising evidence adds at least ``estimates.alone_margin`` to the log-odds, the risk
is held just below the next threshold (rubric grading alone never reaches ``act``).

With analyst labels, :func:`fit_weights` learns weights by logistic regression over the same
evidence, keeping each weight's sign (the model stays this readable).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from distillguard.detection.evidence import AccountEvidence, build, column
from distillguard.rules import VERDICTS, Evidence, Rules

CAP_GAP = 1e-4
"""A capped risk sits this far below the next verdict threshold (findings round to 4 places)."""


@dataclass
class AccountScores:
    """Per-entity evidence, risk and reasons, aligned with the input rows."""

    account_id: list[str]
    evidence: dict[str, np.ndarray]  # rule → evidence per entity
    values: dict[str, np.ndarray]  # rule → raw feature per entity
    baselines: dict[str, float]  # rule → population rate (shares) or median
    risk: np.ndarray
    estimates: dict[str, np.ndarray] = field(default_factory=dict)  # rule → judged value
    trials: dict[str, np.ndarray] = field(default_factory=dict)  # rule → trials behind it
    detectors: dict[str, AccountEvidence] = field(default_factory=dict)
    capped: dict[int, str] = field(default_factory=dict)
    """Row → the rule whose ``alone`` cap held its verdict."""


@dataclass
class _Matrix:
    evidence: dict[str, np.ndarray]
    values: dict[str, np.ndarray]
    estimates: dict[str, np.ndarray]
    trials: dict[str, np.ndarray]
    detectors: dict[str, AccountEvidence]


def evidence_matrix(
    table: pa.Table, rules: dict[str, Evidence], rules_all: Rules, fit_on: pa.Table | None = None
) -> _Matrix:
    """Evidence, raw values and judged values per rule for every row of ``table``; the
    detectors learn the population from ``fit_on`` (default: ``table`` itself)."""
    detectors = build(rules, rules_all.estimates)
    population = table if fit_on is None else fit_on
    m = _Matrix({}, {}, {}, {}, detectors)
    for name, det in detectors.items():
        det.fit(population)
        m.estimates[name] = det.estimate(table)
        m.evidence[name] = det.evidence(m.estimates[name], table)
        m.values[name] = column(table, name)
        m.trials[name] = det.trials(table)
    return m


def score_accounts(
    table: pa.Table,
    rules: Rules,
    evidence_rules: dict[str, Evidence] | None = None,
    *,
    fit_on: pa.Table | None = None,
) -> AccountScores:
    """Score every row of ``table`` (accounts by default; pass ``evidence_rules`` and the
    population ``fit_on`` to score cohorts or clusters)."""
    items = rules.evidence if evidence_rules is None else evidence_rules
    m = evidence_matrix(table, items, rules, fit_on)
    terms = {name: items[name].weight * m.evidence[name] for name in items}
    logit = np.full(table.num_rows, rules.bias, dtype=float)
    for t in terms.values():
        logit = logit + t
    risk = 1.0 / (1.0 + np.exp(-logit))
    capped: dict[int, str] = {}
    thresholds = [rules.verdicts[v] for v in VERDICTS[1:]]
    for name, rule in items.items():
        if rule.alone is None or rule.alone == "act":
            continue
        ceiling = thresholds[VERDICTS.index(rule.alone)] - CAP_GAP
        others = sum(
            (np.clip(t, 0.0, None) for other, t in terms.items() if other != name),
            start=np.zeros(table.num_rows),
        )
        hold = (terms[name] > 0) & (others < rules.estimates.alone_margin) & (risk > ceiling)
        for row in np.flatnonzero(hold):
            capped[int(row)] = name
        risk = np.where(hold, ceiling, risk)
    baselines = {name: det.baseline() for name, det in m.detectors.items()}
    ids = table.column("account_id").to_pylist()
    return AccountScores(
        ids, m.evidence, m.values, baselines, risk, m.estimates, m.trials, m.detectors, capped
    )


def exculpation(scores: AccountScores, rules: Rules) -> np.ndarray:
    """Per entity: the log-odds its exculpatory evidence (negative weights) takes off."""
    out = np.zeros(len(scores.account_id))
    for name, rule in rules.evidence.items():
        if rule.weight < 0 and name in scores.evidence:
            out = out + rule.weight * scores.evidence[name]
    return out


def reasons(
    scores: AccountScores,
    rules: Rules,
    row: int,
    top: int = 4,
    evidence_rules: dict[str, Evidence] | None = None,
) -> list[dict[str, object]]:
    """The largest evidence terms of one entity, raising or lowering, strongest first; an
    ``alone`` cap that held its verdict comes first."""
    items = rules.evidence if evidence_rules is None else evidence_rules
    terms = [
        (items[k].weight * scores.evidence[k][row], k)
        for k in items
        if k in scores.evidence and scores.evidence[k][row] > 0 and items[k].weight != 0
    ]
    out: list[dict[str, object]] = []
    if row in scores.capped:
        name = scores.capped[row]
        out.append(
            {
                "signal": "capped",
                "value": round(float(scores.values[name][row]), 4),
                "baseline": round(scores.baselines[name], 4),
                "weight": 0.0,
                "direction": "caps",
                "text": f"{items[name].label} alone: held at '{items[name].alone}' "
                "(no other evidence raises the risk)",
            }
        )
    for contribution, name in sorted(terms, key=lambda t: -abs(t[0]))[:top]:
        value = float(scores.values[name][row])
        base = scores.baselines[name]
        det = scores.detectors.get(name)
        text = (
            det.describe(value, float(scores.estimates[name][row]), float(scores.trials[name][row]))
            if det is not None
            else f"{items[name].label}: {value:.3g} (population {base:.3g})"
        )
        out.append(
            {
                "signal": name,
                "value": round(value, 4),
                "baseline": round(base, 4),
                "weight": round(float(contribution), 3),
                "direction": "raises" if contribution > 0 else "lowers",
                "text": text,
            }
        )
    return out


def fit_weights(
    table: pa.Table,
    labels: np.ndarray,
    rules: Rules,
    *,
    l2: float = 0.05,
    steps: int = 500,
    fit_on: pa.Table | None = None,
) -> Rules:
    """Learn evidence weights and bias from analyst labels (1 = attack) by logistic
    regression that keeps each weight's sign (evidence that raises risk keeps raising it,
    exculpatory context keeps lowering it), regularised towards the rules' own weights and
    bias: ``l2 · ‖θ − θ_rules‖²`` per labelled account's mean loss, so a few dozen labels
    adjust the rules rather than replace them. (A weaker prior let 121 labels dominated by one
    campaign's accounts teach "high-value traffic is an attack" and flag 45 of 49 legitimate
    coding agents; see docs/evaluation.md.) ``fit_on`` is the population the evidence is
    judged against (default: the labelled rows)."""
    evidence = evidence_matrix(table, rules.evidence, rules, fit_on).evidence
    names = list(rules.evidence)
    x = np.column_stack([evidence[n] for n in names]) if names else np.zeros((len(labels), 0))
    y = labels.astype(float)
    prior = np.array([rules.evidence[n].weight for n in names], float)
    sign = np.where(prior < 0, -1.0, 1.0)
    w = prior.copy()
    b = rules.bias
    lr = 0.5
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        grad_w = x.T @ (p - y) / len(y) + 2 * l2 * (w - prior)
        grad_b = float(np.mean(p - y)) + 2 * l2 * (b - rules.bias)
        w = sign * np.maximum(sign * (w - lr * grad_w), 0.0)
        b -= lr * grad_b
    updated = rules.model_copy(deep=True)
    updated.bias = float(b)
    for n, value in zip(names, w, strict=True):
        updated.evidence[n].weight = float(value)
    return updated
