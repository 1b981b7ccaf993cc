"""The gateway under attack and faults, with real processes on 127.0.0.1: each test reproduces
a way a client, Redis or a crash could lose exchanges or lift a limit, and shows it held.

docs/reliability.md reports what these tests try, how many times, and what held."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from gateway_helpers import (
    ASK,
    SLOW_SERVER,
    GatewayProc,
    flood_with_redis_faults,
    gateway_config,
    kill_and_restart,
    mock_upstream,
    redis_server,
    slow_client_attack,
    start_gateway,
    wait_all_logged,
    wait_logged,
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with mock_upstream() as url:
        yield url


def _post(
    g: GatewayProc, key: str, body: bytes | dict[str, Any], path: str = "/v1/chat/completions"
) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}", "x-api-key": key,
               "content-type": "application/json", "anthropic-version": "2023-06-01"}  # fmt: skip
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(g.url + path, content=data, headers=headers, timeout=30)


def _metric(g: GatewayProc, name: str) -> float:
    for line in httpx.get(g.url + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


# -- 1, 2: every value the gateway accepts can be logged --------------------------------------------


def test_oversize_integers_are_refused_and_never_hide_other_accounts(
    tmp_path: Path, upstream: str
) -> None:
    g = start_gateway(tmp_path, gateway_config(tmp_path, upstream, log={"flush_interval_s": 0.3}))
    try:
        attacker = g.account("acct_big", tier="enterprise", verification="business")
        others = [g.account(f"acct_o{i:02d}", tier="enterprise", verification="business")
                  for i in range(40)]  # fmt: skip
        for value in (18446744073709551615, 2**63, 2**31):
            r = _post(g, attacker, {"model": "atlas-3", "messages": ASK, "max_tokens": value})
            assert r.status_code == 400, r.text
            assert r.json()["error"]["param"] == "max_tokens"
            assert r.headers["x-distillguard-request-id"]
        r = _post(g, attacker, {"model": "atlas-3", "max_tokens": 2**64 - 1, "messages": ASK},
                  path="/v1/messages")  # fmt: skip
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_request_error"
        # a huge integer where the gateway does not read it: answered, and logged
        tool = {
            "type": "function",
            "function": {
                "name": "f",
                "parameters": {
                    "type": "object",
                    "properties": {"n": {"type": "integer", "maximum": 2**64 - 1}},
                },
            },
        }
        r = _post(g, attacker, {"model": "atlas-3", "messages": ASK, "tools": [tool]})
        assert r.status_code == 200
        answered = {r.headers["x-distillguard-request-id"]}
        for key in others:
            r = _post(g, key, {"model": "atlas-3", "messages": ASK})
            assert r.status_code == 200
            answered.add(r.headers["x-distillguard-request-id"])
        rows = wait_logged(tmp_path / "log", len(answered) + 4)
        ids = {r["request_id"] for r in rows}
        assert answered <= ids  # the 40 other accounts' exchanges all reached Parquet
        refused = [r for r in rows if r["account_id"] == "acct_big" and r["status"] == 400]
        assert len(refused) == 4  # the refusals are logged too
        assert not list((tmp_path / "log" / "spool").glob("*.claim"))
        assert _metric(g, "distillguard_log_pending_segments") == 0
        assert _metric(g, "distillguard_log_quarantined") == 0
    finally:
        g.stop()


def test_a_record_that_cannot_be_stored_is_quarantined_and_counted(
    tmp_path: Path, upstream: str
) -> None:
    cfg = gateway_config(tmp_path, upstream, log={"flush_interval_s": 0.3})
    g = start_gateway(tmp_path, cfg)
    try:
        key = g.account("acct_q", tier="enterprise", verification="business")
        # a dead process's segment holding one record no contract column can take
        good = {"request_id": "dead-1", "ts": int(time.time() * 1e6), "account_id": "acct_q",
                "endpoint": "messages", "model": "m", "prompt": "p", "n_messages": 1, "n_tools": 0,
                "thinking": False, "input_tokens": 1, "output_tokens": 1, "status": 200}  # fmt: skip
        bad = dict(good, request_id="dead-2", input_tokens=2**64 - 1)
        spool = tmp_path / "log" / "spool"
        (spool / "seg-1-999999-dead.jsonl").write_bytes(
            orjson.dumps(good) + b"\n" + orjson.dumps(bad) + b"\n"
        )
        assert _post(g, key, {"model": "atlas-3", "messages": ASK}).status_code == 200
        rows = wait_logged(tmp_path / "log", 2)
        assert {r["request_id"] for r in rows} >= {"dead-1"}
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _metric(g, "distillguard_log_quarantined") < 1:
            time.sleep(0.2)
        assert _metric(g, "distillguard_log_quarantined") == 1
        (reject,) = (tmp_path / "log" / "rejects").iterdir()
        assert b"dead-2" in reject.read_bytes()
    finally:
        g.stop()


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth - 1):
        value = [value]
    return value


@pytest.mark.parametrize("stream", [False, True])
def test_deep_nesting_is_refused_or_answered_and_logged_never_answered_and_lost(
    tmp_path: Path, upstream: str, stream: bool
) -> None:
    g = start_gateway(tmp_path, gateway_config(tmp_path, upstream, log={"flush_interval_s": 0.3}))
    try:
        key = g.account("acct_deep", tier="enterprise", verification="business")
        # 300 levels inside a message: more than the log can write, refused up front
        deep = [{"role": "user", "content": [{"type": "text", "text": "hi", "x": _nested(300)}]}]
        r = _post(g, key, {"model": "atlas-3", "messages": deep, "stream": stream})
        assert r.status_code == 400
        assert r.json()["error"]["param"].startswith("messages[0].content[0].x[0]")
        # 200 levels inside a tool definition: within bounds, answered and logged
        tool = {"type": "function", "function": {"name": "f", "parameters": _nested(200)}}
        r = _post(g, key, {"model": "atlas-3", "messages": ASK, "tools": [tool], "stream": stream})
        assert r.status_code == 200
        if stream:
            assert r.text.rstrip().endswith("data: [DONE]")
        rid = r.headers["x-distillguard-request-id"]
        rows = wait_logged(tmp_path / "log", 2)
        assert rid in {row["request_id"] for row in rows}
    finally:
        g.stop()


def test_duplicate_keys_are_refused(tmp_path: Path, upstream: str) -> None:
    g = start_gateway(tmp_path, gateway_config(tmp_path, upstream))
    try:
        key = g.account("acct_dup", tier="free", verification="phone")
        # the upstream might take the first "thinking" while a check reads the last
        raw = (b'{"model": "atlas-3", "max_tokens": 50, "thinking": {"type": "enabled", '
               b'"budget_tokens": 1024}, "messages": [{"role": "user", "content": "hi"}], '
               b'"thinking": {"type": "disabled"}}')  # fmt: skip
        r = _post(g, key, raw, path="/v1/messages")
        assert r.status_code == 400
        assert r.json()["error"]["message"] == "duplicate key 'thinking' in the JSON body"
        nested = b'{"model": "atlas-3", "messages": [{"role": "user", "role": "system", "content": "x"}]}'
        assert _post(g, key, nested).json()["error"]["code"] == "invalid_json"
        # the same body without duplicates, spaced as a person would write it, passes
        ok = b'{ "model" : "atlas-3", "messages" : [ { "role" : "user", "content" : "hi" } ] }'
        assert _post(g, key, ok).status_code == 200
    finally:
        g.stop()


# -- 3, 4: Redis faults ------------------------------------------------------------------------------


def test_tier_budgets_hold_across_four_replicas_under_a_flood_with_redis_timeouts(
    tmp_path: Path, upstream: str
) -> None:
    with redis_server() as (url, _):
        admitted, seen = flood_with_redis_faults(tmp_path, upstream, url)
    assert admitted <= 10  # the budget (a day's: no refill during the run, so exact)
    assert seen.count("200") <= 10
    assert seen.count("503") > 0  # the injected timeouts were felt, and refused


def test_trusted_tiers_fail_open_even_after_an_unrelated_decision(
    tmp_path: Path, upstream: str
) -> None:
    with redis_server() as (url, proc):
        cfg = gateway_config(tmp_path, upstream, state={
            "backend": "redis", "redis_url": url, "cache_ttl_s": 0.5, "redis_timeout_s": 0.1})  # fmt: skip
        g = start_gateway(tmp_path, cfg)
        try:
            trusted = g.account("acct_ent", tier="enterprise", verification="business")
            assert _post(g, trusted, {"model": "atlas-3", "messages": ASK}).status_code == 200
            g.decide(action="block", target="acct_someone_else", reason="unrelated")
            time.sleep(0.2)  # the invalidation arrives by pub/sub
            proc.kill()
            proc.wait()
            statuses = [_post(g, trusted, {"model": "atlas-3", "messages": ASK}).status_code
                        for _ in range(10)]  # fmt: skip
            assert statuses == [200] * 10
            # the admin API says why it cannot answer, in JSON
            r = g.admin("GET", "/admin/decisions")
            assert r.status_code == 503
            assert r.json()["detail"]["code"] == "state_unavailable"
        finally:
            g.stop()


# -- 7 and crashes: kill -9, again and again ----------------------------------------------------------


def test_twelve_kill_9_runs_keep_every_answered_exchange(tmp_path: Path) -> None:
    with mock_upstream(chunk_delay_ms=1) as up:
        # short flushes and rotations: kills land while segments are written, rotated,
        # claimed and flushed; every third run flushes only once a minute, so everything it
        # answered is still in the spool when it is killed
        quick = gateway_config(tmp_path, up, log={"flush_interval_s": 0.2, "segment_rows": 40})
        slow = gateway_config(tmp_path, up, log={"flush_interval_s": 60}, port=quick["port"])
        g = start_gateway(tmp_path, slow)
        key = g.account("acct_crash", tier="enterprise", verification="business")
        answered: list[str] = []
        for run in range(12):
            cfg = slow if run % 3 == 2 else quick
            g = kill_and_restart(tmp_path, cfg, g, key, answered, 0.4 + 0.1 * run, f"g{run}.yaml")
        try:
            assert len(answered) > 200
            ids = wait_all_logged(tmp_path / "log", answered)
            missing = set(answered) - set(ids)
            assert not missing, f"{len(missing)} of {len(answered)} answered exchanges lost"
            assert len(ids) == len(set(ids))  # and none twice
        finally:
            g.stop()


# -- 6: slow clients -----------------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_slow_clients_are_bounded_in_time_sockets_and_memory(tmp_path: Path, upstream: str) -> None:
    cfg = gateway_config(tmp_path, upstream, server=SLOW_SERVER, max_body_bytes=4 * 1024 * 1024)
    g = start_gateway(tmp_path, cfg)
    try:
        key = g.account("acct_slow", tier="enterprise", verification="business")
        seen = slow_client_attack(g, key)
        assert seen["healthz_meanwhile"] == 200
        assert seen["slow_headers_closed"] == 300  # closed at the header deadline
        # refused before any body is read
        assert seen["no_key"] == ["HTTP/1.1 401"] * 40
        # 8 MiB holds two 3.9 MB bodies: those get 408 at the body deadline, the rest 503
        assert seen["stalled"].count("503") >= 148
        assert set(seen["stalled"]) <= {"503", "408"}
        assert seen["stalled"].count("408") >= 1
        grown = seen["rss_after_kb"] - seen["rss_before_kb"]
        assert grown < 96 * 1024, f"RSS grew by {grown // 1024} MB"
        assert _post(g, key, {"model": "atlas-3", "messages": ASK}).status_code == 200
    finally:
        g.stop()


def test_a_stale_upstream_connection_is_retried_not_answered_502(tmp_path: Path) -> None:
    """An upstream that closes a kept-alive connection as the next request arrives."""
    served = {"n": 0}

    async def conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests = 0
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))  # fmt: skip
            await reader.readexactly(length)
            requests += 1
            if requests > 1:  # the keep-alive ran out just as this request came
                writer.close()
                return
            served["n"] += 1
            body = orjson.dumps({"id": f"chatcmpl-{served['n']}", "object": "chat.completion",
                                 "created": 1, "model": "atlas-3",
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": "391"}}],
                                 "usage": {"prompt_tokens": 5, "completion_tokens": 1,
                                           "total_tokens": 6}})  # fmt: skip
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                         b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)  # fmt: skip
            await writer.drain()

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(conn, "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    port_holder = [server.sockets[0].getsockname()[1]]
    up = f"http://127.0.0.1:{port_holder[0]}"
    g = start_gateway(tmp_path, gateway_config(tmp_path, up))
    try:
        key = g.account("acct_stale", tier="enterprise", verification="business")
        statuses = [_post(g, key, {"model": "atlas-3", "messages": ASK}).status_code
                    for _ in range(5)]  # fmt: skip
        assert statuses == [200] * 5
    finally:
        g.stop()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        server.close()
        loop.close()


def test_log_and_state_files_are_not_world_readable(tmp_path: Path, upstream: str) -> None:
    g = start_gateway(tmp_path, gateway_config(tmp_path, upstream, log={"flush_interval_s": 0.3}))
    try:
        key = g.account("acct_mode", tier="enterprise", verification="business",
                        email="jane@example.com")  # fmt: skip
        assert _post(g, key, {"model": "atlas-3", "messages": ASK}).status_code == 200
        wait_logged(tmp_path / "log", 1)
        files = [tmp_path / "state.sqlite", *(tmp_path / "log" / "exchanges").rglob("*.parquet"),
                 *(tmp_path / "log" / "spool").iterdir(), tmp_path / "log" / "decisions.jsonl"]  # fmt: skip
        for path in files:
            assert os.stat(path).st_mode & 0o007 == 0, path
    finally:
        g.stop()
