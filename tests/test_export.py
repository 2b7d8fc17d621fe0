"""The static mirror: the same bytes as the app, rewritten soon after every change."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from status import export
from status.runtime import runtime


def served(client, path: str) -> bytes:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data()


def test_it_writes_exactly_what_the_app_serves(app, client, tmp_path):
    store = runtime(app).store
    incident = store.create_incident(
        name="Calls drop", status="investigating", impact="major", body="Looking into it."
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

    runtime(app).store.set_component_status(
        "website", "major_outage", reason="down", source="console"
    )
    runtime(app).snapshots = None  # as if a second had passed
    changed = export.export(app, mirror)
    assert "index.html" in changed.written
    assert "Major Outage" in (mirror / "index.html").read_text()


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

        runtime(app).store.set_component_status(
            "sip-gateway", "major_outage", reason="down", source="console"
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
