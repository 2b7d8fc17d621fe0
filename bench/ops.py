"""Benchmark: incident updates through /api/v1 while the public page is under load.

    .venv/bin/python bench/ops.py [--posts 60] [--pace 1] [--rounds 3] [--connections 64]
    .venv/bin/python bench/ops.py --quick            # 15 posts, 1 round: a smoke run
    .venv/bin/python bench/ops.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Builds the site of bench/page.py (50 components, 90 days of rollups, 500 past incidents,
3 active), serves it with gunicorn (2 gthread workers, 8 threads) and, per round, runs
two phases of the same length with wrk -t2 -c64 reading ``/``:

- **posts**: an editor token opens an incident through ``POST /api/v1/incidents``, then
  posts ``--posts`` updates to it (one every ``--pace`` seconds, on a fixed schedule,
  one ``requests`` session): POST latency, and the delay from each POST's response to
  the first GET of ``/api/v2/summary.json`` that shows the update's body;
- **quiet**: the same, without the updates (the incident is opened all the same, so both
  phases start from the same page).

A poller thread reads summary.json every ``--poll`` seconds in both phases, each time on
a new connection, so that its GETs land on either gunicorn worker (each has its own
snapshot); "all workers" is the delay until every later poll shows the update. The
phases alternate (quiet, posts; posts, quiet; ...) so that drift on the noisy box hits
both alike; every figure is the median over the rounds. Prints PASS/FAIL against the
issue's targets: visibility p99 < 2 s, POST p99 < 200 ms, page throughput with posts
>= 0.9 x without. Exit status 0 whatever the figures.

SQLite by default (a file in the temporary directory); ``--database-url`` with a
PostgreSQL URL runs in a fresh schema, dropped at the end. Needs wrk (Debian package).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.client
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.page import GUNICORN_ARGS, populate, site_config, wrk  # noqa: E402
from bench.probes import (  # noqa: E402
    Processes,
    bench_environment,
    box_busy_seconds,
    code_version,
    free_port,
    percentile,
    tree_cpu_seconds,
    wait_for_http,
)

TARGET_VISIBLE_P99 = 2.0  # seconds from the POST's response to summary.json showing it
TARGET_POST_P99 = 0.200  # seconds
TARGET_THROUGHPUT_RATIO = 0.9  # page req/s with posts over without, at least
COMPONENT = "component-10"  # operational in the bench's data
LEAD, TAIL = 1.0, 3.0  # seconds of wrk before the first post and after the last
GIVE_UP = 10.0  # seconds after the last post to wait for updates not yet seen


# -- the poller --------------------------------------------------------------------------------
@dataclass
class Poll:
    sent: float
    received: float
    bodies: frozenset[str]


class Poller(threading.Thread):
    """GETs summary.json every ``interval`` s on a new connection; keeps the bench's bodies."""

    def __init__(self, port: int, marker: str, interval: float) -> None:
        super().__init__(name="poller", daemon=True)
        self.port, self.marker, self.interval = port, marker, interval
        self.polls: list[Poll] = []
        self.errors = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            sent = time.monotonic()
            try:
                bodies = self.fetch()
            except (OSError, ValueError, http.client.HTTPException):
                self.errors += 1
            else:
                self.polls.append(Poll(sent, time.monotonic(), bodies))
            self.stopping.wait(max(0.0, self.interval - (time.monotonic() - sent)))

    def fetch(self) -> frozenset[str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/api/v2/summary.json", headers={"Accept-Encoding": "gzip"})
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise ValueError(f"summary.json answered {response.status}")
        if response.getheader("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        return frozenset(
            update["body"]
            for incident in json.loads(raw)["incidents"]
            for update in incident["incident_updates"]
            if update["body"].startswith(self.marker)
        )

    def first_seen(self, body: str) -> float | None:
        return next((p.received for p in self.polls if body in p.bodies), None)

    def seen_by_all(self, body: str) -> float | None:
        """When the run of polls that show ``body`` up to the end began (its first poll)."""
        settled = None
        for poll in self.polls:
            if body not in poll.bodies:
                settled = None
            elif settled is None:
                settled = poll.received
        return settled

    def wait_for(self, bodies: list[str], deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.polls and all(b in self.polls[-1].bodies for b in bodies):
                return
            time.sleep(0.05)

    def stop(self) -> None:
        self.stopping.set()
        self.join()


# -- the API client ----------------------------------------------------------------------------
class Api:
    """/api/v1 through one requests session with an editor token."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def post(self, path: str, body: dict) -> tuple[float, float, int, dict]:
        """(seconds taken, monotonic time of the response, status, JSON answer)."""
        started = time.monotonic()
        response = self.session.post(self.base + path, json=body, timeout=30)
        done = time.monotonic()
        answer = response.json() if response.content else {}
        return done - started, done, response.status_code, answer

    def open_incident(self, name: str, body: str) -> int:
        payload = {
            "name": name,
            "impact": "minor",
            "components": {COMPONENT: "degraded_performance"},
            "body": body,
        }
        _, _, status, answer = self.post("/api/v1/incidents", payload)
        if status != 201:
            raise RuntimeError(f"POST /api/v1/incidents answered {status}: {answer}")
        return int(answer["id"])

    def resolve(self, incident_id: int) -> None:
        payload = {
            "status": "resolved",
            "body": "Resolved (bench).",
            "components": {COMPONENT: "operational"},
        }
        _, _, status, answer = self.post(f"/api/v1/incidents/{incident_id}/updates", payload)
        if status != 201:
            raise RuntimeError(f"resolving incident {incident_id} answered {status}: {answer}")


# -- one phase ---------------------------------------------------------------------------------
@dataclass
class Phase:
    kind: str  # "quiet" or "posts"
    round: int
    wrk: dict = field(default_factory=dict)
    app_cpu: float = 0.0  # cores used by gunicorn (master and workers), on average
    box_cpu: float = 0.0  # cores busy on the whole machine, on average
    post_seconds: list[float] = field(default_factory=list)
    post_errors: int = 0
    visible: list[float] = field(default_factory=list)  # first poll that shows it
    all_workers: list[float] = field(default_factory=list)  # from then on every poll
    unseen: int = 0
    poll_interval: float | None = None
    poll_errors: int = 0


def post_updates(api: Api, incident_id: int, marker: str, opts, start: float):
    """Posts ``opts.posts`` updates on a fixed schedule; returns [(body, response time)]."""
    sent, latencies, errors = [], [], 0
    for n in range(opts.posts):
        delay = start + n * opts.pace - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        body = f"{marker}{n:03d}"
        payload = {"status": "identified", "body": body}
        took, done, status, _ = api.post(f"/api/v1/incidents/{incident_id}/updates", payload)
        latencies.append(took)
        if status == 201:
            sent.append((body, done))
        else:
            errors += 1
    return sent, latencies, errors


def run_phase(kind: str, number: int, app, api: Api, opts) -> Phase:
    phase = Phase(kind, number)
    marker = f"ops-bench-{secrets.token_hex(4)}-{kind}-{number}-"
    incident_id = api.open_incident(f"Bench incident ({kind}, round {number})", marker + "open")
    poller = Poller(app.port, marker, opts.poll)
    poller.start()
    poller.wait_for([marker + "open"], time.monotonic() + GIVE_UP)
    time.sleep(2.0)  # every worker has the incident, the page is warm again
    duration = round(LEAD + (opts.posts - 1) * opts.pace + TAIL)
    cpu0, busy0, at0 = tree_cpu_seconds(app.proc.pid), box_busy_seconds()[0], time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        load = pool.submit(page_load, app, duration, opts.connections)
        if kind == "posts":
            start = time.monotonic() + LEAD
            sent, phase.post_seconds, phase.post_errors = post_updates(
                api, incident_id, marker, opts, start
            )
        phase.wrk = load.result()
    elapsed = time.monotonic() - at0
    phase.app_cpu = (tree_cpu_seconds(app.proc.pid) - cpu0) / elapsed
    phase.box_cpu = (box_busy_seconds()[0] - busy0) / elapsed
    if kind == "posts":
        poller.wait_for([b for b, _ in sent], time.monotonic() + GIVE_UP)
        time.sleep(3 * opts.poll)  # a few more polls for "all workers"
    poller.stop()
    api.resolve(incident_id)
    if kind == "posts":
        measure_visibility(phase, poller, sent)
    gaps = [b.sent - a.sent for a, b in zip(poller.polls, poller.polls[1:], strict=False)]
    phase.poll_interval = statistics.median(gaps) if gaps else None
    phase.poll_errors = poller.errors
    return phase


def page_load(app: App, duration: int, connections: int) -> dict:
    """wrk on ``/``; with 0 connections (diagnosis: no page load) just the wait."""
    if connections:
        return wrk(app.url + "/", duration, connections, app.accept)
    time.sleep(duration)
    return {"rps": 0.0, "p50_ms": 0.0, "p99_ms": 0.0, "errors": 0}


def measure_visibility(phase: Phase, poller: Poller, sent: list[tuple[str, float]]) -> None:
    for body, answered in sent:
        seen, settled = poller.first_seen(body), poller.seen_by_all(body)
        if seen is None:
            phase.unseen += 1
            continue
        phase.visible.append(seen - answered)
        phase.all_workers.append((settled or seen) - answered)


# -- set-up ------------------------------------------------------------------------------------
@dataclass
class App:
    proc: subprocess.Popen
    port: int
    url: str
    accept: dict[str, str]
    log: Path


@contextlib.contextmanager
def postgres_schema(url: str | None) -> Iterator[str | None]:
    """A fresh schema in the PostgreSQL database of ``url`` (dropped after), or None."""
    if url is None:
        yield None
        return
    if sa.make_url(url).get_backend_name() != "postgresql":
        sys.exit("--database-url: a postgresql+psycopg:// URL (SQLite is the default)")
    schema = f"bench_ops_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def editor_token(database_url: str) -> str:
    from status import ops
    from status.store import Store, make_engine

    store = Store(make_engine(database_url))
    try:
        _, token = ops.create_token(
            store, ops.Actor.system("bench"), name="bench", role_name="editor"
        )
    finally:
        store.dispose()
    return token


def start_app(procs: Processes, tmp: Path, database_url: str, config: Path) -> App:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "STATUS_CONFIG": str(config),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "LOG_LEVEL": "WARNING",
    }
    port = free_port()
    log = tmp / "gunicorn.log"
    gunicorn = str(ROOT / ".venv" / "bin" / "gunicorn")
    with log.open("w") as out:
        proc = procs.start(
            [gunicorn, *GUNICORN_ARGS, "--bind", f"127.0.0.1:{port}", "app:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(url + "/", proc)
    return App(proc, port, url, {"Accept-Encoding": "gzip"}, log)


# -- report ------------------------------------------------------------------------------------
def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def sec(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}"


def print_phases(phases: list[Phase]) -> None:
    print(
        f"{'round':>5} {'phase':6} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'err':>4} "
        f"{'app cores':>9} {'box':>5} {'POST p50/p99 ms':>16} {'visible p50/p99 s':>18} "
        f"{'all workers p99 s':>17}"
    )
    for p in phases:
        posts = visible = workers = ""
        if p.kind == "posts":
            posts = (
                f"{ms(percentile(p.post_seconds, 0.5))} / {ms(percentile(p.post_seconds, 0.99))}"
            )
            visible = f"{sec(percentile(p.visible, 0.5))} / {sec(percentile(p.visible, 0.99))}"
            workers = sec(percentile(p.all_workers, 0.99))
        w = p.wrk
        print(
            f"{p.round:5d} {p.kind:6} {w['rps']:7.0f} {w['p50_ms']:7.1f} {w['p99_ms']:7.1f} "
            f"{w['errors']:4d} {p.app_cpu:9.2f} {p.box_cpu:5.2f} {posts:>16} {visible:>18} "
            f"{workers:>17}"
        )


def summarise(phases: list[Phase]) -> dict:
    """Medians over the rounds of the per-round figures, and a few pooled ones."""
    posts = [p for p in phases if p.kind == "posts"]
    quiet = {p.round: p for p in phases if p.kind == "quiet"}

    def median(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    every = [s for p in posts for s in p.visible]
    return {
        "quiet_rps": median(q.wrk["rps"] for q in quiet.values()),
        "posts_rps": median(p.wrk["rps"] for p in posts),
        "ratio": median(p.wrk["rps"] / (quiet[p.round].wrk["rps"] or 1) for p in posts),
        "quiet_p99_ms": median(q.wrk["p99_ms"] for q in quiet.values()),
        "posts_p99_ms": median(p.wrk["p99_ms"] for p in posts),
        "post_p50": median(percentile(p.post_seconds, 0.5) for p in posts),
        "post_p99": median(percentile(p.post_seconds, 0.99) for p in posts),
        "visible_p50": median(percentile(p.visible, 0.5) for p in posts),
        "visible_p99": median(percentile(p.visible, 0.99) for p in posts),
        "all_workers_p99": median(percentile(p.all_workers, 0.99) for p in posts),
        "visible_p99_pooled": percentile(every, 0.99),
        "visible_max": max(every, default=None),
        "post_p99_pooled": percentile([s for p in posts for s in p.post_seconds], 0.99),
        "unseen": sum(p.unseen for p in posts),
        "post_errors": sum(p.post_errors for p in posts),
        "wrk_errors": sum(p.wrk["errors"] for p in phases),
        "poll_interval": median(p.poll_interval for p in phases),
        "poll_errors": sum(p.poll_errors for p in phases),
    }


def print_targets(s: dict) -> list[tuple[str, str, bool | None]]:
    checks = [
        (
            "visibility p99 < 2 s",
            f"{sec(s['visible_p99'])} s (p50 {sec(s['visible_p50'])} s; all workers "
            f"p99 {sec(s['all_workers_p99'])} s; {s['unseen']} never seen)",
            s["visible_p99"] is not None
            and s["visible_p99"] < TARGET_VISIBLE_P99
            and s["unseen"] == 0,
        ),
        (
            "POST p99 < 200 ms",
            f"{ms(s['post_p99'])} ms (p50 {ms(s['post_p50'])} ms; {s['post_errors']} errors)",
            s["post_p99"] is not None and s["post_p99"] < TARGET_POST_P99 and not s["post_errors"],
        ),
        (
            "page req/s with posts >= 0.9x",
            f"{s['ratio']:.2f}x ({s['posts_rps']:.0f} vs {s['quiet_rps']:.0f} req/s)",
            s["ratio"] >= TARGET_THROUGHPUT_RATIO if s["quiet_rps"] else None,
        ),
    ]
    print()
    for name, figure, ok in checks:
        verdict = "n/a (no page load)" if ok is None else "PASS" if ok else "FAIL"
        print(f"{name:32} {figure:62} {verdict}")
    return checks


def report(phases: list[Phase], opts, engine: str, log: Path) -> dict:
    print()
    print_phases(phases)
    s = summarise(phases)
    print(
        f"\nmedians over {opts.rounds} round(s), {engine}: / {s['quiet_rps']:.0f} req/s quiet, "
        f"{s['posts_rps']:.0f} with posts (p99 {s['quiet_p99_ms']:.1f} / "
        f"{s['posts_p99_ms']:.1f} ms); pooled over all posts: visibility p99 "
        f"{sec(s['visible_p99_pooled'])} s, max {sec(s['visible_max'])} s, POST p99 "
        f"{ms(s['post_p99_pooled'])} ms; summary.json polled every {ms(s['poll_interval'])} ms "
        f"({s['poll_errors']} poll errors, {s['wrk_errors']} wrk errors)"
    )
    lines = log.read_text(errors="replace").splitlines()
    problems = [line for line in lines if "WARNING" in line or "ERROR" in line]
    print(f"gunicorn log: {len(lines)} lines, {len(problems)} warnings/errors")
    for line in problems[:5]:
        print(f"  {line[:160]}")
    checks = print_targets(s)
    s["targets"] = [{"target": n, "figure": f, "pass": ok} for n, f, ok in checks]
    return s


# -- main --------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=60, help="updates per posts phase")
    parser.add_argument("--pace", type=float, default=1.0, help="seconds between posts")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (quiet, posts)")
    parser.add_argument(
        "--connections", type=int, default=64, help="wrk connections (0: no page load)"
    )
    parser.add_argument("--poll", type=float, default=0.03, help="seconds between polls")
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--quick", action="store_true", help="15 posts, 1 round")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("--json", type=Path, help="also write the figures there")
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.posts, opts.rounds = 15, 1
    return opts


def run(opts, procs: Processes, tmp: Path, database_url: str) -> tuple[list[Phase], Path]:
    config = tmp / "status.yaml"
    config.write_text(site_config())
    started = time.monotonic()
    populate(database_url, config)
    token = editor_token(database_url)
    print(f"data: 50 components, 90 days, 503 incidents ({time.monotonic() - started:.0f}s)")
    app = start_app(procs, tmp, database_url, config)
    api = Api(app.url, token)
    length = round(LEAD + (opts.posts - 1) * opts.pace + TAIL)
    print(
        f"{opts.rounds} round(s) of two {length}s phases, alternating; wrk -t2 "
        f"-c{opts.connections} on /, {opts.posts} updates every {opts.pace:g}s in 'posts'"
    )
    phases = []
    for number in range(1, opts.rounds + 1):
        order = ("quiet", "posts") if number % 2 else ("posts", "quiet")
        for kind in order:
            phase = run_phase(kind, number, app, api, opts)
            print(f"  round {number} {kind}: {phase.wrk['rps']:.0f} req/s", flush=True)
            phases.append(phase)
    return phases, app.log


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install wrk")
    engine = "PostgreSQL" if opts.database_url else "SQLite"
    began = time.monotonic()
    print(f"bench/ops.py at {code_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {engine}")
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    try:
        # The schema outlives the processes: they are stopped before it is dropped.
        with postgres_schema(opts.database_url) as pg_url, bench_environment(opts.keep) as env:
            procs, tmp = env
            database_url = pg_url or f"sqlite:///{tmp / 'bench.db'}"
            phases, log = run(opts, procs, tmp, database_url)
            figures = report(phases, opts, engine, log)
    except KeyboardInterrupt:
        print("interrupted; processes stopped and temp dir removed", file=sys.stderr)
        return 130
    print(f"\ntook {time.monotonic() - began:.0f}s; load average after: ", end="")
    print("{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if opts.json:
        document = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "code": code_version(),
            "engine": engine,
            "args": {k: str(v) for k, v in vars(opts).items()},
            "summary": figures,
            "phases": [asdict(p) for p in phases],
        }
        opts.json.write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
