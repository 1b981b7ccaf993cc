"""The one exception hierarchy of distillguard.

Every error the package raises on purpose derives from :class:`DistillguardError`;
outside exceptions (DuckDB, Arrow, OS errors) are converted once, at the edge that
called the outside library, so callers need to catch only this tree::

    DistillguardError
    ├── ConfigError            bad settings file, environment variable or option
    ├── InputError             a file that cannot be read as asked
    │   ├── UnknownFormatError     --format names no adapter, or the file type is unknown
    │   ├── FileKindError          columns match neither exchanges, accounts nor truth
    │   └── RowError               one row is invalid (file, row, field, reason)
    ├── StoreError             the embedded store cannot be opened, read or written
    ├── CorpusError            the public prompt corpus is missing or malformed
    ├── SimulationError        an impossible scenario, scale or seed
    ├── SharingError           a TAXII server refused a request or could not be reached
    └── GatewayError           the gateway's admin API refused a request or is unreachable

The CLI maps each branch to its own exit code (see :data:`EXIT_CODES`).
"""

from __future__ import annotations

from pathlib import Path


class DistillguardError(Exception):
    """Base class of every error distillguard raises on purpose."""

    exit_code = 1


class ConfigError(DistillguardError):
    """A setting is invalid: the message names the source (file, variable or option)."""

    exit_code = 3


class InputError(DistillguardError):
    """An input file cannot be read as asked."""

    exit_code = 4

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.path = str(path) if path is not None else None
        super().__init__(f"{self.path}: {message}" if self.path else message)


class UnknownFormatError(InputError):
    """The requested format or the file's type is not supported."""


class DamagedFileError(InputError):
    """A file cannot be read past some point (truncated or corrupt compression, a damaged
    Parquet footer or page, an I/O error). Ingest keeps the rows before the damage and
    reports the damage as a reject of the file at ``row``."""

    def __init__(self, reason: str, *, path: str | Path | None = None, row: int = 1) -> None:
        self.reason = reason
        self.row = row
        super().__init__(reason, path=path)


class FileKindError(InputError):
    """The file's columns match no kind of record of the contract."""


class RowError(InputError):
    """One row is invalid. Carries the file, the 1-based row number, the field and the reason."""

    def __init__(self, path: str | Path, row: int, field: str, reason: str) -> None:
        self.row = row
        self.field = field
        self.reason = reason
        super().__init__(f"row {row}, field {field!r}: {reason}", path=path)


class StoreError(DistillguardError):
    """The embedded store cannot be opened, read or written."""

    exit_code = 5


class CorpusError(DistillguardError):
    """The prompt corpus directory is missing, incomplete or malformed."""

    exit_code = 6


class SimulationError(DistillguardError):
    """The simulator was asked for something it cannot produce."""

    exit_code = 7


class SharingError(DistillguardError):
    """A TAXII server refused a request or could not be reached."""

    exit_code = 8


class GatewayError(DistillguardError):
    """The gateway's admin API refused a request or could not be reached."""

    exit_code = 9


class MissingExtraError(DistillguardError):
    """A command needs an optional part of distillguard that is not installed."""

    exit_code = 10


EXIT_CODES: dict[type[DistillguardError], int] = {
    cls: cls.exit_code
    for cls in (
        DistillguardError,
        ConfigError,
        InputError,
        StoreError,
        CorpusError,
        SimulationError,
        SharingError,
        GatewayError,
        MissingExtraError,
    )
}
