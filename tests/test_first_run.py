"""What a newcomer meets in the first ten minutes, as they meet it: `make run`, the demo,
the `flask` commands beside it, and the one-line answers when something is in the way."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from probes import heartbeat
from probes.recorder import Recorder, checks_of
from status import demo, snapshot
from status.clock import utcnow
from status.config import load_config
from status.runtime import runtime
from status.store import Store, make_engine
from tests.conftest import ROOT, SECRET
from tests.test_process import environment, free_port, start, wait_for, wait_healthy


def run_app(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30
    )


# -- one line for what is in the way ------------------------------------------------------------
def test_a_port_in_use_is_said_in_one_line_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_app(environment(tmp_path, SECRET_KEY=SECRET, PORT=str(port)))
    assert result.returncode == 2
    said = [line for line in result.stderr.splitlines() if line.startswith("leitstand:")]
    assert len(said) == 1, result.stderr
    assert said[0].startswith(f"leitstand: port {port} is in use")
    assert "; set PORT=" in said[0]
    assert "Traceback" not in result.stderr
    for started in ("alembic", "probing", "serving", "worker"):  # nothing ran before the bind
        assert started not in result.stderr
    assert not (tmp_path / "leitstand.db").exists()  # nothing migrated, nothing probed


def test_a_bad_port_setting_names_the_variable_not_the_yaml(tmp_path):
    env = environment(tmp_path, SECRET_KEY=SECRET, PORT="abc")
    env["STATUS_CONFIG"] = str(ROOT / "status.example.yaml")  # which expands ${PORT} itself
    result = run_app(env)
    assert result.returncode == 2
    assert (
        result.stderr == "leitstand: PORT: not a port number: 'abc' (use 1 to 65535, e.g. 8080)\n"
    )


def test_a_bad_log_level_names_the_variable(tmp_path):
    result = run_app(environment(tmp_path, SECRET_KEY=SECRET, LOG_LEVEL="verbose"))
    assert result.returncode == 2
    assert result.stderr == (
        "leitstand: LOG_LEVEL: must be one of DEBUG, INFO, WARNING, ERROR, not 'verbose'\n"
    )


# -- a fresh start ------------------------------------------------------------------------------
def test_a_fresh_start_dates_its_status_from_the_start_not_1970(app, client):
    started = runtime(app).started_at
    first = client.get("/api/v2/status.json")
    updated = datetime.fromisoformat(first.json["page"]["updated_at"])
    assert started - timedelta(seconds=1) <= updated <= utcnow()
    for component in client.get("/api/v2/components.json").json["components"]:
        assert not component["created_at"].startswith("1970"), component
        assert not component["updated_at"].startswith("1970"), component

    # The same answer (and ETag) from a rebuilt snapshot: the start stays where it was.
    runtime(app).snapshots = None
    again = client.get("/api/v2/status.json")
    assert again.json["page"]["updated_at"] == first.json["page"]["updated_at"]


# -- the demo -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("jobs", "after"), [(True, "operational"), (False, "major_outage")])
def test_the_demo_stays_healthy_past_the_heartbeats_grace_time(db, jobs, after):
    # The example as `make run` runs it, twenty minutes in thirty-second steps: its
    # heartbeat (period 5m, grace 1m) checked every minute as the scheduler would. Without
    # the demo's own jobs (the control) nothing pings it and it goes red by itself.
    config = load_config(demo.EXAMPLE, environ={})
    player = demo.DemoJobs(db, lambda: config)
    recorder = Recorder(db, lambda: config, "default")
    checks = [c for c in checks_of(config).values() if c.spec.type == "heartbeat"]
    assert [c.component.id for c in checks] == ["call-recording"]
    db.heartbeats.tokens([c.key for c in checks])  # as the scheduler does on start
    began = utcnow()
    next_ping = began
    for step in range(40):
        now = began + timedelta(seconds=30 * step)
        if jobs and now >= next_ping:
            next_ping = now + timedelta(seconds=player.ping(now))
        if step % 2 == 0:
            results = [
                (c, heartbeat.evaluate(c.spec, db.heartbeats.get(*c.key), now)) for c in checks
            ]
            recorder.record([(c, r) for c, r in results if r is not None], now)
    assert db.components.states()["call-recording"].status == after
    view = snapshot.build(db, config, now)
    assert view.components["call-recording"].status == after
    assert (view.indicator(now) == "none") is jobs


def heartbeat_pinged(database_url: str) -> bool:
    store = Store(make_engine(database_url))
    try:
        row = store.heartbeats.get("call-recording", "heartbeat")
        return row is not None and row.last_ping_at is not None
    finally:
        store.dispose()


@pytest.mark.parametrize("copy", [False, True], ids=["example", "a-copy-of-it"])
def test_only_the_shipped_example_plays_its_own_jobs(tmp_path, copy):
    env = environment(tmp_path, SECRET_KEY=SECRET)
    env["STATUS_CONFIG"] = str(ROOT / "status.example.yaml")
    if copy:  # made into your own: there your archiver must ping
        env["STATUS_CONFIG"] = str(tmp_path / "mine.yaml")
        (tmp_path / "mine.yaml").write_text((ROOT / "status.example.yaml").read_text())
    proc = start(env)
    try:
        workers = wait_healthy(proc, env["PORT"])["workers"]
        assert ("demo" in workers) is not copy
        if not copy:
            wait_for(lambda: heartbeat_pinged(env["DATABASE_URL"]), bool, timeout=10)
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=15)
    assert ("demo: pinging call-recording/heartbeat every 150s" in stderr) is not copy
    if copy:
        assert not heartbeat_pinged(env["DATABASE_URL"])


# -- the flask commands beside `make run` --------------------------------------------------------
def checkout_for_make(tmp_path: Path) -> Path:
    """A folder laid out like the checkout (the code linked, its own instance/), where
    `make run` may write what it writes without touching the real one."""
    here = tmp_path / "checkout"
    here.mkdir()
    for name in ("Makefile", "app.py", "status.example.yaml", "requirements.txt", ".venv"):
        (here / name).symlink_to(ROOT / name)
    for name in ("status", "probes", "subscribers", "templates", "static", "translations"):
        (here / name).symlink_to(ROOT / name)
    (here / "migrations").symlink_to(ROOT / "migrations")
    return here


def shell_environment(**extra: str) -> dict[str, str]:
    """A newcomer's shell: none of our settings exported."""
    ours = ("STATUS_CONFIG", "PORT", "HOST", "DATABASE_URL", "SECRET_KEY", "SECRET_KEY_FILE")
    return {
        k: v for k, v in os.environ.items() if k not in ours and not k.startswith("FLASK_")
    } | extra


def test_the_flask_commands_find_the_config_and_port_make_run_used(tmp_path):
    here = checkout_for_make(tmp_path)
    port = str(free_port())
    # `PORT=... make run` (-o: the venv counts as installed, as it is; nothing is fetched)
    make = subprocess.Popen(
        ["make", "-s", "-o", ".venv/.installed", "run"],
        cwd=here,
        env=shell_environment(PORT=port),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_healthy(make, port)
        # Later, in the same shell, which never exported PORT or STATUS_CONFIG:
        flask = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "app"]
        listed = subprocess.run(
            [*flask, "heartbeats", "list"],
            cwd=here,
            env=shell_environment(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert listed.returncode == 0, listed.stderr
        assert re.fullmatch(
            rf"call-recording/heartbeat\thttp://127\.0\.0\.1:{port}/ping/[\w-]+\n", listed.stdout
        ), listed.stdout
        # ... and the URL it prints is the one the running server answers.
        url = listed.stdout.split("\t")[1].strip()
        with urllib.request.urlopen(url, timeout=5) as answer:
            assert answer.read() == b"OK\n"
        checked = subprocess.run(
            [*flask, "config", "check"],
            cwd=here,
            env=shell_environment(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert checked.stdout.startswith("status.example.yaml: ok:"), checked.stderr
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        make.communicate(timeout=20)


def test_without_make_run_the_flask_commands_say_what_to_set(tmp_path):
    here = checkout_for_make(tmp_path)  # no .flaskenv, no status.yaml
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", "heartbeats", "list"],
        cwd=here,
        env=shell_environment(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-2:] == [
        "Error: status.yaml: cannot read config: No such file or directory",
        "set STATUS_CONFIG to your config file (make run uses status.example.yaml, and leaves "
        "its settings in .flaskenv for the flask commands run here)",
    ]
