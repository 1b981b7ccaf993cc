"""Exchanges made with the official ``openai`` and ``anthropic`` SDKs, captured byte for byte
under the client (tests/sdk_capture.py), ingested, and compared field by field with what the
SDK sent and what it handed back to its caller."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

import distillguard as dg
from distillguard.gateway import create_mock_app
from sdk_capture import Capture, capture_transport

BASE = "http://upstream.test"


def _http(sdk: Any) -> Any:
    """The HTTP package the SDK is built on (httpx, or httpx2 in newer releases)."""
    import importlib

    name = "httpx2" if "httpx2" in sdk._base_client.__dict__ else "httpx"
    return importlib.import_module(name)


def _capture(sdk: Any, account: str) -> Capture:
    return capture_transport(_http(sdk), create_mock_app(), account)  # type: ignore[no-any-return]


def _rows(store: dg.Store) -> dict[str, dict[str, Any]]:
    rows = store.query("SELECT * FROM exchanges").to_pylist()
    return {r["prompt"]: r for r in rows}


def _ingest(
    tmp_path: Path, store: dg.Store, settings: dg.Settings, records: list[Any], fmt: str
) -> dg.IngestReport:
    path = tmp_path / f"{fmt}-capture.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return dg.ingest_files([path], fmt, store, settings)


async def _openai_calls(capture: Capture) -> dict[str, Any]:
    """Calls as an application would make them; what the SDK returned, by prompt."""
    client = openai.AsyncOpenAI(
        api_key="sk-test-not-logged",
        base_url=f"{BASE}/v1",
        http_client=capture.http.AsyncClient(transport=capture),
        max_retries=0,
    )
    got: dict[str, Any] = {}
    got["chat plain"] = await client.chat.completions.create(
        model="gpt-test",
        messages=[
            {"role": "developer", "content": "Answer in one line."},
            {"role": "user", "content": "chat plain"},
        ],
        temperature=0.2,
        max_completion_tokens=400,
        safety_identifier="end-user-1",
    )
    text = []
    stream = await client.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "chat stream without usage"}],
        stream=True,
        user="end-user-2",
    )
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
    got["chat stream without usage"] = "".join(text)
    chunks = []
    stream = await client.chat.completions.create(
        model="gpt-test",
        messages=[{"role": "user", "content": "chat stream with tools"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
        reasoning_effort="high",
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        chunks.append(chunk)
    got["chat stream with tools"] = chunks
    got["responses plain"] = await client.responses.create(
        model="gpt-test",
        instructions="You are terse.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "responses plain"}]}],
        reasoning={"effort": "high", "summary": "auto"},
        max_output_tokens=300,
        safety_identifier="end-user-3",
    )
    events = []
    stream = await client.responses.create(
        model="gpt-test",
        input="responses stream with tools",
        tools=[{"type": "function", "name": "get_weather", "parameters": {}, "strict": False}],
        stream=True,
    )
    async for event in stream:
        events.append(event)
    got["responses stream with tools"] = events
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(
            model="error-429", messages=[{"role": "user", "content": "refused"}]
        )
    return got


def test_openai_sdk_captures_are_read_field_by_field(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    capture = _capture(openai, "acct_sdk")
    got = asyncio.run(_openai_calls(capture))
    rep = _ingest(tmp_path, store, settings, capture.records, "openai")
    assert (rep.inserted, rep.rejected) == (6, 0)
    rows = _rows(store)

    plain, sent = rows["chat plain"], got["chat plain"]
    assert (plain["endpoint"], plain["model"], plain["system"]) == (
        "chat.completions",
        "gpt-test",
        "Answer in one line.",
    )
    assert (plain["temperature"], plain["max_tokens"], plain["end_user"]) == (
        0.2,
        400,
        "end-user-1",
    )
    assert plain["response"] == sent.choices[0].message.content
    assert (plain["response_id"], plain["request_id"]) == (sent.id, sent.id)
    assert (plain["input_tokens"], plain["output_tokens"]) == (
        sent.usage.prompt_tokens,
        sent.usage.completion_tokens,
    )
    assert plain["stop_reason"] == "stop" and plain["status"] == 200
    assert plain["user_agent"].startswith("AsyncOpenAI/Python")
    assert plain["account_id"] == "acct_sdk" and plain["ip"] == "203.0.113.9"
    assert "sk-test-not-logged" not in json.dumps(capture.records)

    # the SDK's default stream has no usage: stored with null token counts, not rejected
    bare = rows["chat stream without usage"]
    assert bare["response"] == got["chat stream without usage"]
    assert (bare["input_tokens"], bare["output_tokens"], bare["end_user"]) == (
        None,
        None,
        "end-user-2",
    )
    assert json.loads(bare["extra"])["stream"] is True

    tools, chunks = rows["chat stream with tools"], got["chat stream with tools"]
    args = "".join(
        c.choices[0].delta.tool_calls[0].function.arguments
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
    )
    assert tools["response"] == args and json.loads(tools["extra"])["tool_calls"] == 1
    assert tools["n_tools"] == 1 and tools["thinking"] is True
    assert tools["reasoning"] and tools["stop_reason"] == "tool_calls"
    assert tools["output_tokens"] == chunks[-1].usage.completion_tokens

    resp, sent_r = rows["responses plain"], got["responses plain"]
    assert (resp["endpoint"], resp["system"], resp["end_user"]) == (
        "responses",
        "You are terse.",
        "end-user-3",
    )
    assert resp["response"] == sent_r.output_text and resp["response_id"] == sent_r.id
    assert resp["reasoning"] == sent_r.output[0].summary[0].text
    assert (resp["thinking"], resp["max_tokens"]) == (True, 300)
    assert (resp["input_tokens"], resp["output_tokens"], resp["reasoning_tokens"]) == (
        sent_r.usage.input_tokens,
        sent_r.usage.output_tokens,
        sent_r.usage.output_tokens_details.reasoning_tokens,
    )

    streamed, events = rows["responses stream with tools"], got["responses stream with tools"]
    final = events[-1].response
    assert streamed["response"] == final.output[0].arguments
    assert streamed["response_id"] == final.id and streamed["n_tools"] == 1
    assert streamed["output_tokens"] == final.usage.output_tokens

    refused = rows["refused"]
    assert (refused["status"], refused["input_tokens"], refused["output_tokens"]) == (
        429,
        None,
        None,
    )
    assert refused["response"] is None and refused["request_id"].startswith("req_")
    assert json.loads(refused["extra"])["error"] == "rate_limit_exceeded"


async def _anthropic_calls(capture: Capture) -> dict[str, Any]:
    client = anthropic.AsyncAnthropic(
        api_key="sk-ant-not-logged",
        base_url=BASE,
        http_client=capture.http.AsyncClient(transport=capture),
        max_retries=0,
    )
    got: dict[str, Any] = {}
    got["messages plain"] = await client.messages.create(
        model="claude-test",
        system=[{"type": "text", "text": "Be brief."}],
        messages=[{"role": "user", "content": "messages plain"}],
        max_tokens=500,
        thinking={"type": "enabled", "budget_tokens": 1024},
        metadata={"user_id": "end-user-9"},
    )
    async with client.messages.stream(
        model="claude-test",
        messages=[{"role": "user", "content": "messages stream with tools"}],
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
        max_tokens=200,
    ) as stream:
        got["messages stream with tools"] = await stream.get_final_message()
    with pytest.raises(anthropic.PermissionDeniedError):
        await client.messages.create(
            model="error-403", messages=[{"role": "user", "content": "refused"}], max_tokens=10
        )
    return got


def test_anthropic_sdk_captures_are_read_field_by_field(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    capture = _capture(anthropic, "acct_claude")
    got = asyncio.run(_anthropic_calls(capture))
    rep = _ingest(tmp_path, store, settings, capture.records, "anthropic")
    assert (rep.inserted, rep.rejected) == (3, 0)
    rows = _rows(store)

    plain, sent = rows["messages plain"], got["messages plain"]
    assert (plain["endpoint"], plain["system"], plain["end_user"]) == (
        "messages",
        "Be brief.",
        "end-user-9",
    )
    assert (plain["thinking"], plain["max_tokens"], plain["temperature"]) == (True, 500, None)
    assert plain["response"] == sent.content[1].text
    assert plain["reasoning"] == sent.content[0].thinking
    assert (plain["response_id"], plain["response_model"]) == (sent.id, sent.model)
    assert (plain["input_tokens"], plain["output_tokens"]) == (
        sent.usage.input_tokens,
        sent.usage.output_tokens,
    )
    assert json.loads(plain["extra"])["thinking_budget_tokens"] == 1024
    assert plain["user_agent"].startswith("AsyncAnthropic/Python")

    tools, final = rows["messages stream with tools"], got["messages stream with tools"]
    assert tools["response"] == json.dumps(final.content[0].input)
    assert (tools["stop_reason"], tools["output_tokens"]) == ("tool_use", final.usage.output_tokens)
    assert tools["response_id"] == final.id and json.loads(tools["extra"])["stream"] is True

    refused = rows["refused"]
    assert (refused["status"], refused["input_tokens"], refused["response"]) == (403, None, None)
    assert json.loads(refused["extra"])["error"] == "permission_error"
