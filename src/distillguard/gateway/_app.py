"""The ASGI application: proxy routes (plain Starlette, for speed) and the admin API (FastAPI,
for its OpenAPI document). ``/openapi.json`` describes both; ``/docs`` renders it."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import gc
import hmac
import sqlite3
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from redis.exceptions import RedisError
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from distillguard.gateway._config import GatewayConfig
from distillguard.gateway._limits import Limiter, MemoryLimiter, RedisLimiter
from distillguard.gateway._log import ExchangeLog
from distillguard.gateway._metrics import Metrics
from distillguard.gateway._policy import Rule, effective
from distillguard.gateway._proxy import Proxy
from distillguard.gateway._requests import Api, ApiError, api_key
from distillguard.gateway._state import (
    Account,
    AccountView,
    Decision,
    RedisRegistry,
    SqliteRegistry,
    State,
    hash_key,
    now_utc,
)


class Gateway:
    """Everything one gateway process holds; built by :func:`create_app`."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.redis: Any = None
        limiter: Limiter
        if config.state.backend == "redis":
            import redis.asyncio as aioredis

            pool = aioredis.BlockingConnectionPool.from_url(
                config.state.redis_url,
                max_connections=config.state.redis_connections,
                timeout=config.state.redis_timeout_s,
                socket_timeout=config.state.redis_timeout_s,
                socket_connect_timeout=config.state.redis_timeout_s,
                health_check_interval=30,
            )
            self.redis = aioredis.Redis(connection_pool=pool)
            registry: Any = RedisRegistry(self.redis, config.state.redis_prefix)
            limiter = RedisLimiter(self.redis, config.state.redis_prefix)
        else:
            registry = SqliteRegistry(config.state.path)
            limiter = MemoryLimiter()
        self.state = State(registry, cache_ttl_s=config.state.cache_ttl_s)
        self.limiter = limiter
        self.log = ExchangeLog(config.log)
        self.proxy = Proxy(config, self.state, limiter, self.log, self.metrics)
        self.state.on_change.append(self._log_decision)
        self._probe: Any = None
        if config.state.backend == "redis":
            import redis.asyncio as aioredis

            timeout = config.state.on_redis_down.probe_timeout_s
            # its own connection: a pool exhausted by a flood must not look like an outage
            self._probe = aioredis.Redis.from_url(
                config.state.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout,
                single_connection_client=True,
            )  # fmt: skip
            self.proxy.probe = self._ping

    async def _ping(self) -> bool:
        async with asyncio.timeout(self.config.state.on_redis_down.probe_timeout_s):
            return bool(await self._probe.ping())

    async def _log_decision(self, d: Decision) -> None:
        self.log.decision(
            {
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "event": "created" if d.active else "revoked",
                "id": d.id,
                "action": d.action,
                ("cluster_id" if d.scope == "cluster" else "account_id"): d.target,
                "params": d.params,
                "reason": d.reason,
                "source": d.source,
                "by": d.revoked_by,
            }
        )

    async def start(self) -> None:
        await self.proxy.start()
        self.state.start()
        self.log.start()

    async def close(self) -> None:
        await self.proxy.close()
        await self.log.close()
        await self.state.close()
        await self.limiter.close()
        if self._probe is not None:
            await self._probe.aclose()


# -- admin API models ------------------------------------------------------------------------------
class AccountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_id: str | None = Field(None, max_length=200)
    tier: str | None = Field(None, max_length=64)
    verification: str | None = None
    program: str | None = None
    created_at: datetime | None = None
    cluster_id: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)
    payment_fp: str | None = Field(None, max_length=200)
    billing_country: str | None = Field(None, max_length=2)
    allowlisted: bool | None = None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["allow", "throttle", "verify", "restrict", "shape", "block"]
    scope: Literal["account", "cluster"] = "account"
    target: str = Field(min_length=1, max_length=200)
    params: dict[str, Any] = Field(default_factory=dict)
    reason: str = Field("", max_length=2_000)
    source: Literal["admin", "policy", "watch"] = "admin"
    expires_in_hours: float | None = Field(None, gt=0)


class Batch(BaseModel):
    """What ``decide`` and ``watch`` push: decisions, and cluster membership of accounts."""

    model_config = ConfigDict(extra="forbid")

    decisions: list[DecisionIn] = Field(default_factory=list, max_length=100_000)
    clusters: dict[str, str | None] = Field(
        default_factory=dict, description="account_id → cluster_id"
    )
    replace_source: Literal["policy", "watch"] | None = Field(
        None, description="lift this source's decisions not in this batch (a fresh scan's view)"
    )


class Revoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    suppress_hours: float = Field(
        24.0, ge=0, description="keep watch/policy from re-imposing it for this long"
    )


class KeyOut(BaseModel):
    key_id: str
    api_key: str = Field(description="shown once; only its SHA-256 is stored")


_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _admin_router(gw: Gateway) -> APIRouter:
    def admin(creds: Credentials) -> str:
        digest = gw.config.admin.digest()
        if digest is None:
            raise HTTPException(403, "admin API disabled: set admin.token_sha256 or the token env")
        if creds is None or not hmac.compare_digest(hash_key(creds.credentials), digest):
            raise HTTPException(401, "invalid admin credential", {"www-authenticate": "Bearer"})
        return "admin"

    r = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(admin)])

    async def _account(account_id: str) -> Account:
        acc = await gw.state.get_account(account_id)
        if acc is None:
            raise HTTPException(404, f"no account {account_id!r}")
        return acc

    @r.get("/accounts", summary="List accounts")
    async def list_accounts(
        offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=10_000)
    ) -> list[Account]:
        accounts = sorted(await gw.state.accounts(), key=lambda a: a.account_id)
        return accounts[offset : offset + limit]

    @r.put("/accounts/{account_id}", summary="Create or replace an account")
    async def put_account(account_id: str, body: AccountIn) -> Account:
        try:
            acc = Account(account_id=account_id, **body.model_dump(exclude_none=True))
        except ValidationError as exc:
            raise HTTPException(422, exc.errors(include_url=False, include_context=False)) from None
        return await gw.state.put_account(acc)

    @r.patch("/accounts/{account_id}", summary="Change tier, verification, programme, cluster…")
    async def patch_account(account_id: str, body: AccountIn) -> Account:
        acc = await _account(account_id)
        try:
            acc = Account.model_validate(
                {**acc.model_dump(), **body.model_dump(exclude_unset=True)}
            )
        except ValidationError as exc:
            raise HTTPException(422, exc.errors(include_url=False, include_context=False)) from None
        return await gw.state.put_account(acc)

    @r.get("/accounts/{account_id}", summary="An account's current state")
    async def account_state(account_id: str) -> dict[str, Any]:
        acc = await _account(account_id)
        keys = await gw.state.keys(account_id)
        decisions = [d for d in await gw.state.decisions() if d.in_force(now_utc()) and (
            (d.scope == "account" and d.target == account_id)
            or (d.scope == "cluster" and d.target == acc.cluster_id))]  # fmt: skip
        eff = effective(AccountView(acc, "", decisions), gw.config)
        levels = await gw.limiter.levels(eff.request_buckets + eff.token_buckets)
        return {
            "account": acc.model_dump(mode="json"),
            "keys": [{k: v for k, v in key.items() if k != "account_id"} for key in keys],
            "decisions": [d.model_dump(mode="json") for d in decisions],
            "effective": {
                "action": eff.action,
                "blocked": eff.blocked is not None,
                "verification_required": eff.verify_level,
                "tier": eff.tier_name,
                "thinking": eff.thinking,
                "max_tokens": eff.max_tokens,
                "reasons": eff.reasons,
            },
            "buckets": {
                b.key: {"level": round(level, 3), "capacity": b.capacity, "period_s": b.period_s}
                for b, level in zip(eff.request_buckets + eff.token_buckets, levels, strict=True)
            },
        }

    @r.post("/accounts/{account_id}/keys", summary="Issue an API key (shown once)")
    async def create_key(account_id: str, name: str = Query("", max_length=200)) -> KeyOut:
        await _account(account_id)
        key_id, secret = await gw.state.create_key(account_id, name)
        return KeyOut(key_id=key_id, api_key=secret)

    @r.get("/accounts/{account_id}/keys", summary="An account's keys (never the secrets)")
    async def list_keys(account_id: str) -> list[dict[str, Any]]:
        return await gw.state.keys(account_id)

    @r.delete("/keys/{key_id}", summary="Revoke an API key")
    async def revoke_key(key_id: str) -> dict[str, Any]:
        if not await gw.state.revoke_key(key_id):
            raise HTTPException(404, f"no active key {key_id!r}")
        return {"key_id": key_id, "revoked": True}

    def _decision(body: DecisionIn) -> Decision:
        try:
            Rule(action=body.action, params=body.params)
        except ValidationError as exc:
            raise HTTPException(422, exc.errors(include_url=False, include_context=False)) from None
        expires = (
            now_utc() + timedelta(hours=body.expires_in_hours) if body.expires_in_hours else None
        )
        return Decision(
            action=body.action, scope=body.scope, target=body.target, params=body.params,
            reason=body.reason, source=body.source, expires_at=expires,
            review="pending" if body.source == "watch" else "none",
        )  # fmt: skip

    @r.post("/decisions", summary="Impose a decision on an account or a cluster")
    async def create_decision(body: DecisionIn) -> Decision:
        return await gw.state.put_decision(_decision(body))

    @r.post("/decisions/batch", summary="Load decisions from findings (decide / watch)")
    async def batch(body: Batch) -> dict[str, Any]:
        moved = 0
        for account_id, cluster_id in body.clusters.items():
            moved += await gw.state.assign_cluster(account_id, cluster_id)
        current = [d for d in await gw.state.decisions() if d.in_force(now_utc())]
        same = {(d.action, d.scope, d.target, orjson.dumps(d.params, option=orjson.OPT_SORT_KEYS)): d
                for d in current if d.source == (body.replace_source or "")}  # fmt: skip
        created, kept, suppressed = [], set(), 0
        for item in body.decisions:
            if await gw.state.suppressed(item.scope, item.target):
                suppressed += 1
                continue
            sig = (
                item.action,
                item.scope,
                item.target,
                orjson.dumps(item.params, option=orjson.OPT_SORT_KEYS),
            )
            if sig in same:
                kept.add(same[sig].id)
                continue
            created.append((await gw.state.put_decision(_decision(item))).id)
        lifted = []
        if body.replace_source:
            for d in same.values():
                if d.id not in kept:
                    await gw.state.revoke(d.id, f"{body.replace_source} rescan")
                    lifted.append(d.id)
        return {"created": created, "unchanged": sorted(kept), "lifted": lifted,
                "suppressed": suppressed, "accounts_moved": moved}  # fmt: skip

    @r.get("/decisions", summary="Decisions, newest first")
    async def list_decisions(
        active: bool | None = None,
        source: str | None = Query(None, max_length=64),
        review: Literal["pending", "confirmed", "none"] | None = None,
        target: str | None = Query(None, max_length=200),
    ) -> list[Decision]:
        out = []
        at = now_utc()
        for d in reversed(await gw.state.decisions()):
            if active is not None and d.in_force(at) != active:
                continue
            if (
                (source and d.source != source)
                or (review and d.review != review)
                or (target and d.target != target)
            ):
                continue
            out.append(d)
        return out

    @r.post("/decisions/{decision_id}/revoke", summary="Lift a decision (reversible actions)")
    async def revoke(decision_id: str, body: Revoke | None = None) -> Decision:
        d = await gw.state.revoke(decision_id, "admin", (body or Revoke()).suppress_hours)
        if d is None:
            raise HTTPException(404, f"no decision {decision_id!r}")
        return d

    @r.post("/decisions/{decision_id}/confirm", summary="Mark an automatic decision reviewed")
    async def confirm(decision_id: str) -> Decision:
        d = await gw.state.get_decision(decision_id)
        if d is None:
            raise HTTPException(404, f"no decision {decision_id!r}")
        return await gw.state.put_decision(d.model_copy(update={"review": "confirmed"}))

    @r.get("/export/accounts", summary="Accounts as contract records (for watch/scan)")
    async def export_accounts() -> list[dict[str, Any]]:
        out = []
        for acc in await gw.state.accounts():
            doc = acc.model_dump(mode="json", exclude={"cluster_id"})
            doc["email_domain"] = (
                acc.email.rsplit("@", 1)[-1] if acc.email and "@" in acc.email else None
            )
            out.append(doc)
        return out

    return r


_PROXY_OPENAPI: dict[str, Any] = {
    "/v1/chat/completions": {
        "post": {
            "tags": ["proxy"],
            "summary": "OpenAI Chat Completions (streaming and not), checked and logged",
            "description": "Authenticate with `Authorization: Bearer <key>`. The body is the "
            "OpenAI Chat Completions request; fields the gateway does not know go to the "
            "upstream unless `strict_fields` is set. Refusals use OpenAI's error format with "
            "`code` one of invalid_api_key, invalid_json, invalid_request, request_too_large, "
            "account_blocked, verification_required (with verification_url and required_level), "
            "capability_restricted, model_restricted, rate_limit_exceeded (with Retry-After), "
            "state_unavailable, upstream_error.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["model", "messages"], "properties": {
                    "model": {"type": "string"}, "messages": {"type": "array"},
                    "stream": {"type": "boolean"}, "max_tokens": {"type": "integer"},
                    "max_completion_tokens": {"type": "integer"}, "tools": {"type": "array"},
                    "reasoning_effort": {"type": "string"}, "temperature": {"type": "number"}}}}}},
            "responses": {
                "200": {"description": "The upstream's answer (JSON, or text/event-stream)"},
                "400": {"description": "Invalid request"}, "401": {"description": "Bad API key"},
                "403": {"description": "Blocked, verification required, or restricted"},
                "413": {"description": "Body too large"}, "429": {"description": "Throttled"},
                "502": {"description": "Upstream failed"},
                "503": {"description": "State store unavailable"}},
        }
    },
    "/v1/responses": {
        "post": {
            "tags": ["proxy"],
            "summary": "OpenAI Responses API (streaming and not), checked and logged",
            "description": "Authenticate with `Authorization: Bearer <key>`. Reasoning items are "
            "shaped by the account's thinking policy (summaries redacted or summarised), tool "
            "use and reasoning are gated by `restrict` like the other routes, and errors use "
            "OpenAI's format with the same codes as the Chat Completions route.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["model", "input"], "properties": {
                    "model": {"type": "string"}, "input": {}, "instructions": {"type": "string"},
                    "stream": {"type": "boolean"}, "max_output_tokens": {"type": "integer"},
                    "tools": {"type": "array"}, "reasoning": {"type": "object"},
                    "temperature": {"type": "number"}}}}}},
            "responses": {"200": {"description": "The upstream's answer (JSON or SSE)"},
                          "4XX": {"description": "Refused (see the Chat Completions route)"}},
        }
    },
    "/v1/messages": {
        "post": {
            "tags": ["proxy"],
            "summary": "Anthropic Messages (streaming and not), checked and logged",
            "description": "Authenticate with `x-api-key: <key>` (or a Bearer token). Errors "
            "use Anthropic's format `{type: error, error: {type, message, code}}` with the "
            "same codes as the OpenAI route.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["model", "messages", "max_tokens"], "properties": {
                    "model": {"type": "string"}, "messages": {"type": "array"},
                    "max_tokens": {"type": "integer"}, "system": {}, "stream": {"type": "boolean"},
                    "tools": {"type": "array"}, "thinking": {"type": "object"}}}}}},
            "responses": {"200": {"description": "The upstream's answer (JSON or SSE)"},
                          "4XX": {"description": "Refused (see the OpenAI route)"}},
        }
    },
    "/v1/models": {"get": {"tags": ["proxy"], "summary": "Models the key's tier may use",
                           "responses": {"200": {"description": "OpenAI or Anthropic list format"}}}},
    "/metrics": {"get": {"tags": ["operations"], "summary": "Prometheus metrics",
                         "responses": {"200": {"description": "text exposition format"}}}},
    "/healthz": {"get": {"tags": ["operations"], "summary": "Liveness",
                         "responses": {"200": {"description": "ok"}}}},
}  # fmt: skip


_PROXY_ROUTES: dict[str, Api] = {
    "/v1/chat/completions": "openai",
    "/v1/responses": "responses",
    "/v1/messages": "anthropic",
}


class _Endpoint:
    """One proxy route as a plain ASGI app."""

    def __init__(self, proxy: Proxy, api: Api) -> None:
        self.proxy = proxy
        self.api: Api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.proxy(scope, receive, send, self.api)


class _GatewayAPI(FastAPI):
    """FastAPI for the admin API and documentation. The two proxy routes skip its middleware
    and router and go straight to the proxy, which answers every error itself: the
    framework's layers were a fifth of the cost of a proxied request."""

    proxy: Proxy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            api = _PROXY_ROUTES.get(scope["path"])
            if api is not None:
                await self.proxy(scope, receive, send, api)
                return
        await super().__call__(scope, receive, send)


def create_app(config: GatewayConfig) -> FastAPI:
    """The gateway as an ASGI app (``uvicorn`` serves it in ``distillguard gateway``)."""
    gw = Gateway(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gw.start()
        # With Python's defaults the collector walked the whole heap (the app, the registry
        # mirror, cached views) every few requests. Freeze what exists at start-up and collect
        # the young generation less often (docs/benchmarks.md#gateway).
        threshold = gc.get_threshold()
        gc.collect()
        gc.freeze()
        if config.gc_threshold:
            gc.set_threshold(config.gc_threshold, 10, 10)
        try:
            yield
        finally:
            gc.set_threshold(*threshold)
            gc.unfreeze()
            await gw.close()

    app = _GatewayAPI(
        title="distillguard gateway",
        version="1",
        summary="OpenAI- and Anthropic-compatible proxy that logs every exchange and enforces "
        "per-account decisions; admin API under /admin (Bearer admin token).",
        lifespan=lifespan,
    )
    app.state.gateway = gw
    app.proxy = gw.proxy

    async def state_unavailable(request: Request, exc: Exception) -> Response:
        # the admin API without its state store: a JSON answer a client can act on
        gw.metrics.state_errors.inc()
        body = {"detail": {"code": "state_unavailable",
                           "message": f"the state store cannot be reached ({type(exc).__name__}); "
                                      "retry shortly"}}  # fmt: skip
        return Response(orjson.dumps(body), 503, headers={"retry-after": "1"},
                        media_type="application/json")  # fmt: skip

    for error in (RedisError, ConnectionError, TimeoutError, sqlite3.Error):
        app.add_exception_handler(error, state_unavailable)

    async def models(request: Request) -> Response:
        api: Api = "anthropic" if "anthropic-version" in request.headers else "openai"
        key = api_key(request.headers)
        try:
            view = await gw.state.view(hash_key(key)) if key else None
        except Exception:  # noqa: BLE001 - shared state down: refuse cleanly, never crash
            gw.metrics.state_errors.inc()
            return ApiError(503, "the gateway cannot reach its state store; retry shortly",
                            code="state_unavailable").response(api)  # fmt: skip
        if view is None:
            return ApiError(401, "invalid API key", code="invalid_api_key").response(api)
        tier = effective(view, config).tier
        allowed = [
            m for m in config.models if any(fnmatch.fnmatchcase(m.id, p) for p in tier.models)
        ]
        if api == "anthropic":
            data: list[dict[str, Any]] = [
                {"type": "model", "id": m.id, "display_name": m.id,
                 "created_at": (m.released_at or datetime(2024, 1, 1, tzinfo=UTC)).isoformat()}
                for m in allowed
            ]  # fmt: skip
            body: dict[str, Any] = {"data": data, "has_more": False,
                                    "first_id": data[0]["id"] if data else None,
                                    "last_id": data[-1]["id"] if data else None}  # fmt: skip
        else:
            body = {"object": "list", "data": [
                {"id": m.id, "object": "model", "owned_by": m.owned_by,
                 "created": int((m.released_at or datetime(2024, 1, 1, tzinfo=UTC)).timestamp())}
                for m in allowed]}  # fmt: skip
        return Response(orjson.dumps(body), media_type="application/json")

    async def metrics(request: Request) -> Response:
        gw.metrics.spooled.set(gw.log.written)
        status = await asyncio.to_thread(gw.log.status)
        gw.metrics.flushed.set(status["flushed"])
        gw.metrics.flush_errors.set(status["errors"])
        gw.metrics.quarantined.set(status["quarantined"])
        gw.metrics.pending.set(status["pending"])
        gw.metrics.oldest_pending.set(status["oldest_s"])
        return Response(generate_latest(gw.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        return Response(
            orjson.dumps({"ok": True, "time": time.time()}), media_type="application/json"
        )

    for path, api in _PROXY_ROUTES.items():  # reached under a root_path or a mount
        app.router.routes.append(Route(path, _Endpoint(gw.proxy, api), methods=["POST"],
                                       include_in_schema=False))  # fmt: skip
    app.add_route("/v1/models", models, methods=["GET"], include_in_schema=False)
    app.add_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    app.add_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.include_router(_admin_router(gw))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                                 routes=app.routes)  # fmt: skip
            schema["paths"] = {**_PROXY_OPENAPI, **schema.get("paths", {})}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
