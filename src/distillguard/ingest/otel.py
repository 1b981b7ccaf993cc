"""``otel``: OpenTelemetry GenAI spans from an OTLP JSON export.

Reads the OTLP/JSON ``ExportTraceServiceRequest`` shape (``resourceSpans`` →
``scopeSpans`` → ``spans``), either one document per line (the collector's file exporter)
or one pretty-printed document per file. Every span whose ``gen_ai.operation.name`` is an
inference (``chat``, ``text_completion``, ``generate_content``) becomes one exchange;
other spans (tools, embeddings, HTTP) are counted as skipped.

Caller identity comes from attributes a gateway adds, on the span or its resource:
``distillguard.account_id`` (else ``user.id``, ``enduser.id``), ``distillguard.org_id``,
``distillguard.api_key_id``, ``client.address``, ``user_agent.original``,
``distillguard.client_fp``, ``distillguard.asn``, ``distillguard.country``.
"""

from __future__ import annotations

import json
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
    as_list,
    content_text,
    epoch_to_datetime,
    iter_json_lines,
    loads_if_text,
    open_binary,
    parse_json,
)

INFERENCE_OPERATIONS = {"chat", "text_completion", "generate_content"}
_PROVIDER_ENDPOINT = {"anthropic": "messages", "aws.bedrock": "messages"}


def attribute_value(value: Any, key: str = "value") -> Any:
    """Decode an OTLP ``AnyValue``; a value of the wrong type names the attribute."""
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return value["stringValue"] if isinstance(value["stringValue"], str) else None
    if "intValue" in value:
        return as_int(value["intValue"], key)
    if "doubleValue" in value:
        number = value["doubleValue"]
        if isinstance(number, bool) or not isinstance(number, int | float | str):
            raise MappingFailure(key, f"doubleValue is a {type(number).__name__}")
        try:
            return float(number)
        except ValueError:
            raise MappingFailure(key, f"doubleValue {str(number)[:40]!r} is not a number") from None
    if "boolValue" in value:
        return value["boolValue"] if isinstance(value["boolValue"], bool) else None
    if "arrayValue" in value:
        return [
            attribute_value(v, key) for v in as_list(as_dict(value["arrayValue"]).get("values"))
        ]
    if "kvlistValue" in value:
        return attributes(as_dict(value["kvlistValue"]).get("values"), key + ".")
    return None


def attributes(items: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(items, list):
        return {}
    return {
        kv["key"]: attribute_value(kv.get("value"), prefix + kv["key"])
        for kv in items
        if isinstance(kv, dict) and isinstance(kv.get("key"), str)
    }


class OtelAdapter(RecordAdapter):
    name = "otel"
    description = "OpenTelemetry GenAI spans, OTLP JSON export"

    def records(self, path: Path, clip: int) -> Iterator[tuple[int, str, Any, int]]:
        lines = iter_json_lines(path, clip)
        first = next(lines, None)
        if first is None:
            return
        if isinstance(first[2], Exception):
            # Not one document per line: one (pretty-printed) document for the whole file.
            try:
                with open_binary(path) as handle:
                    data = handle.read()
            except READ_ERRORS as exc:
                yield 1, "", DamagedFileError(f"unreadable: {exc}"), 0
                return
            yield 1, data[:clip].decode("utf-8", "replace"), parse_json(data), len(data)
            return
        yield first
        yield from lines

    def map_record(self, record: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
        resource_spans = record.get("resourceSpans")
        if not isinstance(resource_spans, list):
            raise MappingFailure("resourceSpans", "expected an OTLP JSON export with resourceSpans")
        rows = []
        for rs in resource_spans:
            if not isinstance(rs, dict):
                continue
            res_attrs = attributes(as_dict(rs.get("resource")).get("attributes"))
            for ss in as_list(rs.get("scopeSpans")):
                for span in as_list(as_dict(ss).get("spans")):
                    if isinstance(span, dict):
                        row = self._span(span, res_attrs)
                        if row is not None:
                            rows.append(row)
        return rows

    def _span(self, span: Mapping[str, Any], res_attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        attrs = {**res_attrs, **attributes(span.get("attributes"))}
        operation = attrs.get("gen_ai.operation.name")
        if operation not in INFERENCE_OPERATIONS:
            return None
        account = next(
            (
                attrs[k]
                for k in ("distillguard.account_id", "user.id", "enduser.id")
                if attrs.get(k)
            ),
            None,
        )
        if account is None:
            raise MappingFailure(
                "account_id", "span has no distillguard.account_id, user.id or enduser.id"
            )
        start = as_int(span.get("startTimeUnixNano"), "startTimeUnixNano")
        end = as_int(span.get("endTimeUnixNano"), "endTimeUnixNano")
        if start is None:
            raise MappingFailure("startTimeUnixNano", "span has no start time")
        inputs = loads_if_text(attrs.get("gen_ai.input.messages"), "gen_ai.input.messages")
        outputs = loads_if_text(attrs.get("gen_ai.output.messages"), "gen_ai.output.messages")
        system = loads_if_text(
            attrs.get("gen_ai.system_instructions"), "gen_ai.system_instructions"
        )
        tools = loads_if_text(attrs.get("gen_ai.tool.definitions"), "gen_ai.tool.definitions")
        prompt = ""
        if isinstance(inputs, list):
            users = [m for m in inputs if isinstance(m, dict) and m.get("role") == "user"]
            if users:
                prompt = content_text(users[-1].get("parts", users[-1].get("content")))
        response = None
        if isinstance(outputs, list):
            response = "\n".join(
                content_text(
                    [
                        p
                        for p in (m.get("parts") or [])
                        if isinstance(p, dict) and p.get("type") == "text"
                    ]
                )
                for m in outputs
                if isinstance(m, dict)
            )
        reasons = attrs.get("gen_ai.response.finish_reasons")
        status_code = attrs.get("http.response.status_code")
        error = (span.get("status") or {}).get("code") in (2, "STATUS_CODE_ERROR")
        provider = attrs.get("gen_ai.provider.name", attrs.get("gen_ai.system"))
        request_id = (
            attrs.get("gen_ai.response.id") or f"{span.get('traceId', '')}:{span.get('spanId', '')}"
        )
        row: dict[str, Any] = {
            "request_id": str(request_id),
            "ts": epoch_to_datetime(start, "startTimeUnixNano", unit=1e9),
            "account_id": str(account),
            "org_id": attrs.get("distillguard.org_id"),
            "api_key_id": attrs.get("distillguard.api_key_id"),
            "ip": attrs.get("client.address"),
            "asn": as_int(attrs.get("distillguard.asn"), "distillguard.asn"),
            "country": attrs.get("distillguard.country"),
            "user_agent": attrs.get("user_agent.original"),
            "client_fp": attrs.get("distillguard.client_fp"),
            "endpoint": _PROVIDER_ENDPOINT.get(str(provider), "chat.completions")
            if operation == "chat"
            else "completions",
            "model": attrs.get("gen_ai.request.model") or attrs.get("gen_ai.response.model"),
            "system": content_text(system) if system else None,
            "prompt": prompt,
            "messages": json.dumps(inputs, ensure_ascii=False) if inputs is not None else None,
            "n_messages": len(inputs) if isinstance(inputs, list) else None,
            "tools": json.dumps(tools, ensure_ascii=False) if tools else None,
            "n_tools": len(tools) if isinstance(tools, list) else 0,
            "thinking": bool(attrs.get("distillguard.thinking", False)),
            "temperature": attrs.get("gen_ai.request.temperature"),
            "max_tokens": as_int(
                attrs.get("gen_ai.request.max_tokens"), "gen_ai.request.max_tokens"
            ),
            "input_tokens": as_int(
                attrs.get("gen_ai.usage.input_tokens"), "gen_ai.usage.input_tokens"
            ),
            "output_tokens": as_int(
                attrs.get("gen_ai.usage.output_tokens"), "gen_ai.usage.output_tokens"
            ),
            # the semantic conventions' name, and the name earlier instrumentations used
            "reasoning_tokens": as_int(
                attrs.get(
                    "gen_ai.usage.reasoning.output_tokens",
                    attrs.get("gen_ai.usage.reasoning_tokens"),
                ),
                "gen_ai.usage.reasoning.output_tokens",
            ),
            "end_user": attrs.get("enduser.id") if account != attrs.get("enduser.id") else None,
            "response_id": attrs.get("gen_ai.response.id"),
            "response_model": attrs.get("gen_ai.response.model"),
            "response": response,
            "stop_reason": reasons[0] if isinstance(reasons, list) and reasons else None,
            "status": as_int(status_code, "http.response.status_code")
            if status_code is not None
            else (500 if error else 200),
            "latency_ms": (end - start) / 1e6 if end is not None else None,
            "provider": provider,
            "trace_id": span.get("traceId"),
            "conversation_id": attrs.get("gen_ai.conversation.id"),
        }
        if row["status"] is not None and row["status"] >= 400:
            # refused or failed: never reached the model, whatever usage the span reports
            row.update(input_tokens=None, output_tokens=None, response=None)
        return row
