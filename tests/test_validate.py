"""Row validation: typed output, every bad row reported with its row, field and reason."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import distillguard as dg
from helpers import exchange


def run(rows: list[dict[str, Any]], limit: int = 1 << 20) -> dg.ValidatedBatch:
    names: dict[str, None] = {}
    for r in rows:
        names.update(dict.fromkeys(r))
    cols = {n: [r.get(n) for r in rows] for n in names}
    return dg.validate_columns(
        dg.EXCHANGES,
        cols,
        source="in.jsonl",
        row_numbers=list(range(1, len(rows) + 1)),
        max_text_bytes=limit,
    )


def test_valid_rows_are_typed_and_derived_fields_filled() -> None:
    out = run([exchange(tools='[{"name": "a"}, {"name": "b"}]', messages='[{"role": "user"}]')])
    assert not out.rejects
    row = out.table.to_pylist()[0]
    assert row["n_tools"] == 2 and row["n_messages"] == 1
    assert row["thinking"] is False and row["status"] == 200
    assert row["ts"].isoformat() == "2026-04-22T10:00:00+00:00"


def test_n_messages_is_derived_from_messages_then_prompt_and_unknown_without_content() -> None:
    three = '[{"role": "system"}, {"role": "user"}, {"role": "assistant"}]'
    out = run(
        [
            exchange(request_id="a", messages=three),
            exchange(request_id="b", prompt="one turn"),
            exchange(request_id="c", prompt=""),  # content capture off: unknown, not 1
            exchange(request_id="d", prompt="", n_messages=4),
        ]
    )
    assert not out.rejects
    assert out.table.column("n_messages").to_pylist() == [3, 1, None, 4]


def test_token_counts_may_be_null_and_refusals_keep_their_status() -> None:
    out = run([exchange(input_tokens=None, output_tokens=None, status=429)])
    assert not out.rejects
    row = out.table.to_pylist()[0]
    assert (row["input_tokens"], row["output_tokens"], row["status"]) == (None, None, 429)


def test_text_is_parsed_not_coerced() -> None:
    out = run(
        [
            exchange(
                input_tokens="12",
                thinking="true",
                temperature="0.7",
                ts="2026-04-22 12:00:00+02:00",
            )
        ]
    )
    row = out.table.to_pylist()[0]
    assert (row["input_tokens"], row["thinking"], row["temperature"]) == (12, True, 0.7)
    assert row["ts"].hour == 10


@pytest.mark.parametrize(
    ("override", "field", "reason"),
    [
        ({"ts": "yesterday"}, "ts", "expected an ISO 8601 timestamp"),
        ({"ts": 1714000000}, "ts", "expected an ISO 8601 timestamp"),
        ({"account_id": None}, "account_id", "required field is missing or null"),
        ({"endpoint": "embeddings"}, "endpoint", "is not one of"),
        ({"input_tokens": -3}, "input_tokens", "is outside"),
        ({"input_tokens": 2.5}, "input_tokens", "expected an integer"),
        ({"input_tokens": True}, "input_tokens", "expected an integer"),
        ({"output_tokens": "many"}, "output_tokens", "expected an integer"),
        ({"status": 999}, "status", "is outside"),
        ({"temperature": float("inf")}, "temperature", "finite"),
        ({"thinking": "perhaps"}, "thinking", "expected true or false"),
        ({"prompt": {"text": "hi"}}, "prompt", "expected text, got a JSON object"),
        ({"asn": 2**40}, "asn", "is outside"),
        ({"input_tokens": 2**70}, "input_tokens", "out of range"),
    ],
)
def test_bad_value_rejects_the_row_with_field_and_reason(
    override: dict[str, Any], field: str, reason: str
) -> None:
    out = run([exchange(request_id="ok"), exchange(request_id="bad", **override)])
    assert out.table.column("request_id").to_pylist() == ["ok"]
    [rej] = out.rejects
    assert (rej.file, rej.row, rej.field) == ("in.jsonl", 2, field)
    assert reason in rej.reason


def test_all_problems_of_a_row_are_listed_once_each() -> None:
    out = run([exchange(ts="nope", endpoint="x", input_tokens=-1)])
    [rej] = out.rejects
    assert [f for f, _ in rej.problems] == ["ts", "endpoint", "input_tokens"]


def test_missing_required_column_is_a_file_error() -> None:
    row = exchange()
    del row["prompt"]
    with pytest.raises(
        dg.InputError, match=r"in.jsonl: missing required column\(s\) for exchanges: prompt"
    ):
        run([row])


def test_empty_prompt_is_allowed_but_null_is_not() -> None:
    out = run([exchange(request_id="a", prompt=""), exchange(request_id="b", prompt=None)])
    assert out.table.column("request_id").to_pylist() == ["a"]
    assert out.rejects[0].field == "prompt"


def test_huge_text_field_is_rejected_with_its_size() -> None:
    out = run([exchange(prompt="x" * 5000)], limit=4096)
    [rej] = out.rejects
    assert rej.field == "prompt" and "5,000 bytes, over the limit of 4,096" in rej.reason


HOSTILE = [
    "'; DROP TABLE exchanges; --",
    "\x00\x01\x1b[31mred\x1b[0m",
    "\u202eevil\u202c \u200b zero-width",
    "𝕳𝖊𝖑𝖑𝖔 🤖 – 你好 – مرحبا",
    "{{7*7}} ${jndi:ldap://x} <script>alert(1)</script>",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_are_kept_verbatim(text: str) -> None:
    out = run([exchange(prompt=text, account_id=text, user_agent=text)])
    assert not out.rejects
    row = out.table.to_pylist()[0]
    assert row["prompt"] == row["account_id"] == row["user_agent"] == text


def test_unknown_columns_are_kept_in_extra() -> None:
    out = run([exchange(team="blue", cost=0.12, tags=["a", "b"]), exchange(request_id="r2")])
    extra = out.table.column("extra").to_pylist()
    assert extra[0] == '{"team": "blue", "cost": 0.12, "tags": ["a", "b"]}'
    assert extra[1] is None


def test_json_structures_for_messages_and_tools_become_json_text() -> None:
    out = run([exchange(messages=[{"role": "user", "content": "hi"}], tools=[{"name": "t"}])])
    row = out.table.to_pylist()[0]
    assert row["messages"] == '[{"role": "user", "content": "hi"}]'
    assert row["n_messages"] == 1 and row["n_tools"] == 1


def test_arrow_input_takes_the_vectorised_path_and_still_names_bad_rows() -> None:
    cols = {k: pa.array([v, v]) for k, v in exchange().items()}
    cols["request_id"] = pa.array(["a", "b"])
    cols["input_tokens"] = pa.array(["5", "five"])
    out = dg.validate_columns(
        dg.EXCHANGES, cols, source="x.parquet", row_numbers=[10, 11], max_text_bytes=1 << 20
    )
    assert out.table.column("input_tokens").to_pylist() == [5]
    assert (out.rejects[0].row, out.rejects[0].field) == (11, "input_tokens")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.dictionaries(st.sampled_from([*exchange(), "n_tools", "junk"]), json_values),
        min_size=1,
        max_size=6,
    )
)
def test_any_json_input_is_either_stored_or_rejected_never_crashes(
    rows: list[dict[str, Any]],
) -> None:
    base = [{**exchange(request_id=f"r{i}"), **r} for i, r in enumerate(rows)]
    out = run(base)
    assert out.table.num_rows + len(out.rejects) == len(base)
    assert out.table.schema.equals(dg.EXCHANGES.arrow_schema(), check_metadata=False)
    for rej in out.rejects:
        assert rej.field and rej.reason and 1 <= rej.row <= len(base)
