"""Request bodies: read after the key is checked, within a size limit, a deadline, and a
memory budget shared by every request in flight.

The deadline is kept by one reaper task that cancels the reads past it, four times a
second, rather than by a timer per request (``asyncio.timeout`` cost ~7 µs a request, for
bodies that nearly always arrive with their headers).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass

from starlette.types import Message, Receive

from distillguard.gateway._config import GatewayConfig
from distillguard.gateway._requests import ApiError


@dataclass(slots=True)
class _Read:
    deadline: float
    task: asyncio.Task[object]
    held: int = 0
    """Bytes this request holds against the budget."""
    expired: bool = False


class BodyReader:
    def __init__(self, config: GatewayConfig) -> None:
        self.limit = config.max_body_bytes
        self.budget = config.server.max_buffered_body_bytes
        self.timeout = config.server.body_timeout_s
        self.held = 0
        """Request-body bytes held by the requests in flight."""
        self._reads: dict[str, _Read] = {}
        self._reaper: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reaper = asyncio.get_running_loop().create_task(self._reap())

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper

    def declared(self, content_length: str | None) -> int | None:
        """The body's ``Content-Length``; 413 when above ``max_body_bytes`` or not a number."""
        if content_length is None:
            return None
        if not content_length.isdigit() or int(content_length) > self.limit:
            raise self._too_large()
        return int(content_length)

    async def read(self, receive: Receive, request_id: str, declared: int | None) -> bytes:
        """The whole body: 413 past the limit, 503 past the budget, 408 past the deadline.
        What it holds of the budget stays held until :meth:`release`."""
        task = asyncio.current_task()
        assert task is not None
        read = self._reads[request_id] = _Read(time.monotonic() + self.timeout, task)
        try:
            if declared is not None:
                self._hold(read, declared)
            chunks = []
            size = 0
            while True:
                message: Message = await receive()
                if message["type"] == "http.disconnect":
                    raise ApiError(499, "client closed the connection", code="client_disconnected")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.limit:
                    raise self._too_large()
                if size > read.held:  # no Content-Length (chunked), or more than it said
                    self._hold(read, size - read.held)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        except asyncio.CancelledError:
            if read.expired and task.uncancel() == 0:
                raise ApiError(
                    408, f"request body not received within {self.timeout:g}s",
                    code="request_timeout",
                ) from None  # fmt: skip
            raise
        finally:
            read.deadline = math.inf  # read (or given up): the reaper leaves the request be

    def release(self, request_id: str) -> None:
        """Give back what a request's body held (called when the request is done)."""
        read = self._reads.pop(request_id, None)
        if read is not None:
            self.held -= read.held

    def _hold(self, read: _Read, size: int) -> None:
        if self.held + size > self.budget:
            raise ApiError(
                503, "the gateway holds as many request bodies as it may; retry shortly",
                code="overloaded", headers={"retry-after": "1"},
            )  # fmt: skip
        self.held += size
        read.held += size

    def _too_large(self) -> ApiError:
        return ApiError(
            413, f"request body larger than {self.limit} bytes", code="request_too_large"
        )

    async def _reap(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            now = time.monotonic()
            for read in list(self._reads.values()):
                if now > read.deadline and not read.expired and not read.task.done():
                    read.expired = True
                    read.task.cancel()
