"""What a newcomer meets in the first ten minutes, as they meet it: `make run`, the demo,
the `flask` commands beside it, and the one-line answers when something is in the way."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import datetime, timedelta

from status.clock import utcnow
from status.runtime import runtime
from tests.conftest import ROOT, SECRET
from tests.test_process import environment


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
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # no traceback, no log of workers starting
    assert lines[0].startswith(f"leitstand: port {port} is in use")
    assert "; set PORT=" in lines[0]
    assert not (tmp_path / "leitstand.db").exists()  # nothing migrated, nothing probed


def test_a_bad_port_setting_names_the_variable_not_the_yaml(tmp_path):
    env = environment(tmp_path, SECRET_KEY=SECRET, PORT="abc")
    env["STATUS_CONFIG"] = str(ROOT / "status.example.yaml")  # which expands ${PORT} itself
    result = run_app(env)
    assert result.returncode == 2
    assert result.stderr == "leitstand: PORT: not a port number: 'abc' (use 1 to 65535, e.g. 8080)\n"


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
