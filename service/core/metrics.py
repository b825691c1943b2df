"""All Prometheus metrics of the service, in one module: prefixed names, explicit buckets, route templates.

Besides Onshi's own: the process (CPU seconds, resident memory, open file descriptors, start time), the Python
platform (version, implementation) and the garbage collector (collections, collected and uncollectable objects
per generation), from prometheus_client's collectors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

registry = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=registry)
PlatformCollector(registry=registry)
GCCollector(registry=registry)

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
event_loop_lag = Histogram(
    "onshi_event_loop_lag_seconds", "How late the event loop woke a 100 ms timer: time every request waited for "
    "code that held the loop (long tails start here).", buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
    registry=registry,
)
replica_lag = Gauge(
    "onshi_replica_lag_seconds", "How far the read replica is behind the primary (-1: none, or unreachable).",
    registry=registry,
)
verifications = Counter(
    "onshi_verifications_total", "Reception checks by result.", ("result",), registry=registry,
)


class StoredCounts(Collector):
    """A counter kept in the database by another process, exported as last read (the /metrics handler reads it).

    Every instance of the service exports the same totals: aggregate them with max(), not sum().
    """

    def __init__(self, name: str, documentation: str, label: str) -> None:
        self._name, self._documentation, self._label = name, documentation, label
        self._values: dict[str, int] = {}

    def update(self, values: Mapping[str, int]) -> None:
        """Replace the values with a fresh reading."""
        self._values = dict(values)

    def describe(self) -> Iterable[Metric]:
        """The family, without samples (registration does not read the database)."""
        return [CounterMetricFamily(self._name, self._documentation, labels=[self._label])]

    def collect(self) -> Iterable[Metric]:
        """The family with the last reading."""
        family = CounterMetricFamily(self._name, self._documentation, labels=[self._label])
        for value, count in sorted(self._values.items()):
            family.add_metric([value], count)
        return [family]


admin_certificate_actions = StoredCounts(
    "onshi_admin_certificate_actions",
    "Certificate actions taken with the admin command (its own process), as counted in the database.",
    "action",
)
registry.register(admin_certificate_actions)
