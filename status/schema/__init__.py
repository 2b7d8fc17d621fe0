"""The database schema: every table the product keeps (DESIGN §3), one module per domain.

Components and groups live in the config file; the database holds what happens to
them. Migrations in ``migrations/`` are generated from and checked against this
metadata (tests/test_migrations.py fails when the two drift apart). Everything is
re-exported here, so ``from status import schema as t; t.incidents`` names any table.
"""

from __future__ import annotations

from status.schema.accounts import api_tokens, audit_log, idempotency_keys, sessions, users
from status.schema.alerts import alert_groups, alerts
from status.schema.base import UTCDateTime, metadata
from status.schema.incidents import (
    events,
    incident_components,
    incident_updates,
    incidents,
    maintenance_components,
    maintenance_series,
    maintenance_updates,
    maintenances,
    overrides,
)
from status.schema.monitoring import (
    component_changes,
    component_state,
    daily_rollups,
    heartbeats,
    leases,
    meta,
    probe_results,
    probe_state,
)
from status.schema.subscribers import (
    consent_records,
    outbox,
    outbox_fanout,
    subscriber_components,
    subscribers,
)

__all__ = [
    "UTCDateTime",
    "alert_groups",
    "alerts",
    "api_tokens",
    "audit_log",
    "component_changes",
    "component_state",
    "consent_records",
    "daily_rollups",
    "events",
    "heartbeats",
    "idempotency_keys",
    "incident_components",
    "incident_updates",
    "incidents",
    "leases",
    "maintenance_components",
    "maintenance_series",
    "maintenance_updates",
    "maintenances",
    "meta",
    "metadata",
    "outbox",
    "outbox_fanout",
    "overrides",
    "probe_results",
    "probe_state",
    "sessions",
    "subscriber_components",
    "subscribers",
    "users",
]
