"""All SQL, in one place (SQLAlchemy Core). SQLite (WAL) or PostgreSQL."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from status import schema as t

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite gets WAL, a busy timeout and foreign keys, and a
    database file only its owner can read."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        path = parsed.database
        if path and path != ":memory:" and not parsed.query.get("uri"):
            # Before the driver opens it, so that SQLite never creates it world-readable.
            sa.event.listen(engine, "do_connect", lambda *_: create_private_file(path))
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # A short connect timeout keeps /healthz and page fallbacks quick when the
        # server is away; pre-ping replaces connections a restart has severed.
        return sa.create_engine(parsed, connect_args={"connect_timeout": 3}, pool_pre_ping=True)
    raise ValueError(f"DATABASE_URL: unsupported database {parsed.get_backend_name()!r}")


def create_private_file(path: str | os.PathLike) -> None:
    """Create an empty file with mode 0600 unless it exists (an empty file is an empty
    SQLite database). SQLite gives the -wal and -shm files it adds the same mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        _warn_if_readable_by_others(os.fspath(path))
    except OSError:
        pass  # SQLite will say in its own words why it cannot be created


_warned_readable: set[str] = set()


def _warn_if_readable_by_others(path: str) -> None:
    """Say so (once) when a database made elsewhere, or before 0600, is open to others."""
    with suppress(OSError):
        mode = os.stat(path).st_mode & 0o777
        if mode & 0o077 and path not in _warned_readable:
            _warned_readable.add(path)
            log.warning(
                "%s: the database can be read by other users (mode %o); chmod 600 it", path, mode
            )


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _insert(conn: Connection, table: sa.Table):
    """An INSERT that can say ON CONFLICT on either engine."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


@dataclass(frozen=True)
class StatusCounts:
    incidents_open: int
    outbox_pending: int
    subscribers: dict[str, int]


@dataclass(frozen=True)
class StatusChange:
    """A status to set on a component (see Store.set_component_statuses)."""

    component_id: str
    status: str
    reason: str
    auto_incident: str | None = None
    """The component's name, to open and resolve incidents with its outages."""


@dataclass(frozen=True)
class ComponentState:
    component_id: str
    status: str
    since: datetime
    updated_at: datetime
    last_result_at: datetime | None
    latency_seconds: float | None


class Store:
    """The application's one way into the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()

    # -- health and versions ------------------------------------------------------------
    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at; None when it was never migrated."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def data_version(self) -> int:
        """A counter bumped by every change the public pages show."""
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(t.meta.c.value).where(t.meta.c.key == "data_version")
            ).scalar()
        return int(value) if value is not None else 0

    def bump_data_version(self, conn: Connection) -> None:
        """Within the caller's transaction, so readers see the change and the bump together."""
        updated = conn.execute(
            sa.update(t.meta)
            .where(t.meta.c.key == "data_version")
            .values(value=sa.cast(sa.cast(t.meta.c.value, sa.Integer) + 1, sa.Text))
        ).rowcount
        if not updated:
            conn.execute(sa.insert(t.meta).values(key="data_version", value="1"))

    def status_counts(self) -> StatusCounts:
        """The numbers /metrics reports, in one round trip per table."""
        with self.engine.connect() as conn:
            incidents = conn.execute(
                sa.select(sa.func.count()).where(
                    t.incidents.c.status.not_in(["resolved", "postmortem"])
                )
            ).scalar()
            outbox = conn.execute(
                sa.select(sa.func.count()).where(t.outbox.c.state == "pending")
            ).scalar()
            subscribers = dict(
                conn.execute(
                    sa.select(t.subscribers.c.state, sa.func.count()).group_by(
                        t.subscribers.c.state
                    )
                ).all()
            )
        return StatusCounts(incidents, outbox, subscribers)

    # -- component state ----------------------------------------------------------------
    def component_states(
        self, component_ids: Iterable[str] | None = None
    ) -> dict[str, ComponentState]:
        """The stored state of these components (None: all)."""
        query = sa.select(
            t.component_state.c.component_id,
            t.component_state.c.status,
            t.component_state.c.since,
            t.component_state.c.updated_at,
            t.component_state.c.last_result_at,
            t.component_state.c.latency_seconds,
        )
        if component_ids is not None:
            query = query.where(t.component_state.c.component_id.in_(list(component_ids)))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {row.component_id: ComponentState(*row) for row in rows}

    def set_component_status(
        self,
        component_id: str,
        status: str,
        *,
        reason: str,
        source: str,
        at: datetime | None = None,
        auto_incident: str | None = None,
    ) -> bool:
        """Set a component's status; returns True (and logs the change) if it changed.

        The change-log row is written in the same transaction as the new state. With
        ``auto_incident`` (the component's name) an outage opens an incident and the
        recovery resolves it, with timeline updates.
        """
        change = StatusChange(component_id, status, reason, auto_incident)
        return bool(self.set_component_statuses([change], source=source, at=at))

    def set_component_statuses(
        self, changes: Iterable[StatusChange], *, source: str, at: datetime | None = None
    ) -> list[str]:
        """Several components' statuses in one transaction; returns the ids that changed.

        Each as :meth:`set_component_status`; one transaction for all, because a
        worker that sees many components change at once (its start, a network outage)
        would otherwise spend a commit on each while its results wait.
        """
        at = at or utcnow()
        changed: list[tuple[str, str | None, StatusChange]] = []
        c = t.component_state.c
        with self.engine.begin() as conn:
            for change in changes:
                values = dict(
                    status=change.status, since=at, updated_at=at, manual=source != "probe"
                )
                current = self._locked_status(conn, change.component_id)
                if current is None:
                    # A first status: another worker may be writing it at this moment.
                    created = conn.execute(
                        _insert(conn, t.component_state)
                        .values(component_id=change.component_id, **values)
                        .on_conflict_do_nothing(index_elements=["component_id"])
                        .returning(c.component_id)
                    ).first()
                    if created is None:  # it was: go on from what it wrote
                        current = self._locked_status(conn, change.component_id)
                if current == change.status:
                    conn.execute(
                        sa.update(t.component_state)
                        .where(c.component_id == change.component_id)
                        .values(updated_at=at)
                    )
                    continue
                if current is not None:
                    conn.execute(
                        sa.update(t.component_state)
                        .where(c.component_id == change.component_id)
                        .values(**values)
                    )
                conn.execute(
                    sa.insert(t.component_changes).values(
                        component_id=change.component_id,
                        old_status=current,
                        new_status=change.status,
                        at=at,
                        reason=change.reason,
                        source=source,
                    )
                )
                if change.auto_incident:
                    self._auto_incident(
                        conn, change.component_id, change.auto_incident, current, change.status, at
                    )
                changed.append((change.component_id, current, change))
            if changed:
                self.bump_data_version(conn)
        for component_id, current, change in changed:
            log.info(
                "component %s: %s -> %s (%s)", component_id, current, change.status, change.reason
            )
        return [component_id for component_id, _, _ in changed]

    @staticmethod
    def _locked_status(conn: Connection, component_id: str) -> str | None:
        c = t.component_state.c
        return conn.execute(
            sa.select(c.status).where(c.component_id == component_id).with_for_update()
        ).scalar()

    def _auto_incident(
        self, conn: Connection, component_id: str, name: str, old: str | None, new: str, at
    ) -> None:
        open_id = conn.execute(
            sa.select(t.incidents.c.id)
            .join(t.incident_components, t.incident_components.c.incident_id == t.incidents.c.id)
            .where(
                t.incidents.c.auto,
                t.incidents.c.status.not_in(["resolved", "postmortem"]),
                t.incident_components.c.component_id == component_id,
            )
        ).scalar()
        outage = new in ("major_outage", "partial_outage")
        if outage and open_id is None:
            impact = "major" if new == "major_outage" else "minor"
            open_id = conn.execute(
                sa.insert(t.incidents).values(
                    name=f"{name}: {new.replace('_', ' ')}",
                    status="investigating",
                    impact=impact,
                    created_at=at,
                    updated_at=at,
                    started_at=at,
                    auto=True,
                )
            ).inserted_primary_key[0]
            conn.execute(
                sa.insert(t.incident_components).values(
                    incident_id=open_id, component_id=component_id, status=new
                )
            )
            body = f"Our monitoring detected a problem with {name}. We are investigating."
            self._incident_update(conn, open_id, "investigating", body, component_id, old, new, at)
        elif outage:
            conn.execute(
                sa.update(t.incident_components)
                .where(
                    t.incident_components.c.incident_id == open_id,
                    t.incident_components.c.component_id == component_id,
                )
                .values(status=new)
            )
        elif open_id is not None and new == "operational":
            conn.execute(
                sa.update(t.incidents)
                .where(t.incidents.c.id == open_id)
                .values(status="resolved", resolved_at=at, updated_at=at)
            )
            conn.execute(
                sa.update(t.incident_components)
                .where(t.incident_components.c.incident_id == open_id)
                .values(status=new)
            )
            body = f"{name} is operational again. This incident has been resolved."
            self._incident_update(conn, open_id, "resolved", body, component_id, old, new, at)

    @staticmethod
    def _incident_update(conn, incident_id, status, body, component_id, old, new, at) -> None:
        conn.execute(
            sa.insert(t.incident_updates).values(
                incident_id=incident_id,
                status=status,
                body=body,
                created_at=at,
                updated_at=at,
                display_at=at,
                affected_components=[{"code": component_id, "old_status": old, "new_status": new}],
            )
        )

    def incidents(self) -> list[sa.Row]:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.incidents).order_by(t.incidents.c.id)).all()

    def incident_updates(self, incident_id: int) -> list[sa.Row]:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(t.incident_updates)
                .where(t.incident_updates.c.incident_id == incident_id)
                .order_by(t.incident_updates.c.id)
            ).all()

    # -- incidents and maintenance: writes ------------------------------------------------
    def create_incident(
        self,
        *,
        name: str,
        status: str,
        impact: str,
        body: str,
        components: dict[str, str] | None = None,
        at: datetime | None = None,
        deliver_notifications: bool = True,
    ) -> int:
        """Open an incident with its first update; ``components``: id -> status it causes."""
        at = at or utcnow()
        components = components or {}
        with self.engine.begin() as conn:
            incident_id = conn.execute(
                sa.insert(t.incidents).values(
                    name=name,
                    status=status,
                    impact=impact,
                    created_at=at,
                    updated_at=at,
                    started_at=at,
                    monitoring_at=at if status == "monitoring" else None,
                    resolved_at=at if status in ("resolved", "postmortem") else None,
                )
            ).inserted_primary_key[0]
            if components:
                conn.execute(
                    sa.insert(t.incident_components),
                    [
                        {"incident_id": incident_id, "component_id": c, "status": s}
                        for c, s in components.items()
                    ],
                )
            self._add_incident_update(
                conn, incident_id, status, body, components, at, deliver_notifications
            )
            self.bump_data_version(conn)
        return incident_id

    def add_incident_update(
        self,
        incident_id: int,
        *,
        status: str,
        body: str,
        components: dict[str, str] | None = None,
        at: datetime | None = None,
        deliver_notifications: bool = True,
    ) -> None:
        """Post an update; the incident takes its status (and the components theirs)."""
        at = at or utcnow()
        components = components or {}
        i = t.incidents.c
        with self.engine.begin() as conn:
            values: dict = {"status": status, "updated_at": at}
            if status == "monitoring":
                values["monitoring_at"] = sa.func.coalesce(i.monitoring_at, at)
            if status in ("resolved", "postmortem"):
                values["resolved_at"] = sa.func.coalesce(i.resolved_at, at)
            conn.execute(sa.update(t.incidents).where(i.id == incident_id).values(**values))
            for component_id, component_status in components.items():
                stmt = _insert(conn, t.incident_components).values(
                    incident_id=incident_id, component_id=component_id, status=component_status
                )
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=["incident_id", "component_id"],
                        set_={"status": component_status},
                    )
                )
            self._add_incident_update(
                conn, incident_id, status, body, components, at, deliver_notifications
            )
            self.bump_data_version(conn)

    def _add_incident_update(
        self, conn, incident_id, status, body, components, at, deliver_notifications
    ) -> None:
        before = dict(
            conn.execute(
                sa.select(t.component_state.c.component_id, t.component_state.c.status).where(
                    t.component_state.c.component_id.in_(list(components))
                )
            ).all()
        )
        conn.execute(
            sa.insert(t.incident_updates).values(
                incident_id=incident_id,
                status=status,
                body=body,
                created_at=at,
                updated_at=at,
                display_at=at,
                deliver_notifications=deliver_notifications,
                affected_components=[
                    {"code": c, "old_status": before.get(c, "operational"), "new_status": s}
                    for c, s in components.items()
                ],
            )
        )

    def create_maintenance(
        self,
        *,
        name: str,
        body: str,
        scheduled_for: datetime,
        scheduled_until: datetime,
        components: Iterable[str] = (),
        status: str = "scheduled",
        auto_transition: bool = True,
        at: datetime | None = None,
    ) -> int:
        at = at or utcnow()
        with self.engine.begin() as conn:
            maintenance_id = conn.execute(
                sa.insert(t.maintenances).values(
                    name=name,
                    status=status,
                    created_at=at,
                    updated_at=at,
                    scheduled_for=scheduled_for,
                    scheduled_until=scheduled_until,
                    auto_transition=auto_transition,
                    started_at=at if status == "in_progress" else None,
                )
            ).inserted_primary_key[0]
            components = list(components)
            if components:
                conn.execute(
                    sa.insert(t.maintenance_components),
                    [{"maintenance_id": maintenance_id, "component_id": c} for c in components],
                )
            conn.execute(
                sa.insert(t.maintenance_updates).values(
                    maintenance_id=maintenance_id,
                    status=status,
                    body=body,
                    created_at=at,
                    updated_at=at,
                    display_at=at,
                )
            )
            self.bump_data_version(conn)
        return maintenance_id

    def add_maintenance_update(
        self,
        maintenance_id: int,
        *,
        status: str,
        body: str,
        at: datetime | None = None,
        cancelled: bool = False,
    ) -> None:
        """Post an update; the window takes its status. Bumps the calendar SEQUENCE."""
        at = at or utcnow()
        m = t.maintenances.c
        values: dict = {"status": status, "updated_at": at, "sequence": m.sequence + 1}
        if status == "in_progress":
            values["started_at"] = sa.func.coalesce(m.started_at, at)
        if status == "completed":
            values["completed_at"] = sa.func.coalesce(m.completed_at, at)
        if cancelled:
            values["cancelled_at"] = at
        with self.engine.begin() as conn:
            conn.execute(sa.update(t.maintenances).where(m.id == maintenance_id).values(**values))
            conn.execute(
                sa.insert(t.maintenance_updates).values(
                    maintenance_id=maintenance_id,
                    status=status,
                    body=body,
                    created_at=at,
                    updated_at=at,
                    display_at=at,
                )
            )
            self.bump_data_version(conn)

    # -- what the public pages show (read into one snapshot) -----------------------------
    def public_incidents(self) -> list[tuple[sa.Row, list[sa.Row], list[sa.Row]]]:
        """Every incident, newest first, with its updates (newest first) and components."""
        with self.engine.connect() as conn:
            incidents = conn.execute(
                sa.select(t.incidents).order_by(t.incidents.c.created_at.desc(), t.incidents.c.id)
            ).all()
            updates = conn.execute(
                sa.select(t.incident_updates).order_by(
                    t.incident_updates.c.display_at.desc(), t.incident_updates.c.id.desc()
                )
            ).all()
            components = conn.execute(sa.select(t.incident_components)).all()
        return _with_children(incidents, updates, components, "incident_id")

    def public_maintenances(self) -> list[tuple[sa.Row, list[sa.Row], list[sa.Row]]]:
        """Every maintenance window, newest first, with its updates and components."""
        with self.engine.connect() as conn:
            maintenances = conn.execute(
                sa.select(t.maintenances).order_by(
                    t.maintenances.c.scheduled_for.desc(), t.maintenances.c.id
                )
            ).all()
            updates = conn.execute(
                sa.select(t.maintenance_updates).order_by(
                    t.maintenance_updates.c.display_at.desc(), t.maintenance_updates.c.id.desc()
                )
            ).all()
            components = conn.execute(sa.select(t.maintenance_components)).all()
        return _with_children(maintenances, updates, components, "maintenance_id")

    def component_first_seen(self) -> dict[str, datetime]:
        """When each component's status was first recorded."""
        c = t.component_changes.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(c.component_id, sa.func.min(c.at)).group_by(c.component_id)
            ).all()
        return {component_id: at for component_id, at in rows}

    def last_known_statuses(self) -> dict[str, str]:
        """For components whose latest change was to ``unknown``: the status before it."""
        c = t.component_changes.c
        latest = (
            sa.select(c.component_id, sa.func.max(c.id).label("id"))
            .group_by(c.component_id)
            .subquery()
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(c.component_id, c.old_status)
                .join(latest, latest.c.id == c.id)
                .where(c.new_status == "unknown", c.old_status.is_not(None))
            ).all()
        return dict(rows)

    def newest_results(self) -> dict[str, datetime]:
        """When each component's newest probe result (any check, any region) started."""
        p = t.probe_state.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(p.component_id, sa.func.max(p.last_result_at)).group_by(p.component_id)
            ).all()
        return {component_id: at for component_id, at in rows if at is not None}

    def current_latencies(self) -> dict[str, float]:
        """Each component's latest response time: the mean over its probes and regions."""
        p = t.probe_state.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(p.component_id, sa.func.avg(p.last_latency_seconds))
                .where(p.last_ok, p.last_latency_seconds.is_not(None))
                .group_by(p.component_id)
            ).all()
        return {component_id: float(value) for component_id, value in rows}

    def hourly_latency(self, since: datetime) -> dict[str, list[tuple[str, float]]]:
        """Mean latency of successful checks per component and hour ('YYYY-MM-DDTHH', UTC)."""
        r = t.probe_results.c
        if self.dialect == "postgresql":
            hour = sa.func.to_char(
                sa.func.timezone("UTC", r.started_at), sa.literal('YYYY-MM-DD"T"HH24')
            )
        else:
            hour = sa.func.strftime("%Y-%m-%dT%H", r.started_at)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(r.component_id, hour.label("hour"), sa.func.avg(r.latency_seconds))
                .where(r.started_at >= since, r.ok, r.latency_seconds.is_not(None))
                .group_by(r.component_id, "hour")
                .order_by(r.component_id, "hour")
            ).all()
        series: dict[str, list[tuple[str, float]]] = {}
        for component_id, bucket, value in rows:
            series.setdefault(component_id, []).append((bucket, float(value)))
        return series

    # -- probe results and streaks ------------------------------------------------------
    def record_probe_results(self, results: list[dict], states: list[dict]) -> None:
        """Store a batch of raw results and the streaks they left, in one transaction."""
        if not results and not states:
            return
        with self.engine.begin() as conn:
            if results:
                conn.execute(sa.insert(t.probe_results), results)
            if states:
                stmt = _insert(conn, t.probe_state)
                keys = ("component_id", "probe", "region")
                stmt = stmt.on_conflict_do_update(
                    index_elements=list(keys),
                    set_={c: stmt.excluded[c] for c in states[0] if c not in keys},
                )
                conn.execute(stmt, states)

    def probe_states(self, component_ids: Iterable[str] | None = None) -> list[sa.Row]:
        query = sa.select(t.probe_state)
        if component_ids is not None:
            query = query.where(t.probe_state.c.component_id.in_(list(component_ids)))
        with self.engine.connect() as conn:
            return conn.execute(query).all()

    def probe_results(self, component_id: str) -> list[sa.Row]:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(t.probe_results)
                .where(t.probe_results.c.component_id == component_id)
                .order_by(t.probe_results.c.id)
            ).all()

    def active_maintenance_components(self, now: datetime) -> set[str]:
        """Components covered by a maintenance window in progress at ``now``."""
        m = t.maintenances.c
        active = sa.and_(
            m.cancelled_at.is_(None),
            m.status != "completed",
            sa.or_(
                m.status.in_(["in_progress", "verifying"]),
                sa.and_(m.auto_transition, m.scheduled_for <= now, m.scheduled_until > now),
            ),
        )
        with self.engine.connect() as conn:
            return set(
                conn.execute(
                    sa.select(t.maintenance_components.c.component_id)
                    .join(
                        t.maintenances,
                        t.maintenances.c.id == t.maintenance_components.c.maintenance_id,
                    )
                    .where(active)
                ).scalars()
            )

    # -- leases: which worker runs what ---------------------------------------------------
    def claim_leases(
        self, names: Iterable[str], holder: str, *, ttl: float, now: datetime | None = None
    ) -> set[str]:
        """Take or renew each lease that is free, expired or already ours; return those held."""
        now = now or utcnow()
        expires = now + timedelta(seconds=ttl)
        names = list(names)
        if not names:
            return set()
        with self.engine.begin() as conn:
            conn.execute(
                _insert(conn, t.leases).on_conflict_do_nothing(index_elements=["name"]),
                [{"name": n, "holder": holder, "expires_at": expires} for n in names],
            )
            conn.execute(
                sa.update(t.leases)
                .where(
                    t.leases.c.name.in_(names),
                    sa.or_(t.leases.c.holder == holder, t.leases.c.expires_at < now),
                )
                .values(holder=holder, expires_at=expires)
            )
            return set(
                conn.execute(
                    sa.select(t.leases.c.name).where(
                        t.leases.c.name.in_(names), t.leases.c.holder == holder
                    )
                ).scalars()
            )

    def release_leases(self, names: Iterable[str], holder: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.delete(t.leases).where(
                    t.leases.c.name.in_(list(names)), t.leases.c.holder == holder
                )
            )

    def live_leases(self, prefix: str, now: datetime | None = None) -> dict[str, str]:
        """Unexpired leases whose name starts with ``prefix``: name -> holder."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(t.leases.c.name, t.leases.c.holder).where(
                    t.leases.c.name.startswith(prefix, autoescape=True),
                    t.leases.c.expires_at >= (now or utcnow()),
                )
            ).all()
        return dict(rows)

    # -- heartbeats ---------------------------------------------------------------------
    def heartbeat_tokens(self, checks: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The ping token of each (component, probe); new ones are made as needed."""
        checks = list(checks)
        with self.engine.begin() as conn:
            if checks:
                conn.execute(
                    _insert(conn, t.heartbeats).on_conflict_do_nothing(
                        index_elements=["component_id", "probe"]
                    ),
                    [
                        {
                            "component_id": c,
                            "probe": p,
                            "token": secrets.token_urlsafe(24),
                            "created_at": utcnow(),
                        }
                        for c, p in checks
                    ],
                )
            rows = conn.execute(
                sa.select(t.heartbeats.c.component_id, t.heartbeats.c.probe, t.heartbeats.c.token)
            ).all()
        wanted = set(checks)
        return {(c, p): token for c, p, token in rows if (c, p) in wanted}

    def heartbeat(self, component_id: str, probe: str) -> sa.Row | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(t.heartbeats).where(
                    t.heartbeats.c.component_id == component_id, t.heartbeats.c.probe == probe
                )
            ).first()

    def ping(self, token: str, *, fail: bool = False, at: datetime | None = None) -> bool:
        """Record a heartbeat ping (or a reported failure); False for an unknown token."""
        column = "last_fail_at" if fail else "last_ping_at"
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    sa.update(t.heartbeats)
                    .where(t.heartbeats.c.token == token)
                    .values({column: at or utcnow()})
                ).rowcount
            )

    def component_changes(self, component_id: str) -> list[sa.Row]:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(t.component_changes)
                .where(t.component_changes.c.component_id == component_id)
                .order_by(t.component_changes.c.id)
            ).all()

    # -- rollups and retention -----------------------------------------------------------
    def meta_value(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.meta.c.value).where(t.meta.c.key == key)).scalar()

    def set_meta_value(self, key: str, value: str) -> None:
        with self.engine.begin() as conn:
            stmt = _insert(conn, t.meta)
            conn.execute(
                stmt.values(key=key, value=value).on_conflict_do_update(
                    index_elements=["key"], set_={"value": value}
                )
            )

    def oldest_monitoring_data(self) -> datetime | None:
        """When the earliest raw result or state change still stored happened."""
        with self.engine.connect() as conn:
            firsts = [
                conn.execute(sa.select(sa.func.min(t.probe_results.c.started_at))).scalar(),
                conn.execute(sa.select(sa.func.min(t.component_changes.c.at))).scalar(),
            ]
        firsts = [f for f in firsts if f is not None]
        return min(firsts) if firsts else None

    def status_timeline(
        self, component_id: str, start: datetime, end: datetime
    ) -> tuple[str | None, list[tuple[datetime, str]]]:
        """The status at ``start`` (None before the first change) and the changes until ``end``."""
        c = t.component_changes.c
        with self.engine.connect() as conn:
            before = conn.execute(
                sa.select(c.new_status)
                .where(c.component_id == component_id, c.at <= start)
                .order_by(c.at.desc(), c.id.desc())
                .limit(1)
            ).scalar()
            changes = conn.execute(
                sa.select(c.at, c.new_status)
                .where(c.component_id == component_id, c.at > start, c.at < end)
                .order_by(c.at, c.id)
            ).all()
        return before, [(row.at, row.new_status) for row in changes]

    def check_outcomes(
        self, component_id: str, start: datetime, end: datetime
    ) -> tuple[int, int, list[float]]:
        """Checks, failures and the latencies of successful checks in [start, end)."""
        r = t.probe_results.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(r.ok, r.latency_seconds).where(
                    r.component_id == component_id, r.started_at >= start, r.started_at < end
                )
            ).all()
        latencies = [lat for ok, lat in rows if ok and lat is not None]
        return len(rows), sum(1 for ok, _ in rows if not ok), latencies

    def save_rollups(self, rows: list[dict]) -> None:
        """Insert or replace daily rollups (one per component and day)."""
        if not rows:
            return
        with self.engine.begin() as conn:
            stmt = _insert(conn, t.daily_rollups)
            keys = ("component_id", "day")
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=list(keys),
                    set_={c: stmt.excluded[c] for c in rows[0] if c not in keys},
                ),
                rows,
            )
            self.bump_data_version(conn)

    def daily_rollups(
        self, since: date, component_ids: Iterable[str] | None = None
    ) -> list[sa.Row]:
        query = sa.select(t.daily_rollups).where(t.daily_rollups.c.day >= since)
        if component_ids is not None:
            query = query.where(t.daily_rollups.c.component_id.in_(list(component_ids)))
        with self.engine.connect() as conn:
            return conn.execute(
                query.order_by(t.daily_rollups.c.component_id, t.daily_rollups.c.day)
            ).all()

    def prune_probe_results(self, before: datetime, *, batch: int = 5000) -> int:
        """Delete up to ``batch`` raw results older than ``before``; returns how many went."""
        r = t.probe_results.c
        oldest = sa.select(r.id).where(r.started_at < before).order_by(r.started_at).limit(batch)
        with self.engine.begin() as conn:
            return conn.execute(
                sa.delete(t.probe_results).where(r.id.in_(oldest.scalar_subquery()))
            ).rowcount

    # -- audit ----------------------------------------------------------------------------
    def audit(
        self,
        conn: Connection,
        *,
        actor: str,
        action: str,
        target_type: str,
        target_id: str | None = None,
        details: dict | None = None,
        ip: str | None = None,
    ) -> None:
        """Record who changed what, in the same transaction as the change."""
        conn.execute(
            sa.insert(t.audit_log).values(
                at=utcnow(),
                actor=actor,
                action=action,
                target_type=target_type,
                target_id=target_id,
                details=details or {},
                ip=ip,
            )
        )


def _with_children(parents, updates, components, key: str):
    by_parent_updates: dict[int, list] = {}
    for row in updates:
        by_parent_updates.setdefault(getattr(row, key), []).append(row)
    by_parent_components: dict[int, list] = {}
    for row in components:
        by_parent_components.setdefault(getattr(row, key), []).append(row)
    return [
        (row, by_parent_updates.get(row.id, []), by_parent_components.get(row.id, []))
        for row in parents
    ]
