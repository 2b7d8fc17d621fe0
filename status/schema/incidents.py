"""Incidents and maintenance windows, each with its components and timeline of updates."""

from __future__ import annotations

import sqlalchemy as sa

from status.schema.base import UTCDateTime, component_column, created_columns, id_column, metadata

# -- incidents and maintenance -----------------------------------------------------------
incidents = sa.Table(
    "incidents",
    metadata,
    id_column(),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("impact", sa.String(16), nullable=False),
    *created_columns(),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("monitoring_at", UTCDateTime),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("auto", sa.Boolean, nullable=False, server_default=sa.false()),
    # A draft (an alert's, say) waits in the console until an editor publishes it.
    sa.Column("draft", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_incidents_status", "status"),
    sa.Index("ix_incidents_created_at", "created_at"),
)

incident_updates = sa.Table(
    "incident_updates",
    metadata,
    id_column(),
    sa.Column(
        "incident_id",
        sa.Integer,
        sa.ForeignKey("incidents.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False, server_default=""),
    *created_columns(),
    sa.Column("display_at", UTCDateTime, nullable=False),
    sa.Column("deliver_notifications", sa.Boolean, nullable=False, server_default=sa.true()),
    # [{"code": component id, "old_status": ..., "new_status": ...}]
    sa.Column("affected_components", sa.JSON, nullable=False),
    sa.Column("edited_at", UTCDateTime),  # the public timeline says "edited"
)

incident_components = sa.Table(
    "incident_components",
    metadata,
    sa.Column(
        "incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    ),
    component_column(),
    sa.Column("status", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("incident_id", "component_id"),
)

# A recurring window: the rule and what every window of it says. Its windows are
# ordinary ``maintenances`` rows (series_id, occurrence_start), created up to
# ``materialised_until`` (the horizon the clock extends).
maintenance_series = sa.Table(
    "maintenance_series",
    metadata,
    id_column(),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("body", sa.Text, nullable=False, server_default=""),
    sa.Column("components", sa.JSON, nullable=False),  # [component id]
    sa.Column("rrule", sa.String(500), nullable=False),  # FREQ=WEEKLY;INTERVAL=2;BYDAY=TU
    sa.Column("dtstart", sa.DateTime, nullable=False),  # the first start, wall clock in:
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("duration_seconds", sa.Integer, nullable=False),
    sa.Column("auto_transition", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("reminder_minutes", sa.Integer, nullable=False, server_default="60"),
    *created_columns(),
    sa.Column("cancelled_at", UTCDateTime),
    sa.Column("materialised_until", UTCDateTime, nullable=False),
)

maintenances = sa.Table(
    "maintenances",
    metadata,
    id_column(),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("impact", sa.String(16), nullable=False, server_default="maintenance"),
    *created_columns(),
    sa.Column("scheduled_for", UTCDateTime, nullable=False),
    sa.Column("scheduled_until", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("completed_at", UTCDateTime),
    sa.Column("cancelled_at", UTCDateTime),
    # iCalendar SEQUENCE: bumped on every change a calendar client must see.
    sa.Column("sequence", sa.Integer, nullable=False, server_default="0"),
    sa.Column("auto_transition", sa.Boolean, nullable=False, server_default=sa.true()),
    # Subscribers hear of a window this long before it starts (0: no reminder).
    sa.Column("reminder_minutes", sa.Integer, nullable=False, server_default="60"),
    sa.Column("reminded_at", UTCDateTime),
    # A window of a series: which, and the start the rule gave it (kept when moved).
    sa.Column("series_id", sa.Integer, sa.ForeignKey("maintenance_series.id", ondelete="SET NULL")),
    sa.Column("occurrence_start", UTCDateTime),
    # Edited or cancelled by itself: edits of the series leave it alone.
    sa.Column("detached", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_maintenances_window", "scheduled_for", "scheduled_until"),
    # Each start of a series exists once, however many clocks extend it.
    sa.UniqueConstraint("series_id", "occurrence_start"),
)

maintenance_updates = sa.Table(
    "maintenance_updates",
    metadata,
    id_column(),
    sa.Column(
        "maintenance_id",
        sa.Integer,
        sa.ForeignKey("maintenances.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False, server_default=""),
    *created_columns(),
    sa.Column("display_at", UTCDateTime, nullable=False),
    sa.Column("deliver_notifications", sa.Boolean, nullable=False, server_default=sa.true()),
)

maintenance_components = sa.Table(
    "maintenance_components",
    metadata,
    sa.Column(
        "maintenance_id",
        sa.Integer,
        sa.ForeignKey("maintenances.id", ondelete="CASCADE"),
        nullable=False,
    ),
    component_column(),
    sa.PrimaryKeyConstraint("maintenance_id", "component_id"),
)

# What the public or subscribers must learn of, written in the same transaction as the
# change: the subscribers' outbox fans out from these rows (nothing lost after commit).
events = sa.Table(
    "events",
    metadata,
    id_column(),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),  # e.g. incident.opened
    sa.Column("object_type", sa.String(32), nullable=False),
    sa.Column("object_id", sa.String(64), nullable=False),
    sa.Column("components", sa.JSON, nullable=False),  # [] reaches every subscriber
    sa.Column("notify", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("data", sa.JSON, nullable=False),
)

# A component's status set by hand, for when the probes are wrong; it may expire.
overrides = sa.Table(
    "overrides",
    metadata,
    component_column(),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.PrimaryKeyConstraint("component_id"),
)
