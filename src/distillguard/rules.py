"""Detection rules: the typed form of ``detection.yaml`` (evidence, weights, thresholds).

Thresholds live in a file, not in code: the packaged default is ``detection.yaml`` beside
this module; ``distillguard scan --rules FILE`` replaces it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from distillguard.config import validation_problems
from distillguard.errors import ConfigError

VERDICTS = ("ok", "watch", "review", "act")


class Evidence(BaseModel, extra="forbid"):
    weight: float
    low: float
    high: float
    label: str
    min_exchanges: int = 0

    @model_validator(mode="after")
    def _ordered(self) -> Evidence:
        if self.high == self.low:
            raise ValueError("low and high must differ")
        return self


class Linking(BaseModel, extra="forbid"):
    suspicious_risk: float = Field(ge=0, le=1)
    token_suspicion: float = Field(ge=0, le=1)
    min_rarity: float = Field(ge=0, le=1)
    min_attachment: float = Field(ge=0)
    resolution: float = Field(gt=0)
    merge_min_weight: float = Field(ge=0)
    merge_share: float = Field(gt=0, le=1)
    max_token_accounts: int = Field(ge=2)
    kinds: dict[str, float]
    cluster_weight: float = Field(ge=0, le=1)


class Rules(BaseModel, extra="forbid"):
    bias: float
    evidence: dict[str, Evidence]
    cluster_evidence: dict[str, Evidence] = Field(default_factory=dict)
    verdicts: dict[str, float]
    linking: Linking
    allowlist_verdict: str = "ok"
    disposable_domains: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Rules:
        if list(self.verdicts) != list(VERDICTS[1:]):
            raise ValueError(f"verdicts must be {', '.join(VERDICTS[1:])} in this order")
        values = list(self.verdicts.values())
        if values != sorted(values) or not all(0 < v < 1 for v in values):
            raise ValueError("verdict thresholds must rise strictly inside (0, 1)")
        if self.allowlist_verdict not in VERDICTS:
            raise ValueError(f"allowlist_verdict must be one of {', '.join(VERDICTS)}")
        return self

    def verdict(self, risk: float) -> str:
        out = "ok"
        for name, threshold in self.verdicts.items():
            if risk >= threshold:
                out = name
        return out


def load_rules(path: str | Path | None = None) -> Rules:
    """The packaged rules, or those in ``path``; errors name the file and the field."""
    if path is None:
        text = (
            resources.files("distillguard").joinpath("detection.yaml").read_text(encoding="utf-8")
        )
        source = "detection.yaml (packaged)"
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read rules: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
        return Rules.model_validate(data)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        raise ConfigError(f"{source}: invalid rules: {validation_problems(exc, 'rules')}") from exc
