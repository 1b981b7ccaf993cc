"""``litellm``: what the LiteLLM proxy logs, JSONL or CSV: its spend logs (the
``LiteLLM_SpendLogs`` table) and its ``StandardLoggingPayload`` (what its logging callbacks
receive; the request id is ``id`` there and the metadata an object).

The account is the key's owner (``user`` / ``user_api_key_user_id``), else the team, else
the hashed key itself; the key's hash (``api_key`` / ``user_api_key_hash``) becomes
``api_key_id``. The request is read from ``proxy_server_request`` (current spend logs keep
``messages`` as ``{}`` and the request there, when ``store_prompts_in_spend_logs`` is on),
else from ``messages`` and ``model_parameters``; without either, ``prompt`` is empty text,
which the contract allows. A failed call takes its status from
``error_information.error_code`` (500 when there is none) and has no token counts: LiteLLM
writes 0 for them. Empty text and ``{}`` read as missing, so JSONL and CSV exports of the
same rows give the same exchanges.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from distillguard.errors import DamagedFileError
from distillguard.ingest._answers import Answer, Api, read_answer
from distillguard.ingest._base import (
    READ_ERRORS,
    MappingFailure,
    RecordAdapter,
    as_dict,
    as_int,
    epoch_to_datetime,
    loads_if_text,
    open_binary,
    position,
    text_stream,
)
from distillguard.ingest._request import read_request

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
        meta = as_dict(loads_if_text(record.get("metadata"), "metadata"))
        # a spend-log row names it request_id; the StandardLoggingPayload, id
        request_id = _present(record.get("request_id")) or _present(record.get("id"))
        if not request_id:
            raise MappingFailure("request_id", "missing (neither request_id nor id)")
        key_hash = _present(record.get("api_key")) or _present(meta.get("user_api_key_hash"))
        account = (
            _present(record.get("user"))
            or _present(meta.get("user_api_key_user_id"))
            or _present(record.get("team_id"))
            or _present(meta.get("user_api_key_team_id"))
            or key_hash
        )
        if not account:
            raise MappingFailure("user", "no user, team_id or api_key to name the account")
        start = epoch_to_datetime(record.get("startTime"), "startTime")
        end_raw = record.get("endTime")
        latency = None
        if end_raw not in (None, ""):
            latency = (epoch_to_datetime(end_raw, "endTime") - start).total_seconds() * 1000
        api: Api = (
            "responses"
            if endpoint == "responses"
            else ("messages" if endpoint == "messages" else "chat.completions")
        )
        row: dict[str, Any] = {
            "request_id": str(request_id),
            "ts": start,
            "account_id": str(account),
            "org_id": _present(record.get("organization_id"))
            or _present(meta.get("user_api_key_org_id"))
            or _present(record.get("team_id")),
            "api_key_id": key_hash,
            "ip": _present(record.get("requester_ip_address"))
            or _present(meta.get("requester_ip_address")),
            "user_agent": _present(record.get("user_agent")) or _present(meta.get("user_agent")),
            "endpoint": endpoint,
            "model": _present(record.get("model_group")) or record.get("model"),
            "latency_ms": latency,
            "end_user": _present(record.get("end_user"))
            or _present(meta.get("user_api_key_end_user_id")),
            "spend": _number(record.get("spend", record.get("response_cost"))),
            "session_id": _present(record.get("session_id")),
        }
        # what the log row itself says wins over what is read from the request it kept
        for name, value in _request_columns(record, api).items():
            if row.get(name) is None:
                row[name] = _present(value) if name == "end_user" else value
        status = _status(record, meta)
        row["status"] = status
        answer = _answer(record, api)
        if status >= 400:
            row.update(input_tokens=None, output_tokens=None, response=None)
        else:
            row["input_tokens"] = as_int(record.get("prompt_tokens"), "prompt_tokens")
            row["output_tokens"] = as_int(record.get("completion_tokens"), "completion_tokens")
            row["response"] = answer.response if answer is not None else None
        if answer is not None:
            row.update(answer.described())
        if row.get("reasoning_tokens") is None:
            details = as_dict(as_dict(meta.get("usage_object")).get("completion_tokens_details"))
            row["reasoning_tokens"] = as_int(details.get("reasoning_tokens"), "reasoning_tokens")
        return [row]


def _present(value: Any) -> Any:
    """``value``, or None for the empty text and ``{}`` a CSV export or LiteLLM writes for
    a missing value."""
    if value in ("", "{}", "[]", "None", "null") or value == {}:
        return None
    return value


def _number(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _request_columns(record: Mapping[str, Any], api: Api) -> dict[str, Any]:
    """What was asked: the request body LiteLLM kept (``proxy_server_request``, with the
    parameters), else the ``messages`` it logged (the StandardLoggingPayload's, or a spend
    log's when prompts are stored in its older layout)."""
    body = _present(loads_if_text(record.get("proxy_server_request"), "proxy_server_request"))
    if isinstance(body, dict) and isinstance(body.get("body"), dict):
        body = body["body"]  # the proxy's {"url", "method", "headers", "body"}
    if isinstance(body, dict) and ("messages" in body or "input" in body):
        return read_request(api, body)
    messages = _present(loads_if_text(record.get("messages"), "messages"))
    if isinstance(messages, dict):  # some versions store {"messages": [...]} or a prompt dict
        messages = messages.get("messages", [messages])
    params = as_dict(record.get("model_parameters"))
    if isinstance(messages, list) and messages:
        request = {**params, "messages": messages}
        if api == "responses":
            request = {**params, "input": messages}
        return read_request(api, request)
    return {"prompt": "", "messages": None, "n_messages": None}


def _status(record: Mapping[str, Any], meta: dict[str, Any]) -> int:
    """The HTTP status: the error's code when the call failed, else 200."""
    error = as_dict(record.get("error_information")) or as_dict(meta.get("error_information"))
    code = _present(error.get("error_code"))
    failed = record.get("status") == "failure" or code is not None
    if code is not None:
        number = as_int(code, "error_information.error_code")
        if number is not None and 100 <= number <= 599:
            return number
    return 500 if failed else 200


def _answer(record: Mapping[str, Any], api: Api) -> Answer | None:
    response = _present(loads_if_text(record.get("response"), "response"))
    if isinstance(response, dict):
        return read_answer(api, response)
    if isinstance(response, str):
        return Answer(text=[response])
    return None
