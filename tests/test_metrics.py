"""Evaluation metrics that do not need a scan: calibration of risk."""

from __future__ import annotations

import pytest

from distillguard.evaluate.metrics import Truth, calibration


def truth(labels: dict[str, str]) -> Truth:
    return Truth(label=labels, persona=dict.fromkeys(labels, "p"), campaign=dict.fromkeys(labels))


def test_calibration_reports_brier_and_a_reliability_table() -> None:
    labels = {f"a{i}": "attack" for i in range(10)} | {f"l{i}": "legit" for i in range(90)}
    risk = {f"a{i}": 0.9 for i in range(10)} | {f"l{i}": 0.01 for i in range(90)}
    risk["l0"] = 0.9  # one legitimate account scored high
    cal = calibration(risk | {"unknown": 0.5}, truth(labels))  # accounts without truth ignored
    assert cal["accounts"] == 100
    assert cal["brier"] == pytest.approx((10 * 0.1**2 + 0.9**2 + 89 * 0.01**2) / 100)
    top = cal["bins"][-1]
    assert (top["low"], top["high"], top["accounts"]) == (0.85, 1.0, 11)
    assert top["attack_rate"] == pytest.approx(10 / 11)
    assert sum(b["accounts"] for b in cal["bins"]) == 100


def test_calibration_of_nothing_is_empty_not_an_error() -> None:
    assert calibration({}, truth({})) == {"accounts": 0, "brier": None, "bins": []}
    assert calibration({"x": 1.0}, truth({"x": "attack"}))["bins"][-1]["accounts"] == 1


def test_recall_per_evasion_knob_and_false_positives_per_persona() -> None:
    from distillguard.evaluate import render_markdown
    from distillguard.evaluate.metrics import evaluate_flags

    t = Truth(
        label={"a1": "attack", "a2": "attack", "a3": "attack", "l1": "legit", "l2": "legit"},
        persona={"a1": "x", "a2": "x", "a3": "y", "l1": "judge_lab", "l2": "hobbyist"},
        campaign={"a1": "c1", "a2": "c1", "a3": "c2", "l1": None, "l2": None},
        evasion={"a1": "aged", "a2": "aged", "a3": "none"},
    )
    exchanges = {"a1": 100, "a2": 300, "a3": 50, "l1": 10, "l2": 10}
    m = evaluate_flags({"a1", "a3", "l1"}, exchanges, t)
    assert m["evasion"] == {
        "aged": {"accounts": 2, "recall": 0.5, "exchange_recall": 0.25},
        "none": {"accounts": 1, "recall": 1.0, "exchange_recall": 1.0},
    }
    assert m["fp_by_persona"] == {
        "hobbyist": {"flagged": 0, "accounts": 1},
        "judge_lab": {"flagged": 1, "accounts": 1},
    }
    md = render_markdown({"methods": {"distillguard": m}})
    assert "| aged | 2 | 0.5000 | 0.2500 |" in md


def test_isolation_forest_does_not_depend_on_row_order() -> None:
    """The forest draws 256-row subsamples, so with more rows than that its answer would
    follow the row order, which DuckDB's grouped output does not fix. Two rows that stand
    out on every feature are found, and the same 10 % is found whatever the order."""
    import numpy as np
    import pyarrow as pa

    from distillguard.evaluate.baselines import BEHAVIOUR, isolation_forest

    rng = np.random.default_rng(7)
    n = 600
    cols: dict[str, object] = {"account_id": [f"acct_{i:03d}" for i in range(n)]}
    for name in BEHAVIOUR:
        if name != "volume_per_day":
            values = rng.uniform(1.0, 2.0, n)
            values[-2:] = 1e6  # acct_598 and acct_599
            cols[name] = values
    table = pa.table(cols)
    assert isolation_forest(table, contamination=2 / n) == {"acct_598", "acct_599"}
    shuffled = table.take(pa.array(rng.permutation(n)))
    found = isolation_forest(table, contamination=0.1)
    assert len(found) == 60
    assert isolation_forest(shuffled, contamination=0.1) == found
