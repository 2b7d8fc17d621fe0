"""The scheduler with real loopback targets and a clock the test controls where it can."""

from __future__ import annotations

import itertools
import shutil
import socket
import subprocess
import textwrap
import threading
import time
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
from prometheus_client import generate_latest

from probes.base import ProbeResult
from probes.metrics import ProbeMetrics
from probes.scheduler import SHARDS, Check, Ownership, Recorder, Scheduler, checks_of
from status import schema as t
from status.config import load_config
from tests.conftest import system_component_missing

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def config_with(tmp_path, components: str):
    path = tmp_path / "status.yaml"
    path.write_text(
        "site: {title: T, url: 'https://status.test'}\ncomponents:\n"
        + textwrap.indent(textwrap.dedent(components), "  ")
    )
    return load_config(path)


TWO_PROBES = """\
- id: api
  name: API
  auto_incident: true
  probes:
    - {type: tcp, id: a, host: 127.0.0.1, port: 1, interval: 30s, timeout: 1s}
    - {type: tcp, id: b, host: 127.0.0.1, port: 1, interval: 30s, timeout: 1s}
"""


def ok(at: datetime, latency: float = 0.001, degraded: bool = False) -> ProbeResult:
    return ProbeResult(
        ok=True,
        duration_seconds=latency,
        latency_seconds=latency,
        degraded=degraded,
        started_at=at,
    )


def failed(at: datetime, error: str = "connection refused") -> ProbeResult:
    return ProbeResult(ok=False, duration_seconds=0.001, error=error, started_at=at)


class Feed:
    """Hands results to a Recorder as the scheduler would, one interval apart."""

    def __init__(self, db, config, region="default"):
        self.db = db
        self.config = config
        self.checks = checks_of(config)
        self.recorder = Recorder(db, lambda: config, region)
        self.now = T0

    def __call__(self, pattern: dict[str, str]) -> list[str]:
        """pattern: probe id -> '.'/'x'/'s' per step; returns the status after each step."""
        statuses = []
        for step in range(max(len(p) for p in pattern.values())):
            batch = []
            for probe, letters in pattern.items():
                if step < len(letters):
                    check = self.checks[("api", probe)]
                    letter = letters[step]
                    result = (
                        failed(self.now) if letter == "x" else ok(self.now, degraded=letter == "s")
                    )
                    batch.append((check, result))
            self.recorder.record(batch, now=self.now)
            statuses.append(self.db.components.states()["api"].status)
            self.now += timedelta(seconds=30)
        return statuses


def test_it_turns_consecutive_failures_into_outages_and_back(db, tmp_path):
    feed = Feed(db, config_with(tmp_path, TWO_PROBES))
    statuses = feed({"a": "..xxx....", "b": "........."})
    assert statuses == [
        "operational",
        "operational",
        "operational",
        "operational",
        "partial_outage",
        "partial_outage",
        "operational",
        "operational",
        "operational",
    ]
    changes = [(c.old_status, c.new_status) for c in db.components.changes("api")]
    assert changes == [
        (None, "operational"),
        ("operational", "partial_outage"),
        ("partial_outage", "operational"),
    ]
    assert len(db.probes.results("api")) == 18  # every result kept, not only the changes


def test_it_reports_a_major_outage_when_every_probe_fails(db, tmp_path):
    feed = Feed(db, config_with(tmp_path, TWO_PROBES))
    assert feed({"a": ".xxx", "b": ".xxx"})[-1] == "major_outage"
    reason = db.components.changes("api")[-1].reason
    assert reason == "a: connection refused; b: connection refused"


def test_it_opens_and_resolves_an_incident_on_its_own(db, tmp_path):
    feed = Feed(db, config_with(tmp_path, TWO_PROBES))
    feed({"a": ".xxx..", "b": ".xxx.."})
    [incident] = db.incidents.all()
    assert (incident.name, incident.status, incident.impact) == (
        "API: major outage",
        "resolved",
        "major",
    )
    updates = db.incidents.updates(incident.id)
    assert [u.status for u in updates] == ["investigating", "resolved"]
    assert updates[0].affected_components == [
        {"code": "api", "old_status": "operational", "new_status": "major_outage"}
    ]
    assert incident.resolved_at == T0 + timedelta(seconds=150)


def test_it_marks_slow_answers_as_degraded(db, tmp_path):
    feed = Feed(db, config_with(tmp_path, TWO_PROBES))
    assert feed({"a": ".sss..", "b": "......"}) == [
        "operational",
        "operational",
        "operational",
        "degraded_performance",
        "degraded_performance",
        "operational",
    ]


def maintenance_window(db, status: str, start: datetime, end: datetime) -> None:
    """A maintenance window covering the component ``api``."""
    with db.engine.begin() as conn:
        mid = conn.execute(
            sa.insert(t.maintenances).values(
                name="Upgrade",
                status=status,
                created_at=T0,
                updated_at=T0,
                scheduled_for=start,
                scheduled_until=end,
            )
        ).inserted_primary_key[0]
        conn.execute(
            sa.insert(t.maintenance_components).values(maintenance_id=mid, component_id="api")
        )


def test_maintenance_suppresses_outages_but_keeps_the_results(db, tmp_path):
    maintenance_window(db, "scheduled", T0 + timedelta(seconds=45), T0 + timedelta(seconds=190))
    feed = Feed(db, config_with(tmp_path, TWO_PROBES))
    statuses = feed({"a": "..xxxxx", "b": "..xxxxx"})
    assert statuses[:2] == ["operational", "operational"]
    assert set(statuses[2:]) == {"under_maintenance"}
    assert db.incidents.all() == []  # no outage, no incident, nothing to notify
    assert sum(not r.ok for r in db.probes.results("api")) == 10

    # The window ends while the target is still down: now it is an outage.
    feed.recorder.update_components(None, T0 + timedelta(seconds=200))
    assert db.components.states()["api"].status == "major_outage"


def test_it_needs_a_quorum_of_regions_to_call_an_outage(db, tmp_path):
    config = config_with(
        tmp_path,
        """\
        - id: api
          name: API
          quorum: 2
          failure_threshold: 1
          success_threshold: 1
          probes: [{type: tcp, host: 127.0.0.1, port: 1, interval: 30s, timeout: 1s}]
        """,
    )
    fra, ams = Feed(db, config, "fra"), Feed(db, config, "ams")

    assert fra({"tcp": "."}) == ["operational"]
    assert ams({"tcp": "."}) == ["operational"]
    assert fra({"tcp": "x"}) == ["operational"]  # one region sees it down: a local problem
    assert ams({"tcp": "x"}) == ["major_outage"]  # both agree
    assert fra({"tcp": "."}) == ["operational"]


def test_it_shows_no_data_when_every_worker_went_silent(db, tmp_path):
    feed = Feed(db, config_with(tmp_path, TWO_PROBES))
    feed({"a": "..", "b": ".."})
    recorder = feed.recorder
    recorder.update_components(None, feed.now + timedelta(seconds=60))
    assert db.components.states()["api"].status == "operational"
    recorder.update_components(None, feed.now + timedelta(seconds=91))
    assert db.components.states()["api"].status == "unknown"
    # A region that stops reporting never counts as up.


@pytest.mark.parametrize(
    ("region", "silent_for", "status"),
    [
        ("default", 91, "operational"),  # its own region: late, not silent, for 15 s more
        ("default", 104, "operational"),
        ("default", 106, "unknown"),  # no longer late: silent
        ("fra", 91, "unknown"),  # another region's worker: three intervals are silence
    ],
)
def test_the_own_region_is_late_for_the_lease_time_before_it_is_silent(
    db, tmp_path, region, silent_for, status
):
    feed = Feed(db, config_with(tmp_path, TWO_PROBES))
    feed({"a": "..", "b": ".."})
    recorder = Recorder(db, lambda: feed.config, region, grace=15)
    recorder.update_components(
        None, feed.now - timedelta(seconds=30) + timedelta(seconds=silent_for)
    )
    assert db.components.states()["api"].status == status


def test_a_check_back_from_silence_counts_again(db, tmp_path):
    feed = Feed(db, config_with(tmp_path, TWO_PROBES))
    assert feed({"a": "xxx", "b": "..."})[-1] == "partial_outage"
    # a falls silent (b goes on): the sweep counts only b, so the component looks fine.
    feed({"b": "...."})
    feed.recorder.update_components(None, feed.now)
    assert db.components.states()["api"].status == "operational"
    # a comes back still failing: its verdict did not change, its silence did.
    assert feed({"a": "x", "b": "."}) == ["partial_outage"]


def test_a_maintenance_window_opening_between_sweeps_applies_at_the_next_results(db, tmp_path):
    feed = Feed(db, config_with(tmp_path, TWO_PROBES))
    assert feed({"a": "..", "b": ".."}) == ["operational", "operational"]
    maintenance_window(db, "in_progress", T0, T0 + timedelta(hours=1))
    assert feed({"a": ".", "b": "."}) == ["under_maintenance"]


def test_a_second_worker_takes_over_a_dead_workers_checks(db):
    a = Ownership(db, "fra", "worker-a", lease_seconds=15)
    b = Ownership(db, "fra", "worker-b", lease_seconds=15)
    assert a.refresh(T0) == set(range(SHARDS))
    assert b.refresh(T0) == set()  # a holds every shard's lease

    a.refresh(T0 + timedelta(seconds=5))  # a sees b and lets go of b's share
    b_shards = b.refresh(T0 + timedelta(seconds=5))
    assert 0 < len(b_shards) < SHARDS
    assert a.shards.isdisjoint(b_shards) and a.shards | b_shards == set(range(SHARDS))

    # a dies; its leases run out after 15 s and b takes everything.
    assert b.refresh(T0 + timedelta(seconds=10)) == b_shards
    assert b.refresh(T0 + timedelta(seconds=21)) == set(range(SHARDS))


# -- the running scheduler ---------------------------------------------------------------------
class Target(BaseHTTPRequestHandler):
    delays: dict[str, float] = {}
    hanging = threading.Event()  # set once a request to /hang has come in

    def do_GET(self):
        if self.path == "/hang":
            self.hanging.set()
        time.sleep(self.delays.get(self.path, 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def target():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    server.daemon_threads = True
    Target.delays = {"/hang": 30}
    Target.hanging = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_for(scheduler: Scheduler, seconds: float, until: threading.Event | None = None) -> float:
    """Run the scheduler for `seconds` (and, given `until`, at least until it is set)."""
    stopping = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(stopping,))
    thread.start()
    time.sleep(seconds)
    # A check's first run has a random offset within its interval: on a loaded machine a
    # late one may not have begun yet.
    awaited = until is None or until.wait(10)
    stopped_at = time.monotonic()
    stopping.set()
    thread.join(15)
    assert not thread.is_alive()
    assert awaited, "the awaited request never came"
    return time.monotonic() - stopped_at


def test_a_hanging_target_does_not_delay_the_others(db, tmp_path, target):
    config = config_with(
        tmp_path,
        f"""\
        - id: slow
          name: Slow
          probes: [{{type: http, url: "{target}/hang", interval: 3s, timeout: 2s}}]
        - id: fast
          name: Fast
          probes: [{{type: http, url: "{target}/", interval: 200ms, timeout: 100ms}}]
        """,
    )
    metrics = ProbeMetrics()
    scheduler = Scheduler(
        db, lambda: config, metrics=metrics, flush_seconds=0.1, housekeeping_seconds=0.5
    )
    drain = run_for(scheduler, 3.0, until=Target.hanging)

    fast = db.probes.results("fast")
    assert len(fast) >= 10, "the fast check was held up"
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in itertools.pairwise(fast)]
    assert max(gaps) < 0.5
    assert all(r.ok for r in fast)
    slow = db.probes.results("slow")
    assert [r.error for r in slow] == ["timed out after 2s"] * len(slow) and slow
    assert drain < 3  # in-flight probes finished or timed out, then it stopped
    assert metrics.registry.get_sample_value(
        "leitstand_probe_runs_total", {"component": "fast", "probe": "http", "result": "success"}
    ) == len(fast)
    # Housekeeping ran alongside: today's rollup already counts the checks (those
    # flushed by its last run, every 0.5 s: not always the very last ones).
    today = {r.component_id: r for r in db.rollups.since(date.today() - timedelta(days=1))}
    assert 0 < today["fast"].checks <= len(fast)


def test_its_metrics_pass_promtool(db, tmp_path, target):
    promtool = shutil.which("promtool")
    if not promtool:
        system_component_missing("promtool", "install Debian's prometheus package")
    config = config_with(
        tmp_path,
        f"""\
        - id: web
          name: Web
          probes: [{{type: http, url: "{target}/", interval: 200ms, timeout: 100ms}}]
        - id: db
          name: Database
          probes: [{{type: tcp, host: 127.0.0.1, port: {closed_port()}, interval: 200ms,
                     timeout: 100ms}}]
        """,
    )
    metrics = ProbeMetrics(region="fra")
    run_for(Scheduler(db, lambda: config, region="fra", metrics=metrics, flush_seconds=0.1), 1.0)
    text = generate_latest(metrics.registry)
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True)
    assert result.returncode == 0 and result.stdout + result.stderr == b"", result.stderr
    labels = {"component": "web", "probe": "http", "region": "fra"}
    assert metrics.registry.get_sample_value("probe_success", labels) == 1
    assert metrics.registry.get_sample_value("probe_http_status_code", labels) == 200
    assert (
        metrics.registry.get_sample_value(
            "probe_success", {"component": "db", "probe": "tcp", "region": "fra"}
        )
        == 0
    )
    assert metrics.registry.get_sample_value("leitstand_probe_lag_seconds_count") >= 4


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_checks_are_keyed_by_component_and_probe(tmp_path):
    checks = checks_of(config_with(tmp_path, TWO_PROBES))
    assert list(checks) == [("api", "a"), ("api", "b")]
    assert all(isinstance(c, Check) and 0 <= c.shard < SHARDS for c in checks.values())


def test_each_worker_exports_series_only_for_the_checks_it_runs(db, tmp_path, target):
    components = "".join(
        f"- {{id: c{i}, name: C{i}, probes: [{{type: http, url: '{target}/', interval: 1s}}]}}\n"
        for i in range(12)
    )
    config = config_with(tmp_path, components)
    workers = [
        Scheduler(db, lambda: config, metrics=ProbeMetrics(), worker_id=name, flush_seconds=0.1)
        for name in ("worker-a", "worker-b")
    ]
    checks = workers[0]._replan(config, {}, [], 0.0)
    for _ in range(2):  # the first round sees the other member; the second settles
        for worker in workers:
            worker.ownership.refresh()
    for worker in workers:
        worker._sync_series(checks)
    a, b = ({c for c, _ in w.metrics.checks()} for w in workers)
    assert a and b and a.isdisjoint(b) and a | b == {f"c{i}" for i in range(12)}
    exposed = generate_latest(workers[0].metrics.registry).decode()
    assert all(f'component="{c}"' not in exposed for c in b)

    # b stops: a takes its shards over, and b has nothing left to say.
    workers[1].ownership.release()
    workers[1]._sync_series(checks)
    workers[0].ownership.refresh(datetime.now(UTC) + timedelta(seconds=20))
    workers[0]._sync_series(checks)
    assert {c for c, _ in workers[0].metrics.checks()} == a | b
    assert workers[1].metrics.checks() == []


def test_a_check_not_yet_run_counts_zero_runs_and_claims_no_failure():
    metrics = ProbeMetrics(region="fra")
    metrics.prepare("web", "http", "http")
    labels = {"component": "web", "probe": "http", "region": "fra"}
    runs = {"component": "web", "probe": "http", "result": "failure"}
    assert metrics.registry.get_sample_value("leitstand_probe_runs_total", runs) == 0
    assert metrics.registry.get_sample_value("probe_success", labels) is None  # not "0"
    metrics.observe(
        "web", "http", ProbeResult(ok=True, duration_seconds=0.01, http_status_code=200)
    )
    assert metrics.registry.get_sample_value("probe_success", labels) == 1
    assert metrics.registry.get_sample_value("probe_http_status_code", labels) == 200
