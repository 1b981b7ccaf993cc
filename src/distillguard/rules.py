"""Detection rules: the typed form of ``detection.yaml`` (evidence, weights, thresholds).

Thresholds live in a file, not in code: the packaged default is ``detection.yaml`` beside
this module; ``distillguard scan --rules FILE`` replaces it.
"""

from __future__ import annotations

from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from distillguard.config import validation_problems
from distillguard.errors import ConfigError

VERDICTS = ("ok", "watch", "review", "act")

Estimate = Literal["share", "mean", "value"]


class Evidence(BaseModel, extra="forbid"):
    """One evidence item: a feature of an account (or cohort, or cluster) mapped to [0, 1].

    ``estimate`` says how the feature is judged before it is mapped (docs/detection.md):
    ``share`` by the lower bound of its Beta-binomial posterior against the population
    rate, over ``of`` trials; ``mean`` by credibility shrinkage towards the population
    median with ``prior_exchanges`` pseudo-exchanges; ``value`` as it is (identity facts).
    ``relative`` compares a share with the population rate (a lift) instead of with 0.
    ``alone`` caps the verdict this item can reach when no other evidence raises the risk
    by at least ``alone_margin``. A negative ``weight`` lowers risk (exculpatory context)."""

    weight: float
    low: float
    high: float
    label: str
    estimate: Estimate = "value"
    of: str = "exchanges"
    relative: bool = False
    prior_exchanges: float | None = Field(None, gt=0)
    min_exchanges: int = Field(0, ge=0)
    alone: str | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Evidence:
        if self.high == self.low:
            raise ValueError("low and high must differ")
        if self.alone is not None and self.alone not in VERDICTS:
            raise ValueError(f"alone must be one of {', '.join(VERDICTS)}")
        return self


class Estimates(BaseModel, extra="forbid"):
    """How small samples are judged (docs/detection.md, "Evidence that knows its sample size")."""

    prior_strength: float = Field(
        10.0, gt=0, description="pseudo-exchanges of the population rate behind every share"
    )
    lower_quantile: float = Field(
        0.1, gt=0, lt=0.5, description="a share is judged by this lower quantile of its posterior"
    )
    prior_exchanges: float = Field(
        50.0, gt=0, description="pseudo-exchanges of the population median behind every mean"
    )
    alone_margin: float = Field(
        1.5, ge=0, description="log-odds other evidence must add before an `alone` cap lifts"
    )


class Cohorts(BaseModel, extra="forbid"):
    """Groups of accounts that share a token, scored as one entity (low-and-slow campaigns)."""

    report_kinds: list[str] = Field(
        default_factory=lambda: [
            "system_prompt",
            "tools",
            "client_fp",
            "params",
            "payment",
            "email_stem",
        ],
        description="cohorts of these kinds are written to cohorts.parquet (others only when "
        "they link)",
    )
    min_accounts: int = Field(2, ge=2)
    max_accounts: int = Field(100_000, ge=2)
    member_exchanges: float = Field(
        30.0, gt=0, description="exchanges one member contributes at most to its cohort"
    )
    gate: float = Field(
        0.5, gt=0, le=1, description="a cohort at or above this risk links its members"
    )
    robust_below: int = Field(
        10,
        ge=2,
        description="cohorts smaller than this are also scored without their most "
        "suspicious member, and keep the lower risk",
    )
    protect: float = Field(
        2.0,
        ge=0,
        description="an account whose exculpatory evidence takes at least this much log-odds "
        "off its risk is not linked through a cohort's token (only through identity kinds)",
    )
    admit: float = Field(
        0.5,
        gt=0,
        le=1,
        description="a cohort of a strong kind at or above this risk admits its holders to a "
        "cluster on its own (its link weighs min_attachment)",
    )


class Linking(BaseModel, extra="forbid"):
    suspicious_risk: float = Field(ge=0, le=1)
    token_suspicion: float = Field(ge=0, le=1)
    min_rarity: float = Field(ge=0, le=1)
    min_attachment: float = Field(ge=0)
    weak_member_risk: float = Field(
        0.15,
        ge=0,
        le=1,
        description="an account at this own risk may join a cluster through weak tokens alone",
    )
    resolution: float = Field(gt=0)
    merge_min_weight: float = Field(ge=0)
    merge_share: float = Field(gt=0, le=1)
    max_token_accounts: int = Field(ge=2)
    max_weak_tokens: int = Field(
        10, ge=1, description="weak tokens of one kind an account links through (the rarest)"
    )
    kinds: dict[str, float]
    rarity_kinds: list[str] = Field(
        default_factory=lambda: ["asn", "subnet", "sync", "signup", "params"],
        description="kinds whose weight falls with the number of accounts holding the token",
    )
    cluster_weight: float = Field(ge=0, le=1)


class Institutional(BaseModel, extra="forbid"):
    """What counts as a research or education institution's network."""

    asn_org_pattern: str = Field(
        description="case-insensitive RE2 pattern over the ASN's organisation name"
    )
    asns: list[int] = Field(default_factory=list, description="further ASNs, by number")

    @field_validator("asn_org_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        import re2

        try:
            re2.compile(value)
        except re2.error as exc:
            raise ValueError(f"not a valid RE2 pattern: {exc}") from None
        return value


class Rules(BaseModel, extra="forbid"):
    bias: float
    estimates: Estimates = Field(default_factory=Estimates)
    evidence: dict[str, Evidence]
    cohort_evidence: dict[str, Evidence] = Field(default_factory=dict)
    cluster_evidence: dict[str, Evidence] = Field(default_factory=dict)
    verdicts: dict[str, float]
    cohorts: Cohorts = Field(default_factory=Cohorts)
    linking: Linking
    institutional: Institutional
    allowlist_verdict: str = "ok"
    disposable_domains: list[str] = Field(
        default_factory=list,
        description="added to the maintained list of the disposable-email-domains package",
    )

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

    @cached_property
    def disposable(self) -> frozenset[str]:
        """Disposable e-mail domains: the maintained list plus the file's own additions."""
        from disposable_email_domains import blocklist

        return frozenset(blocklist) | {d.strip().lower() for d in self.disposable_domains}


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
