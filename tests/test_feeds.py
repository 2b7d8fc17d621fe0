"""The incident history feeds: /history.atom and /history.rss."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
import pytest

from status import ops
from status.runtime import runtime

ACTOR = ops.Actor("user", "alice@example.org")

FEEDS = ["/history.atom", "/history.rss"]
TAG = "tag:status.test.example,2005"


def fresh(app):
    """Forget the snapshot, so the next request sees what was just written."""
    runtime(app).snapshots = None


def fetch(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.data
    feed = feedparser.parse(response.data)
    assert feed.bozo == 0, feed.get("bozo_exception")
    return response, feed


def html_of(entry) -> str:
    return entry.content[0].value if "content" in entry else entry.description


def test_it_serves_incidents_and_maintenance_as_valid_feeds(app, client):
    store = runtime(app).store
    at = datetime(2024, 11, 24, 11, 0, tzinfo=UTC)
    incident = ops.open_incident(
        store,
        ACTOR,
        name="Calls dropping",
        status="investigating",
        impact="major",
        body="We are looking into it.",
        components={"sip-gateway": "major_outage"},
        at=at,
    )
    maintenance = ops.schedule_maintenance(
        store,
        ACTOR,
        name="Database upgrade",
        body="Short interruptions possible.",
        scheduled_for=at + timedelta(days=2),
        scheduled_until=at + timedelta(days=2, hours=2),
        components=["website"],
        at=at + timedelta(hours=1),
    )
    fresh(app)

    atom, feed = fetch(client, "/history.atom")
    assert atom.mimetype == "application/atom+xml"
    assert feed.version == "atom10"
    assert feed.feed.title == "Test Cloud Status - Incident History"
    assert feed.feed.id == f"{TAG}:/history"
    assert "https://status.test.example/history.atom" in [link.href for link in feed.feed.links]
    first, second = feed.entries
    assert first.id == f"{TAG}:Maintenance/{maintenance}"
    assert first.title == "Database upgrade"
    assert first.link == f"https://status.test.example/maintenance/{maintenance}"
    assert "THIS IS A SCHEDULED EVENT Nov 26, 12:00 - 14:00 CET" in html_of(first)
    assert second.id == f"{TAG}:Incident/{incident}"
    assert second.link == f"https://status.test.example/incidents/{incident}"
    assert second.published_parsed[:5] == (2024, 11, 24, 11, 0)
    assert "This incident affected: SIP Gateway." in html_of(second)

    rss, feed = fetch(client, "/history.rss")
    assert rss.mimetype == "application/rss+xml"
    assert feed.version == "rss20"
    assert feed.feed.link == "https://status.test.example/history"
    assert [e.id for e in feed.entries] == [first.id, second.id]
    assert feed.entries[1].link == f"https://status.test.example/incidents/{incident}"


@pytest.mark.parametrize("url", FEEDS)
def test_it_lists_updates_newest_first_with_time_and_bold_status(app, client, url):
    store = runtime(app).store
    at = datetime(2024, 11, 24, 11, 0, tzinfo=UTC)
    incident = ops.open_incident(
        store,
        ACTOR,
        name="Calls dropping",
        status="investigating",
        impact="minor",
        body="Looking.",
        at=at,
    )
    ops.update_incident(
        store,
        ACTOR,
        incident,
        status="identified",
        body="A bad deploy.",
        at=at + timedelta(minutes=30),
    )
    ops.update_incident(
        store,
        ACTOR,
        incident,
        status="resolved",
        body="Rolled back.",
        at=at + timedelta(hours=1, minutes=5),
    )
    fresh(app)

    _, feed = fetch(client, url)
    html = html_of(feed.entries[0])
    assert (
        "<p><small>Nov 24, 13:05 CET</small><br /><strong>Resolved</strong> - Rolled back.</p>"
        in html
    )
    positions = [html.index(f"<strong>{s}</strong>") for s in ("Resolved", "Identified")]
    assert positions == sorted(positions)
    assert html.index("Identified") < html.index("Investigating")
    assert "Nov 24, 12:00 CET" in html


@pytest.mark.parametrize("url", FEEDS)
def test_it_shows_markup_in_a_body_as_text(app, client, url):
    ops.open_incident(
        runtime(app).store,
        ACTOR,
        name="Odd <b>name</b>",
        status="investigating",
        impact="minor",
        body='Broken <script>alert("x")</script> & more',
    )
    fresh(app)

    response, feed = fetch(client, url)
    html = html_of(feed.entries[0])
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in html
    assert "<script" not in html
    # In the XML the HTML is escaped once more; a live tag would be escaped only once.
    assert b"&lt;script" not in response.data
    assert feed.entries[0].title == "Odd <b>name</b>"


def test_it_keeps_entry_ids_and_moves_updated_entries_to_the_top(app, client):
    store = runtime(app).store
    at = datetime(2024, 11, 1, tzinfo=UTC)
    old = ops.open_incident(
        store, ACTOR, name="Old", status="investigating", impact="minor", body="One.", at=at
    )
    ops.open_incident(
        store,
        ACTOR,
        name="New",
        status="investigating",
        impact="minor",
        body="Two.",
        at=at + timedelta(days=1),
    )
    fresh(app)
    _, before = fetch(client, "/history.atom")

    ops.update_incident(
        store, ACTOR, old, status="resolved", body="Done.", at=at + timedelta(days=2)
    )
    fresh(app)
    _, after = fetch(client, "/history.atom")

    assert [e.title for e in before.entries] == ["New", "Old"]
    assert [e.title for e in after.entries] == ["Old", "New"]
    assert {e.id for e in after.entries} == {e.id for e in before.entries}
    assert after.entries[0].id == f"{TAG}:Incident/{old}"
    assert after.entries[0].updated_parsed[:3] == (2024, 11, 3)
    assert after.entries[0].published_parsed[:3] == (2024, 11, 1)


@pytest.mark.parametrize("url", FEEDS)
def test_it_narrows_the_feed_to_one_component(app, client, url):
    store = runtime(app).store
    at = datetime(2024, 11, 1, tzinfo=UTC)
    ops.open_incident(
        store,
        ACTOR,
        name="Calls dropping",
        status="investigating",
        impact="major",
        body="Calls.",
        components={"sip-gateway": "major_outage"},
        at=at,
    )
    ops.open_incident(
        store,
        ACTOR,
        name="Site slow",
        status="investigating",
        impact="minor",
        body="Slow.",
        components={"website": "degraded_performance"},
        at=at,
    )
    ops.schedule_maintenance(
        store,
        ACTOR,
        name="New load balancer",
        body="Planned.",
        scheduled_for=at + timedelta(days=3),
        scheduled_until=at + timedelta(days=3, hours=1),
        components=["website"],
        at=at,
    )
    fresh(app)

    _, everything = fetch(client, url)
    _, website = fetch(client, f"{url}?component=website")
    _, sip = fetch(client, f"{url}?component=sip-gateway")

    assert len(everything.entries) == 3
    assert sorted(e.title for e in website.entries) == ["New load balancer", "Site slow"]
    assert [e.title for e in sip.entries] == ["Calls dropping"]
    assert website.feed.title == "Test Cloud Status - Website Incident History"
    assert website.feed.title != everything.feed.title


@pytest.mark.parametrize("url", FEEDS)
def test_it_answers_404_for_an_unknown_component(client, url):
    assert client.get(f"{url}?component=nope").status_code == 404


@pytest.mark.parametrize("url", FEEDS)
def test_it_serves_an_empty_history_that_stays_the_same(app, client, url):
    first, feed = fetch(client, url)
    assert feed.entries == []
    fresh(app)
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_it_answers_304_while_nothing_changed_and_200_after_a_change(app, client):
    store = runtime(app).store
    incident = ops.open_incident(
        store, ACTOR, name="Calls dropping", status="investigating", impact="minor", body="Looking."
    )
    fresh(app)
    first = client.get("/history.rss")
    assert first.headers["Cache-Control"] == "public, max-age=10, stale-while-revalidate=30"

    again = client.get("/history.rss", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""

    ops.update_incident(store, ACTOR, incident, status="resolved", body="Fixed.")
    fresh(app)
    changed = client.get("/history.rss", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    assert b"Fixed." in changed.data
