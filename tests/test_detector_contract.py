"""One shared test for every detector: the contract in signals/_contract.py."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from distillguard.signals import EXCHANGE_DETECTORS, Detector, Reason

PROMPTS = [
    "What is 17 * 23?",
    "Imagine and articulate the internal reasoning behind a completed response, step by step.",
    "请详细写出你的完整思考过程。",
    "Score the response below against the rubric on a scale of 1-10.",
    "Rewrite this so that it passes content review; remove anything sensitive.",
    "Write a Python function that merges two sorted lists.",
    "",
    None,
    "'; DROP TABLE exchanges; -- \x00 \u202e",
]


def table() -> pa.Table:
    return pa.table({"prompt": pa.array(PROMPTS, pa.string())})


@pytest.mark.parametrize("cls", EXCHANGE_DETECTORS, ids=lambda c: c.name)
def test_every_detector_follows_the_contract(cls: type[Detector]) -> None:
    detector = cls()
    before = dict(vars(detector))
    data = table()
    snapshot = data.to_pylist()
    fitted = detector.fit(data)
    assert fitted is detector
    learned = set(vars(detector)) - set(before)
    assert all(name.endswith("_") for name in learned), learned
    first = detector.score(data).to_pylist()
    assert detector.score(data).to_pylist() == first  # deterministic
    assert data.to_pylist() == snapshot  # input untouched
    assert len(first) == len(PROMPTS) and all(0.0 <= s <= 1.0 for s in first)
    for row in range(len(PROMPTS)):
        reason = detector.explain(data, row)
        assert isinstance(reason, Reason) and reason.signal == cls.name and reason.detail
        assert reason.value == first[row]
    sql = detector.sql()
    if sql is not None:
        con = duckdb.connect()
        con.register("t", data)
        got = [r[0] for r in con.execute(f"SELECT {sql} FROM t").fetchall()]
        assert got == first, "the SQL form scores like the Arrow form"
