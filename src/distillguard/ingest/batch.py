"""``openai-batch`` and ``anthropic-batch``: the files of the Batch APIs, requests joined to
results by ``custom_id``.

Give the request file(s) and the result file(s) of a batch in one command; each result
line becomes an exchange with its request's prompt. The files are told apart by their
lines, not their names:

* OpenAI: the input file (``{"custom_id", "method", "url", "body"}``) and the output or error
  file (``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``).
  ``ts`` is the answer's ``created`` (``created_at`` for the Responses API); an error answer
  carries no time, and gets the output file's modification time.
* Anthropic Message Batches: the requests as submitted, one per line
  (``{"custom_id", "params"}``), and the results file (``{"custom_id", "result": {"type":
  "succeeded", "message"} | {"type": "errored", "error"} | {"type": "canceled" | "expired"}}``).
  A result carries no time: ``ts`` is the results file's modification time unless the line
  has a ``ts``. Canceled and expired requests never ran and are skipped.

Batch files name no account: it comes from ``--account`` (one batch is one account's job),
or from an ``account_id`` on the line or in its ``metadata``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from distillguard.ingest._base import (
    MappingFailure,
    RecordAdapter,
    as_dict,
    identity,
    iter_json_lines,
    need_mapping,
)
from distillguard.ingest._pairs import map_pair


class _BatchAdapter(RecordAdapter):
    """Joins result lines to the request lines read by :meth:`prepare`."""

    request_keys: frozenset[str] = frozenset()
    """Keys of a request line; a file whose first object has them all holds requests."""

    def __init__(self, account: str | None = None) -> None:
        super().__init__(account)
        self.requests: dict[str, dict[str, Any]] = {}
        self.request_files: set[Path] = set()
        self._path: Path | None = None

    def prepare(self, paths: Sequence[Path]) -> None:
        """Index the request lines of every request file among ``paths`` by ``custom_id``."""
        for path in paths:
            first = _first_object(path)
            if first is None or not self.request_keys <= set(first):
                continue
            self.request_files.add(path)
            for _, _, parsed, _ in iter_json_lines(path, clip=0):
                if isinstance(parsed, dict) and isinstance(parsed.get("custom_id"), str):
                    self.requests.setdefault(parsed["custom_id"], parsed)

    def records(self, path: Path, clip: int) -> Iterator[tuple[int, str, Any, int]]:
        self._path = path
        return super().records(path, clip)

    def map_record(self, record: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
        if self._path in self.request_files:
            return []  # a request line: read with its result
        custom_id = record.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            raise MappingFailure(
                "custom_id", "missing: a result line is joined to its request by it"
            )
        request = self.requests.get(custom_id)
        if request is None:
            raise MappingFailure(
                "custom_id",
                f"{custom_id[:80]!r} is on no request line of the files given "
                "(give the batch's request file in the same command)",
            )
        account = identity(record, "account_id") or identity(request, "account_id") or self.account
        if not account:
            raise MappingFailure("account_id", "batch lines name no account: use --account")
        return self.join(custom_id, request, record, str(account))

    def join(
        self, custom_id: str, request: dict[str, Any], result: Mapping[str, Any], account: str
    ) -> Iterable[dict[str, Any]]:
        raise NotImplementedError

    def _file_time(self) -> str:
        """The modification time of the result file being read, for lines that carry none."""
        assert self._path is not None
        return datetime.fromtimestamp(self._path.stat().st_mtime, tz=UTC).isoformat()


class OpenAIBatchAdapter(_BatchAdapter):
    name = "openai-batch"
    description = "OpenAI Batch API input and output files, joined by custom_id (JSONL)"
    request_keys = frozenset({"custom_id", "method", "url", "body"})

    def join(
        self, custom_id: str, request: dict[str, Any], result: Mapping[str, Any], account: str
    ) -> Iterable[dict[str, Any]]:
        response = as_dict(result.get("response"))
        envelope: dict[str, Any] = {
            "request": {"url": request.get("url"), "method": request.get("method"),
                        "body": need_mapping(request.get("body"), "body")},
            "metadata": {"account_id": account, "request_id": result.get("id") or None},
        }  # fmt: skip
        if response:
            envelope["response"] = {
                "status_code": response.get("status_code"),
                "headers": {"x-request-id": response.get("request_id") or ""},
                "body": response.get("body"),
            }
        elif isinstance(result.get("error"), dict):
            envelope["error"] = result["error"]
        body = as_dict(response.get("body"))
        ts = identity(result, "ts")
        if ts is None and not (body.get("created") or body.get("created_at")):
            ts = self._file_time()  # an error answer carries no time
        if ts is not None:
            envelope["metadata"]["ts"] = ts
        row = map_pair(envelope, None)
        if row is None:
            return []  # an embeddings or moderation batch: not exchanges
        row["batch_custom_id"] = custom_id
        return [row]


class AnthropicBatchAdapter(_BatchAdapter):
    name = "anthropic-batch"
    description = "Anthropic Message Batches requests and results, joined by custom_id (JSONL)"
    request_keys = frozenset({"custom_id", "params"})

    def join(
        self, custom_id: str, request: dict[str, Any], result: Mapping[str, Any], account: str
    ) -> Iterable[dict[str, Any]]:
        outcome = need_mapping(result.get("result"), "result")
        kind = outcome.get("type")
        if kind in ("canceled", "expired"):
            return []  # never ran
        if kind == "succeeded":
            response: Any = need_mapping(outcome.get("message"), "result.message")
            status = 200
        elif kind == "errored":
            response = as_dict(outcome.get("error")) or {"type": "error", "error": {}}
            status = None
        else:
            raise MappingFailure("result.type", f"unknown result type {str(kind)[:40]!r}")
        ts = identity(result, "ts")
        if ts is None:
            ts = self._file_time()
        response_id = as_dict(response).get("id") if kind == "succeeded" else None
        envelope = {
            "request": need_mapping(request.get("params"), "params"),
            "response": response,
            "metadata": {
                "account_id": account,
                "ts": ts,
                "status": status,
                "request_id": response_id or f"{self._path.name if self._path else ''}:{custom_id}",
            },
        }
        row = map_pair(envelope, "messages")
        if row is None:
            return []
        row["batch_custom_id"] = custom_id
        return [row]


def _first_object(path: Path) -> dict[str, Any] | None:
    for _, _, parsed, _ in iter_json_lines(path, clip=0):
        return parsed if isinstance(parsed, dict) else None
    return None
