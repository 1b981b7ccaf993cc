"""Prometheus metrics of one gateway process (``GET /metrics``). No account appears in a label."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_BUCKETS_MS = (0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 5_000, 30_000)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "distillguard_requests",
            "Requests answered, by API, HTTP status and the action applied",
            ("api", "status", "action"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "distillguard_request_duration_ms",
            "Time from request to the end of the answer (ms)",
            ("api",),
            buckets=_BUCKETS_MS,
            registry=self.registry,
        )
        self.overhead = Histogram(
            "distillguard_gateway_overhead_ms",
            "Time spent in the gateway itself, excluding the upstream (ms)",
            ("api",),
            buckets=_BUCKETS_MS,
            registry=self.registry,
        )
        self.state_errors = Counter(
            "distillguard_state_errors",
            "Calls to the shared state (Redis) that failed",
            registry=self.registry,
        )
        self.spooled = Gauge(
            "distillguard_log_spooled", "Exchanges written to the spool", registry=self.registry
        )
        self.flushed = Gauge(
            "distillguard_log_flushed",
            "Exchanges turned into Parquet partitions",
            registry=self.registry,
        )
        self.flush_errors = Gauge(
            "distillguard_log_flush_errors", "Failed spool flushes", registry=self.registry
        )

    def observe(self, api: str, status: int, action: str, total_ms: float, own_ms: float) -> None:
        self.requests.labels(api, str(status), action).inc()
        self.latency.labels(api).observe(total_ms)
        self.overhead.labels(api).observe(max(own_ms, 0.0))
