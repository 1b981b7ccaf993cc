"""What a logged request body asked for, for the three API surfaces, as contract columns.

``prompt`` is the text of the last user turn; ``system`` joins the system and developer
instructions (the Responses API's ``instructions`` included); ``end_user`` is the end user
the caller names (OpenAI ``safety_identifier`` or ``user``, Anthropic ``metadata.user_id``).
"""

from __future__ import annotations

import json
from typing import Any

from distillguard.ingest._answers import Api
from distillguard.ingest._base import MappingFailure, as_dict, as_int, content_text

_SYSTEM_ROLES = ("system", "developer")


def api_of(request: dict[str, Any], path: str | None = None) -> Api | None:
    """The API surface a request body belongs to, from its URL path or else its shape; None
    for a path that is not one of the three (embeddings, moderations, files: not exchanges)."""
    if path:
        tail = path.rstrip("/")
        for suffix, api in (
            ("/responses", "responses"),
            ("/messages", "messages"),
            ("/chat/completions", "chat.completions"),
        ):
            if tail.endswith(suffix):
                return api  # type: ignore[return-value]
        if tail.endswith(("/embeddings", "/moderations", "/completions", "/images/generations",
                          "/audio/transcriptions", "/audio/speech", "/files", "/batches")):  # fmt: skip
            return None
    if "input" in request and "messages" not in request:
        return "responses"
    return "chat.completions"


def read_request(api: Api, request: dict[str, Any]) -> dict[str, Any]:
    """Contract columns of the request ``request`` made to ``api``."""
    if api == "responses":
        return _responses(request)
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        raise MappingFailure("request.messages", "expected a non-empty list of messages")
    dicts = [m for m in messages if isinstance(m, dict)]
    users = [m for m in dicts if m.get("role") == "user"]
    prompt = content_text(users[-1].get("content")) if users else ""
    tools = request.get("tools")
    row: dict[str, Any] = {
        "model": request.get("model"),
        "prompt": prompt,
        "messages": json.dumps(messages, ensure_ascii=False),
        "n_messages": len(messages),
        "tools": json.dumps(tools, ensure_ascii=False) if tools else None,
        "n_tools": len(tools) if isinstance(tools, list) else 0,
        "temperature": request.get("temperature"),
    }
    if api == "messages":
        thinking = request.get("thinking")
        row["system"] = content_text(request.get("system")) or None
        row["thinking"] = isinstance(thinking, dict) and thinking.get("type") in (
            "enabled",
            "adaptive",
        )
        row["max_tokens"] = as_int(request.get("max_tokens"), "request.max_tokens")
        row["end_user"] = as_dict(request.get("metadata")).get("user_id")
    else:
        system = "\n".join(
            content_text(m.get("content")) for m in dicts if m.get("role") in _SYSTEM_ROLES
        )
        row["system"] = system or None
        effort = request.get("reasoning_effort")
        row["thinking"] = bool(effort) and effort not in ("none", "minimal")
        row["max_tokens"] = as_int(
            request.get("max_completion_tokens", request.get("max_tokens")), "request.max_tokens"
        )
        row["end_user"] = _end_user(request)
    return row


def _end_user(request: dict[str, Any]) -> Any:
    for name in ("safety_identifier", "user"):
        value = request.get(name)
        if value not in (None, ""):
            return value
    return None


def _responses(request: dict[str, Any]) -> dict[str, Any]:
    """A Responses API request: ``input`` is text or a list of items (messages, tool outputs)."""
    raw_input = request.get("input")
    if isinstance(raw_input, str):
        items: list[Any] = [{"role": "user", "content": raw_input}]
    elif isinstance(raw_input, list) and raw_input:
        items = raw_input
    else:
        raise MappingFailure("request.input", "expected text or a non-empty list of input items")
    dicts = [i for i in items if isinstance(i, dict)]
    # a message item may omit "type"; tool outputs and earlier outputs carry theirs
    messages = [i for i in dicts if i.get("type", "message") == "message"]
    users = [m for m in messages if m.get("role") == "user"]
    system_parts = [content_text(request.get("instructions"))]
    system_parts += [
        content_text(m.get("content")) for m in messages if m.get("role") in _SYSTEM_ROLES
    ]
    tools = request.get("tools")
    reasoning = as_dict(request.get("reasoning"))
    effort = reasoning.get("effort")
    return {
        "model": request.get("model"),
        "system": "\n".join(p for p in system_parts if p) or None,
        "prompt": content_text(users[-1].get("content")) if users else "",
        "messages": json.dumps(items, ensure_ascii=False),
        "n_messages": len(items),
        "tools": json.dumps(tools, ensure_ascii=False) if tools else None,
        "n_tools": len(tools) if isinstance(tools, list) else 0,
        "temperature": request.get("temperature"),
        "thinking": bool(reasoning) and effort not in ("none", "minimal"),
        "max_tokens": as_int(request.get("max_output_tokens"), "request.max_output_tokens"),
        "end_user": _end_user(request),
    }
