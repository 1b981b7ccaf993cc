"""The README's Python example runs as written (examples are tests)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    assert blocks, "README has a Python example"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "20000"


def test_readme_starts_with_the_two_setup_commands() -> None:
    text = (ROOT / "README.md").read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.S)
    assert first_block is not None
    assert first_block.group(1).splitlines()[:2] == [
        "make demo   # creates .venv, installs, simulates a mixed scenario, ingests it, scans it, shows the campaigns",
        "make test   # creates .venv, installs dev tools, runs ruff, mypy and the whole pytest suite",
    ]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
