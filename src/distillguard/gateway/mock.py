"""A local upstream that speaks the three APIs, for tests, benchmarks and trying the gateway.

``distillguard mock-upstream --port 9000`` serves ``POST /v1/chat/completions``,
``POST /v1/messages``, ``POST /v1/responses`` and ``GET /v1/models``, streaming or not, with
thinking/reasoning when asked (Anthropic ``thinking`` blocks; OpenAI-style
``reasoning_content``; Responses reasoning items with summaries), tool calls when tools are
given, and real-looking usage. Answers are deterministic apart from their ids.
``delay_ms`` adds a fixed service time; ``chunk_delay_ms`` spaces stream events.

A request whose ``model`` is ``error-NNN`` (``error-429``, ``error-403``, …) is answered
with status NNN and the API's own error body, as a refusal or failure upstream would be.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

THOUGHT = (
    "First, I restate the problem and list what is known. Then I check each case in turn, "
    "discard the ones that contradict the constraints, and verify the remaining answer."
)
ANSWER = "The answer is 391. Multiplying 17 by 23 gives 391."


def _id(prefix: str) -> str:
    """A fresh id in the shape the real API uses (every answer its own, as upstream)."""
    return prefix + secrets.token_hex(12)


def _openai_id() -> dict[str, str]:
    """The request-id header OpenAI sends with every answer (the gateway passes it on)."""
    return {"x-request-id": _id("req_")}


def _anthropic_id() -> dict[str, str]:
    """Anthropic's request-id header."""
    return {"request-id": _id("req_")}


def _words(text: str) -> list[str]:
    out = []
    for i, w in enumerate(text.split(" ")):
        out.append(w if i == 0 else " " + w)
    return out


# the error type each API documents for a status
_OPENAI_ERRORS = {400: "invalid_request_error", 401: "invalid_api_key", 403: "permission_denied",
                  404: "model_not_found", 429: "rate_limit_exceeded", 500: "server_error"}  # fmt: skip
_ANTHROPIC_ERRORS = {400: "invalid_request_error", 401: "authentication_error",
                     403: "permission_error", 404: "not_found_error", 429: "rate_limit_error",
                     500: "api_error", 529: "overloaded_error"}  # fmt: skip


def _error_reply(model: object, api: str) -> Response | None:
    """The API's error answer when ``model`` asks for one (``error-429``), else None."""
    if not isinstance(model, str) or not model.startswith("error-") or not model[6:].isdigit():
        return None
    status = int(model[6:])
    if not 400 <= status <= 599:
        return None
    if api == "anthropic":
        kind = _ANTHROPIC_ERRORS.get(status, "api_error")
        body = {"type": "error", "error": {"type": kind, "message": f"mock {kind}"}}
        return Response(
            orjson.dumps(body), status, media_type="application/json", headers=_anthropic_id()
        )
    kind = _OPENAI_ERRORS.get(status, "server_error")
    body = {"error": {"message": f"mock {kind}", "type": kind, "param": None, "code": kind}}
    return Response(orjson.dumps(body), status, media_type="application/json", headers=_openai_id())


def create_mock_app(*, delay_ms: float = 0.0, chunk_delay_ms: float = 0.0) -> Starlette:
    async def wait() -> None:
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)

    async def gap() -> None:
        if chunk_delay_ms:
            await asyncio.sleep(chunk_delay_ms / 1000)

    async def chat(request: Request) -> Response:
        body = orjson.loads(await request.body())
        await wait()
        model = body.get("model", "mock")
        if (refusal := _error_reply(model, "openai")) is not None:
            return refusal
        reasoning = bool(body.get("reasoning_effort") or body.get("reasoning"))
        tools = body.get("tools") or []
        n_in = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4 + 1
        cap = body.get("max_completion_tokens") or body.get("max_tokens")
        words = _words(ANSWER)
        if cap:
            words = words[: max(1, int(cap))]
        finish = "length" if cap and len(_words(ANSWER)) > int(cap) else "stop"
        call = None
        if tools:
            name = tools[0].get("function", {}).get("name", "tool")
            call = {"id": _id("call_"), "type": "function",
                    "function": {"name": name, "arguments": '{"city": "Paris"}'}}  # fmt: skip
            finish = "tool_calls"
        usage = {"prompt_tokens": n_in, "completion_tokens": len(words) + (30 if reasoning else 0),
                 "total_tokens": n_in + len(words) + (30 if reasoning else 0)}  # fmt: skip
        base = {"id": _id("chatcmpl-"), "created": int(time.time()), "model": model}
        if not body.get("stream"):
            msg: dict[str, Any] = {"role": "assistant", "content": None if call else "".join(words)}
            if reasoning:
                msg["reasoning_content"] = THOUGHT
            if call:
                msg["tool_calls"] = [call]
            return Response(orjson.dumps({**base, "object": "chat.completion", "choices": [
                {"index": 0, "message": msg, "finish_reason": finish}], "usage": usage}),
                media_type="application/json", headers=_openai_id())  # fmt: skip

        async def events() -> AsyncIterator[bytes]:
            def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
                c = {**base, "object": "chat.completion.chunk",
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}  # fmt: skip
                return b"data: " + orjson.dumps(c) + b"\n\n"

            yield chunk({"role": "assistant", "content": ""})
            if reasoning:
                for w in _words(THOUGHT):
                    await gap()
                    yield chunk({"reasoning_content": w})
            if call:
                yield chunk({"tool_calls": [{"index": 0, **call}]})
            else:
                for w in words:
                    await gap()
                    yield chunk({"content": w})
            yield chunk({}, finish)
            if (body.get("stream_options") or {}).get("include_usage"):
                u = {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
                yield b"data: " + orjson.dumps(u) + b"\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers=_openai_id())

    async def messages(request: Request) -> Response:
        body = orjson.loads(await request.body())
        await wait()
        model = body.get("model", "mock")
        if (refusal := _error_reply(model, "anthropic")) is not None:
            return refusal
        thinking = (body.get("thinking") or {}).get("type") == "enabled"
        tools = body.get("tools") or []
        cap = int(body.get("max_tokens") or 1024)
        n_in = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4 + 1
        words = _words(ANSWER)[:cap]
        stop = "max_tokens" if len(_words(ANSWER)) > cap else "end_turn"
        blocks: list[dict[str, Any]] = []
        if thinking:
            blocks.append({"type": "thinking", "thinking": THOUGHT, "signature": "sig-mock"})
        if tools:
            blocks.append({"type": "tool_use", "id": _id("toolu_"), "name": tools[0].get("name", "tool"),
                           "input": {"city": "Paris"}})  # fmt: skip
            stop = "tool_use"
        else:
            blocks.append({"type": "text", "text": "".join(words)})
        n_out = len(words) + (30 if thinking else 0)
        message_id = _id("msg_")
        if not body.get("stream"):
            return Response(orjson.dumps({
                "id": message_id, "type": "message", "role": "assistant", "model": model,
                "content": blocks, "stop_reason": stop, "stop_sequence": None,
                "usage": {"input_tokens": n_in, "output_tokens": n_out}}),
                media_type="application/json", headers=_anthropic_id())  # fmt: skip

        async def events() -> AsyncIterator[bytes]:
            def ev(kind: str, data: dict[str, Any]) -> bytes:
                return (
                    f"event: {kind}\n".encode()
                    + b"data: "
                    + orjson.dumps({"type": kind, **data})
                    + b"\n\n"
                )

            yield ev("message_start", {"message": {
                "id": message_id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": n_in, "output_tokens": 1}}})  # fmt: skip
            for i, block in enumerate(blocks):
                if block["type"] == "thinking":
                    yield ev("content_block_start", {"index": i, "content_block": {
                        "type": "thinking", "thinking": "", "signature": ""}})  # fmt: skip
                    for w in _words(THOUGHT):
                        await gap()
                        yield ev("content_block_delta", {"index": i, "delta": {
                            "type": "thinking_delta", "thinking": w}})  # fmt: skip
                    yield ev("content_block_delta", {"index": i, "delta": {
                        "type": "signature_delta", "signature": "sig-mock"}})  # fmt: skip
                elif block["type"] == "tool_use":
                    yield ev("content_block_start", {"index": i, "content_block": {
                        **block, "input": {}}})  # fmt: skip
                    yield ev("content_block_delta", {"index": i, "delta": {
                        "type": "input_json_delta", "partial_json": '{"city": "Paris"}'}})  # fmt: skip
                else:
                    yield ev("content_block_start", {"index": i, "content_block": {
                        "type": "text", "text": ""}})  # fmt: skip
                    for w in words:
                        await gap()
                        yield ev("content_block_delta", {"index": i, "delta": {
                            "type": "text_delta", "text": w}})  # fmt: skip
                yield ev("content_block_stop", {"index": i})
            yield ev("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                       "usage": {"output_tokens": n_out}})  # fmt: skip
            yield ev("message_stop", {})

        return StreamingResponse(events(), media_type="text/event-stream", headers=_anthropic_id())

    async def responses(request: Request) -> Response:
        body = orjson.loads(await request.body())
        await wait()
        model = body.get("model", "mock")
        if (refusal := _error_reply(model, "openai")) is not None:
            return refusal
        return _responses_answer(body, gap)

    async def models(request: Request) -> Response:
        return Response(orjson.dumps({"object": "list", "data": [
            {"id": "mock-1", "object": "model", "created": 0, "owned_by": "mock"}]}),
            media_type="application/json")  # fmt: skip

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/chat/completions", chat, methods=["POST"]),
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/responses", responses, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )


def _responses_answer(body: dict[str, Any], gap: Any) -> Response:
    """A Responses API answer: a reasoning item (with a summary when one is asked for), then
    a function call when tools are given, else a message."""
    model = body.get("model", "mock")
    raw_input = body.get("input")
    n_in = len(orjson.dumps(raw_input)) // 4 + len(str(body.get("instructions") or "")) // 4 + 1
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else None
    tools = [
        t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"
    ]
    cap_field = body.get("max_output_tokens")
    cap = int(cap_field) if isinstance(cap_field, int) and cap_field > 0 else None
    words = _words(ANSWER)[:cap] if cap else _words(ANSWER)
    incomplete = cap is not None and len(_words(ANSWER)) > cap
    items: list[dict[str, Any]] = []
    n_reason = 30 if reasoning is not None else 0
    if reasoning is not None:
        summary = [{"type": "summary_text", "text": THOUGHT}] if reasoning.get("summary") else []
        items.append({"id": _id("rs_"), "type": "reasoning", "summary": summary})
    if tools:
        items.append({"id": _id("fc_"), "type": "function_call", "call_id": _id("call_"),
                      "name": tools[0].get("name", "tool"), "arguments": '{"city": "Paris"}',
                      "status": "completed"})  # fmt: skip
    else:
        items.append({"id": _id("msg_"), "type": "message", "role": "assistant",
                      "status": "incomplete" if incomplete else "completed",
                      "content": [{"type": "output_text", "text": "".join(words),
                                   "annotations": [], "logprobs": []}]})  # fmt: skip
    n_out = len(words) + n_reason
    usage = {"input_tokens": n_in, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": n_out, "output_tokens_details": {"reasoning_tokens": n_reason},
             "total_tokens": n_in + n_out}  # fmt: skip
    created = time.time()
    base: dict[str, Any] = {
        "id": _id("resp_"), "object": "response", "created_at": int(created), "model": model,
        "status": "in_progress", "error": None, "incomplete_details": None,
        "instructions": body.get("instructions"), "max_output_tokens": cap,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "temperature": body.get("temperature", 1.0), "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [], "top_p": body.get("top_p", 1.0),
        "reasoning": reasoning or {"effort": None, "summary": None},
        "safety_identifier": body.get("safety_identifier"), "user": body.get("user"),
        "metadata": body.get("metadata") or {}, "output": [], "usage": None,
    }  # fmt: skip
    done = {
        **base,
        "status": "incomplete" if incomplete else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "output": items,
        "usage": usage,
    }
    if not body.get("stream"):
        return Response(orjson.dumps(done), media_type="application/json", headers=_openai_id())

    async def events() -> AsyncIterator[bytes]:
        seq = iter(range(1_000_000))

        def ev(kind: str, data: dict[str, Any]) -> bytes:
            payload = {"type": kind, **data, "sequence_number": next(seq)}
            return f"event: {kind}\n".encode() + b"data: " + orjson.dumps(payload) + b"\n\n"

        yield ev("response.created", {"response": base})
        yield ev("response.in_progress", {"response": base})
        for i, item in enumerate(items):
            ref = {"output_index": i, "item_id": item["id"]}
            if item["type"] == "reasoning":
                yield ev(
                    "response.output_item.added",
                    {"output_index": i, "item": {**item, "summary": []}},
                )
                if item["summary"]:
                    yield ev(
                        "response.reasoning_summary_part.added",
                        {**ref, "summary_index": 0, "part": {"type": "summary_text", "text": ""}},
                    )
                    for w in _words(THOUGHT):
                        await gap()
                        yield ev(
                            "response.reasoning_summary_text.delta",
                            {**ref, "summary_index": 0, "delta": w},
                        )
                    yield ev(
                        "response.reasoning_summary_text.done",
                        {**ref, "summary_index": 0, "text": THOUGHT},
                    )
                    yield ev("response.reasoning_summary_part.done", {**ref, "summary_index": 0,
                             "part": {"type": "summary_text", "text": THOUGHT}})  # fmt: skip
            elif item["type"] == "function_call":
                yield ev(
                    "response.output_item.added",
                    {"output_index": i, "item": {**item, "arguments": "", "status": "in_progress"}},
                )
                yield ev(
                    "response.function_call_arguments.delta", {**ref, "delta": item["arguments"]}
                )
                yield ev(
                    "response.function_call_arguments.done", {**ref, "arguments": item["arguments"]}
                )
            else:
                text = item["content"][0]["text"]
                yield ev(
                    "response.output_item.added",
                    {"output_index": i, "item": {**item, "content": [], "status": "in_progress"}},
                )
                part: dict[str, Any] = {
                    "type": "output_text",
                    "text": "",
                    "annotations": [],
                    "logprobs": [],
                }
                yield ev("response.content_part.added", {**ref, "content_index": 0, "part": part})
                for w in words:
                    await gap()
                    yield ev(
                        "response.output_text.delta",
                        {**ref, "content_index": 0, "delta": w, "logprobs": []},
                    )
                yield ev(
                    "response.output_text.done",
                    {**ref, "content_index": 0, "text": text, "logprobs": []},
                )
                yield ev(
                    "response.content_part.done",
                    {**ref, "content_index": 0, "part": {**part, "text": text}},
                )
            yield ev("response.output_item.done", {"output_index": i, "item": item})
        kind = "response.incomplete" if incomplete else "response.completed"
        yield ev(kind, {"response": done})

    return StreamingResponse(events(), media_type="text/event-stream", headers=_openai_id())
