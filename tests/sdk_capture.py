"""Byte-level captures of what the official SDKs send and receive.

:class:`Capture` is an httpx transport that sits under an SDK client (as a logging proxy or
an eBPF/mitm capture would sit on the wire), passes each request to ``inner`` and keeps the
exchange as the bytes went: the request's method, URL, headers and body, the response's
status, headers and body (a streamed answer as its raw server-sent events). Records are in
the byte-level capture envelope the ``openai`` and ``anthropic`` adapters read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import ModuleType
from typing import Any

# never logged: credentials
_SECRET_HEADERS = {"authorization", "x-api-key", "cookie"}


def capture_transport(http: ModuleType, app: Any, account_id: str) -> Any:
    """A :class:`Capture` for the HTTP package ``http`` (``httpx``, or ``httpx2`` which the
    newer SDKs use) over the ASGI application ``app``."""

    class Transport(Capture, http.AsyncBaseTransport):  # type: ignore[misc,name-defined]
        pass

    transport = Transport(http.ASGITransport(app=app), account_id)
    transport.http = http
    return transport


class Capture:
    http: Any

    def __init__(self, inner: Any, account_id: str) -> None:
        self.inner = inner
        self.account_id = account_id
        self.records: list[dict[str, Any]] = []

    async def handle_async_request(self, request: Any) -> Any:
        started = datetime.now(UTC)
        body = request.content
        response = await self.inner.handle_async_request(request)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        self.records.append(
            {
                "request": {
                    "method": request.method,
                    "url": str(request.url),
                    "headers": {
                        k: v for k, v in request.headers.items() if k.lower() not in _SECRET_HEADERS
                    },
                    "body": body.decode("utf-8"),
                },
                "response": {
                    "status_code": response.status_code,
                    "headers": dict(response.headers),
                    "body": raw.decode("utf-8"),
                },
                "metadata": {
                    "account_id": self.account_id,
                    "ts": started.isoformat(),
                    "ip": "203.0.113.9",
                },
            }
        )
        return self.http.Response(
            response.status_code, headers=response.headers, content=raw, request=request
        )
