"""The static mirror: the same bytes as the app, rewritten soon after every change, and
served by nginx with the documented config as the app serves it."""

from __future__ import annotations

import contextlib
import http.client
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from bench import nginx_mirror
from status import ops
from status.runtime import runtime
from status.web.public import mirror as export
from status.web.public.cache import CACHE_CONTROL
from status.web.security import SECURITY_HEADERS
from tests.conftest import system_component_missing

ACTOR = ops.Actor("user", "alice@example.org")


def served(client, path: str) -> bytes:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data()


def test_it_writes_exactly_what_the_app_serves(app, client, tmp_path):
    store = runtime(app).store
    incident = ops.open_incident(
        store,
        ACTOR,
        name="Calls drop",
        status="investigating",
        impact="major",
        body="Looking into it.",
    )
    mirror = tmp_path / "mirror"
    report = export.export(app, mirror)

    assert "index.html" in report.written and f"incidents/{incident}.html" in report.written
    for path in export.public_paths(app):
        response = client.get(path)
        if response.status_code == 200:
            assert (mirror / export.file_for(path)).read_bytes() == response.get_data(), path
    assert (mirror / "index.html").read_bytes() == served(client, "/")


def test_it_rewrites_only_what_changed(app, tmp_path):
    mirror = tmp_path / "mirror"
    first = export.export(app, mirror)
    again = export.export(app, mirror)
    assert again.written == [] and again.unchanged == len(first.written)

    ops.set_component_status(
        runtime(app).store, "website", "major_outage", reason="down", source="console"
    )
    runtime(app).snapshots = None  # as if a second had passed
    changed = export.export(app, mirror)
    assert "index.html" in changed.written
    assert "Major Outage" in (mirror / "index.html").read_text()


def test_it_writes_the_most_recently_changed_pages_first(app):
    store = runtime(app).store
    t0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    ids = [
        ops.open_incident(
            store,
            ACTOR,
            name=f"Old {n}",
            status="resolved",
            impact="minor",
            body="x",
            at=t0 + timedelta(n),
        )
        for n in range(5)
    ]
    ops.update_incident(
        store, ACTOR, ids[1], status="postmortem", body="What happened", at=t0 + timedelta(9)
    )
    paths = export.public_paths(app)
    first = paths[len(export.FIXED_PATHS) :][:2]
    assert first == [f"/incidents/{ids[1]}", f"/incidents/{ids[4]}"]


def test_it_maps_urls_to_files_nginx_can_serve():
    assert export.file_for("/") == "index.html"
    assert export.file_for("/history") == "history.html"
    assert export.file_for("/history?page=3") == "history/page-3.html"
    assert export.file_for("/incidents/12") == "incidents/12.html"
    assert export.file_for("/api/v2/summary.json") == "api/v2/summary.json"
    assert export.file_for("/history.atom") == "history.atom"
    assert export.file_for("/static/style.css") == "static/style.css"


def test_watch_rewrites_within_two_seconds_of_a_change(app, tmp_path):
    mirror = tmp_path / "mirror"
    stopping = threading.Event()
    thread = threading.Thread(target=export.watch, args=(app, mirror, stopping, 0.2))
    thread.start()
    try:
        index = mirror / "index.html"
        deadline = time.monotonic() + 10
        while not index.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "Major Outage" not in index.read_text()

        ops.set_component_status(
            runtime(app).store, "sip-gateway", "major_outage", reason="down", source="console"
        )
        changed_at = time.monotonic()
        while "Major Outage" not in index.read_text() and time.monotonic() < changed_at + 5:
            time.sleep(0.05)
        assert "Major Outage" in index.read_text()
        assert time.monotonic() - changed_at < 2.0
    finally:
        stopping.set()
        thread.join(5)


def test_the_command_line_exports_once(app, runner, tmp_path):
    result = runner.invoke(args=["export", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{tmp_path / 'out'}: ") and "files written" in result.output
    assert Path(tmp_path / "out" / "index.html").exists()


# -- nginx with the config of docs/static-mirror.md ---------------------------------------
def ask(port: int, path: str, method: str = "GET", body: bytes | None = None):
    """(status, headers, body) of one request; no redirects followed, errors answered."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


@pytest.fixture
def nginx(app):
    """nginx serving the exported mirror with the documented config; the app behind it."""
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if not binary:
        system_component_missing("nginx", "install Debian's nginx package")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # Not pytest's tmp_path: nginx's workers may run as another user, who must read it.
    tmp = Path(tempfile.mkdtemp(prefix="leitstand-nginx-"))
    tmp.chmod(0o755)
    proc = None
    try:
        mirror = tmp / "mirror"
        export.export(app, mirror)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = nginx_mirror.on_loopback(mirror, port, server.server_port)
        (tmp / "nginx.conf").write_text(nginx_mirror.nginx_conf(tmp, config))
        proc = subprocess.Popen(
            nginx_mirror.command(tmp, binary), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError):
                ask(port, "/")
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (tmp / "error.log").read_text() if (tmp / "error.log").exists() else ""
                pytest.fail(f"nginx did not start: {proc.stdout.read().decode()}{log}")
            time.sleep(0.05)
        yield port, mirror
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGQUIT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        server.shutdown()
        server.server_close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_documented_nginx_config_serves_the_mirror_as_the_app_does(nginx):
    port, mirror = nginx
    types = {
        "/": "text/html",
        "/history": "text/html",
        "/static/style.css": "text/css",
        "/static/refresh.js": "application/javascript",
        "/favicon.svg": "image/svg+xml",
        "/api/v2/summary.json": "application/json",
        "/history.atom": "application/atom+xml",
        "/history.rss": "application/rss+xml",
        "/maintenance.ics": "text/calendar",
    }
    for path, mimetype in types.items():
        status, headers, body = ask(port, path)
        assert status == 200, path
        assert headers.get_content_type() == mimetype, (path, headers["Content-Type"])
        assert headers.get_all("Cache-Control") == [CACHE_CONTROL], path
        for name, value in SECURITY_HEADERS.items():
            assert headers.get_all(name) == [value], (path, name)
        cors = headers.get_all("Access-Control-Allow-Origin")
        assert cors == (["*"] if path.startswith("/api/v2/") else None), path
        assert body == (mirror / export.file_for(path)).read_bytes(), path

    assert ask(port, "/history?page=1")[2] == (mirror / "history.html").read_bytes()
    for missing in ("/history?page=2", "/history?page=abc", "/.leitstand-mirror", "/nothing"):
        assert ask(port, missing)[0] == 404, missing


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_nginx_leaves_what_the_mirror_cannot_answer_to_the_app(nginx):
    port, _mirror = nginx
    # A filtered feed is not in the mirror: the app answers it, not the unfiltered file.
    status, headers, body = ask(port, "/history.atom?component=nonexistent")
    assert status == 404 and b"<h1>Page not found</h1>" in body  # the app's own error page
    assert headers.get_all("Cache-Control") == [CACHE_CONTROL]  # the app's, nothing added
    assert ask(port, "/history.atom?component=website")[0] == 200

    status, headers, _body = ask(port, "/subscribe", "POST", b"email=alice%40example.com")
    assert status == 200  # "check your inbox": a sign-up is the app's
    assert headers.get_all("Cache-Control") == ["no-store"]  # the app's own, nothing added
    assert headers.get_all("Content-Security-Policy") == [
        SECURITY_HEADERS["Content-Security-Policy"]
    ]
