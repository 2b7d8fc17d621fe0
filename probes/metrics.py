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
        self._series: dict[tuple[str, str], _Series] = {}

    def prepare(self, component: str, probe: str, probe_type: str) -> None:
        """Create a check's run counters up front; its gauges come with its first result."""
        self._series[(component, probe)] = _Series(self, component, probe, probe_type)

    def checks(self) -> list[tuple[str, str]]:
        """The (component, probe) pairs that have series here."""
        return list(self._series)

    def check_type(self, key: tuple[str, str]) -> str | None:
        """The probe type a check's series were made for (None: no series)."""
        series = self._series.get(key)
        return series.probe_type if series else None

    def forget(self, component: str, probe: str) -> None:
        """Drop a check's series (removed from the config, or run by another worker now)."""
        self._series.pop((component, probe), None)
        labels = (component, probe, self.region)
        for gauge in (self.success, self.duration_seconds):
            _remove(gauge, labels)
        for attribute, _field, _types in TYPE_SPECIFIC:
            _remove(getattr(self, attribute), labels)
        for result in RESULTS:
            _remove(self.runs, (component, probe, result))

    def observe(self, component: str, probe: str, result: ProbeResult) -> None:
        series = self._series.get((component, probe))
        if series is None:  # observed without prepare(): series made as values come
            series = self._series[(component, probe)] = _Series(self, component, probe, None)
        series.observe(result)


class _Series:
    """One check's children of every metric, looked up once rather than on every run.

    The run counters exist from the start (0 runs is true before the first run); the
    gauges only from the first result, as ``probe_success 0`` before a check ever ran
    would read as a failure.
    """

    __slots__ = ("gauges", "labels", "metrics", "outcomes", "probe_type")

    def __init__(
        self, metrics: ProbeMetrics, component: str, probe: str, probe_type: str | None
    ) -> None:
        self.metrics = metrics
        self.probe_type = probe_type
        self.labels = (component, probe, metrics.region)
        self.outcomes = {r: metrics.runs.labels(component, probe, r) for r in RESULTS}
        self.gauges: dict[str, Gauge] = {}

    def observe(self, result: ProbeResult) -> None:
        self._set("success", 1 if result.ok else 0)
        self._set("duration_seconds", result.duration_seconds)
        for attribute, field, _types in TYPE_SPECIFIC:
            value = getattr(result, field)
            if value is not None:
                self._set(attribute, value)
        outcome = "failure" if not result.ok else "degraded" if result.degraded else "success"
        self.outcomes[outcome].inc()

    def _set(self, attribute: str, value: float) -> None:
        gauge = self.gauges.get(attribute)
        if gauge is None:
            gauge = self.gauges[attribute] = getattr(self.metrics, attribute).labels(*self.labels)
        gauge.set(value)


def _remove(metric, labels) -> None:
    with contextlib.suppress(KeyError):  # never observed: nothing to drop
        metric.remove(*labels)
