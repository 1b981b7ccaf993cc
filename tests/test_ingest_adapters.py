"""The API-log adapters, on records written from each format's public documentation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import distillguard as dg
from conftest import FIXTURES
from helpers import read_rejects


def load(
    store: dg.Store, settings: dg.Settings, name: str, fmt: str
) -> tuple[dg.IngestReport, dict[str, dict[str, Any]]]:
    rep = dg.ingest_files([FIXTURES / name], fmt, store, settings)
    rows = {r["request_id"]: r for r in store.read().to_pylist()}
    return rep, rows


def test_openai_pairs(store: dg.Store, settings: dg.Settings) -> None:
    rep, rows = load(store, settings, "openai_pairs.jsonl", "openai")
    assert (rep.inserted, rep.rejected) == (3, 3)
    tool = rows["chatcmpl-abc123"]
    assert tool["account_id"] == "acct_openai_1" and tool["endpoint"] == "chat.completions"
    assert tool["system"] == "You are a helpful assistant."
    assert tool["prompt"] == "What's the weather like in Boston today?"
    assert (tool["n_messages"], tool["n_tools"], tool["input_tokens"], tool["output_tokens"]) == (
        2,
        1,
        82,
        17,
    )
    assert tool["stop_reason"] == "tool_calls" and tool["ts"].year == 2023
    assert '"tool_calls": 1' in tool["extra"]
    o3 = rows["req-o3-1"]
    assert o3["thinking"] is True and o3["reasoning_tokens"] == 1152 and o3["max_tokens"] == 4096
    assert o3["system"] == "Answer concisely." and o3["prompt"].startswith("Prove that")
    batch = rows["chatcmpl-batch1"]
    assert batch["account_id"] == "acct_openai_3" and batch["response"] == "Hello! How can I help?"
    reasons = {r["row"]: (r["field"], r["reason"]) for r in read_rejects(rep)}
    assert reasons[4][0] == "request.messages"
    assert reasons[5] == ("account_id", "no account_id at the top level or in metadata")
    assert reasons[6][1].startswith("not valid JSON")


def test_anthropic_pairs(store: dg.Store, settings: dg.Settings) -> None:
    rep, rows = load(store, settings, "anthropic_pairs.jsonl", "anthropic")
    assert (rep.inserted, rep.rejected) == (2, 2)
    think = rows["msg_01ABC"]
    assert think["endpoint"] == "messages" and think["thinking"] is True
    assert think["system"] == "You are a careful mathematician."
    assert think["response"] == "Yes, there are infinitely many primes congruent to 3 mod 4."
    assert think["input_tokens"] == 50 and think["ts"].hour == 6
    assert '"thinking_budget_tokens": 10000' in think["extra"]
    tool = rows["req_anth_2"]
    assert tool["prompt"] == "15 degrees" and tool["n_messages"] == 3 and tool["n_tools"] == 1
    fields = {r["row"]: r["field"] for r in read_rejects(rep)}
    assert fields == {3: "ts", 4: "(record)"}


@pytest.mark.parametrize("name", ["otel_spans.jsonl", "otel_export.json"])
def test_otel_genai_spans(store: dg.Store, settings: dg.Settings, name: str) -> None:
    rep, rows = load(store, settings, name, "otel")
    assert (rep.inserted, rep.rejected, rep.files[0].skipped) == (2, 0, 0)
    chat = rows["chatcmpl-otel-1"]
    assert (chat["account_id"], chat["org_id"], chat["ip"], chat["asn"]) == (
        "acct_otel_1",
        "org_9",
        "192.0.2.10",
        16509,
    )
    assert chat["prompt"] == "Weather in Paris?" and chat["response"] == "Rainy, 57°F"
    assert chat["system"] == "You are a language translator."
    assert (
        chat["max_tokens"],
        chat["temperature"],
        chat["input_tokens"],
        chat["output_tokens"],
    ) == (200, 0.5, 97, 52)
    assert chat["n_tools"] == 1 and chat["stop_reason"] == "stop" and chat["latency_ms"] == 1500.0
    failed = next(r for k, r in rows.items() if k.endswith(":bbb19b7ec3c1b176"))
    assert (
        failed["endpoint"] == "messages"
        and failed["status"] == 500
        and failed["account_id"] == "acct_otel_2"
    )


def test_otel_rejects_spans_without_identity(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    doc = '{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"1","attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}}]}]}]}]}'
    (tmp_path / "s.jsonl").write_text(doc + "\n" + '{"not": "otlp"}\n')
    rep = dg.ingest_files([tmp_path / "s.jsonl"], "otel", store, settings)
    assert [(r["row"], r["field"]) for r in read_rejects(rep)] == [
        (1, "account_id"),
        (2, "resourceSpans"),
    ]


@pytest.mark.parametrize("name", ["litellm_spend_logs.jsonl", "litellm_spend_logs.csv"])
def test_litellm_spend_logs(store: dg.Store, settings: dg.Settings, name: str) -> None:
    rep, rows = load(store, settings, name, "litellm")
    ok = rows["chatcmpl-e41836bb-bb8b-4df2-8e70-8f3e160155ac"]
    assert (ok["account_id"], ok["org_id"], ok["ip"]) == ("krrish@berri.ai", "org-1", "127.0.0.1")
    assert ok["api_key_id"].startswith("88dc28d0") and ok["latency_ms"] == 1500.0
    assert (
        ok["prompt"] == "this is a test request, write a short poem" and ok["system"] == "be terse"
    )
    assert ok["response"] == "Roses are red." and (ok["input_tokens"], ok["output_tokens"]) == (
        11,
        30,
    )
    assert ok["end_user"] == "palantir"
    failed = rows["req-failed-1"]
    assert (
        failed["status"] == 429 and failed["account_id"] == "hashedkey2" and failed["prompt"] == ""
    )
    if name.endswith(".jsonl"):
        assert (rep.inserted, rep.files[0].skipped, rep.rejected) == (2, 1, 1)
        assert read_rejects(rep)[0]["field"] == "startTime"


def test_every_adapter_has_the_same_interface() -> None:
    assert set(dg.ADAPTERS) == {
        "native",
        "openai",
        "anthropic",
        "otel",
        "litellm",
        "openai-batch",
        "anthropic-batch",
    }
    for name, cls in dg.ADAPTERS.items():
        adapter = cls()
        assert adapter.name == name and adapter.description
        assert callable(adapter.batches)


def test_otel_end_user_reasoning_tokens_and_refusals(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    def attr(key: str, value: Any) -> dict[str, Any]:
        kind = "intValue" if isinstance(value, int) else "stringValue"
        return {"key": key, "value": {kind: str(value) if kind == "intValue" else value}}

    def span(span_id: str, status: int, **extra: Any) -> dict[str, Any]:
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
                 "distillguard.account_id": "acct_1", "enduser.id": "app-user-5",
                 "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 40,
                 "gen_ai.usage.reasoning.output_tokens": 25, "gen_ai.response.id": f"resp-{span_id}",
                 "gen_ai.response.model": "m-2026", "http.response.status_code": status, **extra}  # fmt: skip
        return {"traceId": "t", "spanId": span_id, "startTimeUnixNano": "1780000000000000000",
                "attributes": [attr(k, v) for k, v in attrs.items()]}  # fmt: skip

    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [span("a", 200), span("b", 429)]}]}]}
    (tmp_path / "s.jsonl").write_text(json.dumps(doc) + "\n")
    rep = dg.ingest_files([tmp_path / "s.jsonl"], "otel", store, settings)
    assert (rep.inserted, rep.rejected) == (2, 0)
    rows = {r["request_id"]: r for r in store.query("SELECT * FROM exchanges").to_pylist()}
    ok, refused = rows["resp-a"], rows["resp-b"]
    assert (ok["account_id"], ok["end_user"], ok["reasoning_tokens"]) == (
        "acct_1",
        "app-user-5",
        25,
    )
    assert (ok["response_id"], ok["response_model"], ok["input_tokens"]) == ("resp-a", "m-2026", 12)
    assert (refused["status"], refused["input_tokens"], refused["output_tokens"]) == (
        429,
        None,
        None,
    )


def test_otel_indexed_prompt_attributes_of_earlier_openllmetry_releases() -> None:
    from distillguard.ingest.otel import in_genai_terms

    attrs = in_genai_terms(
        {
            "llm.request.type": "chat",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "second",
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "first",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "answer",
            "gen_ai.completion.0.finish_reason": "stop",
            "gen_ai.usage.prompt_tokens": 5,
            "gen_ai.usage.completion_tokens": 2,
        }
    )
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.input.messages"] == [
        {"role": "system", "parts": [{"type": "text", "content": "first"}]},
        {"role": "user", "parts": [{"type": "text", "content": "second"}]},
    ]
    assert attrs["gen_ai.output.messages"][0]["parts"][0]["content"] == "answer"
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (5, 2)
