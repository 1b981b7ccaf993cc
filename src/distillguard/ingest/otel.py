"""``otel``: OpenTelemetry GenAI spans and log events from OTLP JSON exports.

Reads the OTLP/JSON ``ExportTraceServiceRequest`` (``resourceSpans`` → ``scopeSpans`` →
``spans``) and ``ExportLogsServiceRequest`` (``resourceLogs`` → ``scopeLogs`` →
``logRecords``) shapes, one document per line (the collector's file exporter) or one
pretty-printed document per file. Give the traces and the logs of the same run in one
command: every span whose ``gen_ai.operation.name`` is an inference (``chat``,
``text_completion``, ``generate_content``) becomes one exchange, with the content the
instrumentation put on log events of that span (``event_only`` / ``span_and_event``
capture) joined by trace and span id. An inference event whose span is not among the files
is an exchange of its own. Spans of one call recorded twice (the SDK's own span and an
instrumentation's, same ``gen_ai.response.id``) are merged into one exchange keeping the
richest value of each attribute; the other counts as skipped. Other spans (tools,
embeddings, HTTP) and joined events are counted as skipped.

The account is the first of ``account_attributes`` (settings ``ingest.otel_account_attributes``,
span then resource) that is set; no instrumentation sets one, so name the attribute your
deployment carries (``tenant.id``, ``service.name``, a gateway's key-hash attribute) or give a
default with ``--account`` (the report names how many records got it). Other identity:
``distillguard.org_id``, ``distillguard.api_key_id``, ``client.address``,
``user_agent.original``, ``distillguard.client_fp``, ``distillguard.asn``,
``distillguard.country``, ``enduser.id`` (the end user).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
ACCOUNT_ATTRIBUTES = ("distillguard.account_id", "user.id", "enduser.id")
_CONTENT = ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
            "gen_ai.tool.definitions")  # fmt: skip
# per-message events of earlier instrumentations: the role each one is
_MESSAGE_EVENTS = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
                   "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}  # fmt: skip
# the SDKs' exception classes, as ``error.type`` names them, and the status each is raised for
_ERROR_CLASSES = {"BadRequestError": 400, "AuthenticationError": 401,
                  "PermissionDeniedError": 403, "NotFoundError": 404, "ConflictError": 409,
                  "UnprocessableEntityError": 422, "RateLimitError": 429,
                  "InternalServerError": 500, "OverloadedError": 529}  # fmt: skip
_ERROR_CODE = re.compile(r"Error code: (\d{3})")
SpanKey = tuple[str, str]
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
    description = "OpenTelemetry GenAI spans and log events, OTLP JSON export"

    def __init__(
        self, account: str | None = None, account_attributes: Sequence[str] = ACCOUNT_ATTRIBUTES
    ) -> None:
        super().__init__(account)
        self.account_attributes = tuple(account_attributes)
        self._events: dict[SpanKey, dict[str, Any]] = {}
        self._spans: set[SpanKey] = set()
        self._merged: dict[str, dict[str, Any]] = {}
        """Attributes of every span of a call recorded more than once, by response id."""
        self._kept: dict[str, SpanKey] = {}
        """The span each such call is emitted at."""

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

    # -- reading every file once before any is mapped ------------------------------------------
    def prepare(self, paths: Sequence[Path]) -> None:
        """Index the log events by span, the spans present, and the calls recorded twice."""
        seen: dict[str, list[SpanKey]] = {}
        for path in paths:
            for _, _, doc, _ in self.records(path, 0):
                if not isinstance(doc, dict):
                    continue
                for _, _, record in _items(doc, "resourceLogs", "scopeLogs", "logRecords"):
                    try:
                        self._index_event(record)
                    except (MappingFailure, TypeError, ValueError, AttributeError):
                        continue  # an event that cannot be read adds nothing to its span
                for _, span in _spans(doc):
                    key = _key(span)
                    attrs = _attributes_or_none(span.get("attributes"))
                    if key is None or attrs is None:
                        continue
                    self._spans.add(key)
                    response_id = attrs.get("gen_ai.response.id")
                    if attrs.get("gen_ai.operation.name") in INFERENCE_OPERATIONS and isinstance(
                        response_id, str
                    ):
                        seen.setdefault(response_id, []).append(key)
        twice = {rid: keys for rid, keys in seen.items() if len(keys) > 1}
        if not twice:
            return
        wanted = {key: rid for rid, keys in twice.items() for key in keys}
        for path in paths:
            for _, _, doc, _ in self.records(path, 0):
                if not isinstance(doc, dict):
                    continue
                for res_attrs, span in _spans(doc):
                    key = _key(span)
                    if key in wanted:
                        attrs = _attributes_or_none(span.get("attributes")) or {}
                        merged = self._merged.setdefault(wanted[key], {})
                        _merge(merged, {**res_attrs, **attrs})
        self._kept = {rid: keys[0] for rid, keys in twice.items()}

    def _index_event(self, record: dict[str, Any]) -> None:
        key = _key(record)
        attrs = _attributes_or_none(record.get("attributes"))
        if key is None or attrs is None:
            return
        name = record.get("eventName") or attrs.get("event.name")
        event = self._events.setdefault(key, {})
        if name in _MESSAGE_EVENTS or name == "gen_ai.choice":
            body = attribute_value(record.get("body"), "body")
            body = body if isinstance(body, dict) else {}
            content = body.get("content", body.get("message", {}))
            if isinstance(content, dict):
                content = content.get("content")
            if name == "gen_ai.choice":
                event.setdefault("_outputs", []).append({"role": "assistant", "content": content})
            else:
                event.setdefault("_inputs", []).append(
                    {"role": _MESSAGE_EVENTS[str(name)], "content": content}
                )
        else:
            _merge(event, attrs)
            event["_time"] = record.get("timeUnixNano") or record.get("observedTimeUnixNano")

    # -- mapping -----------------------------------------------------------------------------
    def map_record(self, record: Mapping[str, Any]) -> Iterable[Any]:
        if isinstance(record.get("resourceLogs"), list):
            return self._standalone_events(record)
        resource_spans = record.get("resourceSpans")
        if not isinstance(resource_spans, list):
            raise MappingFailure(
                "resourceSpans", "expected an OTLP JSON export with resourceSpans or resourceLogs"
            )
        return [self._mapped(span, res_attrs, "span") for res_attrs, span in _spans(record)]

    def _mapped(self, span: Mapping[str, Any], res_attrs: Mapping[str, Any], what: str) -> Any:
        """The span's row, None, or the failure naming it: one span's problem rejects that
        span, not the whole export line."""
        try:
            return self._span(span, res_attrs)
        except MappingFailure as exc:
            return MappingFailure(exc.field, f"{what} {_name(span)}: {exc.reason}")

    def _standalone_events(self, record: Mapping[str, Any]) -> list[Any]:
        out: list[Any] = []
        for res_attrs, _, log in _items(record, "resourceLogs", "scopeLogs", "logRecords"):
            key = _key(log)
            attrs = _attributes_or_none(log.get("attributes")) or {}
            if key in self._spans or attrs.get("gen_ai.operation.name") not in INFERENCE_OPERATIONS:
                continue  # read with its span, or not an inference
            span = {"traceId": key[0] if key else "", "spanId": key[1] if key else "",
                    "startTimeUnixNano": log.get("timeUnixNano") or log.get("observedTimeUnixNano"),
                    "attributes": log.get("attributes")}  # fmt: skip
            out.append(self._mapped(span, res_attrs, "event"))
        return out

    def _span(self, span: Mapping[str, Any], res_attrs: Mapping[str, Any]) -> dict[str, Any] | None:
        attrs = in_genai_terms({**res_attrs, **attributes(span.get("attributes"))})
        if attrs.get("gen_ai.operation.name") not in INFERENCE_OPERATIONS:
            return None
        key = _key(span)
        response_id = attrs.get("gen_ai.response.id")
        if isinstance(response_id, str) and response_id in self._kept:
            if self._kept[response_id] != key:
                return None  # the same call's other span: merged into the kept one
            _merge(attrs, self._merged[response_id])
        event = self._events.get(key) if key is not None else None
        if event:
            _merge(attrs, {k: v for k, v in event.items() if not k.startswith("_")})
        account = next((attrs[k] for k in self.account_attributes if attrs.get(k)), None)
        if account is None:
            account = self.account
            if account is None:
                raise MappingFailure(
                    "account_id",
                    f"none of {', '.join(self.account_attributes)} is set on the span or its "
                    "resource: name your deployment's attribute in ingest.otel_account_attributes "
                    "or give a default with --account",
                )
            self.defaulted += 1
        start = as_int(span.get("startTimeUnixNano"), "startTimeUnixNano")
        end = as_int(span.get("endTimeUnixNano"), "endTimeUnixNano")
        if start is None:
            raise MappingFailure("startTimeUnixNano", "span has no start time")
        inputs = loads_if_text(attrs.get("gen_ai.input.messages"), "gen_ai.input.messages")
        if inputs is None and event and event.get("_inputs"):
            inputs = event["_inputs"]
        outputs = loads_if_text(attrs.get("gen_ai.output.messages"), "gen_ai.output.messages")
        if outputs is None and event and event.get("_outputs"):
            outputs = event["_outputs"]
        system = loads_if_text(
            attrs.get("gen_ai.system_instructions"), "gen_ai.system_instructions"
        )
        tools = loads_if_text(attrs.get("gen_ai.tool.definitions"), "gen_ai.tool.definitions")
        prompt, system_text = "", content_text(system) if system else ""
        if isinstance(inputs, list):
            messages = [m for m in inputs if isinstance(m, dict)]
            users = [m for m in messages if m.get("role") == "user"]
            if users:
                prompt = content_text(users[-1].get("parts", users[-1].get("content")))
            inline = [
                content_text(m.get("parts", m.get("content")))
                for m in messages
                if m.get("role") in ("system", "developer")
            ]
            system_text = "\n".join(t for t in (system_text, *inline) if t)
        response, reasoning = _outputs(outputs)
        reasons = attrs.get("gen_ai.response.finish_reasons")
        status = _status(span, attrs)
        provider = attrs.get("gen_ai.provider.name", attrs.get("gen_ai.system"))
        thinking = attrs.get("anthropic.thinking.type") in ("enabled", "adaptive") or bool(
            attrs.get("distillguard.thinking", False)
            or attrs.get("gen_ai.request.reasoning_effort")
        )
        row: dict[str, Any] = {
            "request_id": str(response_id or f"{span.get('traceId', '')}:{span.get('spanId', '')}"),
            "ts": epoch_to_datetime(start, "startTimeUnixNano", unit=1e9),
            "account_id": str(account),
            "org_id": attrs.get("distillguard.org_id"),
            "api_key_id": attrs.get("distillguard.api_key_id"),
            "end_user": attrs.get("enduser.id") if account != attrs.get("enduser.id") else None,
            "ip": attrs.get("client.address"),
            "asn": as_int(attrs.get("distillguard.asn"), "distillguard.asn"),
            "country": attrs.get("distillguard.country"),
            "user_agent": attrs.get("user_agent.original"),
            "client_fp": attrs.get("distillguard.client_fp"),
            "endpoint": _PROVIDER_ENDPOINT.get(str(provider), "chat.completions")
            if attrs.get("gen_ai.operation.name") != "text_completion"
            else "completions",
            "model": attrs.get("gen_ai.request.model") or attrs.get("gen_ai.response.model"),
            "system": system_text or None,
            "prompt": prompt,
            "messages": json.dumps(inputs, ensure_ascii=False) if inputs is not None else None,
            "n_messages": len(inputs) if isinstance(inputs, list) else None,
            "tools": json.dumps(tools, ensure_ascii=False) if tools else None,
            "n_tools": len(tools) if isinstance(tools, list) else 0,
            "thinking": thinking or bool(reasoning),
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
            "response": response,
            "reasoning": reasoning,
            "stop_reason": reasons[0]
            if isinstance(reasons, list) and reasons
            else attrs.get("anthropic.message.stop_reason"),
            "response_id": response_id,
            "response_model": attrs.get("gen_ai.response.model"),
            "status": status,
            "latency_ms": (end - start) / 1e6 if end is not None else None,
            "provider": provider,
            "trace_id": span.get("traceId"),
            "conversation_id": attrs.get("gen_ai.conversation.id"),
        }
        if status >= 400:
            # refused or failed: never reached the model, whatever usage the span reports
            row.update(input_tokens=None, output_tokens=None, response=None, reasoning=None)
            row["error"] = attrs.get("error.type")
        return row


def _items(
    doc: Mapping[str, Any], top: str, scopes: str, records: str
) -> Iterator[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """``(resource attributes, scope, record)`` of every record in an OTLP document."""
    for rs in as_list(doc.get(top)):
        if not isinstance(rs, dict):
            continue
        res_attrs = _attributes_or_none(as_dict(rs.get("resource")).get("attributes")) or {}
        for ss in as_list(rs.get(scopes)):
            scope = as_dict(as_dict(ss).get("scope"))
            for record in as_list(as_dict(ss).get(records)):
                if isinstance(record, dict):
                    yield res_attrs, scope, record


def _spans(doc: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for res_attrs, _, span in _items(doc, "resourceSpans", "scopeSpans", "spans"):
        yield res_attrs, span


def _attributes_or_none(items: Any) -> dict[str, Any] | None:
    """Attributes decoded, or None when one has a value of the wrong type (the mapping pass
    rejects that span, naming the attribute)."""
    try:
        return attributes(items)
    except MappingFailure:
        return None


def _key(record: Mapping[str, Any]) -> SpanKey | None:
    trace, span = record.get("traceId"), record.get("spanId")
    if isinstance(trace, str) and isinstance(span, str) and trace and span:
        return trace.lower(), span.lower()
    return None


def _name(span: Mapping[str, Any]) -> str:
    return f"{str(span.get('traceId', ''))[:32]}:{str(span.get('spanId', ''))[:16]}"


def _merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    """Fill ``into`` from ``other``: missing values, and longer content."""
    for key, value in other.items():
        if value in (None, "", [], {}):
            continue
        have = into.get(key)
        if have in (None, "", [], {}) or (
            key in _CONTENT
            and len(json.dumps(value, default=str)) > len(json.dumps(have, default=str))
        ):
            into[key] = value


def _outputs(outputs: Any) -> tuple[str | None, str | None]:
    """The answer's text and reasoning from ``gen_ai.output.messages``."""
    if not isinstance(outputs, list):
        return None, None
    text: list[str] = []
    thought: list[str] = []
    for message in outputs:
        if not isinstance(message, dict):
            continue
        parts = message.get("parts")
        if not isinstance(parts, list):
            content = content_text(message.get("content"))
            if content:
                text.append(content)
            continue
        for part in parts:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "text" and isinstance(part.get("content"), str):
                text.append(part["content"])
            elif kind == "reasoning" and isinstance(part.get("content"), str):
                thought.append(part["content"])
            elif kind == "tool_call":
                args = part.get("arguments")
                text.append(args if isinstance(args, str) else json.dumps(args, ensure_ascii=False))
    return "".join(text), ("".join(thought) or None)


def _status(span: Mapping[str, Any], attrs: Mapping[str, Any]) -> int:
    """The HTTP status: the attribute, else the SDK error the span records, else 200."""
    code = attrs.get("http.response.status_code")
    if code is not None:
        number = as_int(code, "http.response.status_code")
        if number is not None and 100 <= number <= 599:
            return number
    status = as_dict(span.get("status"))
    if status.get("code") not in (2, "STATUS_CODE_ERROR") and not attrs.get("error.type"):
        return 200
    found = _ERROR_CODE.search(str(status.get("message", "")))
    if found:
        return int(found.group(1))
    error_type = str(attrs.get("error.type", ""))
    for name, number in _ERROR_CLASSES.items():
        if name in error_type:
            return number
    return 500


_INDEXED = re.compile(r"^(?P<stem>.+?)\.(?P<i>\d+)\.(?P<rest>.+)$")


def _indexed(attrs: Mapping[str, Any], stem: str) -> list[dict[str, Any]]:
    """``stem.0.x``, ``stem.0.y``, ``stem.1.x``… as ``[{"x": …, "y": …}, …]`` in index order."""
    items: dict[int, dict[str, Any]] = {}
    prefix = stem + "."
    for key, value in attrs.items():
        if key.startswith(prefix):
            found = _INDEXED.match(key)
            if found and found.group("stem") == stem:
                items.setdefault(int(found.group("i")), {})[found.group("rest")] = value
    return [items[i] for i in sorted(items)]


def in_genai_terms(attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes of the other conventions instrumentations write, restated in the GenAI
    semantic conventions' terms (what is set already is kept):

    * OpenInference (Arize Phoenix): ``openinference.span.kind`` ``LLM``, ``llm.model_name``,
      ``llm.input_messages.N.message.role|content``, ``llm.output_messages.N.message.…``,
      ``llm.token_count.prompt|completion``, ``llm.invocation_parameters``, ``output.value``;
    * earlier OpenLLMetry releases: ``gen_ai.prompt.N.role|content``,
      ``gen_ai.completion.N.role|content|finish_reason``, ``gen_ai.usage.prompt_tokens`` /
      ``completion_tokens``, ``llm.request.type``.
    """
    out = dict(attrs)

    def put(key: str, value: Any) -> None:
        if value is not None and out.get(key) in (None, ""):
            out[key] = value

    if str(attrs.get("openinference.span.kind", "")).upper() == "LLM":
        put("gen_ai.operation.name", "chat")
        put("gen_ai.provider.name", attrs.get("llm.provider") or attrs.get("llm.system"))
        put("gen_ai.request.model", attrs.get("llm.model_name"))
        params = _json_object(attrs.get("llm.invocation_parameters"))
        put("gen_ai.request.model", params.get("model"))
        put("gen_ai.request.temperature", params.get("temperature"))
        put(
            "gen_ai.request.max_tokens",
            params.get(
                "max_tokens", params.get("max_completion_tokens", params.get("max_output_tokens"))
            ),
        )
        put("gen_ai.input.messages", _messages(_indexed(attrs, "llm.input_messages"), "message."))
        put("gen_ai.output.messages", _messages(_indexed(attrs, "llm.output_messages"), "message."))
        put("gen_ai.usage.input_tokens", attrs.get("llm.token_count.prompt"))
        put("gen_ai.usage.output_tokens", attrs.get("llm.token_count.completion"))
        put(
            "gen_ai.usage.reasoning.output_tokens",
            attrs.get("llm.token_count.completion_details.reasoning"),
        )
        tools = [t.get("tool.json_schema") for t in _indexed(attrs, "llm.tools")]
        put("gen_ai.tool.definitions", [loads_if_text(t, "llm.tools") for t in tools if t] or None)
        if str(attrs.get("output.mime_type", "")) == "application/json":
            answer = _json_object(attrs.get("output.value"))
            put("gen_ai.response.id", answer.get("id"))
            put("gen_ai.response.model", answer.get("model"))
        finish = attrs.get("llm.finish_reason")
        put("gen_ai.response.finish_reasons", [finish] if finish else None)
    prompts = _indexed(attrs, "gen_ai.prompt")
    if prompts:
        request_type = attrs.get("llm.request.type")
        put("gen_ai.operation.name", "chat" if request_type in (None, "chat") else request_type)
        put("gen_ai.input.messages", _messages(prompts, ""))
        put("gen_ai.output.messages", _messages(_indexed(attrs, "gen_ai.completion"), ""))
        reasons = [c.get("finish_reason") for c in _indexed(attrs, "gen_ai.completion")]
        put("gen_ai.response.finish_reasons", [r for r in reasons if r] or None)
    put("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens"))
    put("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens"))
    return out


def _messages(items: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]] | None:
    """Flattened messages as GenAI messages with text parts (tool-call arguments as such)."""
    out = []
    for item in items:
        role = item.get(prefix + "role")
        content = item.get(prefix + "content")
        parts: list[dict[str, Any]] = []
        if isinstance(content, str) and content:
            parts.append({"type": "text", "content": content})
        for block in _indexed({k.removeprefix(prefix): v for k, v in item.items()}, "contents"):
            text = block.get("message_content.text")
            if isinstance(text, str):
                parts.append({"type": "text", "content": text})
        for call in _indexed({k.removeprefix(prefix): v for k, v in item.items()}, "tool_calls"):
            parts.append(
                {
                    "type": "tool_call",
                    "name": call.get("tool_call.function.name"),
                    "arguments": call.get("tool_call.function.arguments"),
                }
            )
        if role is not None or parts:
            out.append({"role": role, "parts": parts})
    return out or None


def _json_object(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip().startswith("{"):
        parsed = parse_json(value)
        return parsed if isinstance(parsed, dict) else {}
    return {}
