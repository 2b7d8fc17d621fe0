"""The probe worker as deployed: `flask --app app probes run`, and probes in all-in-one mode."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from status.store import Store, make_engine
from tests.conftest import ROOT, SECRET
from tests.test_process import environment, free_port, start, wait_for, wait_healthy


class Healthy(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args):
        pass


@pytest.fixture
def target():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Healthy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def probe_config(target: str) -> str:
    return (
        "site: {title: Probe Test, url: 'https://status.test'}\n"
        "components:\n"
        "  - id: web\n"
        "    name: Web\n"
        "    success_threshold: 1\n"
        f"    probes: [{{type: http, url: '{target}', interval: 1s, timeout: 500ms}}]\n"
    )


def start_probes(env: dict[str, str], config: str, *args: str) -> subprocess.Popen:
    """`flask --app app probes run ARGS` on a migrated database and the given config."""
    Path(env["STATUS_CONFIG"]).write_text(config)
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    return subprocess.Popen(
        [*flask, "probes", "run", *args],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def scrape(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except OSError:
        return ""


def test_the_worker_probes_serves_metrics_and_stops_on_sigterm(tmp_path, target):
    env = environment(tmp_path, SECRET_KEY=SECRET)
    metrics_port = free_port()
    proc = start_probes(
        env, probe_config(target), "--region", "fra", "--metrics", f"127.0.0.1:{metrics_port}"
    )
    try:
        metrics = wait_for(
            lambda: scrape(f"http://127.0.0.1:{metrics_port}/metrics"),
            lambda text: 'probe_success{component="web",probe="http",region="fra"} 1.0' in text,
            timeout=20,
        )
        assert 'probe_http_status_code{component="web",probe="http",region="fra"} 200.0' in metrics
        assert "leitstand_probe_lag_seconds_bucket" in metrics
        store = Store(make_engine(env["DATABASE_URL"]))
        wait_for(lambda: store.components.states().get("web"), lambda s: s is not None)
        assert store.components.states()["web"].status == "operational"
        assert {r.region for r in store.probes.results("web")} == {"fra"}
        store.dispose()

        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert time.monotonic() - started < 5


def test_all_in_one_shows_probe_metrics_on_the_web_endpoint(tmp_path, target):
    env = environment(tmp_path, SECRET_KEY=SECRET)
    Path(env["STATUS_CONFIG"]).write_text(probe_config(target))
    proc = start(env)
    try:
        wait_healthy(proc, env["PORT"])
        metrics = wait_for(
            lambda: scrape(f"http://127.0.0.1:{env['PORT']}/metrics"),
            lambda text: (
                'leitstand_component_status{component="web",status="operational"} 1.0' in text
            ),
            timeout=20,
        )
        assert 'probe_success{component="web",probe="http",region="default"} 1.0' in metrics
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_several_processes_share_the_checks_and_stand_in_for_a_dead_one(tmp_path, target):
    env = environment(tmp_path, SECRET_KEY=SECRET)
    components = "".join(
        f"  - {{id: c{i}, name: C{i}, success_threshold: 1,"
        f" probes: [{{type: http, url: '{target}', interval: 1s, timeout: 500ms}}]}}\n"
        for i in range(16)
    )
    port = free_port(2)  # port + 1 is the second process's
    proc = start_probes(
        env,
        "site: {title: Probe Test, url: 'https://status.test'}\ncomponents:\n" + components,
        *("--processes", "2", "--metrics", f"127.0.0.1:{port}"),
    )

    def probed(n: int) -> set[str]:
        text = scrape(f"http://127.0.0.1:{port + n}/metrics")
        return {
            line.split('component="')[1].split('"')[0]
            for line in text.splitlines()
            if line.startswith("probe_success{") and line.endswith(" 1.0")
        }

    everything = {f"c{i}" for i in range(16)}
    stderr = ""
    try:
        # Each process probes its share, none twice, all of them together.
        wait_for(
            lambda: (probed(0), probed(1)),
            lambda both: both[0] and both[1] and both[0] | both[1] == everything,
            timeout=30,
        )
        first, second = probed(0), probed(1)
        assert first.isdisjoint(second)
        workers = children(proc.pid)
        assert len(workers) == 2

        # A worker killed outright is forked again; the parent goes on.
        os.kill(workers[1], signal.SIGKILL)
        wait_for(
            lambda: children(proc.pid),
            lambda now: len(now) == 2 and workers[1] not in now,
            timeout=15,
        )
        wait_for(lambda: probed(0) | probed(1), lambda seen: seen == everything, timeout=30)

        # SIGHUP reaches every worker: a component added to the file is probed.
        config = Path(env["STATUS_CONFIG"])
        config.write_text(config.read_text() + components.replace("c0", "new-c0", 1).split("\n")[0])
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: probed(0) | probed(1), lambda seen: "new-c0" in seen, timeout=30)

        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    except BaseException:
        for pid in [*children(proc.pid), proc.pid]:
            os.kill(pid, signal.SIGKILL)
        print(proc.communicate(timeout=20)[1], file=sys.stderr)  # what the workers said
        raise
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "probe worker process 1 died" in stderr


def test_workers_stop_when_their_supervisor_is_killed_outright(tmp_path, target):
    env = environment(tmp_path, SECRET_KEY=SECRET)
    port = free_port(2)
    proc = start_probes(
        env, probe_config(target), "--processes", "2", "--metrics", f"127.0.0.1:{port}"
    )
    workers: list[int] = []
    try:
        forked = wait_for(lambda: children(proc.pid), lambda now: len(now) == 2, timeout=30)
        # One forked by the loader, one started afresh by the supervisor after a crash.
        os.kill(forked[1], signal.SIGKILL)
        workers = wait_for(
            lambda: children(proc.pid),
            lambda now: len(now) == 2 and forked[1] not in now,
            timeout=15,
        )
        wait_for(lambda: scrape(f"http://127.0.0.1:{port + 1}/metrics"), bool, timeout=30)
        proc.kill()  # SIGKILL: the supervisor cannot pass anything on
        proc.wait(5)

        def alive() -> list[int]:
            return [pid for pid in workers if Path(f"/proc/{pid}").exists() and not zombie(pid)]

        wait_for(alive, lambda pids: pids == [], timeout=15)
        _, stderr = proc.communicate(timeout=5)  # no worker holds the pipes any more
    finally:
        for pid in [*workers, proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert "probe worker process 1 started again" in stderr


def zombie(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    return False
