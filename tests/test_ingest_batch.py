"""The Batch APIs' files: request lines in the documented shapes, answered by the mock
upstream as the batch runner would call the API, written in the documented result shapes,
then ingested with their requests joined by ``custom_id``."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

import distillguard as dg
from distillguard.gateway import create_mock_app
from helpers import read_rejects, write_jsonl


async def _answer(path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    transport = httpx.ASGITransport(app=create_mock_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        r = await client.post(path, json=body)
        return r.status_code, dict(r.headers), r.json()


OPENAI_INPUT = [
    {"custom_id": "task-1", "method": "POST", "url": "/v1/chat/completions",
     "body": {"model": "gpt-test", "messages": [{"role": "system", "content": "Grade strictly."},
                                                {"role": "user", "content": "batch one"}],
              "max_tokens": 300, "user": "app-user-7"}},
    {"custom_id": "task-2", "method": "POST", "url": "/v1/responses",
     "body": {"model": "gpt-test", "input": "batch two", "reasoning": {"effort": "high", "summary": "auto"}}},
    {"custom_id": "task-3", "method": "POST", "url": "/v1/chat/completions",
     "body": {"model": "error-429", "messages": [{"role": "user", "content": "batch three"}]}},
    {"custom_id": "task-4", "method": "POST", "url": "/v1/chat/completions",
     "body": {"model": "gpt-test", "messages": [{"role": "user", "content": "batch four"}]}},
]  # fmt: skip


def _openai_output() -> list[dict[str, Any]]:
    out = []
    for i, line in enumerate(OPENAI_INPUT[:3]):  # task-4 expired: no result line
        status, headers, body = asyncio.run(_answer(line["url"], line["body"]))
        out.append(
            {
                "id": f"batch_req_{i:024d}",
                "custom_id": line["custom_id"],
                "response": {
                    "status_code": status,
                    "request_id": headers["x-request-id"],
                    "body": body,
                },
                "error": None,
            }
        )
    return out


def test_openai_batch_input_and_output_are_joined(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    inp = write_jsonl(tmp_path / "batch_input.jsonl", OPENAI_INPUT)
    out = write_jsonl(tmp_path / "batch_output.jsonl", _openai_output())
    rep = dg.ingest_files([out, inp], "openai-batch", store, settings, account="acct_batch")
    assert (rep.inserted, rep.rejected) == (3, 0)
    by_file = {Path(f.path).name: f for f in rep.files}
    assert (by_file["batch_input.jsonl"].read, by_file["batch_input.jsonl"].skipped) == (4, 4)
    rows = {r["prompt"]: r for r in store.query("SELECT * FROM exchanges").to_pylist()}
    one = rows["batch one"]
    assert (one["account_id"], one["system"], one["end_user"], one["max_tokens"]) == (
        "acct_batch",
        "Grade strictly.",
        "app-user-7",
        300,
    )
    assert one["request_id"] == "batch_req_" + "0" * 24 and one["response"].startswith("The answer")
    assert one["input_tokens"] > 0 and json.loads(one["extra"])["batch_custom_id"] == "task-1"
    two = rows["batch two"]
    assert (two["endpoint"], two["thinking"]) == ("responses", True)
    assert two["reasoning"].startswith("First") and two["reasoning_tokens"] == 30
    three = rows["batch three"]
    assert (three["status"], three["input_tokens"], three["response"]) == (429, None, None)


def test_openai_batch_results_without_their_requests_or_account_are_rejected(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    out = write_jsonl(tmp_path / "batch_output.jsonl", _openai_output())
    rep = dg.ingest_files([out], "openai-batch", store, settings, account="acct_batch")
    rejects = read_rejects(rep)
    assert rep.inserted == 0 and {r["field"] for r in rejects} == {"custom_id"}
    assert "give the batch's request file" in rejects[0]["reason"]
    inp = write_jsonl(tmp_path / "batch_input.jsonl", OPENAI_INPUT)
    rep = dg.ingest_files([inp, out], "openai-batch", store, settings)
    assert {r["field"] for r in read_rejects(rep)} == {"account_id"}


def test_account_option_is_refused_for_formats_that_name_their_accounts(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", [{"a": 1}])
    with pytest.raises(dg.InputError, match="--account applies to"):
        dg.ingest_files([path], "native", store, settings, account="a")


ANTHROPIC_REQUESTS = [
    {"custom_id": "q-1", "params": {"model": "claude-test", "max_tokens": 400,
                                    "system": "Think first.", "metadata": {"user_id": "reseller-42"},
                                    "thinking": {"type": "enabled", "budget_tokens": 2048},
                                    "messages": [{"role": "user", "content": "claude batch one"}]}},
    {"custom_id": "q-2", "params": {"model": "error-403", "max_tokens": 10,
                                    "messages": [{"role": "user", "content": "claude batch two"}]}},
    {"custom_id": "q-3", "params": {"model": "claude-test", "max_tokens": 10,
                                    "messages": [{"role": "user", "content": "claude batch three"}]}},
]  # fmt: skip


def test_anthropic_message_batch_requests_and_results_are_joined(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    results = []
    for line in ANTHROPIC_REQUESTS[:2]:
        status, _, body = asyncio.run(_answer("/v1/messages", line["params"]))
        result = (
            {"type": "succeeded", "message": body}
            if status == 200
            else {"type": "errored", "error": body}
        )
        results.append({"custom_id": line["custom_id"], "result": result})
    results.append({"custom_id": "q-3", "result": {"type": "expired"}})
    req = write_jsonl(tmp_path / "requests.jsonl", ANTHROPIC_REQUESTS)
    res = write_jsonl(tmp_path / "msgbatch_results.jsonl", results)
    os.utime(res, (1_780_000_000, 1_780_000_000))
    rep = dg.ingest_files([req, res], "anthropic-batch", store, settings, account="acct_ant")
    assert (rep.inserted, rep.rejected) == (2, 0)
    assert next(f for f in rep.files if f.path == str(res)).skipped == 1  # expired: never ran
    rows = {r["prompt"]: r for r in store.query("SELECT * FROM exchanges").to_pylist()}
    one = rows["claude batch one"]
    assert (one["end_user"], one["thinking"], one["system"]) == (
        "reseller-42",
        True,
        "Think first.",
    )
    assert one["reasoning"].startswith("First") and one["request_id"].startswith("msg_")
    assert one["ts"].timestamp() == 1_780_000_000  # the results file's time
    two = rows["claude batch two"]
    assert (two["status"], two["output_tokens"]) == (403, None)
    assert two["request_id"] == "msgbatch_results.jsonl:q-2"


def test_embedding_lines_of_a_batch_are_skipped_not_rejected(
    tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    request = {"custom_id": "e-1", "method": "POST", "url": "/v1/embeddings",
               "body": {"model": "text-embedding-test", "input": "embed me"}}  # fmt: skip
    result = {"id": "batch_req_e1", "custom_id": "e-1", "error": None,
              "response": {"status_code": 200, "request_id": "req_e1",
                           "body": {"object": "list", "data": [], "model": "text-embedding-test"}}}  # fmt: skip
    inp = write_jsonl(tmp_path / "in.jsonl", [request])
    out = write_jsonl(tmp_path / "out.jsonl", [result])
    rep = dg.ingest_files([inp, out], "openai-batch", store, settings, account="a")
    assert (rep.inserted, rep.rejected, sum(f.skipped for f in rep.files)) == (0, 0, 2)
