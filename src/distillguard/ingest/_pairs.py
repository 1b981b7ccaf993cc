"""Logged request/response pairs of any of the three API surfaces, as one contract row.

A record holds the request, the response and the caller's identity. The shapes read:

* a logging gateway's pair: ``{"request": BODY, "response": BODY, "metadata": {...}}``;
* a byte-level capture of the HTTP exchange: ``{"request": {"method", "url", "headers",
  "body"}, "response": {"status_code", "headers", "body"}}``, where a body may be JSON text
  and a streamed response body is the raw server-sent events;
* an OpenAI Batch output line (``response.status_code`` / ``response.body``).

A response that is an error body (a refusal, a rate limit) is an exchange with its status
and no token counts; a stream without usage (the SDKs' default) has null token counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from distillguard.ingest._answers import Answer, Api, read_answer
from distillguard.ingest._base import (
    MappingFailure,
    as_dict,
    as_int,
    caller_fields,
    epoch_to_datetime,
    identity,
    loads_if_text,
    need_mapping,
)
from distillguard.ingest._request import api_of, read_request

ENDPOINT: dict[Api, str] = {
    "chat.completions": "chat.completions",
    "messages": "messages",
    "responses": "responses",
}

# the HTTP status each API's error type is sent with (their API references)
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "invalid_api_key": 401,
    "permission_error": 403,
    "permission_denied": 403,
    "not_found_error": 404,
    "model_not_found": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "api_error": 500,
    "server_error": 500,
    "overloaded_error": 529,
}


def _headers(value: Any) -> dict[str, str]:
    """Headers as a lower-cased dict, from an object or a list of pairs."""
    if isinstance(value, dict):
        return {str(k).lower(): str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    if isinstance(value, list):
        for pair in value:
            if isinstance(pair, list | tuple) and len(pair) == 2:
                out[str(pair[0]).lower()] = str(pair[1])
    return out


def _unwrap(
    record: Mapping[str, Any],
) -> tuple[dict[str, Any], Any, str | None, int | None, dict[str, str]]:
    """The request body, the response body, the URL path, the HTTP status and the headers
    (request and response, the response's winning), from whichever envelope the record uses."""
    request = record.get("request", record.get("body"))
    path = None
    status = None
    req_headers: dict[str, str] = {}
    if (
        isinstance(request, dict)
        and "body" in request
        and ("url" in request or "method" in request)
    ):
        path = urlsplit(str(request.get("url") or "")).path or None
        req_headers = _headers(request.get("headers"))
        request = loads_if_text(request.get("body"), "request.body")
    elif isinstance(record.get("url"), str) and "body" in record:  # OpenAI Batch input line
        path = record["url"]
    request = need_mapping(loads_if_text(request, "request"), "request")
    response = record.get("response")
    if (
        isinstance(response, dict)
        and "body" in response
        and ("status_code" in response or "status" in response or "headers" in response)
    ):
        status = as_int(response.get("status_code", response.get("status")), "response.status_code")
        req_headers = {**req_headers, **_headers(response.get("headers"))}
        response = response.get("body")
    if response is None and isinstance(record.get("error"), dict):  # a Batch line that failed
        response = {"error": record["error"]}
    return request, response, path, status, req_headers


def map_pair(record: Mapping[str, Any], api: Api | None = None) -> dict[str, Any] | None:
    """The contract row of one logged exchange; ``api`` None tells it from the request.
    None for a call that is not an exchange (an embedding, a moderation)."""
    request, response, path, http_status, headers = _unwrap(record)
    if api is None or path:
        found = api_of(request, path)
        if found is None:
            return None
        api = found
    row = caller_fields(record)
    if row.get("user_agent") is None and headers.get("user-agent"):
        row["user_agent"] = headers["user-agent"]
    row.update(read_request(api, request))
    answer = read_answer(api, response) if response not in (None, "") else None
    status = row.get("status") or http_status
    if status is None and answer is not None and answer.error is not None:
        status = _ERROR_STATUS.get(answer.error, 500)
    refused = (answer is not None and answer.error is not None) or (status or 200) >= 400
    ts_value = identity(record, "ts", "timestamp")
    if ts_value is None and answer is not None:
        ts_value = answer.created
    row["ts"] = epoch_to_datetime(ts_value, "ts")
    request_id = (
        identity(record, "request_id")
        or (answer.response_id if answer else None)
        or headers.get("x-request-id")  # the API's id of the request (OpenAI, then Anthropic)
        or headers.get("request-id")
    )
    if not request_id:
        raise MappingFailure(
            "request_id", "no request_id in metadata, no response id and no request-id header"
        )
    row["request_id"] = str(request_id)
    row["endpoint"] = ENDPOINT[api]
    row["model"] = row.get("model") or (answer.model if answer else None)
    row["status"] = status if status is not None else 200
    _answer_columns(row, answer, refused)
    extra = _extras(request, answer)
    row.update(extra)
    return row


def _answer_columns(row: dict[str, Any], answer: Answer | None, refused: bool) -> None:
    if answer is None:
        row.update(input_tokens=None, output_tokens=None, response=None)
        return
    row.update(answer.described())
    if refused:
        # never reached the model: nothing billed, nothing answered
        row.update(input_tokens=None, output_tokens=None, response=None)
        row["error"] = answer.error
    else:
        row.update(
            input_tokens=answer.input_tokens,
            output_tokens=answer.output_tokens,
            response=answer.response,
        )


def _extras(request: dict[str, Any], answer: Answer | None) -> dict[str, Any]:
    """Format facts the contract has no column for (kept in ``extra``)."""
    out: dict[str, Any] = {}
    thinking = as_dict(request.get("thinking"))
    if thinking.get("budget_tokens") is not None:
        out["thinking_budget_tokens"] = thinking["budget_tokens"]
    if answer is not None:
        if answer.tool_calls:
            out["tool_calls"] = answer.tool_calls
        if answer.reasoning:
            out["thinking_chars"] = sum(len(t) for t in answer.reasoning)
        if answer.streamed:
            out["stream"] = True
            if not answer.complete:
                out["stream_incomplete"] = True
    return out
