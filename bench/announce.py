"""Benchmark: what announcing a component change costs the clock, on a long history.

A site of 20 components with 2,000 resolved incidents (4 updates each), 200 completed
maintenance windows and one open incident. For each round a component changes status
(as its probes would set it) and the clock's announcement runs
(``status.ops.announce.announce_changes``: the statuses every component shows, compared
with the last announced, one ``component.updated`` event written).

The reference, in the same run and database: the public snapshot's build
(``status.snapshot.build.build``, without the memo a running process keeps), which every
web process does anyway after the same change. The ratio says what the announcement adds
on top of it (target: well under 1x). Also printed: the same statuses read the old way,
from the whole history (``incidents.public()``), for comparison.

    .venv/bin/python bench/announce.py [--database-url postgresql+psycopg://...] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ops import postgres_schema  # noqa: E402
from bench.probes import code_version  # noqa: E402
from status import migrate, ops  # noqa: E402
from status import schema as t  # noqa: E402
from status.clock import utcnow  # noqa: E402
from status.config import load_config  # noqa: E402
from status.ops.announce import announce_changes  # noqa: E402
from status.snapshot import build as build_snapshot  # noqa: E402
from status.snapshot.build import _Bearing, _incident, _maintenance  # noqa: E402
from status.store import Store, make_engine  # noqa: E402

COMPONENTS, INCIDENTS, UPDATES, WINDOWS = 20, 2000, 4, 200
ACTOR = ops.Actor.system("bench")
STATUSES = ("major_outage", "degraded_performance", "operational")


def site(tmp: Path):
    path = tmp / "status.yaml"
    components = [f"  - {{id: c{n}, name: Component {n}}}" for n in range(COMPONENTS)]
    path.write_text(
        "site: {title: Bench, url: 'https://status.bench.example', timezone: Europe/Berlin}\n"
        "components:\n" + "\n".join(components) + "\n"
    )
    return load_config(path)


def history(store: Store) -> None:
    """Resolved incidents (straight into the tables) and completed windows."""
    now, body = utcnow(), "We are looking into it; more in an hour. " * 4
    with store.engine.begin() as conn:
        for i in range(INCIDENTS):
            at = now - timedelta(hours=6 * i + 1)
            row = dict(name=f"Past {i}", status="resolved", impact="minor", created_at=at,
                       updated_at=at, started_at=at, resolved_at=at)  # fmt: skip
            iid = conn.execute(sa.insert(t.incidents).values(**row)).inserted_primary_key[0]
            update = dict(incident_id=iid, status="resolved", body=body, created_at=at,
                          updated_at=at, display_at=at, affected_components=[])  # fmt: skip
            conn.execute(sa.insert(t.incident_updates), [update] * UPDATES)
            component = dict(incident_id=iid, component_id=f"c{i % COMPONENTS}",
                             status="major_outage")  # fmt: skip
            conn.execute(sa.insert(t.incident_components).values(**component))
    for i in range(WINDOWS):
        start = now - timedelta(days=2 * i + 1)
        window = ops.schedule_maintenance(
            store, ACTOR, name=f"Window {i}", body="Upgrade.", scheduled_for=start,
            scheduled_until=start + timedelta(hours=1), components=[f"c{i % COMPONENTS}"],
            at=start - timedelta(days=1), notify=False,
        )  # fmt: skip
        ops.update_maintenance(store, ACTOR, window, status="completed", body="Done.",
                               at=start + timedelta(hours=1), notify=False)  # fmt: skip
    ops.open_incident(store, ACTOR, name="Open", status="investigating", impact="minor",
                      body="Looking.", components={"c0": "degraded_performance"})  # fmt: skip


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def whole_history(store: Store, config, now) -> None:
    """The statuses as they were read before: every incident and window ever."""
    incidents = [_incident(*parts) for parts in store.incidents.public()]
    windows = [_maintenance(*parts) for parts in store.maintenance.public()]
    bearing = _Bearing.of(incidents, windows, now)
    for component in config.components:
        bearing.status(component.id, "operational")


def run(database_url: str | None, rounds: int) -> int:
    with tempfile.TemporaryDirectory() as tmp, postgres_schema(database_url) as pg_url:
        url = pg_url or f"sqlite:///{tmp}/bench.db"
        store = Store(make_engine(url))
        migrate.upgrade(store.engine)
        config = site(Path(tmp))
        history(store)
        announce_changes(store, config)  # the first look: noted
        rows = {"announce": [], "snapshot": [], "history": []}
        for n in range(rounds):
            status = STATUSES[n % len(STATUSES)]  # a change every round
            ops.set_component_status(store, "c1", status, reason="bench", source="bench")
            rows["announce"].append(timed(lambda: announce_changes(store, config)))
            rows["snapshot"].append(timed(lambda: build_snapshot(store, config)))
            rows["history"].append(timed(lambda: whole_history(store, config, utcnow())))
            print(
                f"  round {n + 1}: "
                + ", ".join(f"{k} {v[-1] * 1000:.1f} ms" for k, v in rows.items())
            )
        events = [e for e in store.events.after(0, limit=100_000) if e.kind == "component.updated"]
        store.dispose()
    median = {k: statistics.median(v) for k, v in rows.items()}
    ratio = median["announce"] / median["snapshot"]
    print(f"\nmedians over {rounds} rounds ({'PostgreSQL' if database_url else 'SQLite'}):")
    print(f"  announce a change:            {median['announce'] * 1000:8.1f} ms")
    print(f"  public snapshot build (ref.): {median['snapshot'] * 1000:8.1f} ms")
    print(f"  statuses from whole history:  {median['history'] * 1000:8.1f} ms (before)")
    print(f"  announce / snapshot: {ratio:.3f}x   events written: {len(events)} of {rounds}")
    return 0 if len(events) == rounds else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="postgresql+psycopg://... (default: SQLite)")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"bench/announce.py at {code_version()}, {COMPONENTS} components, {INCIDENTS} past "
          f"incidents x {UPDATES} updates, {WINDOWS} past windows")  # fmt: skip
    return run(args.database_url, args.rounds)


if __name__ == "__main__":
    sys.exit(main())
