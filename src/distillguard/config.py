"""One typed configuration object, filled from a YAML file, ``DISTILLGUARD_*`` variables
and command-line options (highest wins), then passed down explicitly.

Precedence, lowest to highest: defaults < YAML file < environment < explicit overrides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from distillguard.errors import ConfigError

DEFAULT_DB = Path("distillguard.duckdb")


class IngestSettings(BaseModel):
    """Limits applied while reading user files."""

    batch_rows: int = Field(50_000, ge=100, le=5_000_000, description="rows per validation batch")
    max_text_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024,
        description="largest accepted text field (prompt, response, messages…), in bytes",
    )
    max_reject_raw_bytes: int = Field(
        2_048, ge=0, description="how much of a rejected row's raw text the rejects file keeps"
    )
    otel_account_attributes: list[str] = Field(
        default_factory=lambda: ["distillguard.account_id", "user.id", "enduser.id"],
        min_length=1,
        description="span or resource attributes that name the account in OpenTelemetry "
        "exports, first set wins (no instrumentation sets one: name your deployment's)",
    )


class Organisation(BaseModel):
    """Who is reporting: printed in incident reports and used as the STIX identity."""

    name: str = Field("Example Model Provider", description="reporting organisation")
    contact: str = Field("trust-and-safety@example.com", description="contact for referrals")
    address: str | None = Field(None, description="postal address, for authorities")
    jurisdiction: str | None = Field(None, description="country / legal jurisdiction")
    reference_prefix: str = Field("DG", description="prefix of report reference numbers")


class ReportSettings(BaseModel):
    """Incident reports (``distillguard report``)."""

    organisation: Organisation = Field(default_factory=Organisation)
    prompts: Literal["full", "redacted", "off"] = Field(
        "redacted",
        description="representative prompts in reports: verbatim, redacted (emails, URLs, "
        "numbers, keys masked; clipped), or left out",
    )
    prompt_examples: int = Field(5, ge=0, le=50, description="representative prompts shown")
    prompt_chars: int = Field(400, ge=40, le=20_000, description="longest prompt shown")
    graph_nodes: int = Field(150, ge=10, le=2_000, description="accounts drawn in the graph")
    pdf: bool = Field(True, description="also write the PDF")


class IntelSettings(BaseModel):
    """Indicator sharing (``distillguard intel``)."""

    consortium_key: SecretStr | None = Field(
        None,
        description="shared secret of the sharing group (keyed HMAC pseudonyms and MinHash "
        "seeds); set DISTILLGUARD_INTEL__CONSORTIUM_KEY, never commit it",
    )
    tlp: Literal["white", "green", "amber", "red"] = Field(
        "amber", description="TLP marking of exported bundles"
    )
    min_accounts: int = Field(
        2, ge=1, description="infrastructure shared by fewer campaign accounts is not exported"
    )
    match_risk: float = Field(
        0.9, ge=0.0, le=1.0, description="risk given to an account that matches shared indicators"
    )
    taxii_user: str | None = Field(None, description="TAXII user name")
    taxii_password: SecretStr | None = Field(None, description="TAXII password")


class ConsoleSettings(BaseModel):
    """The analyst console (``distillguard console``)."""

    state: Path | None = Field(
        None,
        description="SQLite file of console users, labels, statuses and the audit log "
        "(default: console.sqlite beside the store)",
    )
    session_hours: float = Field(8.0, gt=0, le=168, description="how long a login lasts")
    secure_cookies: bool = Field(
        False, description="send the session cookie over HTTPS only (set it behind TLS)"
    )
    trusted_user_header: str | None = Field(
        None,
        description="SSO mode: the header an authenticating reverse proxy sets to the user "
        "name (e.g. X-Forwarded-User); the console must then be reachable only through it",
    )
    trusted_role_header: str | None = Field(
        None, description="SSO mode: the header carrying the role (viewer or analyst)"
    )
    gateway_url: str | None = Field(
        None, description="the gateway whose admin API the console reads and acts through"
    )


class SparkSettings(BaseModel):
    """``scan --engine spark``: where Spark runs and how (docs/scale.md)."""

    master: str = Field(
        "local[*]", description="Spark master: local[N], spark://host:7077, yarn, k8s://…"
    )
    conf: dict[str, str] = Field(
        default_factory=dict,
        description="Spark settings (spark.driver.memory, spark.executor.instances, "
        "spark.hadoop.fs.s3a.*, spark.jars.packages, …), over distillguard's defaults",
    )


class Settings(BaseSettings):
    """Everything distillguard can be told. Create with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="DISTILLGUARD_", env_nested_delimiter="__", extra="forbid"
    )

    db: Path = Field(DEFAULT_DB, description="embedded DuckDB store")
    corpus: Path | None = Field(None, description="public prompt corpus directory (optional)")
    models: Path | None = Field(
        None,
        description="model catalogue (YAML with a `models` list of id and released_at, as in "
        "gateway.yaml): only catalogued releases count for release-pivot evidence",
    )
    threads: int | None = Field(None, ge=1, description="DuckDB threads (default: all cores)")
    memory_limit: str | None = Field(None, description="DuckDB memory limit, e.g. '4GB'")
    progress: bool = Field(True, description="show progress bars on a terminal")
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    intel: IntelSettings = Field(default_factory=IntelSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)

    @field_validator("memory_limit")
    @classmethod
    def _check_memory(cls, value: str | None) -> str | None:
        if value is not None and not value.strip()[:1].isdigit():
            raise ValueError("must look like '4GB' or '512MB'")
        return value


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """A YAML file whose top level is a mapping (an empty file is ``{}``); errors name it."""
    p = Path(path)
    try:
        loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read {what}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{p}: top level must be a mapping, got {type(loaded).__name__}")
    return loaded


def validation_problems(exc: ValidationError, root: str) -> str:
    """A pydantic error as ``field.path: message; …`` (``root`` names an error at the top)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or root}: {e['msg']}" for e in exc.errors()
    )


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings` from an optional YAML file, the environment and overrides.

    ``overrides`` whose value is ``None`` are ignored, so CLI options left unset do not
    mask the file or the environment.
    """
    file_data: dict[str, Any] = {}
    if config_file is not None:
        file_data = read_yaml_mapping(config_file, "config file")
    explicit = {k: v for k, v in overrides.items() if v is not None}
    try:
        # pydantic-settings ranks init values above the environment; the file must rank
        # below it, so drop (or, for sections, merge under) what the environment sets.
        from_env = Settings()
        merged: dict[str, Any] = {}
        for key, value in file_data.items():
            if key not in from_env.model_fields_set:
                merged[key] = value
            elif isinstance(value, dict) and isinstance(getattr(from_env, key, None), BaseModel):
                merged[key] = {**value, **getattr(from_env, key).model_dump(exclude_unset=True)}
        merged.update(explicit)
        return Settings(**merged)
    except ValidationError as exc:
        problems = validation_problems(exc, "settings")
        source = f"{config_file} / " if config_file else ""
        raise ConfigError(
            f"{source}DISTILLGUARD_* environment: invalid settings: {problems}"
        ) from exc
