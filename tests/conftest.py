"""Shared fixtures. The public corpus is optional for users but required on CI."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import distillguard as dg
from helpers import Campaigns

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


def _corpus_dir() -> Path | None:
    configured = os.environ.get("DISTILLGUARD_CORPUS")
    candidate = Path(configured) if configured else ROOT.parent / "shared" / "corpus"
    return candidate if (candidate / "chat_prompts.jsonl.gz").is_file() else None


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The public corpus beside the checkout; skipped without it, except on CI."""
    found = _corpus_dir()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(
                "CI must have ../shared/corpus beside the checkout (or DISTILLGUARD_CORPUS)"
            )
        pytest.skip("public corpus not found beside the checkout")
    return found


@pytest.fixture
def settings(tmp_path: Path) -> dg.Settings:
    return dg.load_settings(db=tmp_path / "store" / "dg.duckdb")


@pytest.fixture
def store(settings: dg.Settings) -> Iterator[dg.Store]:
    with dg.Store.open(settings.db) as s:
        yield s


@pytest.fixture(scope="session")
def small_sim(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> dg.SimReport:
    """A 20,000-exchange mixed scenario from the real corpus, shared by the tests that read it."""
    out = tmp_path_factory.mktemp("sim")
    return dg.simulate("mixed", 20_000, seed=3, out=out, corpus=corpus)


@pytest.fixture(autouse=True)
def _no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(scope="session")
def campaigns(tmp_path_factory: pytest.TempPathFactory) -> Campaigns:
    """Built from the public corpus when it is beside the checkout, else from the simulator's
    own text generator: reports and indicator sharing are tested either way."""
    from distillguard.detection.pipeline import scan
    from distillguard.rules import load_rules

    work = tmp_path_factory.mktemp("campaigns")
    report = dg.simulate("mixed", 60_000, seed=11, out=work / "sim", corpus=_corpus_dir())
    settings = dg.load_settings(
        db=work / "dg.duckdb",
        intel={"consortium_key": "test-consortium-key-not-a-secret"},
        report={"organisation": {"name": "Test Lab", "contact": "abuse@test-lab.example"}},
    )
    out = Path(report.out)
    with dg.Store.open(settings.db) as store:
        dg.ingest_files([out / "exchanges", out / "accounts.parquet"], "native", store, settings)
        scan(store, load_rules(), work / "findings")
    return Campaigns(settings, work / "findings", out)
