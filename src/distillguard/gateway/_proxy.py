"""The proxy: authenticate, decide, forward, shape, log — for the three API surfaces, streamed or not."""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from opentelemetry import trace
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from distillguard.detection.signals import TRACE_EXTRACTION
from distillguard.gateway._bodies import BodyReader
from distillguard.gateway._config import GatewayConfig, Tier
from distillguard.gateway._limits import Bucket, Limiter, MemoryLimiter
from distillguard.gateway._log import ExchangeLog, capture
from distillguard.gateway._metrics import Metrics
from distillguard.gateway._policy import Effective, for_request
from distillguard.gateway._record import (
    Exchange,
    exchange_record,
    exchange_span,
    unauthenticated_record,
)
from distillguard.gateway._requests import Api, ApiError, Parsed, api_key, load_body, parse
from distillguard.gateway._shape import (
    Reader,
    StreamShaper,
    shape_anthropic,
    shape_openai,
    shape_responses,
)
from distillguard.gateway._state import AccountView, State, hash_key, verification_at_least

log = logging.getLogger("distillguard.gateway")

_PASS_REQUEST_HEADERS = ("anthropic-version", "anthropic-beta", "openai-beta")
_PASS_RESPONSE_HEADERS = frozenset((b"request-id", b"x-request-id", b"openai-processing-ms"))
_STREAM_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
_REFUSALS = {
    "account_blocked": "block",
    "verification_required": "verify",
    "capability_restricted": "restrict",
    "model_restricted": "restrict",
}


_SHAPERS = {"openai": shape_openai, "anthropic": shape_anthropic, "responses": shape_responses}


def _unavailable(what: str) -> ApiError:
    return ApiError(503, f"{what}; retry shortly", code="state_unavailable",
                    headers={"retry-after": "1"})  # fmt: skip


class Incoming:
    """One HTTP request as the proxy reads it: the ASGI scope, its receive channel, and its
    headers, decoded only when asked for (names are lower-case in ASGI; the first of a
    repeated header wins)."""

    __slots__ = ("_raw", "receive", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self._raw: dict[bytes, bytes] = dict(reversed(list(scope["headers"])))

    def get(self, name: str, default: str | None = None) -> str | None:
        """A header's value (``name`` in lower case)."""
        value = self._raw.get(name.encode("latin-1"))
        return default if value is None else value.decode("latin-1")

    @property
    def client_host(self) -> str | None:
        client = self.scope.get("client")
        return str(client[0]) if client else None


RawHeaders = list[tuple[bytes, bytes]]


def encode_headers(headers: dict[str, str]) -> RawHeaders:
    """Headers for the wire; a value HTTP cannot carry gets ``?`` instead of failing."""
    return [(k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in headers.items()]


class Reply:
    """A complete (not streamed) answer, sent as two ASGI messages."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, body: bytes, headers: RawHeaders) -> None:
        self.status = status
        self.body = body
        headers.append((b"content-length", str(len(body)).encode()))
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})

    @classmethod
    def error(cls, err: ApiError, api: Api) -> Reply:
        headers = encode_headers(err.headers)
        headers.append((b"content-type", b"application/json"))
        return cls(err.status, err.body(api), headers)


Answer = Reply | StreamingResponse


@dataclass(slots=True)
class _Admission:
    """An account's own buckets for the online checks (cached on its view)."""

    created_ts: float
    elicit: Bucket
    young: Bucket | None
    young_until: float
    high_volume: Bucket | None
    release_unverified: bool


def _targets(config: GatewayConfig) -> dict[Api, tuple[str, dict[str, str]]]:
    """Each API's upstream URL and the headers every request to it carries."""
    from distillguard import __version__

    out: dict[Api, tuple[str, dict[str, str]]] = {}
    ups = config.upstream
    # our own User-Agent (not aiohttp's); asking aiohttp to skip its header instead cost a
    # header-set copy per request
    agent = f"distillguard/{__version__}"
    if ups.openai is not None:
        headers = {"content-type": "application/json", "user-agent": agent}
        secret = ups.openai.api_key()
        if secret:
            headers["authorization"] = f"Bearer {secret}"
        out["openai"] = (ups.openai.base_url + "/chat/completions", headers)
        out["responses"] = (ups.openai.base_url + "/responses", headers)
    if ups.anthropic is not None:
        headers = {
            "content-type": "application/json",
            "user-agent": agent,
            "anthropic-version": "2023-06-01",
        }
        secret = ups.anthropic.api_key()
        if secret:
            headers["x-api-key"] = secret
        out["anthropic"] = (ups.anthropic.base_url + "/v1/messages", headers)
    return out


class Proxy:
    def __init__(
        self,
        config: GatewayConfig,
        state: State,
        limiter: Limiter,
        exchange_log: ExchangeLog,
        metrics: Metrics,
    ) -> None:
        self.config = config
        self.state = state
        self.limiter = limiter
        self.log = exchange_log
        self.metrics = metrics
        self.session: aiohttp.ClientSession | None = None
        self._released = {m.id: m.released_at for m in config.models if m.released_at}
        self._logged_events: dict[tuple[str, str, str], float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._targets = _targets(config)
        # a limiter in this process is debited on the spot, one over the network in a task
        self._debit_now = getattr(limiter, "debit_now", None)
        # request ids: a random prefix for this process and a counter (a getrandom(2) call
        # per request showed in profiles under load)
        self._id_prefix = "dg_" + os.urandom(8).hex()
        self._id_counter = itertools.count()
        self._tracing = False
        # budgets while Redis is down (see _admit_without_state), and the probe that says so
        self._fallback = MemoryLimiter()
        self.probe: Callable[[], Coroutine[Any, Any, bool]] | None = None
        self._probed: tuple[float, bool] = (-1.0, True)
        self._probing: asyncio.Task[bool] | None = None
        self._warned: dict[str, tuple[float, int]] = {}
        self.bodies = BodyReader(config)

    async def start(self) -> None:
        # spans only with an OpenTelemetry SDK installed before the gateway starts (without
        # one, a span would be dropped anyway)
        self._tracing = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
        up = self.config.upstream
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=up.connections, ttl_dns_cache=300),
            timeout=aiohttp.ClientTimeout(total=up.timeout_s, connect=up.connect_timeout_s),
            auto_decompress=False,
        )
        self.bodies.start()

    async def close(self) -> None:
        await self.bodies.close()
        if self.session is not None:
            await self.session.close()

    # -- the request path -------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send, api: Api) -> None:
        """Serve one proxy request (an ASGI app, with the API it speaks)."""
        answer = await self.handle(Incoming(scope, receive), api)
        await answer(scope, receive, send)

    async def handle(self, request: Incoming, api: Api) -> Answer:
        ex = self._exchange(request, api)
        try:
            return await self._handle(request, ex)
        except ApiError as err:
            refusal = _REFUSALS.get(err.code)
            if refusal is not None and ex.view is not None:
                self._event(ex, refusal, err.message)
            self._finish(ex, err.status, None, error=err.code)
            err.headers["x-distillguard-request-id"] = ex.request_id
            return Reply.error(err, api)
        except Exception:
            log.exception("unexpected error on %s", ex.request_id)
            self._finish(ex, 500, None, error="internal_error")
            internal = ApiError(500, "internal error in the gateway", code="internal_error",
                                headers={"x-distillguard-request-id": ex.request_id})  # fmt: skip
            return Reply.error(internal, api)
        finally:
            self.bodies.release(ex.request_id)

    def _exchange(self, request: Incoming, api: Api) -> Exchange:
        ip = request.client_host
        forwarded = request.get("x-forwarded-for") if self.config.trust_forwarded_for else None
        if forwarded:
            ip = forwarded.split(",")[0].strip()[:64] or ip
        fp_header = self.config.client_fp_header  # lower case, as ASGI names headers
        country_header = self.config.country_header
        return Exchange(
            api=api,
            request_id=f"{self._id_prefix}{next(self._id_counter):016x}",
            started=time.perf_counter(),
            ts_us=time.time_ns() // 1000,
            ip=ip,
            user_agent=(request.get("user-agent") or "")[:512] or None,
            client_fp=(request.get(fp_header) or "")[:256] or None if fp_header else None,
            country=((request.get(country_header) or "")[:2].upper() or None)
            if country_header
            else None,
        )

    async def _handle(self, request: Incoming, ex: Exchange) -> Answer:
        api = ex.api
        declared = self.bodies.declared(request.get("content-length"))
        key = api_key(request)
        if key is None:
            raise ApiError(401, "missing or malformed API key", code="invalid_api_key")
        ex.key_hash = hash_key(key)
        ex.view = await self._view(key, ex.key_hash)
        if ex.view is None:
            raise ApiError(401, "invalid API key", code="invalid_api_key")
        # read only now: an unauthenticated client's body is never read
        body = await self.bodies.read(request.receive, ex.request_id, declared)
        data = load_body(body)
        ex.parsed = p = parse(api, data, strict=self.config.strict_fields)
        eff = ex.eff = for_request(ex.view, self.config)
        self._gate(ex.view, eff, p)
        await self._admit(ex, eff, p)
        changed = self._rewrite(ex, data)
        payload = orjson.dumps(data) if changed else body
        return await self._forward(request, ex, payload)

    async def _view(self, key: str, digest: str) -> AccountView | None:
        """The key's account and decisions. With Redis unreachable, the last view of the key
        (however stale) stands in, except for a flagged account when flagged tiers fail
        closed; admission then applies the tier's rule (:meth:`_admit_without_state`)."""
        try:
            return await self.state.view(digest)
        except Exception as exc:  # noqa: BLE001 - shared state down: decide by configuration
            self.metrics.state_errors.inc()
            view = self.state.cached_view(digest)
            if view is None or (
                view.flagged and self.config.state.on_redis_down.flagged == "closed"
            ):
                self._warn("state unavailable (%s); refusing requests", exc)
                raise _unavailable("the gateway cannot reach its state store") from None
            return view

    def _fail_closed(self, view: AccountView) -> bool:
        rule = self.config.state.on_redis_down
        if view.flagged:
            return rule.flagged == "closed"
        tier = self.config.tier(view.account.tier)
        if tier.on_redis_down is not None:
            return tier.on_redis_down == "closed"
        if tier.trusted:
            return rule.trusted == "closed"
        return rule.other == "closed"

    def _gate(self, view: AccountView, eff: Effective, p: Parsed) -> None:
        """Block, verify and restrict: refusals that need no counting."""
        acc = view.account
        if eff.blocked is not None:
            raise ApiError(
                403, "this account is blocked; contact support", code="account_blocked",
                extra={"reason_id": eff.blocked.id},
            )  # fmt: skip
        tier: Tier = eff.tier
        if eff.verify_level:
            self._verify(eff.verify_level, eff.verify_reason)
        if p.thinking or p.tools:
            self._capabilities(acc.verification, eff, p)
        if "*" not in tier.models and not any(
            fnmatch.fnmatchcase(p.model, pat) for pat in tier.models
        ):
            raise ApiError(403, f"model {p.model[:100]!r} is not available on tier {eff.tier_name}",
                           code="model_restricted", param="model")  # fmt: skip

    def _capabilities(self, verification: str, eff: Effective, p: Parsed) -> None:
        """Extended thinking and tool use: allowed on the tier, at the verification it asks."""
        tier = eff.tier
        capabilities = (
            ("thinking", "extended thinking", bool(p.thinking), tier.thinking, tier.thinking_verification),
            ("tools", "tool use", bool(p.tools), tier.tools, tier.tools_verification),
        )  # fmt: skip
        for param, label, requested, allowed, level in capabilities:
            if not requested:
                continue
            if not allowed:
                raise ApiError(403, f"{label} is not available on tier {eff.tier_name}",
                               code="capability_restricted", param=param)  # fmt: skip
            if not verification_at_least(verification, level):
                self._verify(level, f"{label} requires verification")

    def _verify(self, level: str, reason: str) -> None:
        url = self.config.verification.url
        raise ApiError(
            403, f"verification required ({level}): {reason[:300]}; verify at {url}",
            code="verification_required",
            extra={"verification_url": url, "required_level": level},
        )  # fmt: skip

    def _admission(self, view: AccountView) -> _Admission:
        """The account's own buckets for the online checks, built once per cached view."""
        acc = view.account
        cfg = self.config.online
        created = acc.created_at.timestamp()
        hv = self.config.verification.high_volume_requests_per_day
        level = self.config.verification.high_volume_level
        adm = _Admission(
            created_ts=created,
            elicit=Bucket(f"a:{acc.account_id}:elicit", cfg.elicitation.rpm, 60),
            young=Bucket(f"a:{acc.account_id}:young", cfg.velocity.rpm, 60)
            if cfg.velocity.enabled else None,
            young_until=created + cfg.velocity.new_account_days * 86_400,
            high_volume=Bucket(f"a:{acc.account_id}:hv", hv, 86_400)
            if hv is not None and not verification_at_least(acc.verification, level) else None,
            release_unverified=not verification_at_least(
                acc.verification, cfg.release_guard.min_verification
            ),
        )  # fmt: skip
        view.admission = adm
        return adm

    async def _admit(self, ex: Exchange, eff: Effective, p: Parsed) -> None:
        """Online checks, then every bucket of the request at once."""
        view = ex.view
        assert view is not None
        acc = view.account
        adm: _Admission = view.admission or self._admission(view)
        req_buckets = eff.request_buckets  # this request's own copy
        cfg = self.config.online
        if eff.online_checks:
            now = time.time()
            if cfg.elicitation.enabled and TRACE_EXTRACTION.match(p.prompt):
                why = "online: prompt asks for the model's internal reasoning"
                if cfg.elicitation.action == "shape":
                    eff.thinking = "redact"
                    eff.note("shape", why)
                elif cfg.elicitation.action == "throttle":
                    req_buckets.append(adm.elicit)
                    eff.note("throttle", why)
                else:
                    eff.reasons.append(why)
            if adm.young is not None and now < adm.young_until:
                req_buckets.append(adm.young)
            released = self._released.get(p.model)
            guard = cfg.release_guard
            if (
                guard.enabled
                and released is not None
                and 0 <= now - released.timestamp() < guard.hours * 3600
                and (
                    (now - adm.created_ts) / 86_400 < guard.min_account_age_days
                    or adm.release_unverified
                )
            ):
                req_buckets.append(Bucket(f"a:{acc.account_id}:release:{p.model}", guard.rpm, 60))
                why = f"online: {p.model} released {released:%Y-%m-%d %H:%M} UTC; young or unverified account"
                if guard.shape:
                    eff.thinking = "redact"
                    eff.note("shape", why)
                else:
                    eff.reasons.append(why)
        if adm.high_volume is not None:
            req_buckets.append(adm.high_volume)
        buckets = req_buckets + eff.token_buckets
        try:
            wait = await self.limiter.acquire(buckets)
        except Exception as exc:  # noqa: BLE001 - Redis down: decide by configuration
            self.metrics.state_errors.inc()
            await self._admit_without_state(view, eff, buckets, exc)
            return
        if wait > 0:
            hv_only = await self._only_high_volume(req_buckets, eff, acc.account_id)
            if hv_only:
                verification = self.config.verification
                self._verify(
                    verification.high_volume_level,
                    f"more than {verification.high_volume_requests_per_day} requests a day",
                )
            retry = max(1, int(wait + 0.999))
            eff.note(
                "throttle",
                "rate limit: " + ", ".join(b.key.split(":", 2)[-1] for b in req_buckets[:4]),
            )
            self._event(ex, "throttle", f"rate limited for {retry}s")
            raise ApiError(429, f"rate limit reached; retry after {retry}s", code="rate_limit_exceeded",
                           headers={"retry-after": str(retry)})  # fmt: skip
        if eff.actions:
            self._event(ex, eff.action, "; ".join(eff.reasons))

    async def _admit_without_state(
        self, view: AccountView, eff: Effective, buckets: list[Bucket], exc: Exception
    ) -> None:
        """Admission when the shared budgets cannot be read (RedisDown in the config).

        An open tier is admitted uncounted. A closed tier is refused while Redis is alive
        but slow or saturated (:meth:`_state_alive`); once Redis is down, each replica
        admits the account up to ``fallback_share`` of each budget from local buckets, and
        refuses beyond it."""
        rule = self.config.state.on_redis_down
        account = view.account.account_id
        if not self._fail_closed(view):
            self._warn("limiter unavailable (%s); failing open (e.g. %s)", exc, account)
            return
        if rule.fallback_share > 0 and not await self._state_alive():
            local = [
                Bucket(b.key, b.capacity * rule.fallback_share, b.period_s, b.cost) for b in buckets
            ]
            if await self._fallback.acquire(local) == 0.0:
                eff.reasons.append("rate-limit state unavailable: local fallback budget")
                return
        self._warn("limiter unavailable (%s); refusing (e.g. %s)", exc, account)
        raise _unavailable("rate-limit state unavailable")

    def _warn(self, message: str, *args: Any) -> None:
        """A warning at most once a second per message, with how many were held back: a
        flood during an outage would otherwise write a line per request."""
        now = time.monotonic()
        last, held = self._warned.get(message, (-1e9, 0))
        if now - last < 1.0:
            self._warned[message] = (last, held + 1)
            return
        self._warned[message] = (now, 0)
        suffix = f" ({held} more like it held back)" if held else ""
        log.warning(message + suffix, *args)

    async def _state_alive(self) -> bool:
        """Whether Redis answers a PING on a connection of its own: one probe at a time,
        its answer reused for half a second."""
        if self.probe is None:
            return True
        at, alive = self._probed
        if time.monotonic() - at < 0.5:
            return alive
        if self._probing is None or self._probing.done():
            self._probing = asyncio.get_running_loop().create_task(self.probe())
        try:
            alive = await asyncio.shield(self._probing)
        except Exception:  # noqa: BLE001 - a probe that fails says Redis is down
            alive = False
        self._probed = (time.monotonic(), alive)
        return alive

    async def _only_high_volume(self, buckets: list[Bucket], eff: Effective, account: str) -> bool:
        """True when the daily high-volume counter is the only bucket that refused."""
        hv_key = f"a:{account}:hv"
        others = [b for b in buckets + eff.token_buckets if b.key != hv_key]
        if len(others) == len(buckets) + len(eff.token_buckets):
            return False
        try:
            levels = await self.limiter.levels(others)
        except Exception:  # noqa: BLE001
            return False
        return all(level >= max(b.cost, 1e-9) for b, level in zip(others, levels, strict=True))

    def _rewrite(self, ex: Exchange, data: dict[str, Any]) -> bool:
        """Cap max_tokens; ask a streamed OpenAI answer for its usage (hidden again later)."""
        api, eff, p = ex.api, ex.eff, ex.parsed
        assert eff is not None
        assert p is not None
        changed = False
        cap = eff.max_tokens
        if cap is not None:
            field = "max_tokens"
            if api == "openai" and "max_completion_tokens" in data:
                field = "max_completion_tokens"
            elif api == "responses":
                field = "max_output_tokens"
            if p.max_tokens is None or p.max_tokens > cap:
                data[field] = cap
                changed = True
                eff.reasons.append(f"max_tokens capped at {cap}")
        if api == "openai" and p.stream:
            opts = data.get("stream_options")
            if not (isinstance(opts, dict) and opts.get("include_usage")):
                data["stream_options"] = {
                    **(opts if isinstance(opts, dict) else {}),
                    "include_usage": True,
                }
                ex.injected_usage = changed = True
        return changed

    def _upstream(self, api: Api, request: Incoming) -> tuple[str, dict[str, str]]:
        target = self._targets.get(api)
        if target is None:
            raise ApiError(404, f"no upstream configured for the {api} API", code="not_configured")
        url, base = target
        headers = base.copy()
        accept = request.get("accept")
        if accept is not None:  # otherwise aiohttp sends */*
            headers["accept"] = accept[:200]
        for name in _PASS_REQUEST_HEADERS:
            value = request.get(name)
            if value is not None and len(value) <= 1_000:
                headers[name] = value
        return url, headers

    async def _forward(self, request: Incoming, ex: Exchange, payload: bytes) -> Answer:
        assert self.session is not None
        assert ex.parsed is not None
        assert ex.eff is not None
        url, headers = self._upstream(ex.api, request)
        t0 = time.perf_counter()
        try:
            try:
                upstream = await self.session.post(url, data=payload, headers=headers)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                # a pooled connection the upstream had already closed (its keep-alive ran
                # out as the request went): closed before any answer, so sent once more
                upstream = await self.session.post(url, data=payload, headers=headers)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiError(
                502, f"upstream unreachable: {type(exc).__name__}", code="upstream_error"
            ) from None
        # the upstream's headers that go on, as the bytes it sent
        out_headers = [(b"x-distillguard-request-id", ex.request_id.encode())]
        ctype = b"application/json"
        for name, value in upstream.raw_headers:
            name = name.lower()
            if name in _PASS_RESPONSE_HEADERS:
                out_headers.append((name, value))
            elif name == b"content-type":
                ctype = value
        if ex.eff.actions:
            out_headers.append((b"x-distillguard-decision", ex.eff.action.encode()))
        if upstream.status == 200 and ctype.startswith(b"text/event-stream"):
            shaper = StreamShaper(ex.api, ex.eff.thinking, hide_usage=ex.injected_usage)
            streaming = StreamingResponse(
                self._stream(ex, upstream, shaper, t0),
                status_code=200,
                headers=_STREAM_HEADERS,
                media_type="text/event-stream",
            )
            streaming.raw_headers.extend(out_headers)
            return streaming
        out_headers.append((b"content-type", ctype))
        try:
            raw = await upstream.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiError(
                502, f"upstream failed mid-answer: {type(exc).__name__}", code="upstream_error"
            ) from None
        finally:
            upstream.release()
        ex.upstream_ms = (time.perf_counter() - t0) * 1000
        reader = Reader()
        if upstream.status == 200:
            try:
                answer = orjson.loads(raw)
            except orjson.JSONDecodeError:
                answer = None
            if isinstance(answer, dict):
                shape = _SHAPERS[ex.api]
                if shape(answer, ex.eff.thinking, reader):
                    raw = orjson.dumps(answer)
        self._finish(ex, upstream.status, reader)
        return Reply(upstream.status, raw, out_headers)

    async def _stream(
        self, ex: Exchange, upstream: aiohttp.ClientResponse, shaper: StreamShaper, t0: float
    ) -> AsyncIterator[bytes]:
        finished = False
        status = 200
        try:
            async for chunk in upstream.content.iter_any():
                out = shaper.feed(chunk)
                if shaper.finished and not finished:
                    # the answer is complete: log it before its last bytes leave
                    ex.upstream_ms = (time.perf_counter() - t0) * 1000
                    self._finish(ex, 200, shaper.reader)
                    finished = True
                if out:
                    yield out
            tail = shaper.close()
            if not finished:
                ex.upstream_ms = (time.perf_counter() - t0) * 1000
                self._finish(ex, 200, shaper.reader)
                finished = True
            if tail:
                yield tail
        except (aiohttp.ClientError, TimeoutError):
            status = 502
        except asyncio.CancelledError:
            status = 499
            raise
        finally:
            upstream.release()
            if not finished:
                ex.upstream_ms = (time.perf_counter() - t0) * 1000
                self._finish(ex, status, shaper.reader, error="stream interrupted")

    # -- after the answer ------------------------------------------------------------------------------
    def _finish(
        self, ex: Exchange, status: int, reader: Reader | None, *, error: str | None = None
    ) -> None:
        total_ms = (time.perf_counter() - ex.started) * 1000
        p, eff, view = ex.parsed, ex.eff, ex.view
        reader = reader or Reader()
        in_tok = reader.input_tokens
        out_tok = reader.output_tokens
        answered = status == 200
        if answered and p is not None and in_tok is None:
            in_tok = (len(p.prompt) + len(p.system or "")) // 4  # an estimate: no usage came
        if answered and out_tok is None:
            out_tok = len(reader.response) // 4
        action = eff.action if eff is not None else "allow"
        if error is not None:
            action = "throttle" if status == 429 else _REFUSALS.get(error, action)
        self.metrics.observe(ex.api, status, action, total_ms, total_ms - ex.upstream_ms)
        if view is None:
            if status == 401:
                self._log_unauthenticated(ex, total_ms)
            return
        if eff is not None and eff.token_buckets and answered and (in_tok or out_tok):
            used = (in_tok or 0) + (out_tok or 0)
            if self._debit_now is not None:
                self._debit_now(eff.token_buckets, used)
            else:
                task = asyncio.get_running_loop().create_task(self._debit(eff.token_buckets, used))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        record = exchange_record(ex, view, status, reader, answered, action, error, total_ms)
        record["input_tokens"], record["output_tokens"] = in_tok, out_tok
        settings = self.log.settings
        self.log.write(capture(record, settings.content, settings.max_text_bytes, self.log.key))
        if self._tracing:
            exchange_span(ex, record, reader, action)

    def _log_unauthenticated(self, ex: Exchange, total_ms: float) -> None:
        """A request refused for its key is logged too (key stuffing is evidence)."""
        settings = self.log.settings
        record = unauthenticated_record(ex, total_ms)
        self.log.write(capture(record, settings.content, settings.max_text_bytes, self.log.key))

    async def _debit(self, buckets: list[Bucket], amount: float) -> None:
        try:
            await self.limiter.debit(buckets, amount)
        except Exception as exc:  # noqa: BLE001 - best effort; the next request re-checks
            self.metrics.state_errors.inc()
            self._warn("token debit failed: %s", exc)

    def _event(self, ex: Exchange, action: str, reason: str) -> None:
        """Log an enforcement to decisions.jsonl, at most once a minute per account and reason."""
        assert ex.view is not None
        acc = ex.view.account
        key = (acc.account_id, action, reason[:80])
        now = time.monotonic()
        if now - self._logged_events.get(key, -1e9) < 60:
            return
        if len(self._logged_events) > 50_000:
            self._logged_events.clear()
        self._logged_events[key] = now
        self.log.decision(
            {
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "event": "enforced",
                "action": action,
                "account_id": acc.account_id,
                "cluster_id": acc.cluster_id,
                "reason": reason[:500],
                "source": "gateway",
                "request_id": ex.request_id,
            }
        )
