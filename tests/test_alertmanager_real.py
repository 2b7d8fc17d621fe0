"""A real Alertmanager (Debian's prometheus-alertmanager) on loopback delivers to the app.

Alerts go in through Alertmanager's own API (``/api/v2/alerts``); its webhook receiver,
configured here with a bearer token and ``send_resolved``, posts to
``/api/v1/alertmanager`` of the app served on loopback. Firing sets the component's
status and drafts one incident; Alertmanager's repeats open no second one; resolving
clears the status and resolves the incident.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from datetime import timedelta

import pytest
from werkzeug.serving import make_server

from status.clock import utcnow
from status.runtime import runtime
from tests import test_alerts, test_api_v1
from tests.conftest import system_component_missing
from tests.test_process import free_port

config_file, tokens = test_alerts.config_file, test_api_v1.tokens  # fixtures used here too
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
LABELS = {"alertname": "SipDown", "service": "telephony", "region": "eu", "severity": "critical"}


@pytest.fixture
def served(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def alertmanager(tmp_path, served, tokens):
    if ALERTMANAGER is None:
        system_component_missing(
            "prometheus-alertmanager", "apt-get install prometheus-alertmanager"
        )
    port = free_port()
    config = {
        "route": {
            "receiver": "leitstand",
            "group_by": ["service"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "2s",
        },
        "receivers": [
            {
                "name": "leitstand",
                "webhook_configs": [
                    {
                        "url": f"{served}/api/v1/alertmanager",
                        "send_resolved": True,
                        "http_config": {
                            "authorization": {"type": "Bearer", "credentials": tokens["editor"]}
                        },
                    }
                ],
            }
        ],
    }
    (tmp_path / "alertmanager.yml").write_text(json.dumps(config))  # JSON is YAML
    log = (tmp_path / "alertmanager.log").open("w")
    proc = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # one instance: no gossip port
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        until(lambda: _get(f"{url}/-/ready") == 200, 20, "Alertmanager to start", tmp_path)
        yield url
    finally:
        proc.kill()
        proc.wait(10)
        log.close()


def _get(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status
    except OSError:
        return None


def post_alert(alertmanager: str, *, resolved: bool = False) -> None:
    now = utcnow()
    alert = {
        "labels": LABELS,
        "annotations": {"summary": "Calls to the EU SIP gateway fail"},
        "startsAt": (now - timedelta(minutes=1)).isoformat(),
        "endsAt": (now if resolved else now + timedelta(minutes=10)).isoformat(),
        "generatorURL": "http://prometheus.test/graph",
    }
    request = urllib.request.Request(
        f"{alertmanager}/api/v2/alerts",
        data=json.dumps([alert]).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.status == 200


def until(check, timeout: float, what: str, tmp_path=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    log = (tmp_path / "alertmanager.log").read_text()[-2000:] if tmp_path else ""
    pytest.fail(f"waited {timeout}s for {what}\n{log}")


def test_alertmanagers_webhook_drives_the_component_and_one_incident(app, alertmanager, tmp_path):
    store = runtime(app).store

    def status() -> str | None:
        return store.alerts.statuses(utcnow()).get("sip-gateway")

    post_alert(alertmanager)
    until(lambda: status() == "major_outage", 20, "the firing alert", tmp_path)
    until(lambda: store.incidents.all(), 5, "the group's incident", tmp_path)
    [incident] = store.incidents.all()
    assert incident.draft and incident.name == "Calls to the EU SIP gateway fail"

    time.sleep(5)  # Alertmanager repeats the group every 2 s
    post_alert(alertmanager)  # and the alert's source sends it again
    time.sleep(2)
    assert [row.id for row in store.incidents.all()] == [incident.id]
    firing = [e for e in store.audit.entries(limit=200) if e.action == "alert.firing"]
    assert len(firing) == 1 and firing[0].actor == "alertmanager:editor-bot"

    post_alert(alertmanager, resolved=True)
    until(lambda: status() is None, 20, "the resolved alert", tmp_path)
    until(lambda: store.incidents.get(incident.id).status == "resolved", 5, "the incident")
