"""``native``: the contract itself, as Parquet, JSON lines or CSV (optionally gzipped)."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.errors import DamagedFileError, UnknownFormatError
from distillguard.ingest._base import (
    READ_ERRORS,
    RawBatch,
    RecordAdapter,
    has_surrogate,
    iter_json_lines,
    open_binary,
    position,
    text_stream,
)
from distillguard.validate import Reject


def file_type(path: Path) -> str:
    """``parquet``, ``jsonl`` or ``csv`` from the file name (``.gz`` allowed for text)."""
    name = path.name.lower().removesuffix(".gz")
    for suffix, kind in (
        (".parquet", "parquet"),
        (".pq", "parquet"),
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "jsonl"),
        (".csv", "csv"),
    ):
        if name.endswith(suffix):
            return kind
    raise UnknownFormatError(
        "cannot tell the file type from its name: use .parquet, .jsonl, .ndjson, .json or .csv",
        path=path,
    )


def columns_of(path: Path) -> list[str]:
    """Column names of a native file, read from its header or first record."""
    kind = file_type(path)
    if kind == "parquet":
        try:
            return list(pq.read_schema(path).names)
        except (OSError, pa.ArrowException) as exc:
            raise DamagedFileError(f"not a readable Parquet file: {exc}", path=path) from exc
    if kind == "csv":
        try:
            with open_binary(path) as raw, text_stream(raw) as text:
                header = next(csv.reader(text), None)
        except (*READ_ERRORS, csv.Error, UnicodeDecodeError) as exc:
            raise DamagedFileError(f"cannot read the CSV header: {exc}", path=path) from exc
        return [h.strip() for h in header] if header else []
    # the first record that is a JSON object (a malformed first line is the row's reject)
    for number, _, parsed, _ in iter_json_lines(path, clip=0):
        if isinstance(parsed, DamagedFileError):
            raise DamagedFileError(parsed.reason, path=path, row=parsed.row)
        if isinstance(parsed, dict):
            return list(parsed)
        if number >= 1_000:
            break
    return []


class _ContractRecords(RecordAdapter):
    """JSON lines that already are contract rows: the mapping is the identity."""

    name = "native"

    def map_record(self, record: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
        return [dict(record)]


class NativeAdapter:
    name = "native"
    description = "the distillguard contract as Parquet, JSONL or CSV"

    def prepare(self, paths: Sequence[Path]) -> None:
        return None

    def batches(self, path: Path, batch_rows: int, clip: int) -> Iterator[RawBatch]:
        kind = file_type(path)
        if kind == "parquet":
            yield from self._parquet(path, batch_rows)
        elif kind == "csv":
            yield from self._csv(path, batch_rows, clip)
        else:
            yield from self._jsonl(path, batch_rows, clip)

    def _parquet(self, path: Path, batch_rows: int) -> Iterator[RawBatch]:
        row = 1
        try:
            pf = pq.ParquetFile(path)
            total, size = pf.metadata.num_rows, path.stat().st_size
            for rb in pf.iter_batches(batch_size=batch_rows):
                cols: dict[str, Any] = {name: rb.column(name) for name in rb.schema.names}
                numbers = list(range(row, row + rb.num_rows))
                row += rb.num_rows
                done_bytes = int(size * (row - 1) / total) if total else size
                yield RawBatch(cols, numbers, None, position=done_bytes)
        except (OSError, pa.ArrowException) as exc:
            reason = f"not readable from row {row} on: {exc}"
            raise DamagedFileError(reason[:500], path=path, row=row) from exc

    def _jsonl(self, path: Path, batch_rows: int, clip: int) -> Iterator[RawBatch]:
        return _ContractRecords().batches(path, batch_rows, clip)

    def _csv(self, path: Path, batch_rows: int, clip: int) -> Iterator[RawBatch]:
        source = str(path)
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        with open_binary(path) as raw, text_stream(raw) as text:
            reader = csv.reader(text)
            try:
                header = next(reader)
            except StopIteration:
                return
            except (*READ_ERRORS, csv.Error, UnicodeDecodeError) as exc:
                raise DamagedFileError(f"cannot read the CSV header: {exc}", path=path) from exc
            # a blank header cell (a spreadsheet's trailing comma) names its column by position
            names = [h.strip() or f"column_{i + 1}" for i, h in enumerate(header)]
            dupes = {n for n in names if names.count(n) > 1}
            if dupes:
                raise DamagedFileError(
                    f"CSV header repeats column(s): {', '.join(sorted(dupes))[:200]}",
                    path=path,
                    row=1,
                )
            cols: dict[str, list[Any]] = {n: [] for n in names}
            numbers: list[int] = []
            raws: list[str | None] = []
            rejects: list[Reject] = []
            number = 0
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    number += 1
                    rejects.append(Reject(source, number, "(record)", f"malformed CSV: {exc}"))
                    continue
                except READ_ERRORS as exc:
                    reason = f"unreadable after row {number}: {exc}"
                    rejects.append(Reject(source, number + 1, "(file)", reason))
                    break
                number += 1
                raw_text = ",".join(cells)[:clip]
                if len(cells) != len(names):
                    rejects.append(
                        Reject(
                            source,
                            number,
                            "(record)",
                            f"has {len(cells)} cells, the header has {len(names)}",
                            raw=raw_text,
                        )
                    )
                elif any(has_surrogate(c) for c in cells):
                    bad = next(n for n, c in zip(names, cells, strict=True) if has_surrogate(c))
                    rejects.append(Reject(source, number, bad, "not valid UTF-8", raw=raw_text))
                else:
                    for n, c in zip(names, cells, strict=True):
                        cols[n].append(c if c != "" else None)
                    numbers.append(number)
                    raws.append(raw_text)
                if len(numbers) + len(rejects) >= batch_rows:
                    yield _text_batch(cols, numbers, raws, rejects, position(raw))
                    cols = {n: [] for n in names}
                    numbers, raws, rejects = [], [], []
            yield _text_batch(cols, numbers, raws, rejects, position(raw))


def _text_batch(
    cols: dict[str, list[Any]],
    numbers: list[int],
    raws: list[str | None],
    rejects: list[Reject],
    pos: int,
) -> RawBatch:
    return RawBatch(
        {n: pa.array(v, pa.string()) for n, v in cols.items()}, numbers, raws, rejects, position=pos
    )
