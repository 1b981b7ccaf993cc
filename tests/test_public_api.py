"""The public surface changes only on purpose (httpx's habit)."""

import distillguard as dg

EXPECTED = {
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
    "IngestReport",
    "IngestSettings",
    "InputError",
    "Kind",
    "KindSpec",
    "MergeResult",
    "Reject",
    "RowError",
    "Settings",
    "GatewayError",
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
}


def test_public_names_are_deliberate() -> None:
    assert set(dg.__all__) == EXPECTED
    for name in dg.__all__:
        assert hasattr(dg, name), name


def test_every_error_derives_from_the_base_and_has_its_own_exit_code() -> None:
    branches = [dg.ConfigError, dg.InputError, dg.StoreError, dg.CorpusError, dg.SimulationError]
    for cls in [*branches, dg.UnknownFormatError, dg.FileKindError, dg.RowError]:
        assert issubclass(cls, dg.DistillguardError)
    codes = [cls.exit_code for cls in branches]
    assert len(set(codes)) == len(codes)
    assert 2 not in codes  # 2 is the usage-error code


def test_row_error_names_file_row_and_field() -> None:
    exc = dg.RowError("logs/a.csv", 17, "ts", "expected an ISO 8601 timestamp")
    assert str(exc) == "logs/a.csv: row 17, field 'ts': expected an ISO 8601 timestamp"
