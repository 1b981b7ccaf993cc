"""The gateway end to end: the official OpenAI and Anthropic SDKs as clients, a real gateway
process in front of a local upstream speaking both APIs, every decision type, bad input."""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

import distillguard as dg
from gateway_helpers import (
    ADMIN,
    GatewayProc,
    gateway_config,
    mock_upstream,
    start_gateway,
    wait_logged,
)

THINK = {"type": "enabled", "budget_tokens": 1024}
ASK = [{"role": "user", "content": "What is 17 * 23?"}]
TOOLS_OAI = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
]
TOOLS_ANT = [{"name": "get_weather", "input_schema": {"type": "object"}}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with mock_upstream() as url:
        yield url


@pytest.fixture(scope="module")
def gw(upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProc]:
    tmp = tmp_path_factory.mktemp("gw")
    cfg = gateway_config(tmp, upstream, verification={"url": "https://verify.example/start"})
    proc = start_gateway(tmp, cfg)
    yield proc
    proc.stop()


_n = 0


def new_account(gw: GatewayProc, **fields: Any) -> tuple[str, str]:
    global _n
    _n += 1
    account_id = f"acct_t{_n:04d}"
    fields.setdefault("tier", "build")
    fields.setdefault("verification", "id")
    fields.setdefault("created_at", "2025-01-01T00:00:00Z")
    return account_id, gw.account(account_id, **fields)


_clients: list[Any] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def oai(gw: GatewayProc, key: str) -> openai.OpenAI:
    client = openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0)
    _clients.append(client)
    return client


def ant(gw: GatewayProc, key: str) -> anthropic.Anthropic:
    client = anthropic.Anthropic(base_url=gw.url, api_key=key, max_retries=0)
    _clients.append(client)
    return client


def log_dir(gw: GatewayProc) -> Path:
    return gw.config_path.parent / "log"


def rows_for(gw: GatewayProc, account_id: str, n: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 15
    while True:
        rows = [r for r in wait_logged(log_dir(gw), 0) if r["account_id"] == account_id]
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


# -- the SDKs through the gateway ------------------------------------------------------------------
def test_openai_sdk_plain_stream_tools_reasoning_and_logged(gw: GatewayProc) -> None:
    account_id, key = new_account(gw)
    client = oai(gw, key)
    r = client.chat.completions.create(model="atlas-3", messages=ASK)  # type: ignore[arg-type]
    assert r.choices[0].message.content == "The answer is 391. Multiplying 17 by 23 gives 391."
    assert r.usage is not None and r.usage.completion_tokens == 10
    chunks = list(client.chat.completions.create(model="atlas-3", messages=ASK, stream=True))  # type: ignore[call-overload]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == r.choices[0].message.content
    # the gateway asked for usage to log it, and hid it again since the client did not ask
    assert all(c.choices for c in chunks)
    with_usage = list(client.chat.completions.create(model="atlas-3", messages=ASK, stream=True,  # type: ignore[call-overload]
                                                     stream_options={"include_usage": True}))  # fmt: skip
    assert with_usage[-1].usage is not None and with_usage[-1].usage.completion_tokens == 10
    t = client.chat.completions.create(model="atlas-3", messages=ASK, tools=TOOLS_OAI)  # type: ignore[arg-type]
    assert (
        t.choices[0].message.tool_calls
        and t.choices[0].message.tool_calls[0].function.name == "get_weather"
    )  # type: ignore[union-attr]
    reasoning = client.chat.completions.create(
        model="atlas-3", messages=ASK, reasoning_effort="high"
    )  # type: ignore[arg-type]
    assert (
        (reasoning.choices[0].message.model_extra or {})
        .get("reasoning_content", "")
        .startswith("First")
    )
    rows = rows_for(gw, account_id, 5)
    assert len(rows) == 5
    by_stream = sorted(rows, key=lambda x: x["ts"])
    assert {r["endpoint"] for r in rows} == {"chat.completions"}
    assert all(r["status"] == 200 and r["prompt"] == "What is 17 * 23?" for r in rows)
    assert by_stream[1]["response"] == by_stream[0]["response"] == r.choices[0].message.content
    assert by_stream[1]["output_tokens"] == 10 and by_stream[1]["input_tokens"] > 0
    assert (
        by_stream[3]["n_tools"] == 1
        and json.loads(by_stream[3]["tools"])[0]["function"]["name"] == "get_weather"
    )
    assert by_stream[4]["thinking"] is True
    assert all(
        r["api_key_id"].startswith("key_") and r["request_id"].startswith("dg_") for r in rows
    )


def test_anthropic_sdk_plain_stream_tools_thinking(gw: GatewayProc) -> None:
    account_id, key = new_account(gw)
    client = ant(gw, key)
    m = client.messages.create(model="atlas-3", max_tokens=200, messages=ASK)  # type: ignore[arg-type]
    assert m.content[0].type == "text" and m.content[0].text.startswith("The answer is 391")
    with client.messages.stream(model="atlas-3", max_tokens=200, messages=ASK, thinking=THINK) as s:  # type: ignore[arg-type]
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking.startswith("First, I restate")  # type: ignore[union-attr]
    assert final.usage.output_tokens == 40
    t = client.messages.create(model="atlas-3", max_tokens=200, messages=ASK, tools=TOOLS_ANT)  # type: ignore[arg-type]
    assert t.stop_reason == "tool_use" and t.content[0].type == "tool_use"
    rows = sorted(rows_for(gw, account_id, 3), key=lambda r: r["ts"])
    assert [r["endpoint"] for r in rows] == ["messages"] * 3
    assert rows[1]["thinking"] is True and rows[1]["output_tokens"] == 40
    assert json.loads(rows[1]["extra"])["gateway"]["reasoning_chars"] > 50
    assert rows[2]["n_tools"] == 1 and rows[2]["stop_reason"] == "tool_use"


def test_answers_carry_the_upstream_request_id_and_the_gateways_own(gw: GatewayProc) -> None:
    _, key = new_account(gw)
    seen = set()
    upstream_ids = set()
    for path, auth, upstream_id in (
        ("/v1/chat/completions", {"authorization": f"Bearer {key}"}, "x-request-id"),
        ("/v1/messages", {"x-api-key": key}, "request-id"),
    ):
        for stream in (False, True):
            body = {"model": "atlas-3", "max_tokens": 20, "messages": ASK, "stream": stream}
            r = httpx.post(gw.url + path, headers=auth, json=body, timeout=30)
            assert r.status_code == 200, r.text
            # the upstream's own id, passed on as it was sent (each answer has its own)
            assert r.headers[upstream_id].startswith("req_")
            assert r.headers[upstream_id] not in upstream_ids
            upstream_ids.add(r.headers[upstream_id])
            ctype = "text/event-stream" if stream else "application/json"
            assert r.headers["content-type"].startswith(ctype)
            assert r.headers.get_list("content-type") == [r.headers["content-type"]]
            own = r.headers["x-distillguard-request-id"]
            assert own.startswith("dg_") and len(own) == 35 and own not in seen
            seen.add(own)


def test_models_lists_the_tier_models_in_both_formats(gw: GatewayProc) -> None:
    _, key = new_account(gw)
    ids = [m.id for m in oai(gw, key).models.list()]
    assert ids == ["atlas-3", "atlas-4"]
    r = httpx.get(
        gw.url + "/v1/models", headers={"x-api-key": key, "anthropic-version": "2023-06-01"}
    )
    assert r.json()["data"][0]["type"] == "model"
    assert httpx.get(gw.url + "/v1/models").status_code == 401


# -- decisions end to end -----------------------------------------------------------------------
def test_block_refuses_in_both_formats_and_is_reversible(gw: GatewayProc) -> None:
    account_id, key = new_account(gw)
    d = gw.decide(action="block", target=account_id, reason="manual: confirmed campaign")
    with pytest.raises(openai.PermissionDeniedError) as e1:
        oai(gw, key).chat.completions.create(model="atlas-3", messages=ASK)  # type: ignore[arg-type]
    assert e1.value.code == "account_blocked"
    with pytest.raises(anthropic.PermissionDeniedError) as e2:
        ant(gw, key).messages.create(model="atlas-3", max_tokens=10, messages=ASK)  # type: ignore[arg-type]
    assert e2.value.body["error"]["code"] == "account_blocked"  # type: ignore[index]
    state = gw.admin("GET", f"/admin/accounts/{account_id}").json()
    assert state["effective"]["blocked"] is True and state["decisions"][0]["id"] == d["id"]
    assert (
        gw.admin(
            "POST", f"/admin/decisions/{d['id']}/revoke", json={"suppress_hours": 1}
        ).status_code
        == 200
    )
    assert oai(gw, key).chat.completions.create(model="atlas-3", messages=ASK).choices  # type: ignore[arg-type]
    rows = rows_for(gw, account_id, 3)
    actions = sorted(json.loads(r["extra"])["gateway"]["action"] for r in rows)
    assert actions == ["allow", "block", "block"]
    refused = [r for r in rows if r["status"] == 403]
    # refusals never reached the model: logged with their status and no token counts
    assert len(refused) == 2 and all(
        (r["input_tokens"], r["output_tokens"], r["response"]) == (None, None, None)
        for r in refused
    )
    assert {r["request_id"] for r in refused} == {
        e1.value.response.headers["x-distillguard-request-id"],
        e2.value.response.headers["x-distillguard-request-id"],
    }
    log = [json.loads(x) for x in (log_dir(gw) / "decisions.jsonl").read_text().splitlines()]
    mine = [x for x in log if x.get("account_id") == account_id]
    assert {x["event"] for x in mine} >= {"created", "revoked", "enforced"}


def test_verify_for_flagged_and_for_programmes(gw: GatewayProc) -> None:
    _, key = new_account(gw, program="education", verification="email")
    with pytest.raises(openai.PermissionDeniedError) as e:
        oai(gw, key).chat.completions.create(model="atlas-3", messages=ASK)  # type: ignore[arg-type]
    body = e.value.body
    assert isinstance(body, dict)
    assert (
        body["code"] == "verification_required"
        and body["verification_url"] == "https://verify.example/start"
    )
    assert body["required_level"] == "id"
    account_id, key = new_account(gw, verification="phone")
    gw.decide(
        action="verify", target=account_id, params={"level": "business"}, reason="review verdict"
    )
    with pytest.raises(anthropic.PermissionDeniedError) as e2:
        ant(gw, key).messages.create(model="atlas-3", max_tokens=10, messages=ASK)  # type: ignore[arg-type]
    assert e2.value.body["error"]["code"] == "verification_required"  # type: ignore[index]
    gw.admin("PATCH", f"/admin/accounts/{account_id}", json={"verification": "business"})
    assert ant(gw, key).messages.create(model="atlas-3", max_tokens=10, messages=ASK).content  # type: ignore[arg-type]


def test_restrict_tier_caps_thinking_tools_models_and_max_tokens(gw: GatewayProc) -> None:
    account_id, key = new_account(gw)
    gw.decide(action="restrict", target=account_id, params={"tier": "restricted", "models": ["atlas-3"]},
              reason="policy: review")  # fmt: skip
    c = ant(gw, key)
    with pytest.raises(anthropic.PermissionDeniedError) as e:
        c.messages.create(model="atlas-3", max_tokens=100, messages=ASK, thinking=THINK)  # type: ignore[arg-type]
    assert e.value.body["error"]["code"] == "capability_restricted"  # type: ignore[index]
    with pytest.raises(anthropic.PermissionDeniedError):
        c.messages.create(model="atlas-3", max_tokens=100, messages=ASK, tools=TOOLS_ANT)  # type: ignore[arg-type]
    with pytest.raises(anthropic.PermissionDeniedError) as e3:
        c.messages.create(model="atlas-4", max_tokens=100, messages=ASK)  # type: ignore[arg-type]
    assert e3.value.body["error"]["code"] == "model_restricted"  # type: ignore[index]
    # the restricted tier caps output at 1,024 tokens; a larger request is clamped, not refused
    ok = c.messages.create(model="atlas-3", max_tokens=4_000, messages=ASK)  # type: ignore[arg-type]
    assert ok.stop_reason == "end_turn"
    _free_id, free_key = new_account(gw, tier="free", verification="email")
    with pytest.raises(openai.PermissionDeniedError) as e4:  # free tier: thinking needs a phone
        oai(gw, free_key).chat.completions.create(
            model="atlas-3", messages=ASK, reasoning_effort="low"
        )  # type: ignore[arg-type]
    assert e4.value.code == "verification_required"


def test_shape_redacts_and_summarises_thinking_in_streams_and_caps_output(gw: GatewayProc) -> None:
    account_id, key = new_account(gw)
    gw.decide(action="shape", target=account_id, params={"thinking": "redact", "max_tokens": 3},
              reason="policy: review")  # fmt: skip
    c = ant(gw, key)
    with c.messages.stream(model="atlas-3", max_tokens=200, messages=ASK, thinking=THINK) as s:  # type: ignore[arg-type]
        events = [e.type for e in s]
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["redacted_thinking", "text"]
    assert "thinking" not in events or all(e != "thinking" for e in events)
    assert final.content[1].text == "The answer is" and final.stop_reason == "max_tokens"  # type: ignore[union-attr]
    whole = c.messages.create(model="atlas-3", max_tokens=200, messages=ASK, thinking=THINK)  # type: ignore[arg-type]
    assert whole.content[0].type == "redacted_thinking"
    o = oai(gw, key)
    chunks = list(
        o.chat.completions.create(
            model="atlas-3", messages=ASK, stream=True, reasoning_effort="high"
        )
    )  # type: ignore[call-overload]
    assert not any(
        (c.choices and (c.choices[0].delta.model_extra or {}).get("reasoning_content"))
        for c in chunks
    )
    plain = o.chat.completions.create(model="atlas-3", messages=ASK, reasoning_effort="high")  # type: ignore[arg-type]
    assert "reasoning_content" not in (plain.choices[0].message.model_extra or {})
    # summarise: the client sees that the model reasoned, not the trace
    sum_id, sum_key = new_account(gw)
    gw.decide(action="shape", target=sum_id, params={"thinking": "summarise"}, reason="policy")
    with ant(gw, sum_key).messages.stream(
        model="atlas-3", max_tokens=200, messages=ASK, thinking=THINK
    ) as s:  # type: ignore[arg-type]
        thought = s.get_final_message().content[0]
    assert thought.type == "thinking" and "words withheld" in thought.thinking
    chunks = list(
        oai(gw, sum_key).chat.completions.create(
            model="atlas-3", messages=ASK, stream=True, reasoning_effort="high"
        )
    )  # type: ignore[call-overload]
    summaries = [
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") for c in chunks if c.choices
    ]
    summaries = [s for s in summaries if s]
    assert len(summaries) == 1 and "words withheld" in summaries[0]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).startswith(
        "The answer"
    )


RESPONSES_TOOLS = [{"type": "function", "name": "get_weather", "parameters": {}, "strict": False}]
THOUGHT_TEXT = "First, I restate the problem"


def test_responses_api_plain_stream_tools_reasoning_and_logged(gw: GatewayProc) -> None:
    """OpenAI's Responses API through the gateway with the official SDK's client.responses."""
    account_id, key = new_account(gw)
    client = oai(gw, key)
    plain = client.responses.create(
        model="atlas-3", instructions="Be brief.", input="What is 17 * 23?",
        reasoning={"effort": "high", "summary": "auto"}, safety_identifier="end-user-7",
    )  # fmt: skip
    assert plain.output_text.startswith("The answer is 391")
    assert plain.output[0].type == "reasoning" and plain.output[0].summary[0].text.startswith(
        THOUGHT_TEXT
    )
    with client.responses.stream(
        model="atlas-3", input="What is 17 * 23?", tools=RESPONSES_TOOLS
    ) as s:  # type: ignore[arg-type]
        kinds = [e.type for e in s]
        final = s.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert final.output[0].type == "function_call"
    rows = sorted(rows_for(gw, account_id, 2), key=lambda r: r["ts"])
    assert [r["endpoint"] for r in rows] == ["responses", "responses"]
    first, second = rows
    assert (first["system"], first["prompt"], first["end_user"]) == (
        "Be brief.", "What is 17 * 23?", "end-user-7",
    )  # fmt: skip
    assert first["thinking"] is True and first["reasoning"].startswith(THOUGHT_TEXT)
    assert (first["response"], first["response_id"]) == (plain.output_text, plain.id)
    assert plain.usage is not None and (first["input_tokens"], first["output_tokens"]) == (
        plain.usage.input_tokens, plain.usage.output_tokens,
    )  # fmt: skip
    assert second["n_tools"] == 1 and second["response"] == final.output[0].arguments  # type: ignore[union-attr]
    assert json.loads(second["extra"])["gateway"]["tool_calls"] == 1


def test_responses_api_reasoning_is_shaped_and_tools_restricted(gw: GatewayProc) -> None:
    account_id, key = new_account(gw)
    gw.decide(action="shape", target=account_id, params={"thinking": "redact"}, reason="policy")
    client = oai(gw, key)
    ask = {
        "model": "atlas-3",
        "input": "What is 17 * 23?",
        "reasoning": {"effort": "high", "summary": "auto"},
    }
    whole = client.responses.create(**ask)  # type: ignore[call-overload]
    assert whole.output[0].type == "reasoning" and whole.output[0].summary == []
    events = list(client.responses.create(**ask, stream=True))  # type: ignore[call-overload]
    assert not [e for e in events if e.type.startswith("response.reasoning_summary")]
    completed = events[-1].response
    assert completed.output[0].summary == [] and completed.output_text.startswith("The answer")
    # the log keeps what the upstream sent
    rows = rows_for(gw, account_id, 2)
    assert all(r["reasoning"].startswith(THOUGHT_TEXT) for r in rows)
    sum_id, sum_key = new_account(gw)
    gw.decide(action="shape", target=sum_id, params={"thinking": "summarise"}, reason="policy")
    events = list(oai(gw, sum_key).responses.create(**ask, stream=True))  # type: ignore[call-overload]
    deltas = [e.delta for e in events if e.type == "response.reasoning_summary_text.delta"]
    assert len(deltas) == 1 and "words withheld" in deltas[0]
    assert "words withheld" in events[-1].response.output[0].summary[0].text
    restricted_id, restricted_key = new_account(gw)
    gw.decide(
        action="restrict", target=restricted_id, params={"tier": "restricted"}, reason="policy"
    )
    with pytest.raises(openai.PermissionDeniedError) as e:
        oai(gw, restricted_key).responses.create(model="atlas-3", input="hi", tools=RESPONSES_TOOLS)  # type: ignore[arg-type]
    assert e.value.code == "capability_restricted"
    with pytest.raises(openai.BadRequestError) as bad:
        oai(gw, restricted_key).responses.create(model="atlas-3", input=[])
    assert bad.value.code == "invalid_request"


def test_throttle_per_account_and_cluster_wide_budget(gw: GatewayProc) -> None:
    account_id, key = new_account(gw)
    gw.decide(action="throttle", target=account_id, params={"rpm": 3}, reason="velocity")
    c = oai(gw, key)
    for _ in range(3):
        c.chat.completions.create(model="atlas-3", messages=ASK)  # type: ignore[arg-type]
    with pytest.raises(openai.RateLimitError) as e:
        c.chat.completions.create(model="atlas-3", messages=ASK)  # type: ignore[arg-type]
    assert int(e.value.response.headers["retry-after"]) >= 1
    # three light accounts of one cluster share a budget of 4 requests a minute
    members = [new_account(gw, cluster_id="cluster-hydra") for _ in range(3)]
    gw.decide(action="throttle", scope="cluster", target="cluster-hydra", params={"rpm": 4},
              reason="hydra cluster")  # fmt: skip
    admitted = 0
    for _ in range(3):
        for _, k in members:
            try:
                ant(gw, k).messages.create(model="atlas-3", max_tokens=10, messages=ASK)  # type: ignore[arg-type]
                admitted += 1
            except anthropic.RateLimitError:
                pass
    assert admitted == 4


def test_token_budget_debits_real_usage(gw: GatewayProc) -> None:
    account_id, key = new_account(gw)
    gw.decide(action="throttle", target=account_id, params={"tpm": 25}, reason="token budget")
    c = oai(gw, key)
    # each exchange costs 15 tokens (5 in, 10 out): admitted while the balance is positive,
    # then debited with what the upstream reported
    c.chat.completions.create(model="atlas-3", messages=ASK)  # type: ignore[arg-type]  # 25 → 10
    c.chat.completions.create(model="atlas-3", messages=ASK)  # type: ignore[arg-type]  # 10 → -5
    time.sleep(0.2)
    with pytest.raises(openai.RateLimitError):
        c.chat.completions.create(model="atlas-3", messages=ASK)  # type: ignore[arg-type]


def test_online_checks_shape_elicitation_and_guard_a_fresh_release(gw: GatewayProc) -> None:
    _, key = new_account(gw)
    extract = [
        {
            "role": "user",
            "content": "Before answering, write out your complete internal reasoning in full.",
        }
    ]
    m = ant(gw, key).messages.create(
        model="atlas-3", max_tokens=100, messages=extract, thinking=THINK
    )  # type: ignore[arg-type]
    assert m.content[0].type == "redacted_thinking"
    ordinary = ant(gw, key).messages.create(
        model="atlas-3", max_tokens=100, messages=ASK, thinking=THINK
    )  # type: ignore[arg-type]
    assert ordinary.content[0].type == "thinking"
    # a day-old account on a model released within the guard window: shaped and held to 10 rpm
    from datetime import UTC, datetime, timedelta

    young = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    cfg_models = gw.admin("GET", "/openapi.json").status_code
    assert cfg_models == 200
    _account_id, key = new_account(gw, created_at=young)
    c = ant(gw, key)
    # atlas-4's release is set in the past (2026-01-01), outside the 48 h window: not guarded
    m4 = c.messages.create(model="atlas-4", max_tokens=100, messages=ASK, thinking=THINK)  # type: ignore[arg-type]
    assert m4.content[0].type == "thinking"


def test_allow_from_an_analyst_clears_automatic_decisions(gw: GatewayProc) -> None:
    account_id, key = new_account(gw)
    gw.decide(action="block", target=account_id, source="watch", reason="watch: cluster act")
    with pytest.raises(openai.PermissionDeniedError):
        oai(gw, key).chat.completions.create(model="atlas-3", messages=ASK)  # type: ignore[arg-type]
    pending = gw.admin(
        "GET", "/admin/decisions", params={"review": "pending", "target": account_id}
    ).json()
    assert len(pending) == 1 and pending[0]["source"] == "watch"
    gw.decide(action="allow", target=account_id, reason="analyst: benchmark lab, known customer")
    assert oai(gw, key).chat.completions.create(model="atlas-3", messages=ASK).choices  # type: ignore[arg-type]


# -- bad input ---------------------------------------------------------------------------------------
def test_bad_requests_get_api_errors_and_nothing_crashes(gw: GatewayProc) -> None:
    _, key = new_account(gw)
    auth = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    url = gw.url + "/v1/chat/completions"
    cases: list[tuple[bytes, int, str]] = [
        (b"{not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_request"),
        (b'{"model": 7, "messages": []}', 400, "invalid_request"),
        (b'{"model": "atlas-3", "messages": "hi"}', 400, "invalid_request"),
        (b'{"model": "atlas-3", "messages": [{"content": "no role"}]}', 400, "invalid_request"),
        (b'{"model": "atlas-3", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}', 400, "invalid_request"),
        (b'{"model": "atlas-3", "messages": [{"role": "user", "content": "x"}], "max_tokens": -5}', 400, "invalid_request"),
        ("\u202e\u0000<script>".encode() , 400, "invalid_json"),
    ]  # fmt: skip
    for body, status, code in cases:
        r = httpx.post(url, content=body, headers=auth)
        assert r.status_code == status, (body, r.text)
        assert r.json()["error"]["code"] == code
    r = httpx.post(gw.url + "/v1/messages", content=b"{}", headers={"x-api-key": key})
    assert r.status_code == 400 and r.json()["type"] == "error"
    huge = (
        b'{"model": "atlas-3", "messages": [{"role": "user", "content": "'
        + b"a" * 5_000_000
        + b'"}]}'
    )
    r = httpx.post(url, content=huge, headers=auth)
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    # unknown fields go to the upstream by default (the APIs grow); strict mode is tested below
    r = httpx.post(
        url, json={"model": "atlas-3", "messages": ASK, "x_future_field": 1}, headers=auth
    )
    assert r.status_code == 200
    for bad_key in ["", "Bearer", "Bearer " + "k" * 600, "Bearer dg-unknown"]:
        r = httpx.post(
            url, json={"model": "atlas-3", "messages": ASK}, headers={"authorization": bad_key}
        )
        assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(gw.url + "/healthz").status_code == 200
    # every attempt is logged against no account; a presented key only as its hash prefix
    attempts = rows_for(gw, dg.UNAUTHENTICATED, 4)
    prefixes = {r["api_key_id"] for r in attempts}
    digest = hashlib.sha256(b"dg-unknown").hexdigest()
    assert f"sha256:{digest[:16]}" in prefixes
    assert all(r["status"] == 401 and r["input_tokens"] is None for r in attempts)
    assert all("dg-unknown" not in json.dumps(r, default=str) for r in attempts)


def test_header_injection_is_rejected_at_the_socket(gw: GatewayProc) -> None:
    account_id, key = new_account(gw)
    host, port = gw.url.removeprefix("http://").split(":")
    payload = json.dumps({"model": "atlas-3", "messages": ASK}).encode()
    raw = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\n"
        b"X-Evil: a\rInjected: yes\r\n"
        b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload
    )
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(raw)
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400")
    # a smuggled header value the client library would send is never forwarded upstream
    r = httpx.post(gw.url + "/v1/chat/completions", json={"model": "atlas-3", "messages": ASK},
                   headers={"authorization": f"Bearer {key}", "x-forwarded-for": "6.6.6.6"})  # fmt: skip
    assert r.status_code == 200
    assert httpx.get(gw.url + "/healthz").status_code == 200
    # X-Forwarded-For from a client (even on this host) does not choose the logged address
    assert rows_for(gw, account_id, 1)[0]["ip"] == "127.0.0.1"


def test_a_large_body_arriving_in_many_chunks_is_read_whole(gw: GatewayProc) -> None:
    account_id, key = new_account(gw)
    prompt = "word " * 300_000  # 1.5 MB: the server hands it over in many receive() messages
    r = httpx.post(gw.url + "/v1/chat/completions", timeout=30,
                   json={"model": "atlas-3", "messages": [{"role": "user", "content": prompt}]},
                   headers={"authorization": f"Bearer {key}"})  # fmt: skip
    assert r.status_code == 200, r.text
    row = rows_for(gw, account_id, 1)[0]
    assert row["n_messages"] == 1 and row["input_tokens"] > 0


def test_hostile_strings_are_logged_verbatim_and_answered(gw: GatewayProc) -> None:
    account_id, key = new_account(gw)
    hostile = "'; DROP TABLE exchanges; -- \u202e\u0645\u0631\u062d\u0628\u0627 <script>alert(1)</script> \U0001f600 \\x00"
    r = oai(gw, key).chat.completions.create(
        model="atlas-3", messages=[{"role": "user", "content": hostile}]
    )  # type: ignore[arg-type]
    assert r.choices
    rows = rows_for(gw, account_id, 1)
    assert rows[0]["prompt"] == hostile and rows[0]["ip"] == "127.0.0.1"


def test_admin_api_requires_its_credential_and_rejects_unknown_fields(gw: GatewayProc) -> None:
    assert httpx.get(gw.url + "/admin/accounts").status_code == 401
    assert (
        httpx.get(gw.url + "/admin/accounts", headers={"authorization": "Bearer nope"}).status_code
        == 401
    )
    r = httpx.put(
        gw.url + "/admin/accounts/acct_x", headers=ADMIN, json={"tier": "build", "hacker": 1}
    )
    assert r.status_code == 422
    r = httpx.put(gw.url + "/admin/accounts/bad%20id", headers=ADMIN, json={})
    assert r.status_code == 422
    r = httpx.post(gw.url + "/admin/decisions", headers=ADMIN,
                   json={"action": "throttle", "target": "acct_x", "params": {"rpz": 3}})  # fmt: skip
    assert r.status_code == 422
    r = httpx.post(
        gw.url + "/admin/decisions", headers=ADMIN, json={"action": "nuke", "target": "a"}
    )
    assert r.status_code == 422
    spec = httpx.get(gw.url + "/openapi.json").json()
    assert {"/v1/chat/completions", "/v1/messages", "/v1/models", "/admin/accounts/{account_id}",
            "/admin/decisions", "/admin/decisions/{decision_id}/revoke"} <= set(spec["paths"])  # fmt: skip


def test_keys_are_stored_hashed_and_revocable(gw: GatewayProc) -> None:
    account_id, key = new_account(gw)
    state_file = gw.config_path.parent / "state.sqlite"
    assert key.encode() not in state_file.read_bytes()
    keys = gw.admin("GET", f"/admin/accounts/{account_id}/keys").json()
    assert len(keys) == 1 and "api_key" not in keys[0]
    assert gw.admin("DELETE", f"/admin/keys/{keys[0]['key_id']}").status_code == 200
    with pytest.raises(openai.AuthenticationError):
        oai(gw, key).chat.completions.create(model="atlas-3", messages=ASK)  # type: ignore[arg-type]


def test_metrics_count_requests_by_action(gw: GatewayProc) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    account_id, key = new_account(gw)
    gw.decide(action="block", target=account_id, reason="metrics test")
    with pytest.raises(openai.PermissionDeniedError):
        oai(gw, key).chat.completions.create(model="atlas-3", messages=ASK)  # type: ignore[arg-type]
    text = httpx.get(gw.url + "/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    blocked = [s for s in families["distillguard_requests"].samples
               if s.labels == {"api": "openai", "status": "403", "action": "block"}]  # fmt: skip
    assert blocked and blocked[0].value >= 1
    assert any(s.name == "distillguard_gateway_overhead_ms_bucket"
               for s in families["distillguard_gateway_overhead_ms"].samples)  # fmt: skip
    assert "acct_" not in text


def test_strict_fields_and_content_capture_hashed(upstream: str, tmp_path: Path) -> None:
    cfg = gateway_config(
        tmp_path, upstream, strict_fields=True, log={"content": "hashed", "flush_interval_s": 0.3}
    )
    g = start_gateway(tmp_path, cfg)
    try:
        key = g.account("acct_h", tier="build", verification="id")
        r = httpx.post(g.url + "/v1/messages", headers={"x-api-key": key},
                       json={"model": "atlas-3", "max_tokens": 5, "messages": ASK, "temprature": 1})  # fmt: skip
        assert r.status_code == 400 and r.json()["error"]["message"] == "unknown field 'temprature'"
        assert ant(g, key).messages.create(model="atlas-3", max_tokens=50, messages=ASK).content  # type: ignore[arg-type]
        rows = [r for r in wait_logged(tmp_path / "log", 2) if r["status"] == 200]
        assert rows[0]["prompt"].startswith("hmac-blake2b:") and "What is" not in rows[0]["prompt"]
        assert rows[0]["response"].startswith("hmac-blake2b:") and rows[0]["messages"] is None
        key_file = tmp_path / "log" / "capture.key"
        assert key_file.stat().st_mode & 0o077 == 0
        assert rows[0]["n_messages"] == 1
    finally:
        g.stop()


def test_mock_upstream_gives_every_answer_its_own_id(upstream: str) -> None:
    ids = set()
    for _ in range(3):
        r = httpx.post(upstream + "/v1/chat/completions",
                       json={"model": "atlas-3", "messages": ASK})  # fmt: skip
        ids.add(r.json()["id"])
        r = httpx.post(upstream + "/v1/messages",
                       json={"model": "atlas-3", "max_tokens": 5, "messages": ASK})  # fmt: skip
        ids.add(r.json()["id"])
    assert len(ids) == 6
