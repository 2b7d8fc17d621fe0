"""What /metrics and /healthz say about the outbox; the command is registered."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from status import schema as t
from status.clock import utcnow
from status.runtime import runtime
from subscribers.outbox import fan_out
from tests.conftest import SECRET
from tests.subscribers.support import add_subscribers, incident


def samples(client) -> dict:
    text = client.get("/metrics").get_data(as_text=True)
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_pending_failed_and_sent_from_the_database(app, client):
    store = runtime(app).store
    add_subscribers(store, [f"s{i}@example.org" for i in range(3)])
    add_subscribers(store, ["gone@example.org"], state="bouncing")
    incident(store)
    fan_out(store, SECRET)
    first, second, _ = store.outbox.rows()
    with store.engine.begin() as conn:
        conn.execute(sa.update(t.outbox).where(t.outbox.c.id == first.id).values(state="sent"))
        conn.execute(sa.update(t.outbox).where(t.outbox.c.id == second.id).values(state="failed"))

    found = samples(client)
    assert found[("leitstand_outbox_pending", ())] == 1
    assert found[("leitstand_outbox_failed_total", ())] == 1
    assert found[("leitstand_notifications_sent_total", (("channel", "email"),))] == 1
    assert found[("leitstand_subscribers", (("state", "confirmed"),))] == 3
    assert found[("leitstand_subscribers", (("state", "bouncing"),))] == 1


def test_healthz_shows_the_age_of_the_oldest_pending_notification(app, client):
    store = runtime(app).store
    add_subscribers(store, ["alice@example.org"])
    incident(store)
    fan_out(store, SECRET)
    with store.engine.begin() as conn:
        conn.execute(sa.update(t.outbox).values(created_at=utcnow() - timedelta(minutes=5)))
    outbox = client.get("/healthz").json["outbox"]
    assert outbox["pending"] == 1
    assert 299 <= outbox["oldest_pending_age_seconds"] <= 330


def test_notify_run_is_a_command_and_needs_the_secret(app, runner):
    result = runner.invoke(args=["notify", "run", "--help"])
    assert result.exit_code == 0 and "--concurrency" in result.output
    app.config["SECRET_KEY"] = ""
    result = runner.invoke(args=["notify", "run"])
    assert result.exit_code != 0 and "SECRET_KEY" in result.output
