"""Small helpers the tests share."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import distillguard as dg


def exchange(**overrides: Any) -> dict[str, Any]:
    """A valid exchange row; override any field."""
    row: dict[str, Any] = {
        "request_id": "req_1",
        "ts": "2026-04-22T10:00:00Z",
        "account_id": "acct_1",
        "endpoint": "chat.completions",
        "model": "atlas-3.5",
        "prompt": "What is 17 * 23?",
        "input_tokens": 12,
        "output_tokens": 6,
    }
    row.update(overrides)
    return row


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def read_rejects(report: dg.IngestReport) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in report.files:
        if f.rejects_path:
            out += [json.loads(line) for line in Path(f.rejects_path).read_text().splitlines()]
    return out


@dataclass
class Campaigns:
    """A scanned 60,000-exchange mixed scenario: store, findings and ground truth."""

    settings: dg.Settings
    findings: Path
    sim: Path

    def truth(self) -> dict[str, dict[str, str | None]]:
        import pyarrow.parquet as pq

        return {r["account_id"]: r for r in pq.read_table(self.sim / "truth.parquet").to_pylist()}


def run_cli_streams(capsys: Any, *args: str) -> tuple[int, str, str]:
    """Run the CLI as a user would (errors become exit codes); returns (code, stdout, stderr)."""
    from distillguard.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_cli(capsys: Any, *args: str) -> tuple[int, str]:
    """:func:`run_cli_streams` with stdout and stderr joined, whitespace normalised."""
    code, out, err = run_cli_streams(capsys, *args)
    return code, " ".join((out + err).split())
