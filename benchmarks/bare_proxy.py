"""A bare pass-through proxy on the gateway's own framework (Starlette + uvicorn + aiohttp):
the baseline the gateway's overhead is measured against. No auth, no decisions, no log.

    python benchmarks/bare_proxy.py --port 8090 --upstream http://127.0.0.1:9000
"""

from __future__ import annotations

import argparse
import contextlib
import gc
from collections.abc import AsyncIterator

import aiohttp
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


def create_bare_app(upstream: str, gc_threshold: int = 0) -> Starlette:
    state: dict[str, aiohttp.ClientSession] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["s"] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=512), auto_decompress=False
        )
        if gc_threshold:  # the gateway's own garbage-collector settings (gateway.gc_threshold)
            gc.collect()
            gc.freeze()
            gc.set_threshold(gc_threshold, 10, 10)
        yield
        await state["s"].close()

    async def forward(request: Request, path: str) -> Response:
        body = await request.body()
        up = await state["s"].post(
            upstream + path, data=body, headers={"content-type": "application/json"}
        )
        ctype = up.headers.get("content-type", "application/json")
        if ctype.startswith("text/event-stream"):

            async def relay() -> AsyncIterator[bytes]:
                async for chunk in up.content.iter_any():
                    yield chunk
                up.release()

            return StreamingResponse(relay(), media_type=ctype)
        raw = await up.read()
        up.release()
        return Response(raw, up.status, media_type=ctype)

    async def chat(request: Request) -> Response:
        return await forward(request, "/v1/chat/completions")

    async def messages(request: Request) -> Response:
        return await forward(request, "/v1/messages")

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/messages", messages, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8090)
    ap.add_argument("--upstream", default="http://127.0.0.1:9000")
    ap.add_argument("--gc-threshold", type=int, default=0,
                    help="freeze start-up objects and set this young-generation threshold, "
                         "as the gateway does (0: Python's defaults)")  # fmt: skip
    args = ap.parse_args()
    uvicorn.run(
        create_bare_app(args.upstream.rstrip("/"), args.gc_threshold),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )
