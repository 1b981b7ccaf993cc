"""Without the optional parts (the gateway, report, intel and Spark stacks) the core still runs, and
a command that needs one says which extra to install."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from distillguard._extras import EXTRAS

# run the CLI with every module of the extras made unimportable, as on an install without them
_BLOCKED_CLI = """
import sys
blocked = set(sys.argv[1].split(","))
class _Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, _Absent())
from distillguard.cli import main
main(sys.argv[2:])
"""


def _cli(blocked: tuple[str, ...], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCKED_CLI, ",".join(blocked), *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


ALL = tuple(m for modules in EXTRAS.values() for m in modules)


def test_the_core_runs_without_any_extra(tmp_path: Path) -> None:
    sim, db, found = tmp_path / "sim", tmp_path / "dg.duckdb", tmp_path / "findings"
    steps = [
        ("simulate", "--out", str(sim), "--scale", "5000", "--seed", "3"),
        ("ingest", str(sim / "exchanges"), str(sim / "accounts.parquet"),
         "--format", "native", "--db", str(db)),
        ("scan", "--db", str(db), "--out", str(found)),
        ("evaluate", "--findings", str(found), "--truth", str(sim / "truth.parquet"),
         "--db", str(db), "--no-baselines"),
    ]  # fmt: skip
    for step in steps:
        done = _cli(ALL, *step)
        assert done.returncode == 0, (step[0], done.stderr[-2000:])
    assert (found / "findings.json").exists()


@pytest.mark.parametrize(
    ("extra", "args"),
    [
        ("report", ("report", "--all")),
        ("report", ("demo",)),
        ("gateway", ("gateway",)),
        ("gateway", ("mock-upstream",)),
        ("intel", ("intel", "export", "cl-1", "--findings", "nowhere")),
        ("evaluate", ("evaluate", "--findings", "nowhere", "--truth", "nowhere.parquet")),
        ("console", ("console", "--findings", "nowhere")),
        (
            "spark",
            (
                "scan",
                "--engine",
                "spark",
                "--exchanges",
                "nowhere",
                "--accounts",
                "nowhere.parquet",
                "--out",
                "nowhere",
            ),
        ),
    ],
)
def test_a_command_that_needs_an_extra_names_it(extra: str, args: tuple[str, ...]) -> None:
    done = _cli(EXTRAS[extra], *args)
    assert done.returncode == 10, done.stderr[-2000:]
    assert f"pip install 'distillguard[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr
