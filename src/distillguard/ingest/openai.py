"""``openai``: logged exchanges of the OpenAI Chat Completions and Responses APIs, one JSON
object per line.

Each line holds the request body, the response body and the caller's identity::

    {"request": {"model": "gpt-4o", "messages": [...], "tools": [...], "max_completion_tokens": 512},
     "response": {"id": "chatcmpl-…", "created": 1714000000, "choices": [...], "usage": {...}},
     "metadata": {"account_id": "acct_1", "api_key_id": "key_9", "ip": "203.0.113.7",
                  "ts": "2026-04-22T10:00:00Z", "latency_ms": 850, "status": 200}}

A request with ``input`` (and no ``messages``) is a Responses API request. The response may
be a JSON body, an error body, or the raw server-sent events of a streamed answer; the
request and response may also be a byte-level capture with URL, headers and status (see
``_pairs``). The Batch API's lines are read by ``openai-batch``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from distillguard.ingest._base import RecordAdapter
from distillguard.ingest._pairs import map_pair


class OpenAIAdapter(RecordAdapter):
    name = "openai"
    description = "OpenAI Chat Completions / Responses request-response pairs (JSONL)"

    def map_record(self, record: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
        row = map_pair(self.with_account(record), None)
        return [row] if row is not None else []
