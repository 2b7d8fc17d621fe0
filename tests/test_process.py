"""The all-in-one process as a user starts it: `python app.py`."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from app import create_app
from status.ops import set_component_status
from status.settings import SettingsError
from status.store import Store
from status.store.engine import make_engine
from tests.conftest import MINIMAL_CONFIG, ROOT, SECRET
from tests.subscribers.support import (
    add_subscribers,
    config_text,
    incident,
    smtp_server,
    wait_until,
)


def free_port(count: int = 1) -> int:
    """A port on loopback nobody listens on, and the ``count - 1`` after it as well."""
    while True:
        with contextlib.ExitStack() as stack:
            first = stack.enter_context(socket.socket())
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                for n in range(1, count):
                    stack.enter_context(socket.socket()).bind(("127.0.0.1", port + n))
            except OSError:
                continue  # one of them is taken: try another run of ports
            return port


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "SECRET_KEY_FILE")}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'leitstand.db'}",
        STATUS_CONFIG=str(tmp_path / "status.yaml"),
        PORT=str(free_port()),
        LOG_LEVEL="INFO",
    )
    env.update(extra)
    (tmp_path / "status.yaml").write_text(MINIMAL_CONFIG)
    return env


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def start(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_healthy(proc: subprocess.Popen, port: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app.py exited early: {proc.stderr.read()}")
        try:
            status, body = get_json(f"http://127.0.0.1:{port}/healthz")
            if status == 200:
                return body
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"app.py did not become healthy: {proc.communicate()[1]}")


def test_it_refuses_to_start_without_a_secret_key(tmp_path):
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("leitstand: SECRET_KEY is not set")
    assert not (tmp_path / "leitstand.db").exists()


def test_create_app_refuses_without_a_secret_key_outside_tests(config_file, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)
    with pytest.raises(SettingsError, match="SECRET_KEY is not set"):
        create_app({"STATUS_CONFIG": str(config_file)})
    with pytest.raises(SettingsError, match="too short"):
        create_app({"STATUS_CONFIG": str(config_file), "SECRET_KEY": "dev"})


def test_it_refuses_to_start_with_an_invalid_config_naming_the_yaml_path(tmp_path):
    env = environment(tmp_path, SECRET_KEY=SECRET)
    Path(env["STATUS_CONFIG"]).write_text(MINIMAL_CONFIG + "    failure_threshold: 0\n")
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"leitstand: {env['STATUS_CONFIG']}: components[1].failure_threshold: "
    )


def test_it_serves_reloads_and_stops_cleanly(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    env = environment(tmp_path, SECRET_KEY_FILE=str(secret_file))
    proc = start(env)
    try:
        body = wait_healthy(proc, env["PORT"])
        assert body["database"] == "ok"
        assert body["workers"]["config"]["state"] == "running"
        with urllib.request.urlopen(f"http://127.0.0.1:{env['PORT']}/", timeout=5) as page:
            html = page.read().decode()
        assert "Test Cloud Status" in html and "SIP Gateway" in html
        assert page.headers["Server"] == "leitstand"  # waitress, not Flask's dev server

        # A broken edit is refused and the last good config keeps serving.
        config = Path(env["STATUS_CONFIG"])
        config.write_text(MINIMAL_CONFIG.replace("Test Cloud", "Broken") + "  - {id: x}\n")
        proc.send_signal(signal.SIGHUP)
        body = wait_for(
            lambda: get_json(f"http://127.0.0.1:{env['PORT']}/healthz")[1],
            lambda b: b["config"].startswith("stale"),
        )
        assert "components[2].name: required" in body["config"]

        # A good edit is picked up from the file alone, no signal needed.
        config.write_text(MINIMAL_CONFIG.replace("Test Cloud", "Renamed Cloud"))
        wait_for(
            lambda: get_json(f"http://127.0.0.1:{env['PORT']}/healthz")[1],
            lambda b: b["config"] == "ok",
        )
        # The page follows within a couple of seconds (refreshed behind the requests).
        wait_for(
            lambda: (
                urllib.request.urlopen(f"http://127.0.0.1:{env['PORT']}/", timeout=5)
                .read()
                .decode()
            ),
            lambda html: "Renamed Cloud Status" in html,
            timeout=5,
        )

        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "SIGTERM: shutting down" in stderr
    assert stderr.rstrip().endswith("leitstand: stopped")
    # One line per event: time, level, logger, message.
    line = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) [\w.]+: ")
    assert [text for text in stderr.splitlines() if not line.match(text)] == []


def test_sighup_alone_reloads_an_edit_the_file_watcher_cannot_see(tmp_path):
    env = environment(tmp_path, SECRET_KEY=SECRET)
    config = Path(env["STATUS_CONFIG"])
    healthz = f"http://127.0.0.1:{env['PORT']}/healthz"
    proc = start(env)
    try:
        assert wait_healthy(proc, env["PORT"])["config"] == "ok"

        # Same size and mtime: the watcher's (mtime, size) stamp does not move.
        rewrite_unseen(config, MINIMAL_CONFIG.replace("name: Website", "nome: Website"))
        time.sleep(2.5)  # longer than the watcher's 2 s poll
        assert get_json(healthz)[1]["config"] == "ok"
        proc.send_signal(signal.SIGHUP)
        body = wait_for(lambda: get_json(healthz)[1], lambda b: b["config"] != "ok")
        assert "components[1].nome: unknown key" in body["config"]

        rewrite_unseen(config, MINIMAL_CONFIG.replace("Test Cloud", "Tost Cloud"))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: get_json(healthz)[1], lambda b: b["config"] == "ok")
        wait_for(
            lambda: (
                urllib.request.urlopen(f"http://127.0.0.1:{env['PORT']}/", timeout=5)
                .read()
                .decode()
            ),
            lambda html: "Tost Cloud Status" in html,
            timeout=5,
        )
    finally:
        proc.kill()
        proc.communicate()


def rewrite_unseen(path: Path, text: str) -> None:
    """Replace the file's content, keeping its size and modification time."""
    before = path.stat()
    assert len(text.encode()) == before.st_size
    path.write_text(text)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_the_example_config_probes_the_app_on_its_port(tmp_path):
    # The example as `PORT=... make run` uses it, with probes every second to keep it fast.
    example = (ROOT / "status.example.yaml").read_text()
    example = re.sub(r"interval: \w+", "interval: 1s", example).replace(
        "timeout: 5s", "timeout: 900ms"
    )
    env = environment(tmp_path, SECRET_KEY=SECRET)
    Path(env["STATUS_CONFIG"]).write_text(example)
    proc = start(env)
    try:
        wait_healthy(proc, env["PORT"])
        succeeded = wait_for(
            lambda: probe_successes(f"http://127.0.0.1:{env['PORT']}/metrics"),
            lambda ok: ok >= {"sip-gateway", "media-relay", "agent-desktop", "reporting", "api"},
        )
        assert "call-recording" not in succeeded  # a heartbeat nobody pings
    finally:
        proc.kill()
        proc.communicate()


def probe_successes(url: str) -> set[str]:
    """The components with a succeeding probe, from `probe_success` on /metrics."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    found = re.findall(r'^probe_success\{[^}]*component="([^"]+)"[^}]*\} 1\.0$', text, re.M)
    return set(found)


def wait_for(fetch, done, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fetch()
        if done(value):
            return value
        time.sleep(0.1)
    pytest.fail(f"condition not reached; last value {value!r}")


def test_the_all_in_one_notifies_subscribers_and_announces_component_changes(tmp_path):
    with smtp_server() as smtp:
        env = environment(tmp_path, SECRET_KEY=SECRET)
        Path(env["STATUS_CONFIG"]).write_text(config_text(smtp.port))
        proc = start(env)
        try:
            body = wait_healthy(proc, env["PORT"])
            assert body["workers"]["notifier"]["state"] == "running"
            assert body["workers"]["clock"]["state"] == "running"
            store = Store(make_engine(env["DATABASE_URL"]))
            add_subscribers(store, ["bob@example.org"])
            incident(store, name="Calls failing")
            assert wait_until(lambda: smtp.mailbox.to("bob@example.org"), timeout=20)
            (mail,) = smtp.mailbox.to("bob@example.org")
            assert mail["Subject"] == "[Test Cloud Status] Investigating: Calls failing"

            # The clock noted every component first; a change is announced.
            assert wait_until(lambda: store.meta.value("announced_statuses"), timeout=10)
            set_component_status(store, "website", "major_outage", reason="x", source="test")
            assert wait_until(
                lambda: [e for e in store.events.after() if e.kind == "component.updated"],
                timeout=10,
            )
            store.dispose()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
