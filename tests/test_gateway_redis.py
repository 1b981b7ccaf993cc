"""Many replicas: a real redis-server, four gateway processes, budgets that hold, pub/sub
invalidation, and Redis going away under the gateway's feet."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from distillguard.gateway._limits import Bucket, RedisLimiter
from gateway_helpers import (
    GatewayProc,
    gateway_config,
    mock_upstream,
    redis_server,
    start_gateway,
)

ASK = [{"role": "user", "content": "What is 17 * 23?"}]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as (url, _):
        yield url


def test_lua_buckets_are_atomic_under_concurrency(redis_url: str) -> None:
    import redis.asyncio as aioredis

    async def run() -> tuple[int, float]:
        pool = aioredis.BlockingConnectionPool.from_url(redis_url, max_connections=16)
        client = aioredis.Redis(connection_pool=pool)
        limiter = RedisLimiter(client, "t1:")
        bucket = [Bucket("a:x:rpm", 10, 60), Bucket("a:x:rpd", 1000, 86_400)]
        results = await asyncio.gather(*(limiter.acquire(bucket) for _ in range(200)))
        levels = await limiter.levels(bucket)
        await client.aclose()
        await pool.disconnect()
        return sum(1 for r in results if r == 0), levels[1]

    admitted, day_level = asyncio.run(run())
    assert admitted == 10
    assert 989.9 < day_level < 990.2  # the refused 190 charged nothing


@pytest.fixture(scope="module")
def replicas(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[GatewayProc]]:
    tmp = tmp_path_factory.mktemp("replicas")
    with mock_upstream() as upstream:
        procs = []
        for i in range(4):
            cfg = gateway_config(
                tmp / f"r{i}", upstream,
                state={"backend": "redis", "redis_url": redis_url, "cache_ttl_s": 30.0,
                       "redis_prefix": "rep:"},
                log={"dir": str(tmp / f"r{i}" / "log")},
            )  # fmt: skip
            procs.append(start_gateway(tmp / f"r{i}", cfg))
        yield procs
        for p in procs:
            p.stop()


def _hammer(urls: list[str], key: str, n: int) -> list[int]:
    def one(i: int) -> int:
        r = httpx.post(urls[i % len(urls)] + "/v1/chat/completions",
                       json={"model": "atlas-3", "messages": ASK},
                       headers={"authorization": f"Bearer {key}"}, timeout=30)  # fmt: skip
        return r.status_code

    with ThreadPoolExecutor(32) as pool:
        return list(pool.map(one, range(n)))


def test_four_replicas_never_admit_more_than_the_budget(replicas: list[GatewayProc]) -> None:
    a = replicas[0]
    key = a.account("acct_rep1", tier="build", verification="id", created_at="2025-01-01T00:00:00Z")
    a.decide(action="throttle", target="acct_rep1", params={"rpd": 10}, reason="budget test")
    statuses = _hammer([p.url for p in replicas], key, 240)
    assert statuses.count(200) == 10, statuses
    assert statuses.count(429) == 230
    # (a daily budget: no refill during the test, so the count is exact)
    # a cluster of 20 light accounts shares one budget of 15 across all replicas
    keys = [a.account(f"acct_hyd{i:02d}", tier="build", verification="id", cluster_id="cl-hydra",
                      created_at="2025-01-01T00:00:00Z") for i in range(20)]  # fmt: skip
    a.decide(
        action="throttle", scope="cluster", target="cl-hydra", params={"rpd": 15}, reason="hydra"
    )

    def one(i: int) -> int:
        r = httpx.post(replicas[i % 4].url + "/v1/messages",
                       json={"model": "atlas-3", "max_tokens": 5, "messages": ASK},
                       headers={"x-api-key": keys[i % 20]}, timeout=30)  # fmt: skip
        return r.status_code

    with ThreadPoolExecutor(32) as pool:
        cluster_statuses = list(pool.map(one, range(200)))
    assert cluster_statuses.count(200) == 15


def test_a_decision_on_one_replica_reaches_the_others_by_pubsub(
    replicas: list[GatewayProc],
) -> None:
    a, b = replicas[0], replicas[3]
    key = a.account("acct_rep2", tier="build", verification="id", created_at="2025-01-01T00:00:00Z")
    url = b.url + "/v1/chat/completions"
    body = {"model": "atlas-3", "messages": ASK}
    assert httpx.post(url, json=body, headers={"authorization": f"Bearer {key}"}).status_code == 200
    a.decide(action="block", target="acct_rep2", reason="pubsub test")
    # the cache TTL is 30 s here: only the invalidation message can make this quick
    deadline = time.monotonic() + 5
    status = 200
    while time.monotonic() < deadline and status == 200:
        status = httpx.post(url, json=body, headers={"authorization": f"Bearer {key}"}).status_code
        time.sleep(0.05)
    assert status == 403


def test_redis_down_fails_open_for_trusted_and_closed_for_flagged(tmp_path: Path) -> None:
    with redis_server() as (url, proc), mock_upstream() as upstream:
        cfg = gateway_config(tmp_path, upstream, state={
            "backend": "redis", "redis_url": url, "cache_ttl_s": 0.0, "redis_timeout_s": 0.2,
            "on_redis_down": {"fallback_share": 0.1}},
            tiers={"enterprise": {"trusted": True}, "free": {"rpm": 20},
                   "partner": {"rpm": 5, "on_redis_down": "open"}})  # fmt: skip
        g = start_gateway(tmp_path, cfg)
        try:
            trusted = g.account("acct_ent", tier="enterprise", verification="business")
            flagged = g.account("acct_flag", tier="enterprise", verification="business")
            plain = g.account("acct_free", tier="free", verification="phone")
            partner = g.account("acct_partner", tier="partner", verification="business")
            g.decide(
                action="shape", target="acct_flag", params={"thinking": "redact"}, reason="review"
            )
            post: Any = lambda k: httpx.post(g.url + "/v1/chat/completions", timeout=10,  # noqa: E731
                                             json={"model": "atlas-3", "messages": ASK},
                                             headers={"authorization": f"Bearer {k}"})  # fmt: skip
            keys = (trusted, flagged, plain, partner)
            assert [post(k).status_code for k in keys] == [200, 200, 200, 200]
            proc.kill()
            proc.wait()
            down = [post(k) for k in (trusted, flagged, plain)]
            assert [r.status_code for r in down] == [200, 503, 200]
            assert down[1].json()["error"]["code"] == "state_unavailable"
            # the free tier's local fallback budget is 10 % of 20 a minute: 2 requests
            assert post(plain).status_code == 200
            refused = post(plain)
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert post(trusted).status_code == 200
            # a tier with its own rule: open, whatever its budget
            assert [post(partner).status_code for _ in range(3)] == [200, 200, 200]
            unknown = post("dg-never-seen")
            assert unknown.status_code == 503  # cannot authenticate without the state store
            models = httpx.get(g.url + "/v1/models", headers={"authorization": f"Bearer {trusted}"})
            assert models.status_code == 503
            assert httpx.get(g.url + "/healthz").status_code == 200
            assert g.proc.poll() is None
        finally:
            g.stop()
