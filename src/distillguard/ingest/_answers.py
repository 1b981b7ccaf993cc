"""What an API answered, read from a logged response: a JSON body, an error body, or the raw
server-sent events of a streamed answer, for the three API surfaces (Chat Completions,
Messages, Responses).

One :class:`Answer` comes out whatever the shape, so the adapters map it to the contract
the same way. The text of an answer is its text parts followed by its tool calls'
arguments (the gateway logs answers the same way), and ``reasoning`` is the reasoning it
carried: Anthropic ``thinking`` blocks, ``reasoning_content`` / ``reasoning`` fields of
OpenAI-compatible servers, and the Responses API's reasoning summaries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from distillguard.ingest._base import MappingFailure, as_dict, as_int, as_list, content_text

Api = Literal["chat.completions", "messages", "responses"]


@dataclass
class Answer:
    """The facts the contract keeps of one answer; None where the log does not say."""

    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    stop_reason: str | None = None
    response_id: str | None = None
    model: str | None = None
    created: float | None = None
    tool_calls: int = 0
    error: str | None = None
    """The API's error type or message, when the body is an error."""
    streamed: bool = False
    complete: bool = True
    """False for a stream that ended before the API's last event."""

    @property
    def response(self) -> str | None:
        return "".join(self.text) if self.text or not self.error else None

    @property
    def reasoning_text(self) -> str | None:
        return "".join(self.reasoning) or None

    def described(self) -> dict[str, Any]:
        """The contract columns that describe the answer, whether or not it was billed."""
        return {
            "response_id": self.response_id,
            "response_model": self.model,
            "stop_reason": self.stop_reason,
            "reasoning": self.reasoning_text,
            "reasoning_tokens": self.reasoning_tokens,
        }


def read_answer(api: Api, body: Any) -> Answer:
    """The answer in ``body``: a parsed JSON object, raw SSE text, or a list of stream events."""
    if isinstance(body, str):
        text = body.lstrip("\ufeff")
        if text.lstrip()[:1] in ("{", "["):
            try:
                body = json.loads(text)
            except ValueError:
                raise MappingFailure("response", "neither JSON nor server-sent events") from None
        else:
            return read_stream(api, sse_events(text))
    if isinstance(body, list):  # events already parsed, one object each
        return read_stream(api, [(None, e) for e in body])
    if not isinstance(body, dict):
        raise MappingFailure("response", f"expected a JSON object, got {type(body).__name__}")
    error = _error(body)
    if error is not None:
        return Answer(error=error, response_id=_text(body.get("id")))
    if api == "messages":
        return _messages(body)
    if api == "responses":
        return _responses(body)
    return _chat(body)


def sse_events(text: str) -> list[tuple[str | None, Any]]:
    """The events of an SSE stream as ``(event name, parsed data)``, per the WHATWG rules:
    ``data:`` lines joined with newlines, dispatched at a blank line or the end of the text;
    comments and ``[DONE]`` dropped. Data that is not JSON rejects the record."""
    events: list[tuple[str | None, Any]] = []
    name: str | None = None
    data: list[str] = []

    def dispatch() -> None:
        nonlocal name, data
        if data:
            payload = "\n".join(data)
            if payload.strip() != "[DONE]":
                try:
                    events.append((name, json.loads(payload)))
                except ValueError:
                    raise MappingFailure(
                        "response", f"stream event {len(events) + 1} is not JSON: {payload[:60]!r}"
                    ) from None
        name, data = None, []

    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            dispatch()
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if key == "data":
                data.append(value)
            elif key == "event":
                name = value
    dispatch()
    return events


def read_stream(api: Api, events: list[tuple[str | None, Any]]) -> Answer:
    """An answer put back together from its stream events."""
    answer = Answer(streamed=True, complete=False)
    for _, event in events:
        if not isinstance(event, dict):
            continue
        error = _error(event)
        if error is not None:
            answer.error = error
            continue
        if api == "messages":
            _messages_event(event, answer)
        elif api == "responses":
            _responses_event(event, answer)
        else:
            _chat_event(event, answer)
    return answer


def _error(body: dict[str, Any]) -> str | None:
    """The error an error body reports (OpenAI ``{"error": …}``, Anthropic ``{"type": "error"}``)."""
    err = body.get("error")
    if body.get("type") == "error" or (isinstance(err, dict) and "choices" not in body):
        if body.get("object") == "response":
            return None  # a Responses object always has an "error" key (null when fine)
        detail = as_dict(err) or body
        reason = detail.get("type") or detail.get("code") or detail.get("message")
        return str(reason if reason and reason != "error" else detail.get("message") or "error")[
            :200
        ]
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _tokens(usage: dict[str, Any], name: str, path: str) -> int | None:
    return as_int(usage.get(name), f"{path}.{name}")


# --- Chat Completions ---------------------------------------------------------------------------
def _chat(body: dict[str, Any]) -> Answer:
    answer = Answer(response_id=_text(body.get("id")), model=_text(body.get("model")))
    created = body.get("created")
    answer.created = float(created) if isinstance(created, int | float) else None
    choices = body.get("choices")
    if choices is not None and not isinstance(choices, list):
        raise MappingFailure("response.choices", f"expected a list, got {type(choices).__name__}")
    first = as_dict(choices[0]) if choices else {}
    message = as_dict(first.get("message"))
    _chat_message(message, answer)
    answer.stop_reason = _text(first.get("finish_reason"))
    _chat_usage(body.get("usage"), answer)
    return answer


def _chat_message(message: dict[str, Any], answer: Answer) -> None:
    for name in ("reasoning_content", "reasoning"):
        thought = message.get(name)
        if isinstance(thought, str) and thought:
            answer.reasoning.append(thought)
            break
    text = content_text(message.get("content"))
    if text:
        answer.text.append(text)
    for call in as_list(message.get("tool_calls")):
        fn = as_dict(as_dict(call).get("function"))
        answer.tool_calls += 1
        if isinstance(fn.get("arguments"), str):
            answer.text.append(fn["arguments"])


def _openai_usage(usage: Any, answer: Answer, into: str, out: str) -> None:
    """Token counts of an OpenAI usage object (Chat Completions and Responses name them
    differently: ``prompt``/``completion`` or ``input``/``output``)."""
    if not isinstance(usage, dict):
        return
    answer.input_tokens = _tokens(usage, f"{into}_tokens", "usage")
    answer.output_tokens = _tokens(usage, f"{out}_tokens", "usage")
    details = as_dict(usage.get(f"{out}_tokens_details"))
    answer.reasoning_tokens = _tokens(details, "reasoning_tokens", "usage")


def _chat_usage(usage: Any, answer: Answer) -> None:
    _openai_usage(usage, answer, "prompt", "completion")


def _chat_event(event: dict[str, Any], answer: Answer) -> None:
    answer.response_id = answer.response_id or _text(event.get("id"))
    answer.model = answer.model or _text(event.get("model"))
    created = event.get("created")
    if answer.created is None and isinstance(created, int | float):
        answer.created = float(created)
    for choice in as_list(event.get("choices")):
        choice = as_dict(choice)
        if choice.get("index", 0) != 0:
            continue
        delta = as_dict(choice.get("delta"))
        for name in ("reasoning_content", "reasoning"):
            thought = delta.get(name)
            if isinstance(thought, str) and thought:
                answer.reasoning.append(thought)
                break
        content = delta.get("content")
        if isinstance(content, str):
            answer.text.append(content)
        for call in as_list(delta.get("tool_calls")):
            call = as_dict(call)
            if call.get("id"):
                answer.tool_calls += 1
            args = as_dict(call.get("function")).get("arguments")
            if isinstance(args, str):
                answer.text.append(args)
        if choice.get("finish_reason"):
            answer.stop_reason = _text(choice["finish_reason"])
            answer.complete = True
    if event.get("usage"):
        _chat_usage(event["usage"], answer)


# --- Messages -----------------------------------------------------------------------------------
def _messages(body: dict[str, Any]) -> Answer:
    answer = Answer(response_id=_text(body.get("id")), model=_text(body.get("model")))
    for block in as_list(body.get("content")):
        block = as_dict(block)
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            answer.text.append(block["text"])
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            answer.reasoning.append(block["thinking"])
        elif kind in ("tool_use", "server_tool_use"):
            answer.tool_calls += 1
            answer.text.append(json.dumps(block.get("input", {}), ensure_ascii=False))
    answer.stop_reason = _text(body.get("stop_reason"))
    _messages_usage(body.get("usage"), answer)
    return answer


def _messages_usage(usage: Any, answer: Answer) -> None:
    if not isinstance(usage, dict):
        return
    base = _tokens(usage, "input_tokens", "usage")
    if base is not None:
        cached = sum(
            _tokens(usage, k, "usage") or 0
            for k in ("cache_creation_input_tokens", "cache_read_input_tokens")
        )
        answer.input_tokens = base + cached
    out = _tokens(usage, "output_tokens", "usage")
    if out is not None:
        answer.output_tokens = out


def _messages_event(event: dict[str, Any], answer: Answer) -> None:
    kind = event.get("type")
    if kind == "message_start":
        message = as_dict(event.get("message"))
        answer.response_id = _text(message.get("id"))
        answer.model = _text(message.get("model"))
        _messages_usage(message.get("usage"), answer)
    elif kind == "content_block_start":
        block = as_dict(event.get("content_block"))
        if block.get("type") in ("tool_use", "server_tool_use"):
            answer.tool_calls += 1
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            answer.text.append(block["text"])
    elif kind == "content_block_delta":
        delta = as_dict(event.get("delta"))
        dtype = delta.get("type")
        if dtype == "text_delta" and isinstance(delta.get("text"), str):
            answer.text.append(delta["text"])
        elif dtype == "input_json_delta" and isinstance(delta.get("partial_json"), str):
            answer.text.append(delta["partial_json"])
        elif dtype == "thinking_delta" and isinstance(delta.get("thinking"), str):
            answer.reasoning.append(delta["thinking"])
    elif kind == "message_delta":
        answer.stop_reason = _text(as_dict(event.get("delta")).get("stop_reason"))
        _messages_usage(event.get("usage"), answer)
    elif kind == "message_stop":
        answer.complete = True


# --- Responses ----------------------------------------------------------------------------------
def _responses(body: dict[str, Any]) -> Answer:
    answer = Answer(response_id=_text(body.get("id")), model=_text(body.get("model")))
    created = body.get("created_at")
    answer.created = float(created) if isinstance(created, int | float) else None
    for item in as_list(body.get("output")):
        _responses_item(as_dict(item), answer)
    status = body.get("status")
    incomplete = as_dict(body.get("incomplete_details")).get("reason")
    answer.stop_reason = _text(incomplete) or _text(status)
    if status == "failed":
        answer.error = _text(as_dict(body.get("error")).get("code")) or "failed"
    _responses_usage(body.get("usage"), answer)
    return answer


def _responses_item(item: dict[str, Any], answer: Answer) -> None:
    kind = item.get("type")
    if kind == "message":
        for part in as_list(item.get("content")):
            part = as_dict(part)
            if part.get("type") == "output_text" and isinstance(part.get("text"), str):
                answer.text.append(part["text"])
            elif part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
                answer.text.append(part["refusal"])
    elif kind == "reasoning":
        for part in (*as_list(item.get("summary")), *as_list(item.get("content"))):
            text = as_dict(part).get("text")
            if isinstance(text, str):
                answer.reasoning.append(text)
    elif kind in ("function_call", "custom_tool_call"):
        answer.tool_calls += 1
        args = item.get("arguments", item.get("input"))
        if isinstance(args, str):
            answer.text.append(args)
    elif isinstance(kind, str) and kind.endswith("_call"):  # built-in tools: web_search_call, …
        answer.tool_calls += 1


def _responses_usage(usage: Any, answer: Answer) -> None:
    _openai_usage(usage, answer, "input", "output")


def _responses_event(event: dict[str, Any], answer: Answer) -> None:
    kind = event.get("type")
    if kind in ("response.completed", "response.incomplete", "response.failed"):
        final = _responses(as_dict(event.get("response")))
        final.streamed, final.complete = True, True
        if not final.text and not final.reasoning:  # an abridged final event: keep the deltas
            final.text, final.reasoning = answer.text, answer.reasoning
            final.tool_calls = max(final.tool_calls, answer.tool_calls)
        answer.__dict__.update(final.__dict__)
    elif kind == "response.created":
        response = as_dict(event.get("response"))
        answer.response_id = _text(response.get("id"))
        answer.model = _text(response.get("model"))
        created = response.get("created_at")
        answer.created = float(created) if isinstance(created, int | float) else None
    elif kind == "response.output_text.delta" and isinstance(event.get("delta"), str):
        answer.text.append(event["delta"])
    elif kind in (
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
    ) and isinstance(event.get("delta"), str):
        answer.reasoning.append(event["delta"])
    elif kind == "response.function_call_arguments.delta" and isinstance(event.get("delta"), str):
        answer.text.append(event["delta"])
    elif kind == "response.output_item.added":
        item_type = as_dict(event.get("item")).get("type")
        if isinstance(item_type, str) and item_type.endswith("_call"):
            answer.tool_calls += 1
    elif kind == "error":
        answer.error = _text(event.get("code")) or _text(event.get("message")) or "error"
