"""Owner-only output files (``_files``): written whole, and datasets another process wrote
made owner-only."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pytest

from distillguard._files import (
    make_private,
    remove_path,
    write_parquet,
    write_private,
    write_private_dir,
)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_written_file_is_owner_only_and_replaces_the_old_one_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    path.write_text("old")
    path.chmod(0o644)
    write_parquet(pa.table({"x": [1, 2]}), path)
    assert _mode(path) == 0o600
    assert path.read_bytes().startswith(b"PAR1")
    assert [p.name for p in tmp_path.iterdir()] == ["a.parquet"]  # no temporary left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "b.txt"
    path.write_text("old")

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_private(path, fail)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["b.txt"]


def test_a_dataset_directory_is_made_owner_only_throughout(tmp_path: Path) -> None:
    root = tmp_path / "signals.parquet"
    (root / "sub").mkdir(parents=True)
    for f in (root / "part-0.parquet", root / "sub" / "part-1.parquet", root / "_SUCCESS"):
        f.write_text("x")
        f.chmod(0o644)
    for d in (root, root / "sub"):
        d.chmod(0o755)
    make_private(root)
    assert _mode(root) == _mode(root / "sub") == 0o700
    assert {_mode(p) for p in root.rglob("*") if p.is_file()} == {0o600}
    single = tmp_path / "one.parquet"
    single.write_text("x")
    single.chmod(0o664)
    make_private(single)
    assert _mode(single) == 0o600
    make_private(tmp_path / "absent")  # nothing there: nothing to do


def test_remove_path_takes_files_trees_and_nothing(tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / "e" / "f").write_text("x")
    (tmp_path / "g").write_text("x")
    target = tmp_path / "d"
    os.symlink(target, tmp_path / "link")
    remove_path(tmp_path / "link")  # the link goes, not what it points to
    assert target.is_dir() and not (tmp_path / "link").exists()
    remove_path(target)
    remove_path(tmp_path / "g")
    remove_path(tmp_path / "absent")
    assert list(tmp_path.iterdir()) == []


def test_a_written_directory_is_owner_only_and_replaces_a_file_or_a_tree(tmp_path: Path) -> None:
    path = tmp_path / "signals"
    path.write_text("an older single file")
    write_private_dir(path, lambda d: (d / "part-0.parquet").write_text("one"))
    assert _mode(path) == 0o700 and [p.name for p in path.iterdir()] == ["part-0.parquet"]
    write_private_dir(path, lambda d: (d / "part-1.parquet").write_text("two"))
    assert [p.name for p in path.iterdir()] == ["part-1.parquet"]  # the old tree is gone
    assert [p.name for p in tmp_path.iterdir()] == ["signals"]  # no temporary left


def test_a_failed_directory_write_leaves_the_old_one_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "signals"
    path.mkdir()
    (path / "part-0.parquet").write_text("old")

    def fail(folder: Path) -> None:
        (folder / "part-0.parquet").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_private_dir(path, fail)
    assert (path / "part-0.parquet").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["signals"]
