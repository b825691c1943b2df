"""All Prometheus metrics of the service, in one module: prefixed names, explicit buckets, route templates."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

registry = CollectorRegistry(auto_describe=True)

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

http_requests = Counter(
    "onshi_http_requests_total", "HTTP requests by route template, method and status.",
    ("route", "method", "status"), registry=registry,
)
http_latency = Histogram(
    "onshi_http_request_duration_seconds", "HTTP request latency by route template.",
    ("route", "method"), buckets=LATENCY_BUCKETS, registry=registry,
)
batch_rows = Counter(
    "onshi_batch_rows_total", "Batch rows processed, by batch kind and outcome (accepted / rejected).",
    ("kind", "outcome"), registry=registry,
)
batches_in_flight = Gauge(
    "onshi_batches_running", "Batches being processed by this process.", registry=registry,
)
link_decisions = Counter(
    "onshi_link_decisions_total", "Five-field matching decisions by direction and outcome.",
    ("direction", "outcome"), registry=registry,
)
certificate_actions = Counter(
    "onshi_certificate_actions_total", "Authority actions on certificates.", ("action",), registry=registry,
)
verifications = Counter(
    "onshi_verifications_total", "Reception checks by result.", ("result",), registry=registry,
)
