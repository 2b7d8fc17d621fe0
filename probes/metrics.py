"""Probe metrics with blackbox_exporter's names (DESIGN §5), in a registry of their own."""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from probes.base import ProbeResult

LABELS = ("component", "probe", "region")
RESULTS = ("success", "degraded", "failure")
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# Metrics only some probe types measure: (metric attribute, result field, probe types).
TYPE_SPECIFIC = (
    ("http_status_code", "http_status_code", {"http"}),
    ("http_content_length", "http_content_length", {"http"}),
    ("ssl_earliest_cert_expiry", "ssl_earliest_cert_expiry", {"tls"}),
    ("dns_lookup_time_seconds", "dns_lookup_time_seconds", {"dns"}),
)


class ProbeMetrics:
    """What the probe worker exposes; one instance per registry (never the global one)."""

    def __init__(self, registry: CollectorRegistry | None = None, region: str = "default"):
        self.registry = registry if registry is not None else CollectorRegistry()
        self.region = region
        r = self.registry
        self.success = Gauge("probe_success", "Whether the probe succeeded", LABELS, registry=r)
        self.duration_seconds = Gauge(
            "probe_duration_seconds", "How long the probe took", LABELS, registry=r
        )
        self.http_status_code = Gauge(
            "probe_http_status_code", "HTTP status code of the response", LABELS, registry=r
        )
        self.http_content_length = Gauge(
            "probe_http_content_length", "Length of the HTTP response body", LABELS, registry=r
        )
        self.ssl_earliest_cert_expiry = Gauge(
            "probe_ssl_earliest_cert_expiry",
            "Unix time at which the earliest certificate in the chain expires",
            LABELS,
            registry=r,
        )
        self.dns_lookup_time_seconds = Gauge(
            "probe_dns_lookup_time_seconds", "Time taken by the DNS query", LABELS, registry=r
        )
        self.runs = Counter(
            "leitstand_probe_runs",
            "Probe runs by result",
            ("component", "probe", "result"),
            registry=r,
        )
        self.lag = Histogram(
            "leitstand_probe_lag_seconds",
            "How late probes start against their schedule",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.inflight = Gauge("leitstand_probe_inflight", "Probes running now", registry=r)

    def prepare(self, component: str, probe: str, probe_type: str) -> None:
        """Create a check's series up front, so they exist before its first run."""
        labels = (component, probe, self.region)
        self.success.labels(*labels)
        self.duration_seconds.labels(*labels)
        for attribute, _field, types in TYPE_SPECIFIC:
            if probe_type in types:
                getattr(self, attribute).labels(*labels)
        for result in RESULTS:
            self.runs.labels(component, probe, result)

    def forget(self, component: str, probe: str, probe_type: str) -> None:
        """Drop a removed check's series."""
        labels = (component, probe, self.region)
        for gauge in (self.success, self.duration_seconds):
            _remove(gauge, labels)
        for attribute, _field, types in TYPE_SPECIFIC:
            if probe_type in types:
                _remove(getattr(self, attribute), labels)
        for result in RESULTS:
            _remove(self.runs, (component, probe, result))

    def observe(self, component: str, probe: str, result: ProbeResult) -> None:
        labels = (component, probe, self.region)
        self.success.labels(*labels).set(1 if result.ok else 0)
        self.duration_seconds.labels(*labels).set(result.duration_seconds)
        for attribute, field, _types in TYPE_SPECIFIC:
            value = getattr(result, field)
            if value is not None:
                getattr(self, attribute).labels(*labels).set(value)
        outcome = "failure" if not result.ok else "degraded" if result.degraded else "success"
        self.runs.labels(component, probe, outcome).inc()


def _remove(metric, labels) -> None:
    with contextlib.suppress(KeyError):  # never observed: nothing to drop
        metric.remove(*labels)
