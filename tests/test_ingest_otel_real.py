"""OpenTelemetry exports made by the real instrumentations: an application (tests/otel_app.py)
calls mock-upstream through the official SDKs, instrumented with
``opentelemetry-instrumentation-openai-v2`` and Traceloop's
``opentelemetry-instrumentation-anthropic``, and exports spans and log events with the
OTLP/HTTP exporters to a local receiver that writes the collector's file-exporter JSON
(tests/otlp_receiver.py). Each capture mode is ingested and compared field by field with
what the SDKs sent and handed back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import distillguard as dg
from gateway_helpers import mock_upstream

if not os.environ.get("CI"):  # installed by the dev extra: CI fails rather than skips
    pytest.importorskip("opentelemetry.instrumentation.openai_v2")
    pytest.importorskip("opentelemetry.instrumentation.anthropic")
from otlp_receiver import otlp_receiver

APP = Path(__file__).with_name("otel_app.py")


@pytest.fixture(scope="module")
def upstream() -> Any:
    with mock_upstream() as url:
        yield url


def _export(
    upstream: str, mode: str, directory: Path, instrumentation: str = "openai-v2"
) -> dict[str, Any]:
    with otlp_receiver(directory) as collector:
        done = subprocess.run(
            [sys.executable, str(APP), upstream, collector, mode, instrumentation],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _rows(store: dg.Store) -> dict[str, dict[str, Any]]:
    return {r["prompt"]: r for r in store.query("SELECT * FROM exchanges").to_pylist()}


@pytest.mark.parametrize("mode", ["SPAN_ONLY", "EVENT_ONLY", "SPAN_AND_EVENT"])
def test_instrumented_sdks_are_read_field_by_field(
    upstream: str, mode: str, tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    got = _export(upstream, mode, tmp_path)
    files = sorted(tmp_path.glob("*.jsonl"))
    assert [f.name for f in files] == (
        ["traces.jsonl"] if mode == "SPAN_ONLY" else ["logs.jsonl", "traces.jsonl"]
    )
    # no instrumentation names an account: the deployment's tenant attribute is mapped
    settings.ingest.otel_account_attributes = ["tenant.id"]
    rep = dg.ingest_files(files, "otel", store, settings)
    assert (rep.inserted, rep.rejected) == (3, 0)
    rows = _rows(store)
    assert "sk-not-exported" not in "".join(f.read_text() for f in files)

    chat, sent = rows["otel openai question"], got["openai"]
    assert (chat["account_id"], chat["request_id"], chat["response_id"]) == (
        "tenant-42",
        sent["id"],
        sent["id"],
    )
    assert (chat["model"], chat["temperature"], chat["max_tokens"]) == ("gpt-test", 0.1, 40)
    assert chat["system"] == "Explain like a tutor."  # a developer message in the input
    assert (chat["n_messages"], chat["response"]) == (2, sent["text"])
    assert [chat["input_tokens"], chat["output_tokens"]] == sent["usage"]
    assert chat["status"] == 200 and chat["stop_reason"] == "stop"

    refused = rows["otel refused"]
    assert (refused["status"], refused["input_tokens"], refused["response"]) == (429, None, None)

    # the Anthropic SDK's own span and Traceloop's, merged into one exchange
    claude, sent_a = rows[""] if mode == "EVENT_ONLY" else rows["lookup says 42"], got["anthropic"]
    assert claude["request_id"] == sent_a["id"]
    assert [claude["input_tokens"], claude["output_tokens"]] == sent_a["usage"]
    assert claude["thinking"] is True and claude["stop_reason"] in ("stop", "end_turn")
    if mode != "EVENT_ONLY":  # Traceloop records content on spans only
        assert claude["system"] == "Think carefully." and claude["n_messages"] == 3
        assert (claude["response"], claude["reasoning"]) == (sent_a["text"], sent_a["thinking"])
    merged = sum(f.skipped for f in rep.files)
    assert merged >= 1  # the duplicate span (and, with events, the joined event lines)


def test_spans_without_an_account_take_the_default_and_the_report_says_so(
    upstream: str, tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    _export(upstream, "SPAN_ONLY", tmp_path)
    path = tmp_path / "traces.jsonl"
    rep = dg.ingest_files([path], "otel", store, settings)
    rejects = [json.loads(x) for x in Path(str(rep.files[0].rejects_path)).read_text().splitlines()]
    assert rep.inserted == 0 and len(rejects) == 3
    assert all(r["field"] == "account_id" and r["reason"].startswith("span ") for r in rejects)
    assert "--account" in rejects[0]["reason"]
    rep = dg.ingest_files([path], "otel", store, settings, account="acct_default")
    assert rep.inserted == 3 and rep.files[0].note == (
        "3 record(s) named no account: ingested as 'acct_default'"
    )


@pytest.mark.parametrize("instrumentation", ["traceloop", "openinference"])
def test_other_openai_instrumentations_are_read_field_by_field(
    upstream: str, instrumentation: str, tmp_path: Path, store: dg.Store, settings: dg.Settings
) -> None:
    """OpenLLMetry's ``opentelemetry-instrumentation-openai`` and Arize's
    ``openinference-instrumentation-openai`` (OpenInference's own attribute conventions)."""
    got = _export(upstream, "SPAN_ONLY", tmp_path, instrumentation)
    settings.ingest.otel_account_attributes = ["tenant.id"]
    rep = dg.ingest_files([tmp_path / "traces.jsonl"], "otel", store, settings)
    assert (rep.inserted, rep.rejected) == (3, 0)
    rows = _rows(store)
    chat, sent = rows["otel openai question"], got["openai"]
    assert (chat["request_id"], chat["model"], chat["system"]) == (
        sent["id"],
        "gpt-test",
        "Explain like a tutor.",
    )
    assert (chat["temperature"], chat["max_tokens"], chat["n_messages"]) == (0.1, 40, 2)
    assert chat["response"] == sent["text"]
    assert [chat["input_tokens"], chat["output_tokens"]] == sent["usage"]
    refused = rows["otel refused"]
    assert (refused["status"], refused["input_tokens"]) == (429, None)
