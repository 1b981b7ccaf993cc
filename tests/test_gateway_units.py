"""Pure parts of the gateway: stream shaping at any chunk boundary, bucket arithmetic, policy
folding, configuration errors."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from distillguard.errors import ConfigError
from distillguard.gateway import GatewayConfig, load_gateway_config
from distillguard.gateway._limits import Bucket, MemoryLimiter
from distillguard.gateway._log import capture, to_table
from distillguard.gateway._policy import effective
from distillguard.gateway._shape import StreamShaper
from distillguard.gateway._state import Account, AccountView, Decision


def _anthropic_stream() -> bytes:
    def ev(kind: str, data: dict[str, object]) -> bytes:
        return (
            f"event: {kind}\ndata: ".encode()
            + json.dumps({"type": kind, **data}).encode()
            + b"\n\n"
        )

    return b"".join([
        ev("message_start", {"message": {"model": "m", "usage": {"input_tokens": 7}}}),
        ev("content_block_start", {"index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        ev("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "Secret chain. Step two."}}),
        ev("content_block_delta", {"index": 0, "delta": {"type": "signature_delta", "signature": "s"}}),
        ev("content_block_stop", {"index": 0}),
        ev("content_block_start", {"index": 1, "content_block": {"type": "text", "text": ""}}),
        ev("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "Answer: 42"}}),
        ev("content_block_stop", {"index": 1}),
        ev("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 12}}),
        ev("message_stop", {}),
    ])  # fmt: skip


def _openai_stream() -> bytes:
    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        c = {
            "id": "c",
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + json.dumps(c).encode() + b"\n\n"

    usage = {"id": "c", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 9}}
    return b"".join([
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "Secret chain. "}),
        chunk({"reasoning_content": "Step two."}),
        chunk({"content": "Answer: 42"}),
        chunk({}, "stop"),
        b"data: " + json.dumps(usage).encode() + b"\n\n",
        b"data: [DONE]\n\n",
    ])  # fmt: skip


def _run(shaper: StreamShaper, data: bytes, cuts: list[int]) -> bytes:
    out = []
    last = 0
    for cut in [*sorted(set(c % (len(data) + 1) for c in cuts)), len(data)]:
        out.append(shaper.feed(data[last:cut]))
        last = cut
    out.append(shaper.close())
    return b"".join(out)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_anthropic_redaction_is_the_same_at_any_chunk_boundary(cuts: list[int]) -> None:
    shaper = StreamShaper("anthropic", "redact")
    out = _run(shaper, _anthropic_stream(), cuts)
    assert b"Secret" not in out and b"redacted_thinking" in out and b"Answer: 42" in out
    assert b"signature_delta" not in out
    assert shaper.finished and shaper.reader.response == "Answer: 42"
    assert (shaper.reader.input_tokens, shaper.reader.output_tokens) == (7, 12)
    assert shaper.reader.reasoning_chars == len("Secret chain. Step two.")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_openai_shaping_at_any_chunk_boundary(cuts: list[int]) -> None:
    redact = StreamShaper("openai", "redact", hide_usage=True)
    out = _run(redact, _openai_stream(), cuts)
    assert b"Secret" not in out and b"reasoning_content" not in out
    assert b'"usage"' not in out and out.endswith(b"data: [DONE]\n\n")
    assert redact.reader.response == "Answer: 42" and redact.reader.output_tokens == 9
    summ = StreamShaper("openai", "summarise")
    out = _run(summ, _openai_stream(), cuts)
    assert b"Step two" not in out and out.count(b"words withheld") == 1


def _responses_stream() -> bytes:
    def ev(kind: str, **data: Any) -> bytes:
        return (
            f"event: {kind}\ndata: ".encode()
            + json.dumps({"type": kind, **data}).encode()
            + b"\n\n"
        )

    item = {
        "id": "rs_1",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "Secret chain. Step two."}],
    }
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Answer: 42", "annotations": []}],
    }
    final = {
        "id": "resp_1",
        "object": "response",
        "model": "m",
        "status": "completed",
        "output": [item, message],
        "usage": {
            "input_tokens": 7,
            "output_tokens": 12,
            "output_tokens_details": {"reasoning_tokens": 5},
        },
    }
    ref = {"item_id": "rs_1", "output_index": 0, "summary_index": 0}
    return b"".join([
        ev("response.created", response={**final, "status": "in_progress", "output": [], "usage": None}),
        ev("response.output_item.added", output_index=0, item={**item, "summary": []}),
        ev("response.reasoning_summary_part.added", **ref, part={"type": "summary_text", "text": ""}),
        ev("response.reasoning_summary_text.delta", **ref, delta="Secret chain. "),
        ev("response.reasoning_summary_text.delta", **ref, delta="Step two."),
        ev("response.reasoning_summary_text.done", **ref, text="Secret chain. Step two."),
        ev("response.reasoning_summary_part.done", **ref, part={"type": "summary_text", "text": "Secret chain. Step two."}),
        ev("response.output_item.done", output_index=0, item=item),
        ev("response.output_item.added", output_index=1, item={**message, "content": []}),
        ev("response.output_text.delta", item_id="msg_1", output_index=1, content_index=0, delta="Answer: 42"),
        ev("response.output_item.done", output_index=1, item=message),
        ev("response.completed", response=final),
    ])  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_responses_shaping_at_any_chunk_boundary(cuts: list[int]) -> None:
    redact = StreamShaper("responses", "redact")
    out = _run(redact, _responses_stream(), cuts)
    assert b"Secret" not in out and b"Step two" not in out and b"Answer: 42" in out
    assert redact.finished and redact.reader.response == "Answer: 42"
    assert "".join(redact.reader.reasoning) == "Secret chain. Step two."  # logged as sent
    assert (redact.reader.input_tokens, redact.reader.output_tokens) == (7, 12)
    assert redact.reader.reasoning_tokens == 5 and redact.reader.response_id == "resp_1"
    summ = StreamShaper("responses", "summarise")
    out = _run(summ, _responses_stream(), cuts)
    assert b"Step two" not in out and b"words withheld" in out
    events = [json.loads(line[6:]) for line in out.split(b"\n") if line.startswith(b"data: ")]
    deltas = [e for e in events if e["type"] == "response.reasoning_summary_text.delta"]
    assert len(deltas) == 1 and "words withheld" in deltas[0]["delta"]
    passed = StreamShaper("responses", "pass")
    assert _run(passed, _responses_stream(), cuts) == _responses_stream()


def test_pass_mode_forwards_bytes_untouched() -> None:
    data = _openai_stream().replace(b"\n\n", b"\r\n\r\n")
    shaper = StreamShaper("openai", "pass")
    assert b"".join(shaper.feed(data[i : i + 7]) for i in range(0, len(data), 7)) == data
    assert shaper.reader.response == "Answer: 42" and shaper.finished


def test_garbage_in_a_stream_passes_without_crashing() -> None:
    shaper = StreamShaper("anthropic", "redact")
    junk = (
        b"data: {not json}\n\n: comment\n\ndata: [1,2]\n\nevent: x\n\n" + b"\xff\xfe" * 10 + b"\n\n"
    )
    out = shaper.feed(junk) + shaper.close()
    assert b"{not json}" in out and not shaper.finished


def test_memory_buckets_refill_and_charge_all_or_nothing() -> None:
    now = [0.0]
    lim = MemoryLimiter(clock=lambda: now[0])
    minute = Bucket("a:rpm", 2, 60)
    day = Bucket("a:rpd", 100, 86_400)
    tokens = Bucket("a:tpm", 10, 60, cost=0.0)

    async def go() -> None:
        assert await lim.acquire([minute, day, tokens]) == 0
        assert await lim.acquire([minute, day, tokens]) == 0
        wait = await lim.acquire([minute, day, tokens])
        assert wait == pytest.approx(30.0)  # one request refills in 60 / 2 s
        assert (await lim.levels([day]))[0] == pytest.approx(98)  # the refusal charged nothing
        await lim.debit([tokens], 25)  # real usage: the balance goes negative…
        now[0] = 30.0
        assert await lim.acquire([minute, tokens]) > 0  # …and holds requests back
        now[0] = 120.0
        assert await lim.acquire([minute, tokens]) == 0

    asyncio.run(go())


def _view(decisions: list[Decision], **acc: object) -> AccountView:
    return AccountView(Account(account_id="a1", **acc), "k", decisions)  # type: ignore[arg-type]


def test_incoming_headers_first_of_a_repeat_wins_and_decode_on_demand() -> None:
    from distillguard import __version__
    from distillguard.gateway._proxy import Incoming, _targets

    scope = {
        "headers": [
            (b"x-api-key", b"first"),
            (b"user-agent", b"caf\xe9"),
            (b"x-api-key", b"second"),
        ]
    }
    request = Incoming(scope, None)  # type: ignore[arg-type]
    assert request.get("x-api-key") == "first"
    assert request.get("user-agent") == "caf\u00e9"
    assert request.get("accept") is None and request.get("accept", "*/*") == "*/*"
    cfg = GatewayConfig.model_validate(
        {"upstream": {"openai": {"base_url": "http://u/v1"}, "anthropic": {"base_url": "http://u"}}}
    )
    for url, headers in _targets(cfg).values():
        assert headers["user-agent"] == f"distillguard/{__version__}", url


def test_a_reply_carries_any_header_value() -> None:
    from distillguard.gateway._proxy import Reply, encode_headers

    r = Reply(200, b"{}", encode_headers({"x-request-id": "r\u00e9q-\u2713"}))
    assert (b"x-request-id", b"r\xe9q-?") in r.headers
    assert (b"content-length", b"2") in r.headers


def test_request_metrics_expose_cumulative_prometheus_histograms() -> None:
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from distillguard.gateway._metrics import Metrics

    m = Metrics()
    for total, own in ((0.1, 0.05), (1.0, 1.0), (3.0, 0.4), (40_000.0, 2.0)):
        m.observe("openai", 200, "allow", total, own)
    m.observe("anthropic", 429, "throttle", 0.3, 0.3)
    m.observe("openai", 200, "allow", 2.0, -1.0)  # clock skew: overhead is never negative
    families = {
        f.name: f for f in text_string_to_metric_families(generate_latest(m.registry).decode())
    }
    requests = {(s.labels["api"], s.labels["status"], s.labels["action"]): s.value
                for s in families["distillguard_requests"].samples if s.name.endswith("_total")}  # fmt: skip
    assert requests == {("openai", "200", "allow"): 5, ("anthropic", "429", "throttle"): 1}
    latency = {(s.labels.get("le"), s.name): s.value
               for s in families["distillguard_request_duration_ms"].samples
               if s.labels["api"] == "openai"}  # fmt: skip
    bucket = "distillguard_request_duration_ms_bucket"
    assert latency[("0.25", bucket)] == 1
    assert latency[("1.0", bucket)] == 2  # le is inclusive
    assert latency[("5.0", bucket)] == 4
    assert latency[("30000.0", bucket)] == 4
    assert latency[("+Inf", bucket)] == 5
    assert latency[(None, "distillguard_request_duration_ms_count")] == 5
    assert latency[(None, "distillguard_request_duration_ms_sum")] == pytest.approx(40_006.1)
    overhead = {s.labels.get("le"): s.value for s in families["distillguard_gateway_overhead_ms"].samples
                if s.name.endswith("_bucket") and s.labels["api"] == "openai"}  # fmt: skip
    assert overhead["0.25"] == 2  # 0.05 and the clamped -1.0


def test_effective_folds_decisions_and_an_analyst_allow_clears_automatic_ones() -> None:
    cfg = GatewayConfig()
    t0 = datetime.now(UTC)
    auto = [
        Decision(action="shape", target="a1", params={"thinking": "summarise", "max_tokens": 500},
                 source="watch", created_at=t0),
        Decision(action="throttle", scope="cluster", target="c1", params={"rpm": 5},
                 source="policy", created_at=t0),
        Decision(action="restrict", target="a1", params={"tier": "restricted"}, source="watch",
                 created_at=t0),
    ]  # fmt: skip
    eff = effective(_view(auto, tier="build", cluster_id="c1"), cfg)
    assert eff.thinking == "summarise" and eff.max_tokens == 500
    assert eff.tier_name == "restricted" and not eff.tier.thinking
    assert any(b.key.startswith("c:c1:") for b in eff.request_buckets)
    assert eff.action == "restrict"
    allow = Decision(
        action="allow", target="a1", source="admin", created_at=t0 + timedelta(seconds=1)
    )
    cleared = effective(_view([*auto, allow], tier="build", cluster_id="c1"), cfg)
    assert cleared.thinking == "pass" and cleared.tier_name == "build" and not cleared.online_checks
    edu = effective(_view([], program="education", verification="email"), cfg)
    assert edu.verify_level == "id"


def test_capture_modes_and_table_in_the_contract_schema() -> None:
    rec = {"request_id": "r1", "ts": 1_790_000_000_000_000, "account_id": "a", "endpoint": "messages",
           "model": "m", "prompt": "secret prompt", "messages": '[{"role":"user"}]', "n_messages": 1,
           "n_tools": 0, "thinking": False, "input_tokens": 1, "output_tokens": 2, "status": 200,
           "response": "secret answer", "system": "sys"}  # fmt: skip
    hashed = capture(dict(rec), "hashed", 1 << 20, b"k" * 32)
    assert hashed["prompt"].startswith("hmac-blake2b:") and hashed["messages"] is None
    # keyed: without the key, a guessed prompt cannot be confirmed against the digest
    unkeyed = "hmac-blake2b:" + hashlib.blake2b(b"secret prompt", digest_size=16).hexdigest()
    assert hashed["prompt"] != unkeyed
    other_key = capture(dict(rec), "hashed", 1 << 20, b"j" * 32)
    assert other_key["prompt"] != hashed["prompt"]
    assert capture(dict(rec), "hashed", 1 << 20, b"k" * 32)["prompt"] == hashed["prompt"]
    off = capture(dict(rec), "off", 1 << 20)
    assert off["prompt"] == "" and off["response"] is None
    clipped = capture(dict(rec, prompt="x" * 5000), "full", 1024)
    assert len(clipped["prompt"]) == 256
    table = to_table([hashed, off])
    assert table.num_rows == 2 and table.schema.field("ts").type.tz == "UTC"


def test_config_errors_name_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "gateway.yaml"
    bad.write_text("upstream:\n  openai: {base_url: ftp://x}\nstate: {backend: etcd}\n")
    with pytest.raises(ConfigError) as e:
        load_gateway_config(bad)
    assert "gateway.yaml" in str(e.value) and "upstream.openai.base_url" in str(e.value)
    assert "state.backend" in str(e.value)
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_gateway_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_gateway_config(tmp_path / "missing.yaml")
    bad.write_text("admin: {token_sha256: not-hex}\n")
    with pytest.raises(ConfigError, match="64 hex"):
        load_gateway_config(bad)


def test_each_exchange_is_an_otel_span_with_genai_attributes(tmp_path: Path) -> None:
    import hashlib

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from starlette.testclient import TestClient

    from distillguard.gateway import create_app
    from gateway_helpers import ADMIN, ADMIN_TOKEN, gateway_config, mock_upstream

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    with mock_upstream() as upstream:
        cfg = GatewayConfig.model_validate(gateway_config(tmp_path, upstream))
        assert cfg.admin.token_sha256 == hashlib.sha256(ADMIN_TOKEN.encode()).hexdigest()
        with TestClient(create_app(cfg)) as client:
            client.put(
                "/admin/accounts/acct_o",
                headers=ADMIN,
                json={"tier": "build", "verification": "id"},
            )
            key = client.post("/admin/accounts/acct_o/keys", headers=ADMIN).json()["api_key"]
            r = client.post("/v1/messages", headers={"x-api-key": key},
                            json={"model": "atlas-3", "max_tokens": 50, "temperature": 0.2,
                                  "messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
            assert r.status_code == 200
    spans = [s for s in exporter.get_finished_spans() if s.name == "chat atlas-3"]
    assert len(spans) == 1
    attrs = dict(spans[0].attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.system"] == "anthropic"
    assert attrs["gen_ai.request.model"] == "atlas-3" and attrs["gen_ai.request.max_tokens"] == 50
    assert attrs["gen_ai.usage.output_tokens"] == 10 and attrs["gen_ai.usage.input_tokens"] > 0
    assert attrs["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert attrs["distillguard.action"] == "allow"


def test_edge_headers_are_logged_whatever_case_the_config_gives(tmp_path: Path) -> None:
    import pyarrow.parquet as pq
    from starlette.testclient import TestClient

    from distillguard.gateway import create_app
    from gateway_helpers import ADMIN, gateway_config, mock_upstream

    with pytest.raises(ValidationError, match="HTTP header name"):
        GatewayConfig.model_validate({"country_header": "Country: DE"})
    with mock_upstream() as upstream:
        cfg = GatewayConfig.model_validate(gateway_config(
            tmp_path, upstream, client_fp_header="X-JA4", country_header="CF-IPCountry"))  # fmt: skip
        assert (cfg.client_fp_header, cfg.country_header) == ("x-ja4", "cf-ipcountry")
        with TestClient(create_app(cfg)) as client:
            client.put("/admin/accounts/acct_e", headers=ADMIN, json={"tier": "build"})
            key = client.post("/admin/accounts/acct_e/keys", headers=ADMIN).json()["api_key"]
            r = client.post("/v1/messages",
                            headers={"x-api-key": key, "CF-IPCountry": "de", "X-JA4": "t13d_ab"},
                            json={"model": "atlas-3", "max_tokens": 20,
                                  "messages": [{"role": "user", "content": "hi"}]})  # fmt: skip
            assert r.status_code == 200, r.text
    rows = [row for part in sorted((tmp_path / "log" / "exchanges").rglob("*.parquet"))
            for row in pq.read_table(part).to_pylist()]  # fmt: skip
    assert [(row["country"], row["client_fp"]) for row in rows] == [("DE", "t13d_ab")]


def test_flushed_segments_become_parquet_and_load_into_a_store(tmp_path: Path) -> None:
    import distillguard as dg
    from distillguard.gateway._config import LogSettings
    from distillguard.gateway._log import ExchangeLog

    settings = LogSettings(dir=tmp_path / "log", store=tmp_path / "dg.duckdb")
    log = ExchangeLog(settings)
    base = {"ts": 1_790_000_000_000_000, "account_id": "a", "endpoint": "messages", "model": "m",
            "prompt": "p", "n_messages": 1, "n_tools": 0, "thinking": False, "input_tokens": 1,
            "output_tokens": 2, "status": 200}  # fmt: skip
    for i in range(3):
        log.write({**base, "request_id": f"r{i}"})
    with (log.spool / "seg-1-999999-dead.jsonl").open("wb") as fh:  # a dead writer's segment,
        fh.write(json.dumps({**base, "request_id": "r9"}).encode() + b"\n")  # with a torn tail
        fh.write(b'{"request_id": "cut-short')
    log._rotate()
    assert log.flush_ready() == 4
    assert log.flush_ready() == 0
    with dg.Store.open(tmp_path / "dg.duckdb") as store:
        assert store.count(dg.Kind.EXCHANGES) == 4
    assert not [p for p in log.spool.iterdir() if p.suffix in (".ready", ".claim")]


def test_a_segment_reads_the_same_whole_or_line_by_line_and_splits_by_day(tmp_path: Path) -> None:
    import orjson
    import pyarrow.parquet as pq

    from distillguard.gateway._config import LogSettings
    from distillguard.gateway._log import ExchangeLog, read_segment

    base = {"account_id": "a", "endpoint": "messages", "model": "m", "prompt": "p\u00e9 \"q\"\n",
            "n_messages": 1, "n_tools": 0, "thinking": False, "input_tokens": 1,
            "output_tokens": 2, "status": 200, "extra": "{}", "unknown_field": [1]}  # fmt: skip
    day = 86_400_000_000
    rows = [{**base, "request_id": f"r{i}", "ts": 1_790_000_000_000_000 + (i % 2) * day,
             "temperature": 1 if i == 0 else 0.5} for i in range(6)]  # fmt: skip
    segment = tmp_path / "seg-1.jsonl"
    data = b"".join(orjson.dumps(r) + b"\n" for r in rows) + b'{"request_id": "torn'
    segment.write_bytes(data)
    whole, rejects = read_segment(segment)
    assert whole.num_rows == 6
    assert rejects == []
    assert whole.equals(to_table([orjson.loads(line) for line in data.split(b"\n")[:6]]))
    # a malformed line and a record without its id: read line by line, both rejected by line
    segment.write_bytes(data.replace(b"\n", b'\nnot json\n{"ts": 1}\n', 1))
    table, rejects = read_segment(segment)
    assert table.equals(whole)
    assert [(r.line, r.error.split(":")[0]) for r in rejects] == [
        (2, "not JSON"),
        (3, "request_id"),
    ]
    # flushed: one partition per day
    log = ExchangeLog(LogSettings(dir=tmp_path / "log"))
    ready = log.spool / "seg-2-1-ab.ready"
    ready.write_bytes(data)
    assert log.flush_ready() == 6
    parts = sorted(log.parts.rglob("*.parquet"))
    assert [p.parent.name for p in parts] == ["date=2026-09-21", "date=2026-09-22"]
    assert [pq.read_table(p).num_rows for p in parts] == [3, 3]


def test_the_request_path_benchmark_runs_the_real_proxy() -> None:
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gateway_path.py"
    out = subprocess.run(
        [sys.executable, str(script), "--requests", "200", "--warmup", "10"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "µs CPU per request (200 requests)" in out.stdout


@pytest.mark.parametrize(
    ("raw", "code", "param"),
    [
        (b'{"model":"a","model":"b"}', "invalid_json", "model"),  # compact, as SDKs send it
        (b'{ "m": [ { "role": "user", "role": "system" } ] }', "invalid_json", "role"),
        (b'{"a": ' + b"[" * 300 + b"]" * 300 + b"}", "invalid_request", "a[0][0][0][0]"),
        (b'{"a": "\\ud800"}', "invalid_json", None),  # a lone surrogate
        (b'{"a": NaN}', "invalid_json", None),
    ],
)
def test_bodies_the_log_could_not_hold_or_that_hide_a_field_are_refused(
    raw: bytes, code: str, param: str | None
) -> None:
    from distillguard.gateway._requests import ApiError, load_body

    with pytest.raises(ApiError) as info:
        load_body(raw)
    assert info.value.status == 400
    assert info.value.code == code
    if param is not None:
        assert (info.value.param or "").startswith(param)


def test_bodies_within_bounds_are_read_whatever_their_spacing() -> None:
    from distillguard.gateway._requests import MAX_DEPTH, load_body

    assert load_body(b'{"a":1,"b":[1,2]}') == {"a": 1, "b": [1, 2]}
    assert load_body(b'{ "a" : 1 ,\n "b" : [ 1 , 2 ] }\n') == {"a": 1, "b": [1, 2]}
    deepest = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert load_body(deepest) is not None
    assert load_body(b"18446744073709551615") == 2**64 - 1  # parse() judges the fields it reads
