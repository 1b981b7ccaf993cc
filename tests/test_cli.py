"""Every command in the docs runs here, through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import exchange, run_cli_streams, write_jsonl


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return run_cli_streams(capsys, *args)


def test_simulate_ingest_info_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim, db = tmp_path / "sim", tmp_path / "dg.duckdb"
    code, out, _ = run(
        capsys,
        "simulate",
        "--scenario",
        "mixed",
        "--scale",
        "3000",
        "--seed",
        "2",
        "--out",
        str(sim),
    )
    assert code == 0 and "wrote 3,000 exchanges" in out and "model_pivot" in out
    code, out, _ = run(
        capsys,
        "ingest",
        str(sim / "exchanges"),
        str(sim / "accounts.parquet"),
        str(sim / "truth.parquet"),
        "--db",
        str(db),
    )
    assert code == 0 and "accounts" in out and "3,000" in out
    assert "signals of new exchange parts computed" in out
    signals = list((tmp_path / "dg.duckdb.data" / "signals").rglob("part-*.parquet"))
    assert len(signals) == len(list((tmp_path / "dg.duckdb.data" / "exchanges").iterdir()))
    code, out, _ = run(capsys, "info", "--db", str(db))
    assert code == 0 and "3,000 exchanges" in out and "ground truth" in out
    code, out, _ = run(
        capsys,
        "export",
        str(tmp_path / "w.parquet"),
        "--since",
        "2026-05-01T00:00Z",
        "--until",
        "2026-05-08T00:00Z",
        "--db",
        str(db),
    )
    assert code == 0 and "exchanges rows" in out and (tmp_path / "w.parquet").is_file()


def test_ingest_reports_rejects_and_api_formats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", [exchange(), exchange(request_id="r2", ts="never")])
    code, out, _ = run(capsys, "ingest", str(path), "--db", str(tmp_path / "dg.duckdb"))
    assert code == 0 and "1 rejected row(s)" in out
    rejects = list((tmp_path / "rejects").glob("x.jsonl.*.rejects.jsonl"))
    assert json.loads(rejects[0].read_text())["field"] == "ts"
    fixtures = Path(__file__).parent / "fixtures"
    code, out, _ = run(
        capsys,
        "ingest",
        str(fixtures / "anthropic_pairs.jsonl"),
        "--format",
        "anthropic",
        "--db",
        str(tmp_path / "dg.duckdb"),
    )
    assert code == 0 and "anthropic" in out


def test_errors_exit_with_their_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "info", "--db", str(tmp_path / "none.duckdb"))
    assert code == 5 and "no store here" in err
    code, _, err = run(
        capsys, "ingest", str(tmp_path / "absent.csv"), "--db", str(tmp_path / "d.duckdb")
    )
    assert code == 4 and "no such file" in err
    code, _, err = run(capsys, "simulate", "--scale", "5", "--out", str(tmp_path / "s"))
    assert code == 7 and "--scale must be between" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("threads: -1\n")
    code, _, err = run(capsys, "info", "--config", str(bad))
    assert code == 3 and "threads" in err
    code, _, err = run(
        capsys, "export", "x.parquet", "--since", "last tuesday", "--db", str(tmp_path / "d.duckdb")
    )
    assert code == 3 and "--since" in err
    code, _, _ = run(capsys, "ingest")
    assert code == 2


def test_schema_prints_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    root = Path(__file__).resolve().parents[1]
    assert code == 0 and out == (root / "docs" / "schema.md").read_text()


def test_scenarios_lists_every_persona_and_campaign(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "scenarios")
    assert code == 0
    for name in (
        "hobbyist",
        "benchmark_runner",
        "hydra_reseller",
        "model_pivot",
        "multilingual_coercion",
    ):
        assert name in out


def test_demo_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo", "--workdir", str(tmp_path / "demo"), "--scale", "5000")
    assert code == 0
    assert "ingested" in out and "5,000 exchanges" in out and "demo finished" in out
    assert (tmp_path / "demo" / "distillguard.duckdb").is_file()


def test_console_script_help() -> None:
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [str(bin_dir / "distillguard"), "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    for command in ("ingest", "simulate", "demo", "info", "export", "schema", "scenarios"):
        assert command in result.stdout


def test_scan_and_evaluate_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim, db, findings = tmp_path / "sim", tmp_path / "dg.duckdb", tmp_path / "findings"
    assert run(capsys, "simulate", "--scale", "20000", "--seed", "4", "--out", str(sim))[0] == 0
    assert (
        run(
            capsys, "ingest", str(sim / "exchanges"), str(sim / "accounts.parquet"), "--db", str(db)
        )[0]
        == 0
    )
    code, out, _ = run(capsys, "scan", "--db", str(db), "--out", str(findings))
    assert code == 0 and "campaign(s) found" in out and "findings in" in out
    assert (findings / "accounts.parquet").is_file() and (findings / "findings.json").is_file()
    code, out, _ = run(
        capsys,
        "evaluate",
        "--findings",
        str(findings),
        "--truth",
        str(sim / "truth.parquet"),
        "--db",
        str(db),
    )
    assert code == 0 and "| distillguard |" in out and "| rate limit |" in out
    assert (findings / "evaluation.md").is_file() and (findings / "evaluation.json").is_file()
    labels = tmp_path / "labels.csv"
    labels.write_text("account_id,label\nacct_x,maybe\n")
    code, _, err = run(
        capsys, "scan", "--db", str(db), "--out", str(findings), "--labels", str(labels)
    )
    assert code == 4 and "row 1, field 'label'" in err
    bad = tmp_path / "rules.yaml"
    bad.write_text("bias: [\n")
    code, _, err = run(capsys, "scan", "--db", str(db), "--out", str(findings), "--rules", str(bad))
    assert code == 3 and "rules.yaml" in err
