"""Prometheus metrics of one gateway process (``GET /metrics``). No account appears in a label."""

from __future__ import annotations

from typing import Any

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

        # labelled children, looked up once per label set (labels() costs more than observe())
        self._counters: dict[tuple[str, int, str], Any] = {}
        self._histograms: dict[str, tuple[Any, Any]] = {}

    def observe(self, api: str, status: int, action: str, total_ms: float, own_ms: float) -> None:
        counter = self._counters.get((api, status, action))
        if counter is None:
            counter = self._counters[(api, status, action)] = self.requests.labels(
                api, str(status), action
            )
        counter.inc()
        histograms = self._histograms.get(api)
        if histograms is None:
            histograms = self._histograms[api] = (
                self.latency.labels(api),
                self.overhead.labels(api),
            )
        histograms[0].observe(total_ms)
        histograms[1].observe(max(own_ms, 0.0))
