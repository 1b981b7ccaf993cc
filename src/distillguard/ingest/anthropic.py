"""``anthropic``: logged exchanges of the Anthropic Messages API, one JSON object per line.

Same envelopes as the ``openai`` adapter (``request``, ``response``, ``metadata``, or a
byte-level capture). The request's ``system`` may be text or a list of text blocks;
messages carry text, image, tool_use and tool_result blocks; ``thinking: {"type":
"enabled", "budget_tokens": N}`` asks for extended thinking, and the answer's ``thinking``
blocks become the ``reasoning`` column. ``metadata.user_id`` is the end user.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from distillguard.ingest._base import RecordAdapter
from distillguard.ingest._pairs import map_pair


class AnthropicAdapter(RecordAdapter):
    name = "anthropic"
    description = "Anthropic Messages API request/response pairs (JSONL)"

    def map_record(self, record: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
        row = map_pair(self.with_account(record), "messages")
        return [row] if row is not None else []
