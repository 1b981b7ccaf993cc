"""Ingest is total: whatever the bytes, every record becomes a row or a reject that names the
file, row and field; damaged files keep what was readable; the counts add up.

Two parts: the malformed files found so far (``fixtures/malformed/``, one expected outcome
each, worked out by hand), and Hypothesis fuzzing of every format from realistic records
mutated with hostile values. The number of examples per format is
``DISTILLGUARD_FUZZ_EXAMPLES`` (2,000 by default, as CI runs it; ``make fuzz`` runs more,
with fresh random examples).
"""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import distillguard as dg
from distillguard.ingest import ingest_files
from distillguard.ingest._runner import ACCOUNT_FORMATS, make_adapter, read_file
from distillguard.schema import KINDS, Kind

FIXTURES = Path(__file__).parent / "fixtures"
MALFORMED = FIXTURES / "malformed"
EXAMPLES = int(os.environ.get("DISTILLGUARD_FUZZ_EXAMPLES", "2000"))
FIXED = os.environ.get("DISTILLGUARD_FUZZ_RANDOM", "") == ""
"""CI replays the same examples every run; ``make fuzz`` draws new ones."""


def _read(path: Path, fmt: str, cfg: dg.Settings) -> tuple[int, list[tuple[int, str]], int, int]:
    """Rows kept, rejects as (row, field), records read and skipped."""
    adapter = make_adapter(fmt, "acct" if fmt in ACCOUNT_FORMATS else None)
    adapter.prepare([path])
    _, _, batches = read_file(path, fmt, cfg, adapter)
    rows = read = skipped = 0
    rejects: list[tuple[int, str]] = []
    for batch in batches:
        rows += batch.table.num_rows if batch.table is not None else 0
        rejects += [(r.row, r.field) for r in batch.rejects]
        read += batch.read
        skipped += batch.skipped
    return rows, rejects, read, skipped


# -- the malformed files found so far -------------------------------------------------------

CORPUS = {
    # file: (format, rows kept, rejects as (line, field))
    "openai.jsonl": ("openai", 2, [(2, "response.choices"), (4, "(record)"),
                                   (5, "usage.prompt_tokens")]),
    "anthropic.jsonl": ("anthropic", 3, [(4, "usage.output_tokens")]),
    "litellm.jsonl": ("litellm", 3, [(4, "startTime")]),
    # one bad span rejects only itself; every line repeats one call (same response id), so
    # line 11's span, the same call as line 1's, is merged into it rather than read again
    "otel.jsonl": ("otel", 14, [(2, "resourceSpans"), (6, "gen_ai.usage.input_tokens"),
                                (7, "gen_ai.request.temperature"), (8, "gen_ai.usage.output_tokens"),
                                (9, "startTimeUnixNano")]),
    "native.jsonl": ("native", 2, [(2, "request_id"), (3, "account_id")]),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_malformed_file_found_so_far_ends_as_rows_and_named_rejects(
    name: str, settings: dg.Settings
) -> None:
    fmt, rows, rejects = CORPUS[name]
    kept, found, read, skipped = _read(MALFORMED / name, fmt, settings)
    assert kept == rows
    assert found == rejects
    assert read == kept + len(found) + skipped


def test_a_gzip_of_garbage_is_one_file_reject(tmp_path: Path, settings: dg.Settings) -> None:
    path = tmp_path / "garbage.jsonl.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(7, 250, 3)))  # a gzip header, then noise
    kept, found, read, skipped = _read(path, "openai", settings)
    assert (kept, found, read, skipped) == (0, [(1, "(file)")], 1, 0)


def test_a_lone_surrogate_is_kept_as_a_replacement_character(settings: dg.Settings) -> None:
    _, _, batches = read_file(MALFORMED / "openai.jsonl", "openai", settings)
    tables = [b.table for b in batches if b.table is not None]
    prompts = pa.concat_tables(tables).column("prompt").to_pylist()
    assert "What\ufffds the weather like in Boston today?" in prompts


def test_a_truncated_gzip_keeps_every_row_before_the_cut(
    tmp_path: Path, settings: dg.Settings, store: dg.Store
) -> None:
    base = {"request_id": "", "ts": "2026-04-22T13:05:09Z", "account_id": "acct_1",
            "endpoint": "chat.completions", "model": "atlas-3", "prompt": "What is 17 * 23?",
            "n_messages": 1, "n_tools": 0, "thinking": False, "input_tokens": 9,
            "output_tokens": 3, "status": 200}  # fmt: skip
    lines = [json.dumps(dict(base, request_id=f"r{i}", prompt=f"q{i} " * 20)) for i in range(2000)]
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    report = ingest_files([path], "native", store, settings)
    (rep,) = report.files
    assert rep.inserted >= 1000  # the rows the readable two-thirds hold
    assert rep.rejected == 1
    assert rep.read == rep.inserted + rep.duplicates + rep.rejected + rep.skipped
    (reject,) = [json.loads(x) for x in Path(str(rep.rejects_path)).read_text().splitlines()]
    assert reject["field"] == "(file)"
    assert reject["row"] == rep.inserted + 1 or reject["row"] == rep.inserted + 2
    assert "unreadable after line" in reject["reason"]


def test_a_damaged_parquet_file_is_a_reject_not_an_error(
    tmp_path: Path, settings: dg.Settings, store: dg.Store
) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    (rep,) = ingest_files([path], "native", store, settings).files
    assert (rep.read, rep.inserted, rep.rejected) == (1, 0, 1)


# -- fuzzing ------------------------------------------------------------------------------------


def _records(name: str) -> list[dict[str, Any]]:
    out = []
    for line in (FIXTURES / name).read_text().splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


SEEDS: dict[str, list[dict[str, Any]]] = {
    "openai": _records("openai_pairs.jsonl"),
    "anthropic": _records("anthropic_pairs.jsonl"),
    "litellm": _records("litellm_spend_logs.jsonl"),
    "otel": _records("otel_spans.jsonl"),
    "native": [{f.name: f.example for f in KINDS[Kind.EXCHANGES].fields}],
}
SEEDS["native"] = [json.loads(json.dumps(r, default=str)) for r in SEEDS["native"]]
_CHAT_SSE = (
    'data: {"id":"c1","created":1780000000,"model":"m","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
    'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
)
_RESPONSES_SSE = (
    "event: response.created\n"
    'data: {"type":"response.created","response":{"id":"resp_1","created_at":1780000000}}\n\n'
    "event: response.output_text.delta\n"
    'data: {"type":"response.output_text.delta","delta":"hi"}\n\n'
)
_MESSAGES_SSE = (
    "event: message_start\n"
    'data: {"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":3}}}\n\n'
    "event: content_block_delta\n"
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}\n\n'
)


def _capture(url: str, request: dict[str, Any], body: str, status: int = 200) -> dict[str, Any]:
    return {
        "request": {"method": "POST", "url": url, "headers": {"user-agent": "u"},
                    "body": json.dumps(request)},
        "response": {"status_code": status, "headers": {"x-request-id": "req_1"}, "body": body},
        "metadata": {"account_id": "a", "ts": "2026-05-01T00:00:00Z"},
    }  # fmt: skip


_ASK = [{"role": "user", "content": "q"}]
SEEDS["openai"] += [
    _capture("http://h/v1/chat/completions", {"model": "m", "messages": _ASK}, _CHAT_SSE),
    _capture("http://h/v1/responses", {"model": "m", "input": "q"}, _RESPONSES_SSE),
    _capture(
        "http://h/v1/responses", {"model": "m", "input": _ASK}, '{"error": {"type": "x"}}', 429
    ),
]
SEEDS["anthropic"] += [
    _capture(
        "http://h/v1/messages", {"model": "m", "max_tokens": 5, "messages": _ASK}, _MESSAGES_SSE
    )
]
SEEDS["otel"] += [
    {"resourceLogs": [{"resource": {"attributes": [{"key": "tenant.id", "value": {"stringValue": "t"}}]},
      "scopeLogs": [{"logRecords": [
          {"eventName": "gen_ai.client.inference.operation.details", "traceId": "ab", "spanId": "cd",
           "timeUnixNano": "1780000000000000000",
           "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                          {"key": "gen_ai.input.messages", "value": {"arrayValue": {"values": [
                              {"kvlistValue": {"values": [{"key": "role", "value": {"stringValue": "user"}}]}}]}}}]},
          {"eventName": "gen_ai.user.message", "traceId": "ab", "spanId": "cd",
           "body": {"kvlistValue": {"values": [{"key": "content", "value": {"stringValue": "q"}}]}}}]}]}]},
]  # fmt: skip


def _kv(key: str, value: Any) -> dict[str, Any]:
    kind = "intValue" if isinstance(value, int) else "stringValue"
    return {"key": key, "value": {kind: str(value) if isinstance(value, int) else value}}


SEEDS["otel"] += [  # OpenInference conventions
    {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "ab", "spanId": "cd", "startTimeUnixNano": "1780000000000000000",
        "attributes": [_kv(k, v) for k, v in {
            "openinference.span.kind": "LLM", "llm.model_name": "m", "user.id": "u",
            "llm.invocation_parameters": '{"temperature": 0.2, "max_tokens": 9}',
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": "q",
            "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": "{}",
            "llm.token_count.prompt": 3, "output.mime_type": "application/json",
            "output.value": '{"id": "x"}', "llm.tools.0.tool.json_schema": '{"name": "t"}',
        }.items()]}]}]}]},
]  # fmt: skip
SEEDS["openai-batch"] = [
    {"custom_id": "t1", "method": "POST", "url": "/v1/chat/completions",
     "body": {"model": "m", "messages": _ASK}},
    {"id": "batch_req_1", "custom_id": "t1", "response": {"status_code": 200, "request_id": "r",
     "body": {"id": "c", "created": 1780000000, "choices": []}}, "error": None},
]  # fmt: skip
SEEDS["anthropic-batch"] = [
    {"custom_id": "t1", "params": {"model": "m", "max_tokens": 5, "messages": _ASK}},
    {"custom_id": "t1", "result": {"type": "succeeded", "message": {"id": "msg_1", "content": []}}},
]  # fmt: skip

HOSTILE_TEXT = ["", " ", "\ud800", "\udfff x", "\u0000", "\u202e<script>alert(1)</script>",
                "NaN", "Infinity", "1e999", "-9223372036854775809", "99999999999999999999",
                "2026-13-45T99:99:99Z", "☃" * 50, "a" * 5000]  # fmt: skip
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63, 2**64 - 1, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([1e308, -0.0, 5e-324]),
    st.text(max_size=12),
    st.sampled_from(HOSTILE_TEXT),
)
VALUES = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if len(prefix) < 10:
        if isinstance(value, dict):
            for k, v in value.items():
                out += _paths(v, (*prefix, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                out += _paths(v, (*prefix, i))
    return out


def _set(record: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node = record
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return record


@st.composite
def _record(draw: st.DrawFn, fmt: str) -> Any:
    record = copy.deepcopy(draw(st.sampled_from(SEEDS[fmt])))
    for _ in range(draw(st.integers(0, 3))):
        paths = _paths(record)
        path = paths[draw(st.integers(0, len(paths) - 1))]
        record = _set(record, path, draw(VALUES))
    return record


@st.composite
def _line(draw: st.DrawFn, fmt: str) -> bytes:
    text = json.dumps(draw(_record(fmt)), ensure_ascii=draw(st.booleans()))
    damage = draw(st.sampled_from(["none"] * 6 + ["cut", "bom", "bytes", "deep", "raw-surrogate"]))
    if damage == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif damage == "bom":
        text = "\ufeff" + text
    elif damage == "deep":
        depth = draw(st.sampled_from([100, 129, 1100]))
        text = text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    if damage == "bytes":
        return draw(st.binary(max_size=40))
    return text.encode("utf-8", "surrogatepass" if damage == "raw-surrogate" else "replace")


@st.composite
def _file(draw: st.DrawFn, fmt: str) -> tuple[str, bytes]:
    lines = draw(st.lists(_line(fmt), min_size=1, max_size=5))
    data = b"\n".join(lines) + b"\n"
    name = "f.jsonl"
    if fmt == "native":
        shape = draw(st.sampled_from(["jsonl", "csv", "parquet"]))
        if shape != "jsonl":
            records = [draw(_record(fmt)) for _ in range(draw(st.integers(1, 4)))]
            name, data = _native_file(shape, records)
    if not name.endswith(".parquet") and draw(st.booleans()):
        data, name = gzip.compress(data), name + ".gz"
    if draw(st.integers(0, 4)) == 0:
        data = data[: draw(st.integers(0, len(data)))]  # truncated
    return name, data


def _native_file(shape: str, records: list[Any]) -> tuple[str, bytes]:
    rows = [r if isinstance(r, dict) else {"value": r} for r in records]
    cells = [{k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in r.items()}
             for r in rows]  # fmt: skip
    if shape == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        names = list(dict.fromkeys(k for r in cells for k in r))
        writer.writerow(names)
        for r in cells:
            writer.writerow(["" if r.get(n) is None else r.get(n) for n in names])
        return "f.csv", out.getvalue().encode("utf-8", "replace")
    try:
        table = pa.Table.from_pylist(cells)
        buf = io.BytesIO()
        pq.write_table(table, buf)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        return "f.parquet", b"PAR1 unwritable rows"
    return "f.parquet", buf.getvalue()


def _fuzz(fmt: str, name: str, data: bytes, directory: Path, cfg: dg.Settings) -> None:
    path = directory / name
    path.write_bytes(data)
    try:
        rows, rejects, read, skipped = _read(path, fmt, cfg)
    except dg.FileKindError:
        return  # a native file whose first readable record has no contract columns
    assert read == rows + len(rejects) + skipped
    assert all(field for _, field in rejects)


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=FIXED,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_fuzzed_files_of_every_format_never_crash_ingest(
    fmt: str, tmp_path: Path, settings: dg.Settings
) -> None:
    @FUZZ
    @given(_file(fmt))
    def run(file: tuple[str, bytes]) -> None:
        _fuzz(fmt, *file, tmp_path, settings)

    run()


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_fuzzed_files_ingest_into_the_store_with_counts_that_add_up(
    fmt: str, tmp_path: Path, settings: dg.Settings, store: dg.Store
) -> None:
    @settings_for_store
    @given(_file(fmt))
    def run(file: tuple[str, bytes]) -> None:
        name, data = file
        path = tmp_path / name
        path.write_bytes(data)
        try:
            (rep,) = ingest_files([path], fmt, store, settings).files
        except dg.FileKindError:
            return
        assert rep.read == rep.inserted + rep.duplicates + rep.replaced + rep.rejected + rep.skipped

    run()


settings_for_store = settings(
    max_examples=max(EXAMPLES // 10, 50),
    deadline=None,
    derandomize=FIXED,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
