"""The ingest loop: read → validate → stage → merge, with rejects and progress."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pyarrow as pa

from distillguard.config import Settings
from distillguard.errors import DamagedFileError, FileKindError, InputError, UnknownFormatError
from distillguard.ingest._base import Adapter, RawBatch
from distillguard.ingest.native import NativeAdapter, columns_of, file_type
from distillguard.schema import KINDS, Kind, KindSpec, detect_kind
from distillguard.store import Store
from distillguard.validate import Reject, validate_columns

ProgressHook = Callable[[str, int, int], None]
"""Called as ``hook(path, bytes_done, bytes_total)``."""


@dataclass
class FileReport:
    """What ingesting one file did."""

    path: str
    kind: str
    format: str
    read: int = 0
    inserted: int = 0
    duplicates: int = 0
    replaced: int = 0
    rejected: int = 0
    skipped: int = 0
    rejects_path: str | None = None
    note: str | None = None
    """Why a file found in a directory was passed over (it holds no kind of record)."""


@dataclass
class IngestReport:
    files: list[FileReport] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def inserted(self) -> int:
        return sum(f.inserted for f in self.files)


def _kind_for(path: Path, fmt: str) -> tuple[KindSpec, bool]:
    """The record kind of ``path`` and whether it must be read natively."""
    try:
        cols = columns_of(path)
    except UnknownFormatError:
        if fmt == "native":
            raise
        cols = []
    spec = detect_kind(cols) if cols else None
    if spec is not None and spec.kind is not Kind.EXCHANGES:
        return spec, True
    if fmt == "native":
        if spec is None:
            raise FileKindError(
                "columns match no record kind: exchanges need request_id and prompt, accounts "
                "need account_id and created_at, truth needs account_id, label and persona "
                f"(found: {', '.join(cols[:12]) or 'no columns'})",
                path=path,
            )
        return spec, True
    return KINDS[Kind.EXCHANGES], False


class _RejectsFile:
    """Opened on the first reject only; one JSON line per rejected row."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def write(self, rejects: Sequence[Reject]) -> None:
        if not rejects:
            return
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # the raw rows hold prompts and personal data: readable by their owner only
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            # undecodable input bytes become \udcXX escapes: still valid JSON
            self._handle = open(fd, "w", encoding="utf-8", errors="backslashreplace")  # noqa: SIM115 - closed by close()
        for r in rejects:
            self._handle.write(r.to_json() + "\n")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def rejects_dir(settings: Settings) -> Path:
    """Rejects go beside the store: ``<store dir>/rejects/``."""
    db = str(settings.db)
    base = Path.cwd() if db == ":memory:" else Path(db).resolve().parent
    return base / "rejects"


@dataclass
class FileBatch:
    """One validated batch of a file: contract-typed rows, rejects, records skipped."""

    table: pa.Table | None
    rejects: list[Reject]
    read: int
    skipped: int
    position: int


ACCOUNT_FORMATS = ("openai", "anthropic", "openai-batch", "anthropic-batch", "otel")
"""The formats whose records may name no account, so ``account`` applies."""


def make_adapter(fmt: str, account: str | None = None, settings: Settings | None = None) -> Adapter:
    """The adapter of format ``fmt``; ``account`` for records that name none."""
    from distillguard.ingest import ADAPTERS
    from distillguard.ingest.otel import OtelAdapter

    if fmt not in ADAPTERS:
        raise UnknownFormatError(f"unknown format {fmt!r}; choose one of: {', '.join(ADAPTERS)}")
    if fmt == OtelAdapter.name and settings is not None:
        return OtelAdapter(account, settings.ingest.otel_account_attributes)
    if account is None:
        return ADAPTERS[fmt]()
    if fmt not in ACCOUNT_FORMATS:
        raise InputError(
            f"--account applies to the formats {', '.join(ACCOUNT_FORMATS)}, not {fmt!r} "
            "(whose records name their account)"
        )
    return ADAPTERS[fmt](account=account)  # type: ignore[call-arg]


def read_file(
    path: Path, fmt: str, settings: Settings, adapter: Adapter | None = None
) -> tuple[KindSpec | None, str, Iterator[FileBatch]]:
    """Read and validate one file, without touching a store: its record kind (None when
    nothing in it is readable), the format it is read in, and its batches.

    Total: whatever the bytes, every record read becomes a row or a reject naming the
    file, row and field; damage that stops the reading (a truncated or corrupt
    compressed file, a damaged Parquet file) is one more reject, after the rows before it.
    Only problems with the request itself raise (no such file, an unknown format, a file
    whose columns match no kind of record). ``adapter`` is the format's adapter when the
    caller has prepared one (:func:`make_adapter`)."""
    try:
        spec, native = _kind_for(path, fmt)
    except DamagedFileError as exc:
        damage = [Reject(str(path), exc.row, "(file)", exc.reason)]
        return None, fmt, iter([FileBatch(None, damage, 1, 0, 0)])
    if native:
        adapter = NativeAdapter()
    elif adapter is None:
        adapter = make_adapter(fmt)
    return spec, "native" if native else fmt, _batches(path, spec, adapter, settings)


def _batches(
    path: Path, spec: KindSpec, adapter: Adapter, settings: Settings
) -> Iterator[FileBatch]:
    limits = settings.ingest
    try:
        for raw in adapter.batches(path, limits.batch_rows, limits.max_reject_raw_bytes):
            yield _validated(raw, spec, path, settings)
    except DamagedFileError as exc:
        # the rows read before the damage are kept
        yield FileBatch(None, [Reject(str(path), exc.row, "(file)", exc.reason)], 1, 0, 0)


def _validated(raw: RawBatch, spec: KindSpec, path: Path, settings: Settings) -> FileBatch:
    rejects = list(raw.rejects)
    table = None
    if raw.row_numbers:
        batch = validate_columns(
            spec,
            raw.columns,
            source=str(path),
            row_numbers=raw.row_numbers,
            max_text_bytes=settings.ingest.max_text_bytes,
            raw=raw.raw,
        )
        rejects += batch.rejects
        table = batch.table
    # a record that maps to several rows (OTel) is read once but may be rejected per row
    read = len(raw.row_numbers) + len(raw.rejects) + raw.skipped
    return FileBatch(table, sorted(rejects, key=lambda r: r.row), read, raw.skipped, raw.position)


def ingest_files(
    paths: Sequence[str | Path],
    fmt: str,
    store: Store,
    settings: Settings,
    *,
    progress: ProgressHook | None = None,
    account: str | None = None,
) -> IngestReport:
    """Ingest ``paths`` (files or directories of files) in format ``fmt`` into ``store``.
    ``account`` is the account of records that name none (formats in ``ACCOUNT_FORMATS``).

    For each file, ``read`` = new + duplicates + replaced + rejected + skipped."""
    adapter = make_adapter(fmt, account, settings)
    report = IngestReport()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    files = list(_expand(paths))
    adapter.prepare([path for path, _ in files])
    for path, in_directory in files:
        try:
            spec, used, batches = read_file(path, fmt, settings, adapter)
        except FileKindError as exc:
            if not in_directory:
                raise
            # a manifest or notes beside the logs: named in the report, not ingested
            note = str(exc).removeprefix(f"{path}: ")
            report.files.append(FileReport(str(path), "none", "-", note=f"passed over: {note}"))
            continue
        rep = FileReport(str(path), spec.kind.value if spec else "unknown", used)
        rejects = _RejectsFile(rejects_dir(settings) / f"{path.name}.{stamp}.rejects.jsonl")
        total = path.stat().st_size
        if spec is not None:
            store.begin_load(spec.kind)
        seq = 0
        defaulted = getattr(adapter, "defaulted", 0)
        try:
            for batch in batches:
                rep.read += batch.read
                rep.skipped += batch.skipped
                rep.rejected += len(batch.rejects)
                rejects.write(batch.rejects)
                if spec is not None and batch.table is not None and batch.table.num_rows:
                    store.stage(spec.kind, batch.table, seq)
                    seq += batch.table.num_rows
                if progress is not None:
                    progress(str(path), min(batch.position, total), total)
            if spec is not None:
                merged = store.finish_load(spec.kind)
                rep.inserted, rep.duplicates, rep.replaced = (
                    merged.inserted,
                    merged.duplicates,
                    merged.replaced,
                )
        finally:
            rejects.close()
        if rep.rejected:
            rep.rejects_path = str(rejects.path)
        named_none = getattr(adapter, "defaulted", 0) - defaulted
        if named_none:
            rep.note = f"{named_none:,} record(s) named no account: ingested as {account!r}"
        report.files.append(rep)
    return report


def _expand(paths: Sequence[str | Path]) -> Iterator[tuple[Path, bool]]:
    """Each file to ingest, and whether it was found by expanding a directory."""
    seen = False
    for p in map(Path, paths):
        if p.is_dir():
            children = sorted(c for c in p.rglob("*") if c.is_file() and _readable(c))
            if not children:
                raise InputError("directory holds no .parquet, .jsonl, .json or .csv file", path=p)
            seen = True
            yield from ((c, True) for c in children)
        elif p.exists():
            seen = True
            yield p, False
        else:
            raise InputError("no such file", path=p)
    if not seen:
        raise InputError("no input files given")


def _readable(path: Path) -> bool:
    with contextlib.suppress(UnknownFormatError):
        file_type(path)
        return True
    return False
