"""A local upstream that speaks both APIs, for tests, benchmarks and trying the gateway.

``distillguard mock-upstream --port 9000`` serves ``POST /v1/chat/completions``,
``POST /v1/messages`` and ``GET /v1/models``, streaming or not, with thinking/reasoning
when asked (Anthropic ``thinking`` blocks; OpenAI-style ``reasoning_content``), tool calls
when tools are given, and real-looking usage. Answers are deterministic. ``delay_ms`` adds
a fixed service time; ``chunk_delay_ms`` spaces stream events.
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
# the request-id headers the real APIs send (the gateway passes them on)
OPENAI_ID = {"x-request-id": "req_mock_openai"}
ANTHROPIC_ID = {"request-id": "req_mock_anthropic"}


def _id(prefix: str) -> str:
    """A fresh id in the shape the real API uses (every answer its own, as upstream)."""
    return prefix + secrets.token_hex(12)


def _words(text: str) -> list[str]:
    out = []
    for i, w in enumerate(text.split(" ")):
        out.append(w if i == 0 else " " + w)
    return out


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
                media_type="application/json", headers=OPENAI_ID)  # fmt: skip

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

        return StreamingResponse(events(), media_type="text/event-stream", headers=OPENAI_ID)

    async def messages(request: Request) -> Response:
        body = orjson.loads(await request.body())
        await wait()
        model = body.get("model", "mock")
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
                media_type="application/json", headers=ANTHROPIC_ID)  # fmt: skip

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

        return StreamingResponse(events(), media_type="text/event-stream", headers=ANTHROPIC_ID)

    async def models(request: Request) -> Response:
        return Response(orjson.dumps({"object": "list", "data": [
            {"id": "mock-1", "object": "model", "created": 0, "owned_by": "mock"}]}),
            media_type="application/json")  # fmt: skip

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/chat/completions", chat, methods=["POST"]),
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )
