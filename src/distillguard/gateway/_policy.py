"""From decisions to what a request may do, and from ``scan`` findings to decisions.

:func:`effective` folds every decision in force for an account (its own and its cluster's)
into one :class:`Effective`: blocked or not, the verification level required, the tier it is
held to, the extra buckets it draws on, and how its answers are shaped. An ``allow``
decision from an administrator clears the automatic ones (policy, watch, online checks):
it is how an analyst releases a false positive.

A policy file maps findings to actions (``distillguard decide``)::

    expires_hours: 72
    rules:
      - name: block acted-on campaigns
        when: {verdict: act, scope: cluster}
        action: block
      - when: {verdict: review}
        action: shape
        params: {thinking: redact, max_tokens: 2048}
      - when: {reason: release_pivot}
        action: throttle
        params: {rpm: 10, tpd: 200000}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from distillguard.config import read_yaml_mapping, validation_problems
from distillguard.errors import ConfigError
from distillguard.gateway._config import GatewayConfig, Tier
from distillguard.gateway._limits import Bucket
from distillguard.gateway._state import AccountView, Decision, now_utc, verification_at_least

_SEVERITY = {"allow": 0, "shape": 1, "throttle": 2, "restrict": 3, "verify": 4, "block": 5}
_PERIODS = {"rpm": 60.0, "rpd": 86_400.0, "tpm": 60.0, "tpd": 86_400.0}


@dataclass
class Effective:
    """What one request of one account may do."""

    blocked: Decision | None = None
    verify_level: str | None = None
    verify_reason: str = ""
    tier: Tier = field(default_factory=Tier)
    tier_name: str = "free"
    request_buckets: list[Bucket] = field(default_factory=list)
    token_buckets: list[Bucket] = field(default_factory=list)
    thinking: Literal["pass", "redact", "summarise"] = "pass"
    max_tokens: int | None = None
    reasons: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    online_checks: bool = True

    def note(self, action: str, reason: str) -> None:
        if action not in self.actions:
            self.actions.append(action)
        self.reasons.append(reason)

    @property
    def action(self) -> str:
        """The most severe action applied (``allow`` when none)."""
        actions = self.actions
        if len(actions) < 2:  # the common case, asked several times a request
            return actions[0] if actions else "allow"
        return max(actions, key=_SEVERITY.__getitem__)

    def cap(self, max_tokens: int | None) -> None:
        if max_tokens is not None:
            self.max_tokens = (
                max_tokens if self.max_tokens is None else min(self.max_tokens, max_tokens)
            )


def _buckets(prefix: str, limits: dict[str, Any]) -> tuple[list[Bucket], list[Bucket]]:
    req: list[Bucket] = []
    tok: list[Bucket] = []
    for name, period in _PERIODS.items():
        value = limits.get(name)
        if value is None:
            continue
        value = float(value)
        if name.startswith("r"):
            # a limit of 0 admits nothing: a tiny capacity that never reaches one request
            req.append(Bucket(f"{prefix}:{name}", max(value, 1e-6), period, 1.0))
        else:
            tok.append(Bucket(f"{prefix}:{name}", max(value, 1e-6), period, 0.0))
    return req, tok


def for_request(view: AccountView, config: GatewayConfig) -> Effective:
    """:func:`effective`, computed once per cached view and copied for each request."""
    if view.base is None:
        view.base = effective(view, config)
    base: Effective = view.base
    eff = object.__new__(Effective)  # a shallow copy with its own lists (replace() is slower)
    eff.__dict__.update(base.__dict__)
    eff.request_buckets = list(base.request_buckets)
    eff.token_buckets = list(base.token_buckets)
    eff.reasons = list(base.reasons)
    eff.actions = list(base.actions)
    return eff


def effective(view: AccountView, config: GatewayConfig) -> Effective:
    """Fold the account's tier, programme and decisions into what this request may do."""
    acc = view.account
    tier_name = acc.tier if acc.tier in config.tiers else config.default_tier
    eff = Effective(tier=config.tier(tier_name), tier_name=tier_name)
    decisions = view.decisions
    cleared_at = max(
        (d.created_at for d in decisions if d.action == "allow" and d.source == "admin"),
        default=None,
    )
    if cleared_at is not None or acc.allowlisted:
        # cleared by an analyst: only administrators' decisions, and automatic ones that
        # came after the clearance, still apply
        eff.online_checks = False
        decisions = [
            d
            for d in decisions
            if d.source == "admin" or (cleared_at is not None and d.created_at > cleared_at)
        ]
    # the account's own tier limits
    req, tok = _buckets(f"a:{acc.account_id}", eff.tier.model_dump())
    eff.request_buckets += req
    eff.token_buckets += tok
    eff.cap(eff.tier.max_tokens)
    # programme and decisions that demand verification
    program_level = config.verification.programs.get(acc.program)
    if program_level and not verification_at_least(acc.verification, program_level):
        eff.verify_level = program_level
        eff.verify_reason = f"the {acc.program} pathway requires {program_level} verification"
    for d in sorted(decisions, key=lambda d: d.created_at):
        why = f"{d.source} decision {d.id} ({d.scope} {d.target}): {d.reason}".strip()
        if d.action == "block":
            eff.blocked = eff.blocked or d
            eff.note("block", why)
        elif d.action == "verify":
            level = str(d.params.get("level", "id"))
            if not verification_at_least(acc.verification, level):
                eff.verify_level = level
                eff.verify_reason = why
        elif d.action == "restrict":
            name = d.params.get("tier")
            base = config.tiers.get(str(name)) if name else None
            if base is not None:
                eff.tier = base
                eff.tier_name = str(name)
                r, t = _buckets(f"a:{acc.account_id}:{name}", base.model_dump())
                eff.request_buckets += r
                eff.token_buckets += t
            overrides = {k: v for k, v in d.params.items() if k in Tier.model_fields}
            if overrides:
                eff.tier = eff.tier.model_copy(update=overrides)
            eff.cap(eff.tier.max_tokens)
            eff.note("restrict", why)
        elif d.action == "throttle":
            prefix = f"{'c' if d.scope == 'cluster' else 'a'}:{d.target}:{d.id}"
            r, t = _buckets(prefix, d.params)
            eff.request_buckets += r
            eff.token_buckets += t
            eff.note("throttle", why)
        elif d.action == "shape":
            mode = d.params.get("thinking", "redact")
            if mode in ("redact", "summarise") and eff.thinking != "redact":
                eff.thinking = mode
            cap = d.params.get("max_tokens")
            eff.cap(int(cap) if cap is not None else None)
            eff.note("shape", why)
    return eff


# -- policy files: findings → decisions ------------------------------------------------------
class When(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["account", "cluster", "any"] = "any"
    verdict: Literal["ok", "watch", "review", "act"] | list[str] | None = None
    min_risk: float = Field(0.0, ge=0, le=1)
    reason: str | None = Field(None, description="a reason whose name contains this text")
    min_accounts: int = Field(1, ge=1, description="clusters only: at least this many accounts")


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    when: When = Field(default_factory=When)
    action: Literal["allow", "throttle", "verify", "restrict", "shape", "block"]
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _params(self) -> Rule:
        allowed = {
            "throttle": set(_PERIODS),
            "verify": {"level"},
            "restrict": {"tier", *Tier.model_fields},
            "shape": {"thinking", "max_tokens"},
        }.get(self.action, set())
        unknown = set(self.params) - allowed
        if unknown:
            raise ValueError(f"{self.action} takes no {', '.join(sorted(unknown))}")
        return self


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_hours: float | None = Field(72.0, gt=0)
    rules: list[Rule] = Field(default_factory=list)


def load_policy(path: str | Path) -> Policy:
    data = read_yaml_mapping(path, "policy")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid policy: {validation_problems(exc, 'policy')}") from exc


def _reason_names(reasons: Any) -> list[str]:
    out = []
    for r in reasons or []:
        if isinstance(r, dict):
            out.append(str(r.get("signal") or r.get("name") or r.get("text") or ""))
        else:
            out.append(str(r))
    return out


def _matches(
    when: When, scope: str, verdict: str, risk: float, reasons: list[str], size: int
) -> bool:
    if when.scope not in ("any", scope):
        return False
    if when.verdict is not None:
        verdicts = [when.verdict] if isinstance(when.verdict, str) else when.verdict
        if verdict not in verdicts:
            return False
    if risk < when.min_risk or (scope == "cluster" and size < when.min_accounts):
        return False
    return when.reason is None or any(when.reason in r for r in reasons)


def decisions_from_findings(
    policy: Policy,
    clusters: list[dict[str, Any]],
    accounts: list[dict[str, Any]],
    *,
    source: str = "policy",
) -> list[Decision]:
    """Decisions the policy asks for (the first matching rule of each cluster and account).

    A cluster matched by a rule gets one cluster-scoped decision (its members share it,
    and a cluster-wide throttle is one budget); accounts not covered by their cluster's
    decision are matched on their own."""
    expires = now_utc() + timedelta(hours=policy.expires_hours) if policy.expires_hours else None
    out: list[Decision] = []

    def first_rule(scope: Literal["account", "cluster"], target: str, rec: dict[str, Any]) -> bool:
        reasons = _reason_names(rec.get("reasons"))
        verdict, risk = str(rec.get("verdict")), float(rec.get("risk") or 0)
        size = int(rec.get("accounts") or 0) if scope == "cluster" else 1
        for rule in policy.rules:
            if _matches(rule.when, scope, verdict, risk, reasons, size):
                what = f"cluster {target} verdict" if scope == "cluster" else "verdict"
                out.append(
                    Decision(
                        action=rule.action,
                        scope=scope,
                        target=target,
                        params=rule.params,
                        reason=f"{rule.name or rule.action}: {what} {verdict}, risk {risk:.2f}; "
                        + "; ".join(reasons[:3]),
                        source=source,
                        expires_at=expires,
                        review="pending" if source == "watch" else "none",
                    )
                )
                return True
        return False

    decided = {
        str(c["cluster_id"]) for c in clusters if first_rule("cluster", str(c["cluster_id"]), c)
    }
    for a in accounts:
        if str(a.get("cluster_id")) not in decided:
            first_rule("account", str(a["account_id"]), a)
    return out
