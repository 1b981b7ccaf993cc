"""The model catalogue: which models exist and when each was released.

Release-pivot evidence needs to know what a *release* is. A model id first seen in the log
after its first day is not one: customers move to their own fine-tuned ids
(``ft:base:org:name:id``), providers add snapshots and aliases. Only models in the catalogue
with a ``released_at`` count, and only the hours after that time.

The file format is the gateway's ``models`` section, so one file serves both::

    models:
      - id: atlas-4
        released_at: 2026-05-12T09:00:00Z

``distillguard scan --models FILE`` reads it (a full ``gateway.yaml`` works too: only its
``models`` key is read); the simulator writes one as ``models.yaml`` beside its output.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from distillguard.config import read_yaml_mapping, validation_problems
from distillguard.errors import ConfigError


class CatalogueModel(BaseModel):
    """One model of the catalogue (extra keys, such as the gateway's ``owned_by``, are ignored)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=512)
    released_at: datetime | None = None

    @field_validator("released_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a time zone, e.g. 2026-05-12T09:00:00Z")
        return value


class Catalogue(BaseModel):
    """The models a provider serves, with their release times."""

    model_config = ConfigDict(extra="ignore")

    models: list[CatalogueModel] = Field(default_factory=list)

    def releases(self) -> pa.Table:
        """(model, released_at) for every model with a release time, as the scan SQL reads it."""
        rows = [(m.id, m.released_at.astimezone(UTC)) for m in self.models if m.released_at]
        return pa.table(
            {
                "model": pa.array([r[0] for r in rows], pa.string()),
                "released_at": pa.array([r[1] for r in rows], pa.timestamp("us", tz="UTC")),
            }
        )


def load_catalogue(path: str | Path | None) -> Catalogue:
    """The catalogue in ``path`` (its ``models`` key), or an empty one; errors name the file."""
    if path is None:
        return Catalogue()
    data = read_yaml_mapping(path, "model catalogue")
    if "models" not in data:
        raise ConfigError(f"{path}: no 'models' list (expected models: [{{id, released_at}}])")
    try:
        return Catalogue.model_validate({"models": data["models"]})
    except ValidationError as exc:
        raise ConfigError(
            f"{path}: invalid model catalogue: {validation_problems(exc, 'models')}"
        ) from exc
