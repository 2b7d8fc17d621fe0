"""What the clock changes: maintenance windows start and complete on time and remind
before they start; recurring series get their windows ahead; overrides expire. Each
change exactly once, however many clocks run: every one is a conditional update
(``WHERE status = 'scheduled'``), and only the change that moved the row writes its
update, event and audit entry, in the same transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from status import i18n, rules
from status.clock import utcnow
from status.models import MaintenanceStatus
from status.ops import audit
from status.ops.actor import Actor
from status.ops.alerts import expire as expire_alerts
from status.ops.audit import purge_audit_log
from status.ops.series import extend_series
from status.ops.subscriber_admin import purge_unconfirmed
from status.store import Store

log = logging.getLogger(__name__)
CLOCK = Actor.system("clock")
SCHEDULED, IN_PROGRESS, COMPLETED = (
    MaintenanceStatus.SCHEDULED.value,
    MaintenanceStatus.IN_PROGRESS.value,
    MaintenanceStatus.COMPLETED.value,
)


def tick(
    store: Store,
    now: datetime | None = None,
    *,
    language: str = "en",
    audit_days: int | None = None,
    unconfirmed_days: int | None = None,
) -> list[str]:
    """Do what is due at ``now``; returns what was done (``maintenance.started:12``, ...).

    With ``audit_days``, audit entries older than that are purged (the purge audited);
    with ``unconfirmed_days``, sign-ups never confirmed in that time (subscribers).
    """
    now = now or utcnow()
    done = extend_series(store, CLOCK, now)  # first: a new window may be due at once
    due = store.maintenance.due(now)
    for row in due["start"]:
        if _move(store, row, [SCHEDULED], IN_PROGRESS, row.scheduled_for, language):
            done.append(f"maintenance.started:{row.id}")
    for row in due["complete"]:
        if _move(store, row, [SCHEDULED, *rules.ACTIVE_MAINTENANCE], COMPLETED,
                 row.scheduled_until, language):  # fmt: skip
            done.append(f"maintenance.completed:{row.id}")
    for row in due["remind"]:
        if row.scheduled_for - timedelta(minutes=row.reminder_minutes) <= now and _remind(
            store, row, now
        ):
            done.append(f"maintenance.reminder:{row.id}")
    for row in store.overrides.expired(now):
        if _expire(store, row, now):
            done.append(f"component.override_expired:{row.component_id}")
    done += expire_alerts(store, CLOCK, now, language=language)
    if audit_days and _audit_purge_due(store, now - timedelta(days=audit_days)):
        deleted = purge_audit_log(store, CLOCK, before=now - timedelta(days=audit_days), at=now)
        done.append(f"audit.purge:{deleted}")
    purged = unconfirmed_days and purge_unconfirmed(store, CLOCK, days=unconfirmed_days, now=now)
    if purged:
        done.append(f"subscriber.purge_unconfirmed:{purged}")
    for what in done:
        log.info("clock: %s", what)
    return done


def _audit_purge_due(store: Store, before: datetime) -> bool:
    """Whether an entry older than ``before`` exists (the purge entry itself is new)."""
    return bool(store.audit.entries(until=before, limit=1))


def _move(store: Store, row, before: list[str], status: str, at: datetime, lang: str) -> bool:
    text = rules.MAINTENANCE_STARTED if status == IN_PROGRESS else rules.MAINTENANCE_COMPLETED
    kind = "maintenance.started" if status == IN_PROGRESS else "maintenance.completed"
    with store.begin() as uow:
        if not uow.maintenance.transition(row.id, before, status, at):
            return False  # another clock did it, or a person did
        uow.maintenance.add_update(row.id, status=status, body=i18n.translate(text, lang), at=at)
        covered = [c.component_id for c in uow.maintenance.components(row.id)]
        uow.events.record(kind, ("maintenance", row.id), at=at, components=covered)
        audit.record(
            uow, CLOCK, f"maintenance.{status}", ("maintenance", row.id), at,
            before={"status": row.status}, status=status,
        )  # fmt: skip
    return True


def _remind(store: Store, row, now: datetime) -> bool:
    with store.begin() as uow:
        if not uow.maintenance.mark_reminded(row.id, now):
            return False
        covered = [c.component_id for c in uow.maintenance.components(row.id)]
        uow.events.record(
            "maintenance.reminder",
            ("maintenance", row.id),
            at=now,
            components=covered,
            starts_at=row.scheduled_for.isoformat(),
        )
    return True


def _expire(store: Store, row, now: datetime) -> bool:
    with store.begin() as uow:
        if not uow.overrides.expire(row.component_id, now):
            return False
        component = row.component_id
        uow.events.record(
            "component.override_expired",
            ("component", component),
            at=now,
            components=[component],
            notify=False,
        )
        audit.record(
            uow, CLOCK, "override.expire", ("component", component), now,
            before={"status": row.status, "reason": row.reason},
        )  # fmt: skip
    return True
