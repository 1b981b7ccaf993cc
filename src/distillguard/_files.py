"""Owner-only output files: findings hold personal data (IPs, e-mail stems, payment tokens)
and prompt text."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


def write_private(path: Path, write: Callable[[Path], object]) -> None:
    """Create ``path`` readable by its owner only (``0600``) and fill it with ``write``:
    written under a temporary name beside it, then moved into place, so readers see the old
    file or the whole new one."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")  # one per writer
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        write(tmp)
        tmp.chmod(0o600)  # a writer that replaces the file (DuckDB's COPY) resets the mode
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet(table: pa.Table, path: Path) -> None:
    """Write ``table`` to an owner-only Parquet file (zstd)."""
    write_private(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text to an owner-only file."""
    write_private(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_private_dir(path: Path, fill: Callable[[Path], object]) -> None:
    """Create ``path`` as an owner-only directory (``0700``) filled by ``fill``: filled under a
    temporary name beside it, then moved into place, replacing whatever ``path`` held."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    tmp.mkdir(mode=0o700)
    try:
        fill(tmp)
        remove_path(path)
        tmp.rename(path)
    finally:
        if tmp.exists():
            remove_path(tmp)


def make_private(path: Path) -> None:
    """Make a file, or a directory and everything in it, owner-only (``0600`` files, ``0700``
    directories): for output another process wrote (a Spark dataset)."""
    if path.is_dir():
        path.chmod(0o700)
        for root, dirs, files in os.walk(path):
            for name in dirs:
                (Path(root) / name).chmod(0o700)
            for name in files:
                (Path(root) / name).chmod(0o600)
    elif path.exists():
        path.chmod(0o600)


def remove_path(path: Path) -> None:
    """Remove a file or a directory tree, if there is one."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
