"""The HTTP server's guard against slow clients: uvicorn with a header deadline.

uvicorn closes a keep-alive connection that stays idle between requests, but a connection
that opens and then sends its request headers a byte at a time (or never) is kept for as
long as the client likes. :func:`protocol_class` gives uvicorn's httptools protocol a
deadline for each request's headers; the proxy bounds the body (``server.body_timeout_s``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _HeaderDeadline(HttpToolsProtocol):
    header_timeout_s = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:  # the next request on a kept-alive connection
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def protocol_class(header_timeout_s: float) -> type[Any]:
    """uvicorn's httptools protocol, closing connections whose headers are late."""
    return type(
        "HeaderDeadlineProtocol", (_HeaderDeadline,), {"header_timeout_s": header_timeout_s}
    )
