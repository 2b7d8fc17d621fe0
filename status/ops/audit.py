"""The audit entry every command writes inside its unit of work; retention."""

from __future__ import annotations

from datetime import datetime

from status.clock import utcnow
from status.ops.actor import Actor
from status.store import Store, UnitOfWork


def record(
    uow: UnitOfWork,
    actor: Actor,
    action: str,
    target: tuple[str, int | str],
    at: datetime,
    **details,
) -> None:
    """``action`` is ``<object>.<verb>`` (``incident.open``); ``target`` (type, id)."""
    target_type, target_id = target
    uow.audit.record(
        actor=str(actor),
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        details=details,
        ip=actor.ip,
        at=at,
    )


def record_many(
    uow: UnitOfWork,
    actor: Actor,
    entries: list[tuple[str, tuple[str, int | str], dict]],
    at: datetime,
) -> None:
    """Several entries by one actor at one time: (action, target, details) each."""
    uow.audit.record_many(
        [
            dict(
                at=at,
                actor=str(actor),
                action=action,
                target_type=target[0],
                target_id=str(target[1]),
                details=details,
                ip=actor.ip,
            )
            for action, target, details in entries
        ]
    )


def purge_audit_log(
    store: Store, actor: Actor, *, before: datetime, at: datetime | None = None
) -> int:
    """Delete entries older than ``before``: the purge is an entry of its own, and the
    chain stays verifiable from the first entry kept. Returns how many went."""
    at = at or utcnow()
    with store.begin() as uow:
        deleted, anchor = uow.audit.purge(before)
        record(
            uow,
            actor,
            "audit.purge",
            ("audit_log", ""),
            at,
            deleted=deleted,
            before=before.isoformat(),
            anchor=anchor,
        )
    return deleted
