"""distillguard: find, stop and document distillation campaigns against LLM APIs.

The public API is what ``__all__`` lists; everything else is private and may change.
"""

from distillguard.config import IngestSettings, Settings, load_settings
from distillguard.errors import (
    ConfigError,
    CorpusError,
    DistillguardError,
    FileKindError,
    GatewayError,
    InputError,
    RowError,
    SharingError,
    SimulationError,
    StoreError,
    UnknownFormatError,
)
from distillguard.findings import Findings, load_findings
from distillguard.ingest import ADAPTERS, FileReport, IngestReport, ingest_files
from distillguard.schema import (
    ACCOUNTS,
    EXCHANGE_TRUTH,
    EXCHANGES,
    KINDS,
    SCHEMA_VERSION,
    TRUTH,
    UNAUTHENTICATED,
    FieldSpec,
    Kind,
    KindSpec,
    detect_kind,
    schema_markdown,
)
from distillguard.sim import SCENARIOS, SimReport, simulate
from distillguard.store import MergeResult, Store
from distillguard.validate import Reject, ValidatedBatch, validate_columns

__version__ = "0.1.0"

__all__ = [
    "ACCOUNTS",
    "ADAPTERS",
    "EXCHANGES",
    "EXCHANGE_TRUTH",
    "KINDS",
    "SCENARIOS",
    "SCHEMA_VERSION",
    "TRUTH",
    "UNAUTHENTICATED",
    "ConfigError",
    "CorpusError",
    "DistillguardError",
    "FieldSpec",
    "FileKindError",
    "FileReport",
    "Findings",
    "GatewayError",
    "IngestReport",
    "IngestSettings",
    "InputError",
    "Kind",
    "KindSpec",
    "MergeResult",
    "Reject",
    "RowError",
    "Settings",
    "SharingError",
    "SimReport",
    "SimulationError",
    "Store",
    "StoreError",
    "UnknownFormatError",
    "ValidatedBatch",
    "__version__",
    "detect_kind",
    "ingest_files",
    "load_findings",
    "load_settings",
    "schema_markdown",
    "simulate",
    "validate_columns",
]
