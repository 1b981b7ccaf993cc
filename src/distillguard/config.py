"""One typed configuration object, filled from a YAML file, ``DISTILLGUARD_*`` variables
and command-line options (highest wins), then passed down explicitly.

Precedence, lowest to highest: defaults < YAML file < environment < explicit overrides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator
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


class Settings(BaseSettings):
    """Everything distillguard can be told. Create with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="DISTILLGUARD_", env_nested_delimiter="__", extra="forbid"
    )

    db: Path = Field(DEFAULT_DB, description="embedded DuckDB store")
    corpus: Path | None = Field(None, description="public prompt corpus directory (optional)")
    threads: int | None = Field(None, ge=1, description="DuckDB threads (default: all cores)")
    memory_limit: str | None = Field(None, description="DuckDB memory limit, e.g. '4GB'")
    progress: bool = Field(True, description="show progress bars on a terminal")
    ingest: IngestSettings = Field(default_factory=IngestSettings)

    @field_validator("memory_limit")
    @classmethod
    def _check_memory(cls, value: str | None) -> str | None:
        if value is not None and not value.strip()[:1].isdigit():
            raise ValueError("must look like '4GB' or '512MB'")
        return value


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings` from an optional YAML file, the environment and overrides.

    ``overrides`` whose value is ``None`` are ignored, so CLI options left unset do not
    mask the file or the environment.
    """
    file_data: dict[str, Any] = {}
    if config_file is not None:
        path = Path(config_file)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: top level must be a mapping, got {type(loaded).__name__}")
        file_data = loaded
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
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        source = f"{config_file} / " if config_file else ""
        raise ConfigError(
            f"{source}DISTILLGUARD_* environment: invalid settings: {problems}"
        ) from exc
