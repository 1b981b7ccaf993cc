"""Row validation against the contract: typed Arrow out, every bad row reported.

The happy path is vectorised (one Arrow cast per column). Only when a column does not cast
cleanly are its values converted one by one, so that each bad value is reported with its
row number, field and reason. Nothing is dropped or coerced silently: a row is either
stored as given (parsed from text where the input is text) or written to the rejects file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.errors import InputError
from distillguard.schema import EXTRA_COLUMN, FieldSpec, KindSpec

ColumnInput: TypeAlias = pa.Array | pa.ChunkedArray | Sequence[Any]


@dataclass(frozen=True)
class Reject:
    """One rejected row: where it is, the first problem found, and all of them."""

    file: str
    row: int
    field: str
    reason: str
    problems: tuple[tuple[str, str], ...] = ()
    raw: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "file": self.file,
                "row": self.row,
                "field": self.field,
                "reason": self.reason,
                "problems": [{"field": f, "reason": r} for f, r in self.problems],
                "raw": self.raw,
            },
            ensure_ascii=False,
        )


@dataclass
class ValidatedBatch:
    """Valid rows as a contract-typed table, plus the rejects (with raw text if known)."""

    table: pa.Table
    rejects: list[Reject] = field(default_factory=list)


class _Problems:
    """Collects (row index → [(field, reason)]) while columns are checked."""

    def __init__(self, n: int) -> None:
        self.bad = np.zeros(n, dtype=bool)
        self.by_row: dict[int, list[tuple[str, str]]] = {}
        self._seen: set[tuple[int, str]] = set()

    def add(self, idx: int, field_name: str, reason: str) -> None:
        if (idx, field_name) in self._seen:
            return  # one reason per field: a value that failed to parse is not also "missing"
        self._seen.add((idx, field_name))
        self.bad[idx] = True
        self.by_row.setdefault(idx, []).append((field_name, reason))

    def add_mask(
        self, mask: np.ndarray, field_name: str, reason: str | Callable[[int], str]
    ) -> None:
        for idx in np.flatnonzero(mask):
            self.add(int(idx), field_name, reason(int(idx)) if callable(reason) else reason)


# --- per-value converters (the slow path) -------------------------------------------------


def _as_text(v: Any) -> str:
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"not valid UTF-8 (byte {exc.start})") from None
    if isinstance(v, str):
        return v
    raise ValueError(f"expected text, got {_describe(v)}")


def _to_string(v: Any) -> str:
    return _as_text(v)


def _to_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError(f"expected an integer, got {_describe(v)}")
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if math.isfinite(v) and v.is_integer():
            return int(v)
        raise ValueError(f"expected an integer, got {v!r}")
    if isinstance(v, str | bytes):
        text = _as_text(v).strip()
        try:
            return int(text)
        except ValueError:
            try:
                f = float(text)
            except ValueError:
                raise ValueError(f"expected an integer, got {_clip(text)!r}") from None
            if math.isfinite(f) and f.is_integer():
                return int(f)
            raise ValueError(f"expected an integer, got {_clip(text)!r}") from None
    raise ValueError(f"expected an integer, got {_describe(v)}")


def _to_float(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError(f"expected a number, got {_describe(v)}")
    if isinstance(v, int | float):
        f = float(v)
    elif isinstance(v, str | bytes):
        text = _as_text(v).strip()
        try:
            f = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {_clip(text)!r}") from None
    else:
        raise ValueError(f"expected a number, got {_describe(v)}")
    if not math.isfinite(f):
        raise ValueError(f"expected a finite number, got {f!r}")
    return f


_TRUE = {"true", "1", "yes", "t", "y"}
_FALSE = {"false", "0", "no", "f", "n"}


def _to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str | bytes):
        text = _as_text(v).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"expected true or false, got {_clip(text)!r}")
    raise ValueError(f"expected true or false, got {_describe(v)}")


def _to_timestamp(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    if isinstance(v, str | bytes):
        text = _as_text(v).strip()
        try:
            ts = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            raise ValueError(f"expected an ISO 8601 timestamp, got {_clip(text)!r}") from None
        return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    raise ValueError(f"expected an ISO 8601 timestamp, got {_describe(v)}")


def _to_json_text(v: Any) -> str:
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    return _as_text(v)


def _converter(t: pa.DataType, *, json_text: bool = False) -> Callable[[Any], Any]:
    if json_text:
        return _to_json_text
    if pa.types.is_timestamp(t):
        return _to_timestamp
    if pa.types.is_integer(t):
        return _to_int
    if pa.types.is_floating(t):
        return _to_float
    if pa.types.is_boolean(t):
        return _to_bool
    return _to_string


def _describe(v: Any) -> str:
    if isinstance(v, dict | list):
        return f"a JSON {'object' if isinstance(v, dict) else 'array'}"
    return f"{type(v).__name__} {_clip(repr(v))}"


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


# --- column coercion ----------------------------------------------------------------------


def _fast_cast(arr: pa.Array, target: pa.DataType) -> pa.Array | None:
    """The vectorised cast, or None when some value needs the slow path."""
    if arr.type == target:
        return arr
    try:
        if pa.types.is_timestamp(target) and pa.types.is_timestamp(arr.type):
            if arr.type.tz is None:
                arr = pc.assume_timezone(arr, "UTC")
            return pc.cast(arr, target, safe=False)  # sub-microsecond digits are dropped
        if pa.types.is_binary(arr.type) or pa.types.is_large_binary(arr.type):
            arr = pc.cast(arr, pa.string())
        if pa.types.is_null(arr.type):
            return pa.nulls(len(arr), target)
        if pa.types.is_string(target) and not (
            pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)
        ):
            return None  # numbers are not text: report them
        if pa.types.is_integer(target) and pa.types.is_floating(arr.type):
            return None  # 2.5 is not an integer: let the slow path say which row
        if pa.types.is_boolean(target) and not (
            pa.types.is_boolean(arr.type) or pa.types.is_string(arr.type)
        ):
            return None
        if (pa.types.is_integer(target) or pa.types.is_floating(target)) and pa.types.is_boolean(
            arr.type
        ):
            return None
        out = pc.cast(arr, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    if out.null_count != arr.null_count:
        return None
    return out


def _coerce(col: ColumnInput, spec: FieldSpec, problems: _Problems) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if isinstance(col, pa.Array):
        fast = _fast_cast(col, spec.type)
        if fast is not None:
            return fast
        values: Sequence[Any] = col.to_pylist()
    else:
        try:
            inferred = pa.array(col)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            inferred = None
        if inferred is not None:
            fast = _fast_cast(inferred, spec.type)
            if fast is not None:
                return fast
        values = col
    convert = _converter(spec.type, json_text=spec.json)
    out: list[Any] = []
    for idx, v in enumerate(values):
        if v is None or (
            isinstance(v, float) and math.isnan(v) and not pa.types.is_floating(spec.type)
        ):
            out.append(None)
            continue
        try:
            out.append(convert(v))
        except ValueError as exc:
            problems.add(idx, spec.name, str(exc))
            out.append(None)
        except OverflowError:
            problems.add(idx, spec.name, "value out of range")
            out.append(None)
    try:
        return pa.array(out, type=spec.type)
    except (pa.ArrowInvalid, OverflowError):
        # e.g. an integer beyond int64: find it
        fixed: list[Any] = []
        for idx, v in enumerate(out):
            try:
                pa.array([v], type=spec.type)
                fixed.append(v)
            except (pa.ArrowInvalid, OverflowError):
                problems.add(idx, spec.name, "value out of range")
                fixed.append(None)
        return pa.array(fixed, type=spec.type)


_IDENTIFIERS = frozenset({"request_id", "account_id"})


def _check(arr: pa.Array, spec: FieldSpec, problems: _Problems, max_text_bytes: int) -> None:
    valid = pc.is_valid(arr)
    if spec.choices:
        ok = pc.is_in(arr, value_set=pa.array(spec.choices))
        bad = pc.and_(valid, pc.invert(ok)).to_numpy(zero_copy_only=False)
        if bad.any():
            choices = ", ".join(spec.choices)
            values = arr.to_pylist()
            problems.add_mask(
                bad, spec.name, lambda i: f"{_clip(repr(values[i]))} is not one of: {choices}"
            )
    if pa.types.is_floating(arr.type):
        finite = pc.fill_null(pc.is_finite(arr), True).to_numpy(zero_copy_only=False)
        if not finite.all():
            values = arr.to_pylist()
            problems.add_mask(
                ~finite, spec.name, lambda i: f"expected a finite number, got {values[i]!r}"
            )
    if spec.minimum is not None or spec.maximum is not None:
        num = arr if not pa.types.is_timestamp(arr.type) else None
        if num is not None:
            lo = (
                pc.less(num, spec.minimum)
                if spec.minimum is not None
                else pa.nulls(len(arr), pa.bool_())
            )
            hi = (
                pc.greater(num, spec.maximum)
                if spec.maximum is not None
                else pa.nulls(len(arr), pa.bool_())
            )
            bad = pc.fill_null(pc.or_kleene(lo, hi), False).to_numpy(zero_copy_only=False)
            if bad.any():
                values = arr.to_pylist()
                rng = (
                    f"[{'' if spec.minimum is None else f'{spec.minimum:g}'}, "
                    f"{'' if spec.maximum is None else f'{spec.maximum:g}'}]"
                )
                problems.add_mask(bad, spec.name, lambda i: f"{values[i]!r} is outside {rng}")
    if spec.name in _IDENTIFIERS and pa.types.is_string(arr.type):
        # the identifiers rows are keyed and grouped by: present and not blank
        blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(arr), ""), False)
        blank_np = blank.to_numpy(zero_copy_only=False)
        if blank_np.any():
            problems.add_mask(blank_np, spec.name, lambda i: "empty")
    if pa.types.is_string(arr.type):
        lengths = pc.fill_null(pc.binary_length(arr), 0).to_numpy(zero_copy_only=False)
        big = lengths > max_text_bytes
        if big.any():
            problems.add_mask(
                big,
                spec.name,
                lambda i: (
                    f"{int(lengths[i]):,} bytes, over the limit of {max_text_bytes:,} "
                    "(ingest.max_text_bytes)"
                ),
            )


def _json_len(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return len(value) if isinstance(value, list) else None


def _derive(name: str, arr: pa.Array | None, typed: Mapping[str, pa.Array], n: int) -> pa.Array:
    """Fill a derived field where it is absent or null (see FieldSpec.derived)."""
    if arr is not None and arr.null_count == 0:
        return arr
    if name in ("n_messages", "n_tools"):
        source = typed.get("messages" if name == "n_messages" else "tools")
        src = source.to_pylist() if source is not None else [None] * n
        derived_vals = [(_json_len(t) if t is not None else None) for t in src]
        if name == "n_tools":
            defaults: list[int | None] = [0] * n
        else:
            # one user turn when there is a prompt; unknown when content was not captured
            prompt = typed.get("prompt")
            texts = prompt.to_pylist() if prompt is not None else [None] * n
            defaults = [1 if t else None for t in texts]
        fill = pa.array(
            [
                default if d is None else d
                for d, default in zip(derived_vals, defaults, strict=True)
            ],
            pa.int64(),
        )
    elif name == "status":
        fill = pa.array(np.full(n, 200, dtype=np.int32))
    else:  # thinking, allowlisted
        fill = pa.array(np.zeros(n, dtype=bool))
    return fill if arr is None else pc.if_else(pc.is_valid(arr), arr, fill)


def _extras(columns: Mapping[str, ColumnInput], known: set[str], n: int) -> pa.Array:
    extra_names = [c for c in columns if c not in known and c != EXTRA_COLUMN]
    prior = columns.get(EXTRA_COLUMN)
    if not extra_names and prior is None:
        return pa.nulls(n, pa.string())
    lists = {c: _pylist(columns[c]) for c in extra_names}
    prior_list = _pylist(prior) if prior is not None else [None] * n
    out: list[str | None] = []
    for i in range(n):
        obj: dict[str, Any] = {}
        prior_value = prior_list[i]
        if isinstance(prior_value, dict):
            obj.update(prior_value)
        elif isinstance(prior_value, str) and prior_value:
            try:
                loaded = json.loads(prior_value)
                obj.update(loaded if isinstance(loaded, dict) else {EXTRA_COLUMN: loaded})
            except ValueError:
                obj[EXTRA_COLUMN] = prior_value
        elif prior_value is not None:
            obj[EXTRA_COLUMN] = prior_value
        for c in extra_names:
            v = lists[c][i]
            if v is not None:
                obj[c] = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
        out.append(json.dumps(obj, ensure_ascii=False, default=str) if obj else None)
    return pa.array(out, pa.string())


def _pylist(col: ColumnInput) -> list[Any]:
    if isinstance(col, pa.Array | pa.ChunkedArray):
        return list(col.to_pylist())
    return list(col)


def validate_columns(
    spec: KindSpec,
    columns: Mapping[str, ColumnInput],
    *,
    source: str,
    row_numbers: Sequence[int] | np.ndarray,
    max_text_bytes: int,
    raw: Sequence[str | None] | None = None,
) -> ValidatedBatch:
    """Check one batch of columns against ``spec``.

    ``columns`` maps input column names to Arrow arrays or Python lists of equal length;
    ``row_numbers`` gives each row's 1-based number in ``source`` for the rejects.
    Raises :class:`InputError` when a required column is missing altogether.
    """
    n = len(row_numbers)
    for name, col in columns.items():
        if len(col) != n:
            raise InputError(f"column {name!r} has {len(col)} values for {n} rows", path=source)
    missing = [
        f.name for f in spec.fields if f.required and not f.derived and f.name not in columns
    ]
    if missing:
        raise InputError(
            f"missing required column(s) for {spec.kind.value}: {', '.join(missing)}", path=source
        )
    problems = _Problems(n)
    typed: dict[str, pa.Array] = {}
    for f in spec.fields:
        col = columns.get(f.name)
        if col is None:
            continue
        arr = _coerce(col, f, problems)
        _check(arr, f, problems, max_text_bytes)
        if f.required and not f.derived:
            nulls = pc.is_null(arr).to_numpy(zero_copy_only=False)
            if nulls.any():
                problems.add_mask(nulls, f.name, "required field is missing or null")
        typed[f.name] = arr
    for f in spec.fields:
        if f.derived:
            typed[f.name] = _derive(f.name, typed.get(f.name), typed, n)
    arrays = [typed.get(f.name, pa.nulls(n, f.type)) for f in spec.fields]
    arrays.append(_extras(columns, set(spec.names), n))
    table = pa.Table.from_arrays(arrays, schema=spec.arrow_schema())
    rejects: list[Reject] = []
    if problems.bad.any():
        table = table.filter(pa.array(~problems.bad))
        rows = list(row_numbers)
        for idx in sorted(problems.by_row):
            probs = problems.by_row[idx]
            rejects.append(
                Reject(
                    file=source,
                    row=int(rows[idx]),
                    field=probs[0][0],
                    reason=probs[0][1],
                    problems=tuple(probs),
                    raw=raw[idx] if raw is not None else None,
                )
            )
    return ValidatedBatch(table=table, rejects=rejects)
