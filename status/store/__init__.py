"""All SQL (SQLAlchemy Core), one module per domain; SQLite (WAL) or PostgreSQL.

``store.incidents.create(...)`` runs in a transaction of its own. A change that must
commit together with its audit entry (and, from the ops issue on, its event row) runs
in a unit of work, where every repository shares one transaction::

    with store.begin() as uow:
        incident_id = uow.incidents.create(...)
        uow.incidents.add_update(incident_id, ...)
        uow.audit.record(...)

The commands in :mod:`status.ops` do exactly that; the web surfaces, the CLI and the
probe workers call them rather than writing through the repositories themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from status.store.accounts import SessionRepository, TokenRepository, UserRepository
from status.store.alerts import AlertRepository
from status.store.audit import AuditRepository
from status.store.components import ComponentRepository, ComponentState
from status.store.engine import create_private_file, make_engine
from status.store.events import EventRepository
from status.store.heartbeats import HeartbeatRepository
from status.store.idempotency import IdempotencyRepository
from status.store.incidents import IncidentRepository
from status.store.leases import LeaseRepository
from status.store.maintenance import MaintenanceRepository
from status.store.maintenance_series import MaintenanceSeriesRepository
from status.store.meta import MetaRepository
from status.store.outbox import OutboxRepository
from status.store.overrides import OverrideRepository
from status.store.probes import ProbeRepository
from status.store.rollups import RollupRepository
from status.store.scope import EngineScope, Scope, TransactionScope
from status.store.subscribers import SubscriberRepository

__all__ = ["ComponentState", "Store", "UnitOfWork", "create_private_file", "make_engine"]


class Repositories:
    """Every domain's repository, over one scope."""

    def __init__(self, scope: Scope) -> None:
        self.meta = MetaRepository(scope)
        self.components = ComponentRepository(scope)
        self.probes = ProbeRepository(scope)
        self.rollups = RollupRepository(scope)
        self.leases = LeaseRepository(scope)
        self.heartbeats = HeartbeatRepository(scope)
        self.incidents = IncidentRepository(scope)
        self.maintenance = MaintenanceRepository(scope)
        self.maintenance_series = MaintenanceSeriesRepository(scope)
        self.audit = AuditRepository(scope)
        self.users = UserRepository(scope)
        self.sessions = SessionRepository(scope)
        self.tokens = TokenRepository(scope)
        self.events = EventRepository(scope)
        self.overrides = OverrideRepository(scope)
        self.idempotency = IdempotencyRepository(scope)
        self.subscribers = SubscriberRepository(scope)
        self.outbox = OutboxRepository(scope)
        self.alerts = AlertRepository(scope)


class UnitOfWork(Repositories):
    """The repositories of one transaction (see the module docstring)."""

    def __init__(self, scope: TransactionScope) -> None:
        super().__init__(scope)
        self.conn = scope.conn


class Store(Repositories):
    """The application's one way into the database."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(EngineScope(engine))
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[UnitOfWork]:
        """A unit of work: committed when the block ends, rolled back when it raises."""
        with self.engine.begin() as conn:
            yield UnitOfWork(TransactionScope(conn))

    def dispose(self) -> None:
        self.engine.dispose()

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at; None when it was never migrated."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
