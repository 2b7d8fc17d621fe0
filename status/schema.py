"""The database schema: every table the product keeps (DESIGN §3).

Components and groups live in the config file; the database holds what happens to
them. Migrations in ``migrations/`` are generated from and checked against this
metadata (tests/test_migrations.py fails when the two drift apart).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so migrations can address them on both engines.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both engines (SQLite stores naive text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _component() -> sa.Column:
    # Component ids are slugs from the config file, not foreign keys: config is code.
    return sa.Column("component_id", sa.String(64), nullable=False)


def _created() -> list[sa.Column]:
    return [
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    ]


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
    _id(),
    _component(),
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
    _id(),
    _component(),
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
    _component(),
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

# -- incidents and maintenance -----------------------------------------------------------
incidents = sa.Table(
    "incidents",
    metadata,
    _id(),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("impact", sa.String(16), nullable=False),
    *_created(),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("monitoring_at", UTCDateTime),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("auto", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Index("ix_incidents_status", "status"),
    sa.Index("ix_incidents_created_at", "created_at"),
)

incident_updates = sa.Table(
    "incident_updates",
    metadata,
    _id(),
    sa.Column(
        "incident_id",
        sa.Integer,
        sa.ForeignKey("incidents.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False, server_default=""),
    *_created(),
    sa.Column("display_at", UTCDateTime, nullable=False),
    sa.Column("deliver_notifications", sa.Boolean, nullable=False, server_default=sa.true()),
    # [{"code": component id, "old_status": ..., "new_status": ...}]
    sa.Column("affected_components", sa.JSON, nullable=False),
)

incident_components = sa.Table(
    "incident_components",
    metadata,
    sa.Column(
        "incident_id", sa.Integer, sa.ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    ),
    _component(),
    sa.Column("status", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("incident_id", "component_id"),
)

maintenances = sa.Table(
    "maintenances",
    metadata,
    _id(),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("impact", sa.String(16), nullable=False, server_default="maintenance"),
    *_created(),
    sa.Column("scheduled_for", UTCDateTime, nullable=False),
    sa.Column("scheduled_until", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime),
    sa.Column("completed_at", UTCDateTime),
    sa.Column("cancelled_at", UTCDateTime),
    # iCalendar SEQUENCE: bumped on every change a calendar client must see.
    sa.Column("sequence", sa.Integer, nullable=False, server_default="0"),
    sa.Column("auto_transition", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Index("ix_maintenances_window", "scheduled_for", "scheduled_until"),
)

maintenance_updates = sa.Table(
    "maintenance_updates",
    metadata,
    _id(),
    sa.Column(
        "maintenance_id",
        sa.Integer,
        sa.ForeignKey("maintenances.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("body", sa.Text, nullable=False, server_default=""),
    *_created(),
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
    _component(),
    sa.PrimaryKeyConstraint("maintenance_id", "component_id"),
)

# -- subscribers and delivery ------------------------------------------------------------
subscribers = sa.Table(
    "subscribers",
    metadata,
    _id(),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("language", sa.String(8), nullable=False, server_default="en"),
    # True: every component; otherwise the rows in subscriber_components.
    sa.Column("all_components", sa.Boolean, nullable=False, server_default=sa.true()),
    *_created(),
    sa.Column("confirmed_at", UTCDateTime),
    sa.Column("unsubscribed_at", UTCDateTime),
    # Bumped to invalidate every signed link issued before (manage/unsubscribe tokens).
    sa.Column("token_version", sa.Integer, nullable=False, server_default="1"),
    sa.Index("ix_subscribers_state", "state"),
)

subscriber_components = sa.Table(
    "subscriber_components",
    metadata,
    sa.Column(
        "subscriber_id",
        sa.Integer,
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    _component(),
    sa.PrimaryKeyConstraint("subscriber_id", "component_id"),
)

# GDPR: proof of consent (what was agreed to, when, how) outlives nothing it need not.
consent_records = sa.Table(
    "consent_records",
    metadata,
    _id(),
    sa.Column(
        "subscriber_id",
        sa.Integer,
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("text_version", sa.String(64), nullable=False, server_default=""),
    sa.Column("ip_hash", sa.String(128)),
)

# The outbox is the truth about what was sent: one row per event, recipient and channel.
outbox = sa.Table(
    "outbox",
    metadata,
    _id(),
    sa.Column("event_key", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("recipient", sa.String(500), nullable=False),
    sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id", ondelete="SET NULL")),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("claimed_by", sa.String(200)),
    sa.Column("claimed_until", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.UniqueConstraint(
        "event_key", "channel", "recipient", name="uq_outbox_event_channel_recipient"
    ),
    sa.Index("ix_outbox_due", "state", "next_attempt_at"),
)

# -- people and access -------------------------------------------------------------------
users = sa.Table(
    "users",
    metadata,
    _id(),
    sa.Column("username", sa.String(150), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    *_created(),
    sa.Column("last_login_at", UTCDateTime),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    _id(),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(150), nullable=False),
    # Only a hash is stored; the prefix lets a user recognise a token in lists.
    sa.Column("token_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    _id(),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target_type", sa.String(64), nullable=False),
    sa.Column("target_id", sa.String(200)),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("ip", sa.String(64)),
)
