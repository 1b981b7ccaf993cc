"""What every ingest adapter shares: the batch it yields, the reader of JSON lines, and
the helpers that pull text out of API message structures."""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from distillguard.errors import DamagedFileError, InputError
from distillguard.validate import Reject


@dataclass
class RawBatch:
    """Rows read from one file, not yet validated against the contract."""

    columns: dict[str, list[Any]]
    row_numbers: list[int]
    raw: list[str | None] | None = None
    rejects: list[Reject] = field(default_factory=list)
    """Rows that failed before validation (bad JSON, unmappable records)."""
    skipped: int = 0
    """Records that are not exchanges (e.g. embedding spans), counted, not rejected."""
    position: int = 0
    """Bytes of the file consumed so far (for progress)."""


class Adapter(Protocol):
    """An ingest format: reads a file and yields raw batches of contract columns."""

    name: str
    description: str

    def prepare(self, paths: Sequence[Path]) -> None:
        """Called once with every file of the command before any is read (formats that
        join files, like the Batch APIs', index their requests here)."""

    def batches(self, path: Path, batch_rows: int, clip: int) -> Iterator[RawBatch]: ...


class MappingFailure(ValueError):
    """A record cannot be mapped to the contract: names the field and the reason."""

    def __init__(self, field_name: str, reason: str) -> None:
        self.field = field_name
        self.reason = reason
        super().__init__(f"{field_name}: {reason}")


def open_binary(path: Path) -> IO[bytes]:
    """Open a file for reading, gunzipping ``*.gz``; errors name the file."""
    try:
        if path.suffix == ".gz":
            return gzip.open(path, "rb")  # type: ignore[return-value]  # owns the file it opens
        return path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror}", path=path) from exc


def position(handle: IO[bytes]) -> int:
    """Bytes consumed from the file under ``handle`` (the compressed size for gzip)."""
    fileobj = getattr(handle, "fileobj", None)
    target = fileobj if fileobj is not None else handle
    try:
        return int(target.tell())
    except (OSError, ValueError):
        return 0


READ_ERRORS = (OSError, EOFError, gzip.BadGzipFile, zlib.error)


def iter_json_lines(path: Path, clip: int) -> Iterator[tuple[int, str, Any, int]]:
    """Yield ``(line_number, raw_text, parsed_or_exception, byte_position)`` per non-blank line.

    ``parsed_or_exception`` is the parsed JSON, the reason it is not JSON, or (last) a
    :class:`DamagedFileError` when the file cannot be read further. Lone UTF-16 surrogates
    (``"\\ud800"``), which JSON allows and UTF-8 cannot carry, become U+FFFD."""
    number = 0
    with open_binary(path) as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                raw_text = line[: clip + 1].decode("utf-8", "replace").rstrip("\n")
                raw_text = raw_text[:clip]
                yield number, raw_text, parse_json(line), position(handle)
        except READ_ERRORS as exc:
            damage = DamagedFileError(f"unreadable after line {number}: {exc}", row=number + 1)
            yield number + 1, "", damage, position(handle)


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_DEPTH = 128
"""Records nested deeper than this are rejected: no API or logging format comes close, and
the code that reads them (here and in the store's JSON functions) recurses."""


def parse_json(data: bytes | str) -> Any:
    """JSON text parsed, or the exception saying why it is not JSON (deep nesting included)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _depth(raw) > MAX_DEPTH:
        return ValueError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        # bytes are decoded strictly (json.loads would let encoded surrogates through)
        parsed = json.loads(data.decode("utf-8-sig") if isinstance(data, bytes) else data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return exc if not isinstance(exc, RecursionError) else ValueError("nested too deeply")
    if _SURROGATE_ESCAPE.search(raw) or (isinstance(data, str) and has_surrogate(data)):
        parsed = _without_surrogates(parsed)
    return parsed


def has_surrogate(text: str) -> bool:
    """True when ``text`` holds a lone UTF-16 surrogate (UTF-8 cannot encode it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _depth(raw: bytes) -> int:
    """The deepest nesting of brackets outside strings in JSON text."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


def peek_keys(path: Path) -> list[str] | None:
    """Top-level keys of the first JSON object in a JSON-lines file, or None."""
    for _, _, parsed, _ in iter_json_lines(path, clip=0):
        return list(parsed.keys()) if isinstance(parsed, dict) else None
    return None


class RecordAdapter:
    """Base of the JSON-record adapters: subclasses map one record to exchange rows.

    ``account`` is the account of records that name none (``ingest --account``)."""

    name = "record"
    description = ""

    def __init__(self, account: str | None = None) -> None:
        self.account = account
        self.defaulted = 0
        """Records given ``account`` because they named none (the report says how many)."""

    def prepare(self, paths: Sequence[Path]) -> None:
        return None

    def with_account(self, record: Mapping[str, Any]) -> Mapping[str, Any]:
        """``record`` with ``account`` as its ``account_id`` when it names no account."""
        if self.account and identity(record, "account_id", "account", "user_id") in (None, ""):
            self.defaulted += 1
            return {**record, "account_id": self.account}
        return record

    def map_record(self, record: Mapping[str, Any]) -> Iterable[Any]:
        """The rows of one record; an item that is a :class:`MappingFailure` rejects one row
        of a record that holds several (a span of an OTLP export line)."""
        raise NotImplementedError

    def records(self, path: Path, clip: int) -> Iterator[tuple[int, str, Any, int]]:
        return iter_json_lines(path, clip)

    def batches(self, path: Path, batch_rows: int, clip: int) -> Iterator[RawBatch]:
        batch = _Builder()
        source = str(path)
        for number, raw_text, parsed, pos in self.records(path, clip):
            if isinstance(parsed, DamagedFileError):
                batch.reject(Reject(source, number, "(file)", parsed.reason, raw=None))
            elif isinstance(parsed, Exception):
                batch.reject(
                    Reject(source, number, "(record)", f"not valid JSON: {parsed}", raw=raw_text)
                )
            elif not isinstance(parsed, dict):
                batch.reject(
                    Reject(
                        source,
                        number,
                        "(record)",
                        f"expected a JSON object, got {type(parsed).__name__}",
                        raw=raw_text,
                    )
                )
            else:
                try:
                    rows = list(self.map_record(parsed))
                except MappingFailure as exc:
                    batch.reject(Reject(source, number, exc.field, exc.reason, raw=raw_text))
                except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
                    # a structure the format's documentation does not allow
                    reason = f"unexpected structure ({type(exc).__name__}: {exc})"[:300]
                    batch.reject(Reject(source, number, "(record)", reason, raw=raw_text))
                else:
                    rows = [row for row in rows if row is not None]
                    if not rows:
                        batch.skipped += 1
                    for row in rows:
                        if isinstance(row, MappingFailure):
                            batch.reject(
                                Reject(source, number, row.field, row.reason, raw=raw_text)
                            )
                        else:
                            batch.add(row, number, raw_text)
            batch.position = pos
            if batch.size >= batch_rows:
                yield batch.build()
                batch = _Builder()
        yield batch.build()


class _Builder:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.numbers: list[int] = []
        self.raw: list[str | None] = []
        self.rejects: list[Reject] = []
        self.skipped = 0
        self.position = 0

    @property
    def size(self) -> int:
        return len(self.rows) + len(self.rejects)

    def add(self, row: dict[str, Any], number: int, raw_text: str) -> None:
        self.rows.append(row)
        self.numbers.append(number)
        self.raw.append(raw_text)

    def reject(self, reject: Reject) -> None:
        self.rejects.append(reject)

    def build(self) -> RawBatch:
        names: dict[str, None] = {}
        for row in self.rows:
            names.update(dict.fromkeys(row))
        columns = {n: [row.get(n) for row in self.rows] for n in names}
        return RawBatch(columns, self.numbers, self.raw, self.rejects, self.skipped, self.position)


# --- helpers for API structures -----------------------------------------------------------


def loads_if_text(value: Any, field_name: str) -> Any:
    """Parse JSON given as text (LiteLLM and OTel store structures as strings)."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped[:1] in ("[", "{"):
            parsed = parse_json(stripped)
            if isinstance(parsed, Exception):
                raise MappingFailure(field_name, f"not valid JSON: {parsed}")
            return parsed
    return value


def content_text(content: Any) -> str:
    """Text of an OpenAI/Anthropic message ``content``: a string or a list of parts/blocks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                kind = part.get("type")
                if kind in ("text", "input_text", "output_text") and isinstance(
                    part.get("text"), str
                ):
                    parts.append(part["text"])
                elif kind == "tool_result":
                    parts.append(content_text(part.get("content")))
                elif kind == "tool_call_response":  # OpenTelemetry GenAI message parts
                    response = part.get("response")
                    parts.append(
                        response
                        if isinstance(response, str)
                        else json.dumps(response, ensure_ascii=False, default=str)
                    )
                elif isinstance(
                    part.get("content"), str
                ):  # OTel parts: {"type":"text","content":..}
                    parts.append(part["content"])
        return "\n".join(p for p in parts if p)
    if isinstance(content, dict):
        return content_text([content])
    return str(content)


def epoch_to_datetime(value: Any, field_name: str, *, unit: float = 1.0) -> datetime:
    """Seconds (or ``unit``-scaled numbers) since the epoch, or ISO text, as UTC."""
    if isinstance(value, bool) or value is None:
        raise MappingFailure(field_name, "missing timestamp")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value) / unit, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise MappingFailure(field_name, f"timestamp {value!r} out of range") from None
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return epoch_to_datetime(int(text), field_name, unit=unit)
        try:
            ts = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise MappingFailure(field_name, f"expected a timestamp, got {text[:60]!r}") from None
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    raise MappingFailure(field_name, f"expected a timestamp, got {type(value).__name__}")


_INT64 = 2**63


def as_int(value: Any, field_name: str) -> int | None:
    """An integer from a number or its text, within the 64-bit range the store holds."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MappingFailure(field_name, f"expected an integer, got {type(value).__name__}")
    if isinstance(value, int):
        number = value
    else:
        text = value.strip() if isinstance(value, str) else ""
        if text.lstrip("-").isdigit():
            if len(text.lstrip("-")) > 19:
                raise MappingFailure(field_name, f"integer {text[:30]} out of the 64-bit range")
            number = int(text)  # exact: nanosecond timestamps do not survive a float
        else:
            try:
                as_float = float(value)
            except ValueError:
                raise MappingFailure(
                    field_name, f"expected an integer, got {str(value)[:40]!r}"
                ) from None
            if not as_float.is_integer():
                raise MappingFailure(field_name, f"expected an integer, got {str(value)[:40]!r}")
            number = int(as_float)
    if not -_INT64 <= number < _INT64:
        raise MappingFailure(field_name, f"integer {str(number)[:30]} out of the 64-bit range")
    return number


def need_mapping(value: Any, field_name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MappingFailure(field_name, f"expected a JSON object, got {type(value).__name__}")
    return value


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def identity(record: Mapping[str, Any], *names: str) -> Any:
    """First non-empty value among top-level and ``metadata`` keys ``names``."""
    meta = as_dict(record.get("metadata"))
    for source in (record, meta):
        for name in names:
            value = source.get(name)
            if value not in (None, ""):
                return value
    return None


def text_stream(raw: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")


CALLER_FIELDS = (
    "org_id",
    "api_key_id",
    "ip",
    "asn",
    "asn_org",
    "country",
    "user_agent",
    "client_fp",
)


def caller_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """The caller identity a logging gateway stores beside a request/response pair.

    Looked up at the top level of the record and in its ``metadata`` object.
    """
    account = identity(record, "account_id", "account", "user_id")
    if account in (None, ""):
        raise MappingFailure("account_id", "no account_id at the top level or in metadata")
    out: dict[str, Any] = {"account_id": account}
    for name in CALLER_FIELDS:
        out[name] = identity(record, name)
    out["asn"] = as_int(out["asn"], "asn")
    status = identity(record, "status", "status_code")
    out["status"] = as_int(status, "status") if status is not None else None
    latency = identity(record, "latency_ms")
    out["latency_ms"] = latency
    return out
