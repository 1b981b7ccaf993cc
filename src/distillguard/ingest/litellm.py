"""``litellm``: LiteLLM proxy spend logs (the ``LiteLLM_SpendLogs`` table), JSONL or CSV.

The account is the key's owner (``user``), else the team, else the hashed key itself;
``api_key`` (already a hash in LiteLLM) becomes ``api_key_id``. ``messages`` and
``response`` are present only when the proxy stores prompts (``store_prompts_in_spend_logs``);
without them ``prompt`` is empty text, which the contract allows. ``status: failure``
maps to HTTP 500 unless the metadata carries the upstream's code.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from distillguard.errors import DamagedFileError
from distillguard.ingest._base import (
    READ_ERRORS,
    MappingFailure,
    RecordAdapter,
    as_dict,
    as_int,
    content_text,
    epoch_to_datetime,
    loads_if_text,
    open_binary,
    position,
    text_stream,
)

_CALL_TYPES = {
    "completion": "chat.completions",
    "acompletion": "chat.completions",
    "text_completion": "completions",
    "atext_completion": "completions",
    "responses": "responses",
    "aresponses": "responses",
    "anthropic_messages": "messages",
    "messages": "messages",
}


class LiteLLMAdapter(RecordAdapter):
    name = "litellm"
    description = "LiteLLM proxy spend-log export (JSONL or CSV)"

    def records(self, path: Path, clip: int) -> Iterator[tuple[int, str, Any, int]]:
        if not path.name.lower().removesuffix(".gz").endswith(".csv"):
            yield from super().records(path, clip)
            return
        csv.field_size_limit(2**31 - 1)
        with open_binary(path) as raw, text_stream(raw) as text:
            reader = csv.DictReader(text)
            number = 0
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    number += 1
                    yield number, "", ValueError(f"malformed CSV: {exc}"), position(raw)
                    continue
                except READ_ERRORS as exc:
                    damage = DamagedFileError(
                        f"unreadable after row {number}: {exc}", row=number + 1
                    )
                    yield number + 1, "", damage, position(raw)
                    return
                number += 1
                yield (
                    number,
                    ",".join(str(v) for v in row.values())[:clip],
                    {k: (v if v != "" else None) for k, v in row.items() if k is not None},
                    position(raw),
                )

    def map_record(self, record: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
        call_type = record.get("call_type") or "acompletion"
        endpoint = _CALL_TYPES.get(str(call_type))
        if endpoint is None:
            return []  # embeddings, image generation, pass-through: not exchanges
        meta = loads_if_text(record.get("metadata"), "metadata")
        meta = as_dict(meta)
        request_id = record.get("request_id")
        if not request_id:
            raise MappingFailure("request_id", "missing")
        account = (
            record.get("user")
            or meta.get("user_api_key_user_id")
            or record.get("team_id")
            or meta.get("user_api_key_team_id")
            or record.get("api_key")
        )
        if not account:
            raise MappingFailure("user", "no user, team_id or api_key to name the account")
        start = epoch_to_datetime(record.get("startTime"), "startTime")
        end_raw = record.get("endTime")
        latency = None
        if end_raw not in (None, ""):
            latency = (epoch_to_datetime(end_raw, "endTime") - start).total_seconds() * 1000
        messages = loads_if_text(record.get("messages"), "messages")
        if isinstance(messages, dict):  # some versions store {"messages": [...]} or a prompt dict
            messages = messages.get("messages", [messages])
        prompt, system, n_messages = "", None, None
        if isinstance(messages, list) and messages:
            users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
            prompt = content_text(users[-1].get("content")) if users else ""
            sys_text = [
                content_text(m.get("content"))
                for m in messages
                if isinstance(m, dict) and m.get("role") in ("system", "developer")
            ]
            system = "\n".join(sys_text) or None
            n_messages = len(messages)
        response = loads_if_text(record.get("response"), "response")
        text = None
        stop = None
        if (
            isinstance(response, dict)
            and isinstance(response.get("choices"), list)
            and response["choices"]
        ):
            choice = response["choices"][0]
            if isinstance(choice, dict):
                text = content_text(as_dict(choice.get("message")).get("content"))
                stop = choice.get("finish_reason")
        elif isinstance(response, str) and response:
            text = response
        status = record.get("status") or meta.get("status")
        code = (
            as_int((meta.get("error_information") or {}).get("error_code"), "metadata.error_code")
            if isinstance(meta.get("error_information"), dict)
            else None
        )
        usage = as_dict(meta.get("usage_object"))
        details = usage.get("completion_tokens_details") if isinstance(usage, dict) else None
        return [
            {
                "request_id": str(request_id),
                "ts": start,
                "account_id": str(account),
                "org_id": record.get("organization_id")
                or meta.get("user_api_key_org_id")
                or record.get("team_id"),
                "api_key_id": record.get("api_key"),
                "ip": record.get("requester_ip_address") or meta.get("requester_ip_address"),
                "user_agent": (
                    meta.get("user_agent") if isinstance(meta.get("user_agent"), str) else None
                ),
                "endpoint": endpoint,
                "model": record.get("model_group") or record.get("model"),
                "system": system,
                "prompt": prompt,
                "messages": messages if isinstance(messages, list) else None,
                "n_messages": n_messages,
                "input_tokens": as_int(record.get("prompt_tokens"), "prompt_tokens"),
                "output_tokens": as_int(record.get("completion_tokens"), "completion_tokens"),
                "reasoning_tokens": as_int(details.get("reasoning_tokens"), "reasoning_tokens")
                if isinstance(details, dict)
                else None,
                "response": text,
                "stop_reason": stop,
                "status": code if code else (500 if status == "failure" else 200),
                "latency_ms": latency,
                "end_user": record.get("end_user") or meta.get("user_api_key_end_user_id"),
                "spend": record.get("spend"),
                "session_id": record.get("session_id"),
            }
        ]
