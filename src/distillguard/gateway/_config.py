"""The gateway's one typed configuration object (``gateway.yaml``).

Secrets never live in the file: the admin credential is given as its SHA-256 (or through
``DISTILLGUARD_GATEWAY_ADMIN_TOKEN``), upstream keys through environment variables named
in the file.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from distillguard.config import read_yaml_mapping, validation_problems
from distillguard.errors import ConfigError
from distillguard.schema import PROGRAMS, VERIFICATION

_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")

ADMIN_TOKEN_ENV = "DISTILLGUARD_GATEWAY_ADMIN_TOKEN"  # noqa: S105 - a variable name
VERIFICATION_RANK = {level: i for i, level in enumerate(VERIFICATION)}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Upstream(_Strict):
    """Where requests of one API go."""

    base_url: str = Field(description="e.g. https://api.openai.com/v1 or http://127.0.0.1:8000")
    api_key_env: str | None = Field(
        None, description="environment variable holding the upstream key (never the key itself)"
    )

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class UpstreamSettings(_Strict):
    openai: Upstream | None = Field(None, description="upstream of POST /v1/chat/completions")
    anthropic: Upstream | None = Field(None, description="upstream of POST /v1/messages")
    timeout_s: float = Field(600.0, gt=0, description="whole-request timeout")
    connect_timeout_s: float = Field(10.0, gt=0)
    connections: int = Field(512, ge=1, description="pooled upstream connections")


class Model(_Strict):
    id: str
    released_at: datetime | None = Field(
        None, description="release time; the release-pivot guard watches the hours after it"
    )
    owned_by: str = "upstream"


class Tier(_Strict):
    """Limits and capabilities of a commercial tier (or of a restriction)."""

    rpm: int | None = Field(None, ge=0, description="requests per minute (None: unlimited)")
    rpd: int | None = Field(None, ge=0, description="requests per day")
    tpm: int | None = Field(None, ge=0, description="tokens (in + out) per minute")
    tpd: int | None = Field(None, ge=0, description="tokens per day")
    thinking: bool = Field(True, description="extended thinking / reasoning allowed")
    tools: bool = Field(True, description="tool use allowed")
    models: list[str] = Field(default_factory=lambda: ["*"], description="allowed model ids")
    max_tokens: int | None = Field(None, ge=1, description="output cap; larger requests clamp")
    trusted: bool = Field(
        False, description="trusted tier: follows state.on_redis_down.trusted (open by default)"
    )
    on_redis_down: Literal["open", "closed"] | None = Field(
        None, description="this tier's own rule when Redis fails (overrides trusted/other)"
    )
    thinking_verification: str = Field(
        "none", description="verification level needed before thinking is allowed"
    )
    tools_verification: str = Field("none", description="verification level needed for tools")

    @field_validator("thinking_verification", "tools_verification")
    @classmethod
    def _level(cls, value: str) -> str:
        if value not in VERIFICATION_RANK:
            raise ValueError(f"must be one of {', '.join(VERIFICATION)}")
        return value


def _default_tiers() -> dict[str, Tier]:
    return {
        "free": Tier(rpm=20, rpd=1_000, tpm=40_000, tpd=1_000_000, max_tokens=4_096,
                     thinking_verification="phone"),
        "build": Tier(rpm=500, rpd=50_000, tpm=400_000, tpd=20_000_000),
        "scale": Tier(rpm=4_000, tpm=4_000_000, trusted=True),
        "enterprise": Tier(trusted=True),
        "restricted": Tier(rpm=10, rpd=200, tpm=20_000, tpd=200_000, thinking=False,
                           tools=False, max_tokens=1_024),
    }  # fmt: skip


class VerificationSettings(_Strict):
    url: str = Field(
        "https://example.com/verify", description="where a user goes to verify (sent in 403s)"
    )
    programs: dict[str, str] = Field(
        default_factory=lambda: {"education": "id", "research": "id", "startup": "business"},
        description="level each access pathway must reach",
    )
    high_volume_requests_per_day: int | None = Field(
        5_000, ge=1, description="accounts above this many requests a day must verify"
    )
    high_volume_level: str = Field("id")

    @field_validator("programs")
    @classmethod
    def _programs(cls, value: dict[str, str]) -> dict[str, str]:
        for program, level in value.items():
            if program not in PROGRAMS or level not in VERIFICATION_RANK:
                raise ValueError(f"{program}: {level}: unknown program or verification level")
        return value


class ElicitationCheck(_Strict):
    enabled: bool = True
    action: Literal["shape", "throttle", "log"] = Field(
        "shape", description="on a reasoning-extraction prompt: redact thinking, throttle, or log"
    )
    rpm: int = Field(5, ge=1, description="per-minute budget of such requests when throttling")


class VelocityCheck(_Strict):
    enabled: bool = True
    new_account_days: float = Field(7.0, ge=0, description="accounts younger than this…")
    rpm: int = Field(60, ge=1, description="…get at most this many requests per minute")


class ReleaseGuard(_Strict):
    enabled: bool = True
    hours: float = Field(48.0, gt=0, description="hours after a model's release")
    min_account_age_days: float = Field(14.0, ge=0)
    min_verification: str = Field("phone")
    rpm: int = Field(10, ge=1, description="per-account, per-model rpm for guarded accounts")
    shape: bool = Field(True, description="also redact thinking for guarded accounts")


class OnlineChecks(_Strict):
    elicitation: ElicitationCheck = Field(default_factory=ElicitationCheck)
    velocity: VelocityCheck = Field(default_factory=VelocityCheck)
    release_guard: ReleaseGuard = Field(default_factory=ReleaseGuard)


class LogSettings(_Strict):
    dir: Path = Field(Path("gateway-log"), description="spool, Parquet partitions, decisions")
    content: Literal["full", "hashed", "off"] = Field(
        "full", description="prompt/response text: verbatim, keyed BLAKE2b digests, or dropped"
    )
    capture_key_file: Path | None = Field(
        None, description="secret key of `hashed` capture (default <dir>/capture.key, made 0600)"
    )
    flush_interval_s: float = Field(2.0, gt=0, description="spool → Parquet every this often")
    segment_rows: int = Field(20_000, ge=1, description="rotate the spool segment at this size")
    fsync: bool = Field(
        False, description="fsync each record (survives power loss, not only kill -9)"
    )
    store: Path | None = Field(None, description="also load each batch into this DuckDB store")
    max_text_bytes: int = Field(1_048_576, ge=1_024, description="longer texts are clipped")


class RedisDown(_Strict):
    """What the gateway does when Redis (accounts, decisions, budgets) cannot be reached.

    ``open`` admits without counting; ``closed`` counts against a local fallback budget
    once Redis is down, and refuses (503 ``state_unavailable``) beyond it. A Redis that
    only times out, or whose connection pool a flood has exhausted, is not down: a call
    that fails is followed by a PING on a connection of its own, and while Redis answers
    it within ``probe_timeout_s`` a closed tier is refused outright, so a flood cannot
    switch off its own limit."""

    trusted: Literal["open", "closed"] = "open"
    flagged: Literal["open", "closed"] = "closed"
    other: Literal["open", "closed"] = "closed"
    probe_timeout_s: float = Field(
        1.0,
        gt=0,
        description="Redis is down when a PING on its own connection fails or "
        "takes longer than this (probed at most every half second)",
    )
    fallback_share: float = Field(
        0.1,
        ge=0,
        le=1,
        description="while Redis is down, each replica admits an account of a closed tier "
        "this share of each of its budgets, from local buckets (over all replicas at most "
        "replicas × share of the budget)",
    )


class StateSettings(_Strict):
    backend: Literal["memory", "redis"] = "memory"
    path: Path = Field(
        Path("gateway-state.sqlite"), description="memory backend: accounts, keys, decisions"
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "dg:"
    redis_timeout_s: float = Field(0.25, gt=0, description="per-command timeout")
    redis_connections: int = Field(64, ge=2, description="pooled connections per process")
    cache_ttl_s: float = Field(2.0, ge=0, description="local cache of an account's state")
    on_redis_down: RedisDown = Field(default_factory=RedisDown)


class ServerSettings(_Strict):
    """Bounds on what one client can hold: sockets, time, and request bodies in memory."""

    header_timeout_s: float = Field(
        10.0, gt=0, description="close a connection whose request headers are not complete by then"
    )
    body_timeout_s: float = Field(
        30.0, gt=0, description="answer 408 to a request whose body has not arrived by then"
    )
    idle_timeout_s: float = Field(
        5.0, gt=0, description="close a keep-alive connection idle this long"
    )
    max_connections: int = Field(
        4_096, ge=1, description="concurrent connections; beyond, new requests get 503"
    )
    max_buffered_body_bytes: int = Field(
        256 * 1024 * 1024,
        ge=1_024,
        description="request bodies held in memory at once; beyond, requests get 503",
    )


class AdminSettings(_Strict):
    token_sha256: str | None = Field(
        None, description=f"SHA-256 (hex) of the admin token; or set {ADMIN_TOKEN_ENV}"
    )

    @field_validator("token_sha256")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is not None and (
            len(value) != 64 or any(c not in "0123456789abcdef" for c in value.lower())
        ):
            raise ValueError("must be 64 hex digits (sha256sum of the token)")
        return value.lower() if value else value

    def digest(self) -> str | None:
        token = os.environ.get(ADMIN_TOKEN_ENV)
        if token:
            return hashlib.sha256(token.encode()).hexdigest()
        return self.token_sha256


class GatewayConfig(_Strict):
    """Everything the gateway can be told; see docs/gateway.md."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    upstream: UpstreamSettings = Field(default_factory=UpstreamSettings)
    models: list[Model] = Field(
        default_factory=list, description="served by GET /v1/models; empty: ask the upstream"
    )
    default_tier: str = "free"
    tiers: dict[str, Tier] = Field(default_factory=_default_tiers)
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    online: OnlineChecks = Field(default_factory=OnlineChecks)
    state: StateSettings = Field(default_factory=StateSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1_024)
    gc_threshold: int = Field(
        20_000,
        ge=0,
        description="allocations between young-generation garbage collections (Python's "
        "default is 700); 0 keeps Python's settings. Objects alive at start-up are frozen "
        "out of collection either way",
    )
    strict_fields: bool = Field(False, description="reject request fields the API does not define")
    trust_forwarded_for: bool = Field(
        False, description="take the client IP from X-Forwarded-For (only behind your own edge)"
    )
    client_fp_header: str | None = Field(
        None, description="header in which your edge passes a TLS fingerprint (e.g. JA4)"
    )
    country_header: str | None = Field(None, description="header carrying the client's country")

    @field_validator("client_fp_header", "country_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        # requests arrive with lower-case header names (e.g. CF-IPCountry as cf-ipcountry)
        if value is None:
            return None
        if not _HEADER_NAME.fullmatch(value):
            raise ValueError("must be an HTTP header name (letters, digits, '-', '_' ...)")
        return value.lower()

    def tier(self, name: str | None) -> Tier:
        return self.tiers.get(name or self.default_tier) or self.tiers.get(
            self.default_tier, Tier()
        )


def load_gateway_config(path: str | Path | None = None, **overrides: Any) -> GatewayConfig:
    """Read ``gateway.yaml`` (optional) and apply overrides whose value is not None."""
    data = read_yaml_mapping(path, "gateway config") if path is not None else {}
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return GatewayConfig(**data)
    except ValidationError as exc:
        raise ConfigError(
            f"{path or 'gateway config'}: {validation_problems(exc, 'config')}"
        ) from exc
