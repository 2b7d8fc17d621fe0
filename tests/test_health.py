from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from app import create_app
from status.runtime import Supervisor, runtime
from tests.conftest import SECRET


def test_it_is_healthy_with_a_migrated_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "database": "ok",
        "config": "ok",
        "outbox": {"pending": 0, "oldest_pending_age_seconds": 0.0},
    }
    assert response.headers["Cache-Control"] == "no-store"


def make_app(config_file, database_url):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": SECRET,
            "DATABASE_URL": database_url,
            "STATUS_CONFIG": str(config_file),
        }
    )


def test_it_is_unhealthy_and_says_why_when_the_database_is_unreachable(config_file):
    # Nothing listens on port 9 of loopback: a database that is gone.
    app = make_app(config_file, "postgresql+psycopg://postgres@127.0.0.1:9/test")
    started = time.monotonic()
    response = app.test_client().get("/healthz")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json["status"] == "error"
    assert response.json["database"].startswith("unreachable: OperationalError")
    assert response.json["config"] == "ok"


def test_it_is_unhealthy_when_the_database_was_never_migrated(config_file, database_url):
    response = make_app(config_file, database_url).test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "not migrated: run `flask --app app db upgrade`"


def test_it_is_unhealthy_when_the_schema_vanishes_under_a_running_app(app, client, database_url):
    assert client.get("/healthz").status_code == 200
    with runtime(app).store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "not migrated" in response.json["database"]


def test_it_reports_a_stale_config_but_keeps_serving(app, client, config_file):
    config_file.write_text("site: [this is not valid\n")
    assert runtime(app).config_holder.reload() is False

    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["config"].startswith(f"stale: reload refused: {config_file}: line ")
    assert client.get("/").status_code == 200


def test_it_reports_a_crashed_worker_and_its_restart(app, client):
    calls = []

    def flaky(stopping: threading.Event) -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise ValueError("boom")
        stopping.wait()

    supervisor = runtime(app).supervisor = Supervisor(backoff=0.2)
    supervisor.add("probes", flaky)
    supervisor.start()
    try:
        deadline = time.monotonic() + 5
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(calls) == 2, "the crashed worker was not restarted"
        assert calls[1] - calls[0] >= 0.2
        time.sleep(0.05)
        response = client.get("/healthz")
        assert response.status_code == 200
        probes = response.json["workers"]["probes"]
        assert probes["state"] == "running"
        assert probes["restarts"] == 1
        assert probes["last_error"] == "ValueError: boom"
    finally:
        supervisor.stop(timeout=2)
    assert client.get("/healthz").status_code == 503  # stopped workers are not healthy


def test_it_is_unhealthy_while_a_worker_waits_to_restart(app, client):
    def broken(stopping):
        raise OSError("port in use")

    supervisor = runtime(app).supervisor = Supervisor(backoff=30)
    supervisor.add("notifier", broken)
    supervisor.start()
    try:
        deadline = time.monotonic() + 5
        while supervisor.workers["notifier"].restarts == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json["workers"]["notifier"]["state"] == "restarting"
        assert response.json["workers"]["notifier"]["last_error"] == "OSError: port in use"
    finally:
        supervisor.stop(timeout=2)


def test_it_stops_a_supervised_worker_promptly():
    stopped = threading.Event()

    def worker(stopping):
        stopping.wait()
        stopped.set()

    supervisor = Supervisor()
    supervisor.add("w", worker)
    supervisor.start()
    started = time.monotonic()
    supervisor.stop(timeout=5)
    assert stopped.is_set() and time.monotonic() - started < 1
    assert supervisor.health()["w"]["state"] == "stopped"
