"""``anthropic``: logged pairs of the Anthropic Messages API, one JSON object per line.

Same envelope as the ``openai`` adapter (``request``, ``response``, ``metadata``). The
request's ``system`` may be text or a list of text blocks; messages carry text, image,
tool_use and tool_result blocks; ``thinking: {"type": "enabled", "budget_tokens": N}``
asks for extended thinking. The response's ``thinking`` blocks are not the answer: their
size is kept in the extra column ``thinking_chars``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from distillguard.ingest._base import (
    MappingFailure,
    RecordAdapter,
    as_dict,
    as_int,
    as_list,
    caller_fields,
    content_text,
    epoch_to_datetime,
    identity,
    need_mapping,
)


class AnthropicAdapter(RecordAdapter):
    name = "anthropic"
    description = "Anthropic Messages API request/response pairs (JSONL)"

    def map_record(self, record: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
        request = need_mapping(record.get("request"), "request")
        response_obj = record.get("response")
        response = as_dict(response_obj)
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            raise MappingFailure("request.messages", "expected a non-empty list of messages")
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        prompt = content_text(users[-1].get("content")) if users else ""
        tools = request.get("tools")
        thinking = request.get("thinking")
        thinking_on = isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
        usage = as_dict(response.get("usage"))
        blocks = as_list(response.get("content"))
        text = "\n".join(
            b["text"]
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        )
        thought = sum(
            len(b["thinking"])
            for b in blocks
            if isinstance(b, dict)
            and b.get("type") == "thinking"
            and isinstance(b.get("thinking"), str)
        )
        ts = epoch_to_datetime(identity(record, "ts", "timestamp"), "ts")
        request_id = identity(record, "request_id") or response.get("id")
        if not request_id:
            raise MappingFailure("request_id", "no request_id in metadata and no response.id")
        input_tokens = as_int(usage.get("input_tokens"), "usage.input_tokens")
        cached = sum(
            as_int(usage.get(k), f"usage.{k}") or 0
            for k in ("cache_creation_input_tokens", "cache_read_input_tokens")
        )
        row = caller_fields(record)
        row.update(
            request_id=str(request_id),
            ts=ts,
            endpoint="messages",
            model=request.get("model") or response.get("model"),
            system=content_text(request.get("system")) or None,
            prompt=prompt,
            messages=json.dumps(messages, ensure_ascii=False),
            n_messages=len(messages),
            tools=json.dumps(tools, ensure_ascii=False) if tools else None,
            n_tools=len(tools) if isinstance(tools, list) else 0,
            thinking=thinking_on,
            temperature=request.get("temperature"),
            max_tokens=as_int(request.get("max_tokens"), "request.max_tokens"),
            input_tokens=None if input_tokens is None else input_tokens + cached,
            output_tokens=as_int(usage.get("output_tokens"), "usage.output_tokens"),
            reasoning_tokens=None,
            response=text if response else None,
            stop_reason=response.get("stop_reason"),
        )
        if thinking_on and isinstance(thinking, dict) and thinking.get("budget_tokens") is not None:
            row["thinking_budget_tokens"] = thinking["budget_tokens"]
        if thought:
            row["thinking_chars"] = thought
        calls = sum(1 for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use")
        if calls:
            row["tool_calls"] = calls
        return [row]
