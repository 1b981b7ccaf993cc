from pathlib import Path

import pytest

import distillguard as dg
from distillguard.rules import Evidence, load_rules


def test_packaged_rules_load_and_map_risk_to_verdicts() -> None:
    rules = load_rules()
    assert [rules.verdict(r) for r in (0.1, 0.3, 0.7, 0.9)] == ["ok", "watch", "review", "act"]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("verdicts:\n  watch: 0.7\n  review: 0.6\n  act: 0.85\n", "rise strictly"),
        ("bias: high\n", "bias"),
        ("allowlist_verdict: maybe\n", "allowlist_verdict"),
        ('institutional:\n  asn_org_pattern: "(unclosed"\n', "not a valid RE2 pattern"),
        ("cohorts:\n  gate: 1.5\n", "cohorts.gate"),
        ("estimates:\n  lower_quantile: 0.9\n", "estimates.lower_quantile"),
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


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"low": 1, "high": 1}, "low and high must differ"),
        ({"alone": "sometimes"}, "alone must be one of"),
        ({"estimate": "median"}, "estimate"),
    ],
)
def test_an_evidence_rule_is_checked(fields: dict[str, object], message: str) -> None:
    from pydantic import ValidationError

    base: dict[str, object] = {"weight": 1.0, "low": 0.0, "high": 1.0, "label": "x"}
    with pytest.raises(ValidationError, match=message):
        Evidence.model_validate({**base, **fields})


def test_the_disposable_list_is_the_maintained_one_plus_the_files_own() -> None:
    rules = load_rules()
    rules.disposable_domains = ["Throwaway.Example"]
    assert "mailinator.com" in rules.disposable and "throwaway.example" in rules.disposable
    assert "gmail.com" not in rules.disposable
