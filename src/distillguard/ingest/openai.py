"""``openai``: logged pairs of the OpenAI Chat Completions API, one JSON object per line.

Each line holds the request body, the response body and the caller's identity::

    {"request": {"model": "gpt-4o", "messages": [...], "tools": [...], "max_completion_tokens": 512},
     "response": {"id": "chatcmpl-…", "created": 1714000000, "choices": [...], "usage": {...}},
     "metadata": {"account_id": "acct_1", "api_key_id": "key_9", "ip": "203.0.113.7",
                  "ts": "2026-04-22T10:00:00Z", "latency_ms": 850, "status": 200}}

``body`` is accepted for ``request`` (the Batch API's input line) and
``response.body`` is unwrapped (the Batch API's output line).
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
    caller_fields,
    content_text,
    epoch_to_datetime,
    identity,
    need_mapping,
)


class OpenAIAdapter(RecordAdapter):
    name = "openai"
    description = "OpenAI Chat Completions request/response pairs (JSONL)"

    def map_record(self, record: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
        request = need_mapping(record.get("request", record.get("body")), "request")
        response_obj = record.get("response")
        if isinstance(response_obj, dict) and isinstance(response_obj.get("body"), dict):
            response_obj = response_obj["body"]
        response = as_dict(response_obj)
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            raise MappingFailure("request.messages", "expected a non-empty list of messages")
        system = "\n".join(
            content_text(m.get("content"))
            for m in messages
            if isinstance(m, dict) and m.get("role") in ("system", "developer")
        )
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        prompt = content_text(users[-1].get("content")) if users else ""
        tools = request.get("tools")
        usage = as_dict(response.get("usage"))
        details = as_dict(usage.get("completion_tokens_details"))
        choices = response.get("choices") or []
        if not isinstance(choices, list):
            raise MappingFailure(
                "response.choices", f"expected a list, got {type(choices).__name__}"
            )
        first = as_dict(choices[0]) if choices else {}
        message = as_dict(first.get("message"))
        ts_value = identity(record, "ts", "timestamp")
        ts = epoch_to_datetime(ts_value if ts_value is not None else response.get("created"), "ts")
        request_id = identity(record, "request_id") or response.get("id")
        if not request_id:
            raise MappingFailure("request_id", "no request_id in metadata and no response.id")
        effort = request.get("reasoning_effort")
        row = caller_fields(record)
        row.update(
            request_id=str(request_id),
            ts=ts,
            endpoint="chat.completions",
            model=request.get("model") or response.get("model"),
            system=system or None,
            prompt=prompt,
            messages=json.dumps(messages, ensure_ascii=False),
            n_messages=len(messages),
            tools=json.dumps(tools, ensure_ascii=False) if tools else None,
            n_tools=len(tools) if isinstance(tools, list) else 0,
            thinking=bool(effort) and effort not in ("none", "minimal"),
            temperature=request.get("temperature"),
            max_tokens=as_int(
                request.get("max_completion_tokens", request.get("max_tokens")),
                "request.max_tokens",
            ),
            input_tokens=as_int(usage.get("prompt_tokens"), "usage.prompt_tokens"),
            output_tokens=as_int(usage.get("completion_tokens"), "usage.completion_tokens"),
            reasoning_tokens=as_int(details.get("reasoning_tokens"), "usage.reasoning_tokens"),
            response=content_text(message.get("content")) if message else None,
            stop_reason=first.get("finish_reason"),
        )
        calls = message.get("tool_calls") if message else None
        if calls:
            row["tool_calls"] = len(calls) if isinstance(calls, list) else 1
        if response.get("system_fingerprint"):
            row["system_fingerprint"] = response["system_fingerprint"]
        return [row]
