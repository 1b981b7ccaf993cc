"""A local OTLP/HTTP receiver that writes what the OpenTelemetry Collector's file exporter
writes: one OTLP/JSON document per export request, one per line, in ``traces.jsonl`` and
``logs.jsonl``.

Requests arrive as protobuf (the Python OTLP/HTTP exporters' encoding) and are written in
the OTLP/JSON encoding the specification defines: the protobuf JSON mapping with lowerCamelCase
field names, 64-bit integers as strings, and trace and span ids as hex (not base64).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

_IDS = {"traceId", "spanId", "parentSpanId"}


def _hex_ids(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: base64.b64decode(v).hex() if k in _IDS and isinstance(v, str) else _hex_ids(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hex_ids(v) for v in value]
    return value


def otlp_json(path: str, body: bytes) -> dict[str, Any]:
    """The OTLP/JSON document of one protobuf export request to ``path``."""
    message = (
        ExportTraceServiceRequest() if path.endswith("/traces") else ExportLogsServiceRequest()
    )
    message.ParseFromString(body)
    return _hex_ids(MessageToDict(message))  # type: ignore[no-any-return]


@contextmanager
def otlp_receiver(directory: Path) -> Iterator[str]:
    """Serve on loopback while the block runs; yields the endpoint URL."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            name = "traces.jsonl" if self.path.endswith("/traces") else "logs.jsonl"
            line = json.dumps(otlp_json(self.path, body)) + "\n"
            with lock, (directory / name).open("a") as out:
                out.write(line)
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
