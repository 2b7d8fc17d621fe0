"""The web /metrics: status read from the database at scrape time (DESIGN §5).

A custom collector, so any number of gunicorn workers report the same numbers without
multiprocess mode. In the all-in-one process the probe metrics join the same registry.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from status.clock import utcnow
from status.models import ComponentStatus, OutboxState, SubscriberState
from status.ops.alerts import RECEIVED as ALERTS_RECEIVED
from status.runtime import runtime
from status.snapshot import current_statuses

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)


class StatusCollector:
    def __init__(self, app: Flask) -> None:
        self.app = app

    def describe(self):
        return []  # nothing at registration time: collect() reads the database

    def collect(self):
        rt = runtime(self.app)
        now = utcnow()
        config = rt.config
        up = GaugeMetricFamily(
            "leitstand_database_up", "Whether the last scrape could read the database"
        )
        try:
            incidents_open = rt.store.incidents.open_count()
            outbox_pending = rt.store.outbox.pending_count()
            outbox = rt.store.outbox.counts()
            subscribers_by_state = rt.store.subscribers.count_by_state()
            statuses = current_statuses(rt.store, config, now)
            alerts_received = rt.store.meta.counters(ALERTS_RECEIVED)
        except Exception as exc:
            log.warning("metrics: database unreadable: %s", str(exc).splitlines()[0])
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up

        status = GaugeMetricFamily(
            "leitstand_component_status",
            "Current status of each component (one-hot)",
            labels=["component", "status"],
        )
        # As the page and /api/v2 have it: open incidents and maintenance count too.
        for component_id, current in statuses.items():
            for value in ComponentStatus:
                status.add_metric([component_id, value.value], 1 if value == current else 0)
        yield status
        yield GaugeMetricFamily(
            "leitstand_incidents_open", "Incidents not yet resolved", value=incidents_open
        )
        yield from _counts(outbox_pending, outbox, subscribers_by_state, alerts_received)


def _counts(outbox_pending: int, outbox: dict, subscribers_by_state: dict, alerts_received: dict):
    """The outbox, the subscribers and the alerts received, as counted in the database."""
    yield GaugeMetricFamily(
        "leitstand_outbox_pending",
        "Notifications waiting to be delivered",
        value=outbox_pending,
    )
    failed = CounterMetricFamily(
        "leitstand_outbox_failed", "Notifications given up on (see the console for why)"
    )
    failed.add_metric([], sum(n for (state, _), n in outbox.items() if state == OutboxState.FAILED))
    yield failed
    sent = CounterMetricFamily(
        "leitstand_notifications_sent", "Notifications delivered", labels=["channel"]
    )
    for channel in sorted({"email", *(c for _, c in outbox)}):
        sent.add_metric([channel], outbox.get((OutboxState.SENT.value, channel), 0))
    yield sent
    subscribers = GaugeMetricFamily(
        "leitstand_subscribers", "Subscribers by state", labels=["state"]
    )
    for state in SubscriberState:
        subscribers.add_metric([state.value], subscribers_by_state.get(state.value, 0))
    yield subscribers
    received = CounterMetricFamily(
        "leitstand_alerts_received",
        "Alerts Alertmanager delivered, by whether an alerts: rule took them",
        labels=["result"],
    )
    for result in ("matched", "unmatched"):
        received.add_metric([result], alerts_received.get(result, 0))
    yield received


@bp.get("/metrics")
def metrics():
    return Response(generate_latest(runtime().registry), content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    registry = runtime(app).registry = CollectorRegistry()
    registry.register(StatusCollector(app))
    app.register_blueprint(bp)
