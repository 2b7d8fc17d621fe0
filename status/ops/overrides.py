"""Overrides: a component's status set by hand when the probes are wrong, with a reason
and an optional expiry; the override wins over what the probes say until then."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from status.clock import utcnow
from status.ops import audit, validate
from status.ops.actor import Actor
from status.ops.errors import Invalid, NotFound
from status.store import Store


def set_override(
    store: Store,
    actor: Actor,
    *,
    component: str,
    status: str,
    reason: str,
    expires_at: datetime | None = None,
    notify: bool = False,
    known_components: Collection[str] | None = None,
) -> None:
    """Set (or replace) the override of ``component``."""
    validate.component_statuses({component: status}, known_components, "component")
    reason = validate.text(reason, "reason", max_length=1000)
    at = utcnow()
    if expires_at is not None and expires_at <= at:
        raise Invalid("must be in the future", "expires")
    with store.begin() as uow:
        before = uow.overrides.set(
            component, at, status=status, reason=reason, expires_at=expires_at, actor=str(actor)
        )
        uow.events.record(
            "component.override",
            ("component", component),
            at=at,
            components=[component],
            notify=notify,
            status=status,
        )
        audit.record(
            uow,
            actor,
            "override.set",
            ("component", component),
            at,
            before={"status": before.status} if before else None,
            status=status,
            reason=reason,
            expires_at=expires_at.isoformat() if expires_at else None,
        )


def clear_override(store: Store, actor: Actor, *, component: str, notify: bool = False) -> None:
    """Let the probes speak for ``component`` again."""
    at = utcnow()
    with store.begin() as uow:
        before = uow.overrides.clear(component)
        if before is None:
            raise NotFound(f"{component!r} has no override", "component")
        uow.events.record(
            "component.override_cleared",
            ("component", component),
            at=at,
            components=[component],
            notify=notify,
        )
        audit.record(
            uow,
            actor,
            "override.clear",
            ("component", component),
            at,
            before={"status": before.status, "reason": before.reason},
        )
