"""/console/outbox: counts per event, failure reasons, the audited retry; admins only."""

from __future__ import annotations

import re

import pytest

from status.clock import utcnow
from status.runtime import runtime
from status.store.outbox import Outcome
from subscribers.outbox import fan_out
from tests.conftest import SECRET
from tests.subscribers.support import add_subscribers, incident
from tests.test_console import csrf, log_in, people  # noqa: F401  (the fixture)

REASON = "email: permanent: 550 5.1.1 no such user"


@pytest.fixture
def delivered(app):
    """One incident to three subscribers: one sent, one failed, one still pending."""
    store = runtime(app).store
    add_subscribers(store, ["a@example.org", "b@example.org", "c@example.org"])
    incident(store)
    fan_out(store, SECRET)
    rows = store.outbox.claim("tests", ["email"], limit=2, lease=60, now=utcnow())
    store.outbox.finish(Outcome(sent=[rows[0].id], failed=[(rows[1].id, REASON)]), utcnow())
    (event_id,) = {r.event_id for r in rows}
    return event_id


def console_as(app, people, role):  # noqa: F811
    client = app.test_client()
    assert log_in(client, people[role]).status_code == 302
    return client


def retry(client, event_id, with_token=True):
    data = {"csrf_token": csrf(client, "/console/outbox")} if with_token else {}
    return client.post(f"/console/outbox/{event_id}/retry", data=data)


def cells(page: str, event_id: int) -> list[str]:
    row = re.search(rf"<tr>\s*<td>{event_id}</td>(.*?)</tr>", page, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]


def test_it_shows_each_events_counts_and_why_rows_failed(app, people, delivered):  # noqa: F811
    page = console_as(app, people, "admin").get("/console/outbox")
    assert page.status_code == 200
    _when, what, pending, sent, failed, cancelled, why, button = cells(page.text, delivered)
    assert what.startswith("incident.opened")
    assert (pending, sent, failed, cancelled) == ("1", "1", "1", "0")
    assert REASON in why and "Retry failed" in button


def test_retry_puts_failed_rows_back_in_line_and_is_audited(app, people, delivered):  # noqa: F811
    store = runtime(app).store
    admin = console_as(app, people, "admin")
    response = retry(admin, delivered)
    assert response.status_code == 303
    assert store.outbox.by_event(delivered) == {"pending": 2, "sent": 1}
    entry = store.audit.entries()[-1]
    assert (entry.action, entry.target_id, entry.details) == ("outbox.retry", str(delivered),
                                                              {"rows": 1})  # fmt: skip
    assert entry.actor == f"user:{people['admin']}"
    again = admin.get("/console/outbox").text
    assert "1 failed notifications of event" in again
    assert retry(admin, delivered).status_code == 303  # nothing failed now: said so, no entry
    assert store.audit.entries()[-1].id == entry.id


def test_a_retry_without_the_csrf_token_is_refused(app, people, delivered):  # noqa: F811
    response = retry(console_as(app, people, "admin"), delivered, with_token=False)
    assert response.status_code == 400
    assert runtime(app).store.outbox.by_event(delivered)["failed"] == 1


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_editors_and_viewers_may_not_see_or_retry(app, people, delivered, role):  # noqa: F811
    client = console_as(app, people, role)
    assert client.get("/console/outbox").status_code == 403
    token = csrf(client, "/console/")
    response = client.post(f"/console/outbox/{delivered}/retry", data={"csrf_token": token})
    assert response.status_code == 403
    assert runtime(app).store.outbox.by_event(delivered)["failed"] == 1
    assert not [e for e in runtime(app).store.audit.entries() if e.action == "outbox.retry"]


def test_the_page_is_in_german_too(app, people, delivered):  # noqa: F811
    admin = console_as(app, people, "admin")
    page = admin.get("/console/outbox", headers={"Accept-Language": "de"}).text
    assert "Fehlgeschlagen" in page and "Fehlgeschlagene erneut senden" in page
    # Rows nobody should get any more are dropped, not "called off" like a window.
    assert "Verworfen" in page and "Abgesagt" not in page
