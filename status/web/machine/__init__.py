"""The surface for machines: ``/healthz`` (load balancers, the supervisor's report),
``/metrics`` (Prometheus) and ``/ping/<token>`` (heartbeats from cron jobs)."""

from __future__ import annotations

from flask import Flask

from status.web.machine import health, metrics, ping


def init_app(app: Flask) -> None:
    app.register_blueprint(health.bp)
    app.register_blueprint(ping.bp)
    metrics.init_app(app)
