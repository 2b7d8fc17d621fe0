"""Monitoring: component state and its change log, probe results and streaks, rollups,
heartbeats, leases, meta."""

from __future__ import annotations

import sqlalchemy as sa

from status.schema.base import UTCDateTime, component_column, id_column, metadata

# -- key/value facts about the data, e.g. the data version the public snapshot follows
meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# -- monitoring -----------------------------------------------------------------------
component_state = sa.Table(
    "component_state",
    metadata,
    sa.Column("component_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("since", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("last_result_at", UTCDateTime),
    sa.Column("latency_seconds", sa.Float),
    sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("consecutive_successes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("manual", sa.Boolean, nullable=False, server_default=sa.false()),
)

# One row per state change, written in the same transaction as the new state; the
# event that incidents and notifications consume.
component_changes = sa.Table(
    "component_changes",
    metadata,
    id_column(),
    component_column(),
    sa.Column("old_status", sa.String(32)),
    sa.Column("new_status", sa.String(32), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("source", sa.String(32), nullable=False, server_default="probe"),
    sa.Index("ix_component_changes_component_at", "component_id", "at"),
)

probe_results = sa.Table(
    "probe_results",
    metadata,
    id_column(),
    component_column(),
    sa.Column("probe", sa.String(64), nullable=False),
    sa.Column("region", sa.String(64), nullable=False, server_default="default"),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("duration_seconds", sa.Float, nullable=False),
    sa.Column("latency_seconds", sa.Float),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("degraded", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Index("ix_probe_results_component_started", "component_id", "started_at"),
    sa.Index("ix_probe_results_started", "started_at"),
)

# Where each check stands in each region: its streaks and verdict. The component's
# status is derived from these rows (thresholds, quorum, freshness).
probe_state = sa.Table(
    "probe_state",
    metadata,
    sa.Column("component_id", sa.String(64), nullable=False),
    sa.Column("probe", sa.String(64), nullable=False),
    sa.Column("region", sa.String(64), nullable=False),
    sa.Column("verdict", sa.String(16)),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("successes", sa.Integer, nullable=False, server_default="0"),
    sa.Column("slow", sa.Integer, nullable=False, server_default="0"),
    sa.Column("clean", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_result_at", UTCDateTime, nullable=False),
    sa.Column("last_ok", sa.Boolean, nullable=False),
    sa.Column("last_latency_seconds", sa.Float),
    sa.Column("last_error", sa.Text),
    sa.PrimaryKeyConstraint("component_id", "probe", "region"),
)

# Kept forever: the 90-day history and uptime read only these.
daily_rollups = sa.Table(
    "daily_rollups",
    metadata,
    component_column(),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("checks", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("seconds_operational", sa.Float, nullable=False, server_default="0"),
    sa.Column("seconds_degraded", sa.Float, nullable=False, server_default="0"),
    sa.Column("seconds_partial", sa.Float, nullable=False, server_default="0"),
    sa.Column("seconds_major", sa.Float, nullable=False, server_default="0"),
    sa.Column("seconds_maintenance", sa.Float, nullable=False, server_default="0"),
    sa.Column("seconds_unknown", sa.Float, nullable=False, server_default="0"),
    sa.Column("latency_p50", sa.Float),
    sa.Column("latency_p95", sa.Float),
    sa.PrimaryKeyConstraint("component_id", "day"),
)

heartbeats = sa.Table(
    "heartbeats",
    metadata,
    sa.Column("component_id", sa.String(64), nullable=False),
    sa.Column("probe", sa.String(64), nullable=False),
    # A capability for one check only, shown to operators in the CLI and console.
    sa.Column("token", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_ping_at", UTCDateTime),
    sa.Column("last_fail_at", UTCDateTime),
    sa.PrimaryKeyConstraint("component_id", "probe"),
)

# Short leases coordinate probe workers of one region (atomic claim, expiry takeover).
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)
