from pathlib import Path

import pytest

import distillguard as dg


def test_precedence_defaults_file_env_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "dg.yaml"
    cfg.write_text("db: from-file.duckdb\nthreads: 2\ningest:\n  batch_rows: 1000\n")
    assert dg.load_settings().db == Path("distillguard.duckdb")
    s = dg.load_settings(cfg)
    assert (s.db, s.threads, s.ingest.batch_rows) == (Path("from-file.duckdb"), 2, 1000)
    monkeypatch.setenv("DISTILLGUARD_DB", "from-env.duckdb")
    assert dg.load_settings(cfg).db == Path("from-env.duckdb")
    assert dg.load_settings(cfg, db=Path("from-cli.duckdb")).db == Path("from-cli.duckdb")
    assert dg.load_settings(cfg, db=None).db == Path("from-env.duckdb")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("db: [unclosed", "not valid YAML"),
        ("- a list\n", "top level must be a mapping"),
        ("threads: 0\n", "threads"),
        ("unknown_key: 1\n", "unknown_key"),
        ("memory_limit: lots\n", "memory_limit"),
        ("ingest:\n  batch_rows: 5\n", "ingest.batch_rows"),
    ],
)
def test_bad_settings_name_the_source_and_field(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    with pytest.raises(dg.ConfigError, match=message) as info:
        dg.load_settings(cfg)
    assert str(cfg) in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(dg.ConfigError, match="cannot read config file"):
        dg.load_settings(tmp_path / "nope.yaml")


def test_bad_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISTILLGUARD_THREADS", "many")
    with pytest.raises(dg.ConfigError, match="threads"):
        dg.load_settings()


def test_environment_merges_into_a_file_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "dg.yaml"
    cfg.write_text("ingest:\n  batch_rows: 1000\n  max_text_bytes: 4096\n")
    monkeypatch.setenv("DISTILLGUARD_INGEST__BATCH_ROWS", "2000")
    s = dg.load_settings(cfg)
    assert (s.ingest.batch_rows, s.ingest.max_text_bytes) == (2000, 4096)
