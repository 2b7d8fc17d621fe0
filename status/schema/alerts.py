"""Alerts from Prometheus Alertmanager, and the incident each alert group opened."""

from __future__ import annotations

import sqlalchemy as sa

from status.schema.base import UTCDateTime, metadata

# One row per alert (Alertmanager's fingerprint): what it says now, and the components it
# bears on with the status it gives them. It bears while firing and before ``ends_at``.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("fingerprint", sa.String(64), primary_key=True),
    sa.Column("group_key", sa.String(1000), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # firing | resolved
    sa.Column("name", sa.String(300), nullable=False, server_default=""),
    sa.Column("summary", sa.Text, nullable=False, server_default=""),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("components", sa.JSON, nullable=False),  # component id -> status
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime),  # None: until Alertmanager says resolved
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_alerts_status_ends", "status", "ends_at"),
    sa.Index("ix_alerts_group", "group_key"),
)

# One row per alert group (Alertmanager's groupKey): the incident it opened, so repeats
# and restarts of Alertmanager open no second one while it is open.
alert_groups = sa.Table(
    "alert_groups",
    metadata,
    sa.Column("group_key", sa.String(1000), primary_key=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="SET NULL")),
    sa.Column("mode", sa.String(16), nullable=False),  # none | draft | publish
    sa.Column("opened_at", UTCDateTime, nullable=False),
)
