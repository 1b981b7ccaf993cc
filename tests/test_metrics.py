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
