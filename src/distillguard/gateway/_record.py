"""What the gateway logs of an exchange: the request in flight, its contract row, the row of
an attempt with a key that names no account, and its OpenTelemetry span."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from opentelemetry import trace

from distillguard.gateway._policy import Effective
from distillguard.gateway._requests import Api, Parsed
from distillguard.gateway._shape import Reader
from distillguard.gateway._state import AccountView
from distillguard.schema import UNAUTHENTICATED

tracer = trace.get_tracer("distillguard.gateway")
ENDPOINT = {"openai": "chat.completions", "anthropic": "messages", "responses": "responses"}
"""The contract's ``endpoint`` of each API the gateway serves."""


@dataclass(slots=True)
class Exchange:
    """One request in flight: what is logged about it when it ends."""

    api: Api
    request_id: str
    started: float
    ts_us: int
    ip: str | None
    user_agent: str | None
    client_fp: str | None
    country: str | None
    view: AccountView | None = None
    parsed: Parsed | None = None
    eff: Effective | None = None
    upstream_ms: float = 0.0
    injected_usage: bool = False
    key_hash: str | None = None
    """SHA-256 of the API key presented (hex), once read."""


def exchange_record(
    ex: Exchange,
    view: AccountView,
    status: int,
    reader: Reader,
    answered: bool,
    action: str,
    error: str | None,
    total_ms: float,
) -> dict[str, Any]:
    """The contract row of an exchange of an authenticated account. A refused or failed
    exchange never reached the model: no response, no reasoning; the caller sets the
    token counts."""
    p, eff = ex.parsed, ex.eff
    acc = view.account
    return {
        "request_id": ex.request_id,
        "ts": ex.ts_us,
        "account_id": acc.account_id,
        "org_id": acc.org_id,
        "api_key_id": view.key_id,
        "end_user": p.end_user if p else None,
        "ip": ex.ip,
        "country": ex.country,
        "user_agent": ex.user_agent,
        "client_fp": ex.client_fp,
        "endpoint": ENDPOINT[ex.api],
        "model": (p.model if p else "") or "",
        "system": p.system if p else None,
        "prompt": p.prompt if p else "",
        "messages": orjson.dumps(p.messages).decode() if p else None,
        "n_messages": len(p.messages) if p else 0,
        "tools": orjson.dumps(p.tools).decode() if p and p.tools is not None else None,
        "n_tools": len(p.tools) if p and p.tools else 0,
        "thinking": bool(p.thinking) if p else False,
        "temperature": p.temperature if p else None,
        "max_tokens": p.max_tokens if p else None,
        "input_tokens": None,
        "output_tokens": None,
        "reasoning_tokens": reader.reasoning_tokens,
        "response": reader.response if answered else None,
        "reasoning": ("".join(reader.reasoning) or None) if answered else None,
        "stop_reason": reader.stop_reason,
        "response_id": reader.response_id,
        "response_model": reader.model,
        "status": status,
        "latency_ms": round(total_ms, 3),
        "extra": orjson.dumps(
            {
                "gateway": {
                    "action": action,
                    "reasons": (eff.reasons[:5] if eff else []),
                    "thinking": eff.thinking if eff else "pass",
                    "error": error,
                    "tier": eff.tier_name if eff else acc.tier,
                    "cluster_id": acc.cluster_id,
                    "reasoning_chars": reader.reasoning_chars,
                    "tool_calls": reader.tool_calls,
                }
            }
        ).decode(),
    }


def unauthenticated_record(ex: Exchange, total_ms: float) -> dict[str, Any]:
    """The row of a request refused for its key: logged against no account, with the first
    16 hex digits of the presented key's SHA-256, never the key. Its body was never read."""
    digest = ex.key_hash
    return {
        "request_id": ex.request_id,
        "ts": ex.ts_us,
        "account_id": UNAUTHENTICATED,
        "api_key_id": f"sha256:{digest[:16]}" if digest else None,
        "ip": ex.ip,
        "country": ex.country,
        "user_agent": ex.user_agent,
        "client_fp": ex.client_fp,
        "endpoint": ENDPOINT[ex.api],
        "model": "",
        "prompt": "",
        "n_messages": 0,
        "n_tools": 0,
        "thinking": False,
        "status": 401,
        "latency_ms": round(total_ms, 3),
        "extra": orjson.dumps(
            {"gateway": {"action": "refuse", "error": "invalid_api_key"}}
        ).decode(),
    }


def exchange_span(ex: Exchange, record: dict[str, Any], reader: Reader, action: str) -> None:
    """An OpenTelemetry span with the GenAI semantic-convention attributes."""
    span = tracer.start_span(
        f"chat {record['model']}", kind=trace.SpanKind.SERVER, start_time=ex.ts_us * 1000
    )
    if span.is_recording():
        provider = "anthropic" if ex.api == "anthropic" else "openai"
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": provider,
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": record["model"],
            "http.response.status_code": record["status"],
            "distillguard.request_id": ex.request_id,
            "distillguard.account_id": record["account_id"],
            "distillguard.action": action,
        }
        optional = {
            "gen_ai.usage.input_tokens": record["input_tokens"],
            "gen_ai.usage.output_tokens": record["output_tokens"],
            "gen_ai.request.max_tokens": record["max_tokens"],
            "gen_ai.request.temperature": record["temperature"],
            "gen_ai.response.model": reader.model,
            "gen_ai.response.id": reader.response_id,
            "gen_ai.response.finish_reasons": [reader.stop_reason] if reader.stop_reason else None,
        }
        attrs.update({k: v for k, v in optional.items() if v is not None})
        span.set_attributes(attrs)
    span.end()
