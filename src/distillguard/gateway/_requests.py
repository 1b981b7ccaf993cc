"""Reading requests of the three API surfaces (OpenAI Chat Completions and Responses,
Anthropic Messages), and answering errors in each API's own format."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from starlette.responses import Response

Api = Literal["openai", "anthropic", "responses"]
"""``openai`` is Chat Completions, ``responses`` OpenAI's Responses API, ``anthropic`` Messages."""

OPENAI_FIELDS = frozenset(
    [
        "model",
        "messages",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "n",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "user",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "seed",
        "reasoning_effort",
        "reasoning",
        "metadata",
        "store",
        "modalities",
        "audio",
        "prediction",
        "service_tier",
        "functions",
        "function_call",
        "web_search_options",
        "verbosity",
        "prompt_cache_key",
        "safety_identifier",
    ]
)
RESPONSES_FIELDS = frozenset(
    [
        "model",
        "input",
        "instructions",
        "stream",
        "stream_options",
        "max_output_tokens",
        "max_tool_calls",
        "temperature",
        "top_p",
        "top_logprobs",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning",
        "text",
        "truncation",
        "include",
        "metadata",
        "store",
        "background",
        "previous_response_id",
        "conversation",
        "prompt",
        "prompt_cache_key",
        "service_tier",
        "user",
        "safety_identifier",
    ]
)
ANTHROPIC_FIELDS = frozenset(
    [
        "model",
        "messages",
        "max_tokens",
        "system",
        "stream",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "tools",
        "tool_choice",
        "thinking",
        "metadata",
        "service_tier",
        "container",
        "mcp_servers",
        "context_management",
    ]
)

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "api_error",
    503: "api_error",
}
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    502: "api_error",
    503: "overloaded_error",
}


class ApiError(Exception):
    """An answer the gateway gives instead of the upstream's."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str,
        param: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}
        self.extra = extra or {}

    def body(self, api: Api) -> bytes:
        """The error in the API's own format."""
        if api == "anthropic":
            err: dict[str, Any] = {
                "type": _ANTHROPIC_TYPES.get(self.status, "api_error"),
                "message": self.message,
                "code": self.code,
                **self.extra,
            }
            body: dict[str, Any] = {"type": "error", "error": err}
        else:
            body = {
                "error": {
                    "message": self.message,
                    "type": _OPENAI_TYPES.get(self.status, "api_error"),
                    "param": self.param,
                    "code": self.code,
                    **self.extra,
                }
            }
        return orjson.dumps(body)

    def response(self, api: Api) -> Response:
        return Response(
            self.body(api), self.status, headers=self.headers, media_type="application/json"
        )


@dataclass(slots=True)
class Parsed:
    """The facts of a request the gateway decides on and logs."""

    model: str
    stream: bool
    messages: list[Any]
    system: str | None
    prompt: str
    tools: list[Any] | None
    thinking: bool
    max_tokens: int | None
    temperature: float | None
    end_user: str | None = None
    """The end user the caller names: OpenAI ``safety_identifier`` / ``user``, Anthropic
    ``metadata.user_id``."""


def _end_user(*values: Any) -> str | None:
    for value in values:
        if isinstance(value, str) and value:
            return value[:256]
    return None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, dict) and part.get("type") == "tool_result":
                parts.append(_text(part.get("content")))
        return "\n".join(parts)
    return ""


def _token_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_TOKENS


def _bad(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, code="invalid_request", param=param)


# JSON the gateway can log: orjson re-encodes at most 254 levels of nesting; an upstream
# API takes 32-bit token counts
MAX_DEPTH = 254
MAX_TOKENS = 2**31 - 1


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def too_deep(value: Any, limit: int = MAX_DEPTH) -> str | None:
    """The path of the first place ``value`` nests deeper than ``limit``, or None."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        node, depth, path = stack.pop()
        if depth > limit:
            return path or "(body)"
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            if isinstance(v, dict | list):
                step = f"[{k}]" if isinstance(k, int) else (f".{k}" if path else str(k))
                if len(path) < 60:
                    stack.append((v, depth + 1, path + step))
                else:
                    stack.append((v, depth + 1, path if path.endswith("…") else path + "…"))
    return None


def load_body(raw: bytes) -> Any:
    """A request body as the gateway checks, forwards and logs it, or an API-format 400.

    Refused: malformed JSON or UTF-8 (lone surrogates included), nesting deeper than
    :data:`MAX_DEPTH` (the exchange log could not record it), and duplicate object keys (an
    upstream that keeps the first ``model`` or ``thinking`` while the gateway checks the
    last would bypass its checks). A body already in compact form, as the official SDKs
    send it, is proven free of duplicates by re-encoding it; any other is read again by a
    parser that sees every key."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"malformed JSON body: {exc}", code="invalid_json") from None
    if not isinstance(data, dict | list):
        return data
    try:
        canonical = orjson.dumps(data)
    except orjson.JSONEncodeError:
        path = too_deep(data) or "(body)"
        raise _bad(f"JSON nested deeper than {MAX_DEPTH} levels at {path}", path) from None
    if canonical != raw.strip():
        try:
            json.loads(raw, object_pairs_hook=_no_duplicates)
        except _DuplicateKey as exc:
            raise ApiError(
                400, f"duplicate key {exc.key[:100]!r} in the JSON body",
                code="invalid_json", param=exc.key[:100],
            ) from None  # fmt: skip
        except (ValueError, RecursionError) as exc:
            raise ApiError(400, f"malformed JSON body: {exc}", code="invalid_json") from None
    return data


def parse(api: Api, body: Any, *, strict: bool) -> Parsed:
    """Check the fields the gateway relies on; everything else is the upstream's to judge."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object")
    if strict:
        known = {"openai": OPENAI_FIELDS, "anthropic": ANTHROPIC_FIELDS}.get(api, RESPONSES_FIELDS)
        unknown = sorted(k for k in body if k not in known)
        if unknown:
            raise _bad(f"unknown field {unknown[0][:100]!r}", unknown[0][:100])
    model = body.get("model")
    if not isinstance(model, str) or not model or len(model) > 256:
        raise _bad("'model' must be a non-empty string of at most 256 characters", "model")
    if api == "responses":
        return _parse_responses(body, model)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("'messages' must be a non-empty array", "messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise _bad(f"messages[{i}] must be an object with a 'role'", f"messages[{i}]")
    stream, tools, temperature = _common_fields(body)
    if api == "anthropic":
        max_tokens = body.get("max_tokens")
        if not _token_count(max_tokens):
            raise _bad(f"'max_tokens' must be an integer from 1 to {MAX_TOKENS}", "max_tokens")
        system_field = body.get("system")
        system = _text(system_field) if system_field is not None else None
        thinking_field = body.get("thinking")
        thinking = isinstance(thinking_field, dict) and thinking_field.get("type") in (
            "enabled",
            "adaptive",
        )
        metadata = body.get("metadata")
        end_user = _end_user(metadata.get("user_id")) if isinstance(metadata, dict) else None
    else:
        field = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
        max_tokens = body.get(field)
        if max_tokens is not None and not _token_count(max_tokens):
            raise _bad(f"'{field}' must be an integer from 1 to {MAX_TOKENS}", field)
        sys_parts = [
            _text(m.get("content")) for m in messages if m["role"] in ("system", "developer")
        ]
        system = "\n".join(sys_parts) if sys_parts else None
        thinking = bool(body.get("reasoning_effort") or body.get("reasoning"))
        end_user = _end_user(body.get("safety_identifier"), body.get("user"))
    prompt = ""
    for m in reversed(messages):
        if m["role"] == "user":
            prompt = _text(m.get("content"))
            break
    return Parsed(
        model=model,
        stream=stream,
        messages=messages,
        system=system,
        prompt=prompt,
        tools=tools,
        thinking=thinking,
        max_tokens=max_tokens,
        temperature=temperature,
        end_user=end_user,
    )


def _common_fields(body: dict[str, Any]) -> tuple[bool, list[Any] | None, float | None]:
    """``stream``, ``tools`` and ``temperature``, checked: the same in every API."""
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("'stream' must be a boolean", "stream")
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise _bad("'tools' must be an array", "tools")
    temperature = body.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, int | float)
    ):
        raise _bad("'temperature' must be a number", "temperature")
    return stream, tools, float(temperature) if temperature is not None else None


def _parse_responses(body: dict[str, Any], model: str) -> Parsed:
    """A Responses API request: ``input`` is text or a list of items (messages with a
    ``role``, tool outputs, earlier outputs); ``instructions`` is the system prompt."""
    raw = body.get("input")
    if isinstance(raw, str):
        items: list[Any] = [{"role": "user", "content": raw}]
    elif isinstance(raw, list) and raw:
        items = raw
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise _bad(f"input[{i}] must be an object", f"input[{i}]")
    else:
        raise _bad("'input' must be text or a non-empty array of items", "input")
    stream, tools, temperature = _common_fields(body)
    max_tokens = body.get("max_output_tokens")
    if max_tokens is not None and not _token_count(max_tokens):
        raise _bad(
            f"'max_output_tokens' must be an integer from 1 to {MAX_TOKENS}", "max_output_tokens"
        )
    reasoning = body.get("reasoning")
    if reasoning is not None and not isinstance(reasoning, dict):
        raise _bad("'reasoning' must be an object", "reasoning")
    instructions = body.get("instructions")
    messages = [i for i in items if i.get("type", "message") == "message"]
    sys_parts = [_text(instructions)] if instructions is not None else []
    sys_parts += [
        _text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
    ]
    prompt = ""
    for m in reversed(messages):
        if m.get("role") == "user":
            prompt = _text(m.get("content"))
            break
    effort = reasoning.get("effort") if isinstance(reasoning, dict) else None
    return Parsed(
        model=model,
        stream=stream,
        messages=items,
        system="\n".join(p for p in sys_parts if p) or None,
        prompt=prompt,
        tools=tools,
        thinking=isinstance(reasoning, dict) and effort not in ("none", "minimal"),
        max_tokens=max_tokens,
        temperature=temperature,
        end_user=_end_user(body.get("safety_identifier"), body.get("user")),
    )


def api_key(headers: Any) -> str | None:
    """The client's key, from ``Authorization: Bearer`` (OpenAI) or ``x-api-key`` (Anthropic)."""
    key = headers.get("x-api-key")
    if not key:
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            key = auth[7:].strip()
    if not key or len(key) > 512 or not key.isprintable():
        return None
    return str(key)
