from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import distillguard as dg
from distillguard.rules import load_rules
from distillguard.scoring import fit_weights, reasons, score_accounts


def test_packaged_rules_load_and_map_risk_to_verdicts() -> None:
    rules = load_rules()
    assert [rules.verdict(r) for r in (0.1, 0.3, 0.7, 0.9)] == ["ok", "watch", "review", "act"]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("verdicts:\n  watch: 0.7\n  review: 0.6\n  act: 0.85\n", "rise strictly"),
        ("bias: high\n", "bias"),
        ("allowlist_verdict: maybe\n", "allowlist_verdict"),
    ],
)
def test_bad_rules_name_the_file_and_field(tmp_path: Path, patch: str, message: str) -> None:
    base = (Path(dg.__file__).parent / "detection.yaml").read_text()
    key = patch.split(":", 1)[0]
    lines = base.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith(key + ":"))
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i][:1] not in (" ", "\n")), len(lines)
    )
    path = tmp_path / "rules.yaml"
    path.write_text("".join(lines[:start]) + patch + "".join(lines[end:]))
    with pytest.raises(dg.ConfigError, match=message) as info:
        load_rules(path)
    assert str(path) in str(info.value)


def _table(n: int, trace: np.ndarray) -> pa.Table:
    rules = load_rules()
    cols = {name: np.zeros(n) for name in rules.evidence}
    cols["trace_share"] = trace
    cols["exchanges"] = np.full(n, 1000.0)
    return pa.table({"account_id": [f"a{i}" for i in range(n)], **cols})


def test_reasons_name_signal_value_and_population_baseline() -> None:
    rules = load_rules()
    table = _table(4, np.array([0.0, 0.0, 0.0, 0.5]))
    scores = score_accounts(table, rules)
    assert scores.risk[3] > 0.5 > scores.risk[0]
    [top] = reasons(scores, rules, 3, top=1)
    assert (top["signal"], top["value"], top["baseline"]) == ("trace_share", 0.5, 0.0)
    assert "population median" in str(top["text"])


def test_weights_can_be_learned_from_analyst_labels() -> None:
    rules = load_rules()
    rules.evidence["trace_share"].weight = 0.0
    trace = np.r_[np.zeros(50), np.full(50, 0.3)]
    table = _table(100, trace)
    learned = fit_weights(table, np.r_[np.zeros(50), np.ones(50)], rules)
    assert learned.evidence["trace_share"].weight > 1.0
    assert all(e.weight >= 0 for e in learned.evidence.values())
