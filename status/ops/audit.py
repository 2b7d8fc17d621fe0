"""The audit entry every command writes inside its unit of work."""

from __future__ import annotations

from datetime import datetime

from status.ops.actor import Actor
from status.store import UnitOfWork


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
