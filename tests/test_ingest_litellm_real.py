"""What LiteLLM itself logs, made by LiteLLM's own code: its SDK calls mock-upstream, its
logging callback receives the StandardLoggingPayload, and the proxy's spend-log builder
(``get_logging_payload``) turns the same call into a spend-log row, as the proxy does before
its Postgres writer. The Postgres writer is not run (its Prisma engines cannot be downloaded
here); the proxy's settings module is stood in for by one holding
``store_prompts_in_spend_logs: true``, since importing the real one starts the whole proxy.
Both are ingested and compared field by field with what was sent."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import os
import sys
import types
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import distillguard as dg
from gateway_helpers import mock_upstream

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network for prices
with warnings.catch_warnings():  # LiteLLM's own import-time warnings (pydantic TypedDicts)
    warnings.simplefilter("ignore")
    if os.environ.get("CI"):  # installed by the dev extra: CI fails rather than skips
        import litellm
    else:
        litellm = pytest.importorskip("litellm")
pytestmark = pytest.mark.filterwarnings(
    "ignore::UserWarning:pydantic", "ignore::DeprecationWarning", "ignore::ResourceWarning"
)

ASK = [
    {"role": "system", "content": "Answer tersely."},
    {"role": "user", "content": "litellm question"},
]
KEY_HASH = hashlib.sha256(b"sk-virtual-key-of-the-proxy").hexdigest()  # as the proxy stores keys
# what the proxy puts in a call's metadata after authenticating its virtual key
META = {
    "user_api_key": KEY_HASH,
    "user_api_key_user_id": "acct_litellm",
    "user_api_key_hash": KEY_HASH,
    "user_api_key_team_id": "team-7",
    "user_api_key_org_id": "org-7",
    "requester_ip_address": "198.51.100.4",
    "user_agent": "OpenAI/Python 2.3.0",
}


@pytest.fixture(scope="module")
def logged() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    settings_module = types.ModuleType("litellm.proxy.proxy_server")
    settings_module.general_settings = {"store_prompts_in_spend_logs": True}  # type: ignore[attr-defined]
    settings_module.general_settings_view = lambda: settings_module.general_settings  # type: ignore[attr-defined]
    saved = sys.modules.get("litellm.proxy.proxy_server")
    sys.modules["litellm.proxy.proxy_server"] = settings_module
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from litellm.integrations.custom_logger import CustomLogger
        from litellm.litellm_core_utils.litellm_logging import StandardLoggingPayloadSetup
        from litellm.proxy.spend_tracking.spend_tracking_utils import get_logging_payload

    out: list[tuple[dict[str, Any], dict[str, Any]]] = []

    class Keep(CustomLogger):  # type: ignore[misc]
        async def async_log_success_event(
            self, kwargs: Any, response_obj: Any, start_time: datetime, end_time: datetime
        ) -> None:
            spend = get_logging_payload(kwargs, response_obj, start_time, end_time)
            out.append((kwargs["standard_logging_object"], spend))

        async def async_log_failure_event(
            self, kwargs: Any, response_obj: Any, start_time: datetime, end_time: datetime
        ) -> None:
            # what the proxy's failure hook (ProxyDBLogger) adds before it builds the row
            meta = kwargs["litellm_params"].setdefault("metadata", {})
            meta["status"] = "failure"
            meta["error_information"] = StandardLoggingPayloadSetup.get_error_information(
                original_exception=kwargs.get("exception"), traceback_str=""
            )
            spend = get_logging_payload(kwargs, response_obj, start_time, end_time)
            out.append((kwargs["standard_logging_object"], spend))

    async def calls(base: str) -> None:
        body = {"model": "gpt-test", "messages": ASK, "temperature": 0.3, "max_tokens": 60,
                "user": "app-user-1"}  # fmt: skip
        await litellm.acompletion(
            model="openai/gpt-test", api_base=f"{base}/v1", api_key="sk-not-logged",
            messages=ASK, temperature=0.3, max_tokens=60, user="app-user-1", metadata=META,
            proxy_server_request={"url": "http://proxy/v1/chat/completions", "method": "POST",
                                  "headers": {}, "body": body},
        )  # fmt: skip
        with pytest.raises(litellm.RateLimitError):
            await litellm.acompletion(
                model="openai/error-429", api_base=f"{base}/v1", api_key="sk-not-logged",
                messages=[{"role": "user", "content": "litellm refused"}], metadata=META,
                max_retries=0, num_retries=0,
            )  # fmt: skip
        for _ in range(100):  # the callbacks run after the call returns
            if len(out) >= 2:
                break
            await asyncio.sleep(0.05)

    litellm.callbacks = [Keep()]
    try:
        with mock_upstream() as base:
            asyncio.run(calls(base))
    finally:
        litellm.callbacks = []
        if saved is not None:
            sys.modules["litellm.proxy.proxy_server"] = saved
        else:
            sys.modules.pop("litellm.proxy.proxy_server", None)
    assert len(out) == 2
    return out


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows))
    return path


def _check(rows: dict[str, dict[str, Any]], slp_ok: dict[str, Any]) -> None:
    ok = rows["litellm question"]
    assert ok["request_id"] == slp_ok["id"]
    assert (ok["account_id"], ok["org_id"], ok["api_key_id"]) == (
        "acct_litellm",
        "org-7",
        META["user_api_key_hash"],
    )
    assert (ok["system"], ok["temperature"], ok["max_tokens"]) == ("Answer tersely.", 0.3, 60)
    assert (ok["end_user"], ok["ip"], ok["user_agent"]) == (
        "app-user-1",
        "198.51.100.4",
        "OpenAI/Python 2.3.0",
    )
    assert ok["response"] == slp_ok["response"]["choices"][0]["message"]["content"]
    assert (ok["input_tokens"], ok["output_tokens"]) == (
        slp_ok["prompt_tokens"],
        slp_ok["completion_tokens"],
    )
    assert ok["status"] == 200 and ok["n_messages"] == 2
    refused = rows["litellm refused"] if "litellm refused" in rows else rows[""]
    # LiteLLM writes 0 tokens for a failed call; it never reached the model
    assert (refused["status"], refused["input_tokens"], refused["response"]) == (429, None, None)


def test_the_standard_logging_payload_is_read_field_by_field(
    logged: list[tuple[dict[str, Any], dict[str, Any]]],
    tmp_path: Path,
    store: dg.Store,
    settings: dg.Settings,
) -> None:
    path = _jsonl(tmp_path / "slp.jsonl", [slp for slp, _ in logged])
    rep = dg.ingest_files([path], "litellm", store, settings)
    assert (rep.inserted, rep.rejected) == (2, 0)
    rows = {r["prompt"]: r for r in store.query("SELECT * FROM exchanges").to_pylist()}
    _check(rows, logged[0][0])
    assert rows["litellm refused"]["request_id"] == logged[1][0]["id"]


@pytest.mark.parametrize("shape", ["jsonl", "csv"])
def test_spend_logs_are_read_field_by_field_from_jsonl_and_csv(
    logged: list[tuple[dict[str, Any], dict[str, Any]]],
    tmp_path: Path,
    store: dg.Store,
    settings: dg.Settings,
    shape: str,
) -> None:
    spend = [row for _, row in logged]
    if shape == "jsonl":
        path = _jsonl(tmp_path / "spend.jsonl", spend)
    else:  # what a database export writes: every value as text, null as empty
        path = tmp_path / "spend.csv"
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(spend[0]))
            writer.writeheader()
            for row in spend:
                writer.writerow({k: "" if v is None else v for k, v in row.items()})
    rep = dg.ingest_files([path], "litellm", store, settings)
    assert (rep.inserted, rep.rejected) == (2, 0)
    rows = {r["prompt"]: r for r in store.query("SELECT * FROM exchanges").to_pylist()}
    _check(rows, logged[0][0])
    assert "sk-not-logged" not in path.read_text()
