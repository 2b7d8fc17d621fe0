"""Alerts from Prometheus Alertmanager: component statuses and one incident per group.

A delivery (Alertmanager's webhook, version 4) is handled in one unit of work: each alert
the ``alerts:`` rules take is stored by its fingerprint with the status it gives its
components (a firing alert bears on them until it resolves or its ``endsAt`` passes);
every change of an alert's state is audited; the group (``groupKey``) has at most one open
incident, opened as a draft or published as the rules say, and resolved with an update
when no alert of the group fires any more. Repeats change nothing: Alertmanager resends
a group every ``repeat_interval`` and after its restarts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from status import i18n, rules
from status.clock import utcnow
from status.config.alerts import AlertRule, RuleIndex
from status.models import ComponentStatus, IncidentStatus
from status.ops import audit
from status.ops.actor import Actor
from status.ops.incidents import open_in, update_in
from status.rules import N_
from status.store import Store, UnitOfWork

MODES = ("none", "draft", "publish")  # weakest first: the strongest rule taking an alert wins
IMPACT_OF = {
    ComponentStatus.MAJOR_OUTAGE.value: "critical",
    ComponentStatus.PARTIAL_OUTAGE.value: "major",
}
RESOLVED_TEXT = N_("The alerts behind this incident have resolved.")
UNTITLED = N_("Alert")
RECEIVED = "alerts_received:"  # counters in meta, by result (leitstand_alerts_received_total)


@dataclass(frozen=True)
class Alert:
    fingerprint: str
    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None = None


@dataclass(frozen=True)
class Notification:
    group_key: str
    alerts: list[Alert]
    common_labels: dict[str, str] = field(default_factory=dict)
    common_annotations: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    matched: int = 0
    unmatched: int = 0
    changed: int = 0
    incident_id: int | None = None


def receive(
    store: Store,
    actor: Actor,
    notification: Notification,
    alert_rules: list[AlertRule],
    *,
    at: datetime | None = None,
    language: str = "en",
) -> Received:
    """Take in one delivery; returns what it matched and changed."""
    at = at or utcnow()
    result = Received()
    rows, modes = [], []
    index = RuleIndex(alert_rules)
    for alert in notification.alerts:
        taken = index.taking(alert.labels)
        if not taken:
            result.unmatched += 1
            continue
        result.matched += 1
        modes += [rule.incident for rule in taken]
        rows.append(_row(notification.group_key, alert, taken, at))
    with store.begin() as uow:
        before = uow.alerts.get_many(row["fingerprint"] for row in rows)
        changed = [row for row in rows if _state(row) != _state(before.get(row["fingerprint"]))]
        uow.alerts.save(rows, changed=bool(changed))
        audit.record_many(
            uow, actor, [_entry(row, before.get(row["fingerprint"])) for row in changed], at
        )
        result.changed = len(changed)
        uow.meta.add(
            {f"{RECEIVED}matched": result.matched, f"{RECEIVED}unmatched": result.unmatched}
        )
        mode = max(modes, key=MODES.index, default="none")
        if mode != "none":
            result.incident_id = follow_group(uow, actor, notification, mode, at, language=language)
    return result


def follow_group(
    uow: UnitOfWork,
    actor: Actor,
    notification: Notification,
    mode: str,
    at: datetime,
    *,
    language: str = "en",
) -> int | None:
    """Open the group's incident while any of its alerts fires, resolve it when none does."""
    key = notification.group_key
    firing = uow.alerts.firing(key, at)
    uow.alerts.claim_group(key, mode, at)
    group = uow.alerts.group(key, lock=True)
    incident = uow.incidents.get(group.incident_id) if group.incident_id else None
    is_open = incident is not None and incident.resolved_at is None
    if firing and not is_open:
        components = _components(firing)
        incident_id = open_in(
            uow, actor,
            name=_title(notification, firing, language), status=IncidentStatus.INVESTIGATING.value,
            impact=IMPACT_OF.get(rules.worst(components.values()), "minor"),
            body=_body(firing), components=components, at=at, draft=mode == "draft",
        )  # fmt: skip
        uow.alerts.set_group_incident(key, incident_id, mode, at)
        return incident_id
    if is_open and not firing:
        update_in(
            uow, actor, incident.id, status=IncidentStatus.RESOLVED.value,
            body=i18n.translate(RESOLVED_TEXT, language), components={}, at=at,
        )  # fmt: skip
    elif is_open and _components(firing) != _components_of_incident(uow, incident.id):
        update_in(
            uow, actor, incident.id, status=incident.status, body=_body(firing),
            components=_components(firing), at=at,
        )  # fmt: skip
    return incident.id if incident else None


def expire(store: Store, actor: Actor, at: datetime, *, language: str = "en") -> list[str]:
    """Alerts whose ``endsAt`` passed without a word from Alertmanager expire: they bear
    on nothing more, and their group's incident resolves when none of it fires. Returns
    what expired (``alert.expired:<fingerprint>``); each once, however many clocks run."""
    done = []
    overdue: dict[str, list[str]] = {}
    for row in store.alerts.overdue(at):
        overdue.setdefault(row.group_key, []).append(row.fingerprint)
    for group_key, fingerprints in overdue.items():
        with store.begin() as uow:
            expired = uow.alerts.mark_expired(fingerprints, at)
            for fingerprint in expired:
                audit.record(uow, actor, "alert.expired", ("alert", fingerprint), at,
                             group_key=group_key)  # fmt: skip
            group = uow.alerts.group(group_key)
            if expired and group is not None and group.mode != "none":
                notification = Notification(group_key=group_key, alerts=[])
                follow_group(uow, actor, notification, group.mode, at, language=language)
            done += [f"alert.expired:{fingerprint}" for fingerprint in expired]
    return done


def _row(group_key: str, alert: Alert, taken: list[AlertRule], at: datetime) -> dict:
    components: dict[str, str] = {}
    for rule in taken:
        status = rule.status_of(alert.labels)
        for component_id in rule.components:
            components[component_id] = rules.worst([status, components.get(component_id, "")])
    return dict(
        fingerprint=alert.fingerprint,
        group_key=group_key,
        status=alert.status,
        name=alert.labels.get("alertname", "")[:300],
        summary=alert.annotations.get("summary", ""),
        labels=alert.labels,
        components=components,
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        received_at=at,
        updated_at=at,
    )


def _entry(row: dict, old) -> tuple[str, tuple[str, str], dict]:
    details = dict(name=row["name"], group_key=row["group_key"], components=row["components"])
    if old is not None:
        details["before"] = {"status": old.status, "components": old.components}
    return (f"alert.{row['status']}", ("alert", row["fingerprint"]), details)


def _state(row) -> tuple | None:
    """What a change of is audited: firing or not, and what it gives which component."""
    if row is None:
        return None
    if isinstance(row, dict):
        return (row["status"], row["components"])
    return (row.status, row.components)


def _components(firing: Iterable) -> dict[str, str]:
    given: dict[str, list[str]] = {}
    for alert in firing:
        for component_id, status in alert.components.items():
            given.setdefault(component_id, []).append(status)
    return {c: rules.worst(statuses) for c, statuses in sorted(given.items())}


def _components_of_incident(uow: UnitOfWork, incident_id: int) -> dict[str, str]:
    return {c.component_id: c.status for c in uow.incidents.components(incident_id)}


def _title(notification: Notification, firing: list, language: str) -> str:
    summary = notification.common_annotations.get("summary") or (
        firing[0].summary if len(firing) == 1 else ""
    )
    title = summary or notification.common_labels.get("alertname") or firing[0].name
    return (title or i18n.translate(UNTITLED, language))[:300]


def _body(firing: list) -> str:
    lines = sorted({a.summary or a.name for a in firing if a.summary or a.name})
    shown = lines[:10] + ([f"… (+{len(lines) - 10})"] if len(lines) > 10 else [])
    return "\n".join(f"- {line}" for line in shown)
