"""The public status page: /, /history, permalinks, languages, caching, headers, fallbacks."""

from __future__ import annotations

import gettext
import itertools
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from status import ops, schema
from status.clock import utcnow
from status.i18n import TRANSLATIONS
from status.rules import INDICATOR_DESCRIPTIONS
from status.runtime import runtime
from status.snapshot import SnapshotCache
from status.store import Store, make_engine
from status.web.labels import BANNER
from status.web.public.viewmodels import month_start, months_back
from tests.conftest import MINIMAL_CONFIG, ROOT

ACTOR = ops.Actor("user", "alice@example.org")

BERLIN = "Europe/Berlin"
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:9/x"


class Parsed(HTMLParser):
    """Tags with their attributes, in document order; enough to check structure."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def fresh(app) -> None:
    """Forget the snapshot, so the next request reads what the test just wrote."""
    runtime(app).snapshots = None


def get(client, url: str = "/", **headers: str) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.data[:500]
    return response.get_data(as_text=True)


def banner(html: str) -> tuple[str, str]:
    """(css state, text) of the overall banner."""
    match = re.search(r'class="banner banner-(\w+)"[^>]*>.*?<span>(.*?)</span>', html, re.S)
    assert match, "no banner"
    return match.group(1), match.group(2)


def write_config(app, text: str) -> None:
    holder = runtime(app).config_holder
    with open(holder.path, "w") as f:
        f.write(text)
    assert holder.reload()
    fresh(app)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- the banner and the components, in every state -------------------------------------------
def _operational(store):
    pass


def _degraded(store):
    ops.set_component_status(store, "sip-gateway", "degraded_performance", reason="t", source="t")


def _partial(store):
    ops.set_component_status(store, "sip-gateway", "partial_outage", reason="t", source="t")


def _major(store):
    ops.set_component_status(store, "sip-gateway", "major_outage", reason="t", source="t")
    ops.set_component_status(store, "website", "partial_outage", reason="t", source="t")


def _maintenance(store):
    now = utcnow()
    ops.schedule_maintenance(
        store,
        ACTOR,
        name="Database move",
        body="Moving.",
        scheduled_for=now - timedelta(minutes=5),
        scheduled_until=now + timedelta(hours=1),
        components=["website"],
    )
    ops.set_component_status(store, "website", "under_maintenance", reason="t", source="t")


def _partial_data(store):
    ops.set_component_status(store, "sip-gateway", "unknown", reason="t", source="t")
    ops.set_component_status(store, "website", "operational", reason="t", source="t")


def _no_data(store):
    ops.set_component_status(store, "sip-gateway", "unknown", reason="t", source="t")
    ops.set_component_status(store, "website", "unknown", reason="t", source="t")


@pytest.mark.parametrize(
    ("setup", "state", "english", "german", "status", "label"),
    [
        (_operational, "none", "All Systems Operational", "Alle Systeme betriebsbereit",
         "operational", "Operational"),
        (_degraded, "minor", "Minor Service Outage", "Geringfügige Dienststörung",
         "degraded_performance", "Degraded Performance"),
        (_partial, "major", "Partial System Outage", "Teilweiser Systemausfall",
         "partial_outage", "Partial Outage"),
        (_major, "critical", "Major Service Outage", "Schwerer Dienstausfall",
         "major_outage", "Major Outage"),
        (_maintenance, "maintenance", "Service Under Maintenance", "Wartungsarbeiten im Gange",
         "under_maintenance", "Under Maintenance"),
        (_no_data, "no_data", "No Current Status Data", "Keine aktuellen Statusdaten",
         "unknown", "No data"),
        (_partial_data, "partial_data",
         "Operational where measured; some components have no current data",
         "Betriebsbereit, soweit gemessen; für einige Komponenten fehlen aktuelle Daten",
         "unknown", "No data"),
    ],
)  # fmt: skip
def test_it_words_the_banner_as_statuspage_in_each_state(
    app, client, setup, state, english, german, status, label
):
    setup(runtime(app).store)
    fresh(app)

    html = get(client)
    assert banner(html) == (state, english)
    assert "Test Cloud Status" in html and "SIP Gateway" in html
    # The status as text and as an icon (a shape), never as colour alone.
    assert f'<span class="status status-{status}"><svg class="icon icon-{status}"' in html
    assert f'<span class="status-label">{label}</span>' in html
    assert f'href="/favicon.svg?s={state}"' in html

    german_html = get(client, **{"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert banner(german_html) == (state, german)
    assert '<html lang="de">' in german_html


def test_it_shows_active_incidents_with_their_latest_update(app, client):
    store = runtime(app).store
    now = utcnow()
    incident = ops.open_incident(
        store,
        ACTOR,
        name="Calls fail",
        status="investigating",
        impact="critical",
        body="We are looking into it.",
        components={"sip-gateway": "major_outage"},
        at=now - timedelta(hours=1),
    )
    ops.update_incident(store, ACTOR, incident, status="identified", body="The *carrier* is down.")
    resolved = ops.open_incident(
        store, ACTOR, name="Old trouble", status="resolved", impact="minor", body="Fixed.", at=now
    )
    fresh(app)

    html = get(client)
    assert f'<a href="/incidents/{incident}">Calls fail</a>' in html
    assert "<strong>Identified</strong>" in html
    assert "The <em>carrier</em> is down." in html
    assert "We are looking into it." not in html  # only the latest update on the front page
    assert "Affected: SIP Gateway" in html
    assert f"/incidents/{resolved}" not in html  # resolved: in the history, not here
    assert banner(html) == ("critical", "Major Service Outage")


def test_it_shows_maintenance_in_progress_and_upcoming(app, client):
    store = runtime(app).store
    now = utcnow()
    active = ops.schedule_maintenance(
        store,
        ACTOR,
        name="Database move",
        body="Moving the database.",
        scheduled_for=now - timedelta(minutes=5),
        scheduled_until=now + timedelta(hours=1),
        components=["website"],
    )
    upcoming = ops.schedule_maintenance(
        store,
        ACTOR,
        name="Upgrade",
        body="New version.",
        scheduled_for=now + timedelta(days=2),
        scheduled_until=now + timedelta(days=2, hours=2),
        components=["sip-gateway"],
    )
    fresh(app)

    html = get(client)
    in_progress = html.index("Maintenance in progress")
    scheduled = html.index("Scheduled maintenance")
    assert in_progress < html.index(f'href="/maintenance/{active}"') < scheduled
    assert scheduled < html.index(f'href="/maintenance/{upcoming}"')
    # The window's only update is the announcement: it says "Scheduled", and when.
    assert "<strong>Scheduled</strong>" in html and "Moving the database." in html
    assert "<strong>In Progress</strong>" not in html
    assert banner(html) == ("maintenance", "Service Under Maintenance")


def test_it_draws_the_uptime_bar_with_details_for_every_day(app, client):
    store = runtime(app).store
    now = utcnow()
    today = now.astimezone(runtime(app).config.site.tz).date()
    store.rollups.save(
        [
            {
                "component_id": "sip-gateway",
                "day": today - timedelta(days=1),
                "checks": 10,
                "failures": 5,
                "seconds_operational": 43200.0,
                "seconds_major": 43200.0,
            },
            {
                "component_id": "sip-gateway",
                "day": today - timedelta(days=2),
                "checks": 10,
                "failures": 0,
                "seconds_operational": 86400.0,
                "seconds_major": 0.0,
            },
            {  # beyond the 30 days a narrow screen shows
                "component_id": "sip-gateway",
                "day": today - timedelta(days=40),
                "checks": 10,
                "failures": 10,
                "seconds_operational": 0.0,
                "seconds_major": 86400.0,
            },
        ]
    )
    incident = ops.open_incident(
        store,
        ACTOR,
        name="Calls fail",
        status="investigating",
        impact="major",
        body="Looking.",
        components={"sip-gateway": "partial_outage"},
    )
    fresh(app)

    html = get(client)
    gateway = html[
        html.index("Daily uptime of SIP Gateway") : html.index("Daily uptime of Website")
    ]
    days = re.findall(r'<li class="day-(\w+)" tabindex="0">', gateway)
    assert len(days) == 90
    assert days[-3:] == ["operational", "major_outage", "unknown"]  # today: no rollup yet
    assert days.count("unknown") == 87
    yesterday = gateway.split('<li class="day-')[-2]
    assert "50.00% uptime" in yesterday and "Major Outage: 12 hours" in yesterday
    assert "100.00% uptime" in gateway.split('<li class="day-')[-3]
    assert "No data" in gateway.split('<li class="day-')[1]
    assert f'<a href="/incidents/{incident}">Calls fail</a>' in days_html(gateway, -1)
    # Each total leaves out the days without data and covers the days its bar shows:
    # 90 days (1 + 0.5 + 0) / 3; on narrow screens, which show 30 days, (1 + 0.5) / 2.
    assert '<span class="uptime-total scale-long">50.00% uptime</span>' in gateway
    assert '<span class="uptime-total scale-short">75.00% uptime</span>' in gateway


def days_html(section: str, index: int) -> str:
    return section.split('<li class="day-')[index]


def test_it_shows_the_response_time_and_a_sparkline_of_the_last_day(app, client):
    store = runtime(app).store
    now = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
    results = [
        {
            "component_id": "website",
            "probe": "http",
            "region": "default",
            "started_at": now - timedelta(hours=hours),
            "duration_seconds": latency,
            "latency_seconds": latency,
            "ok": True,
        }
        for hours, latency in [(9, 0.1), (8, 0.1), (7, 0.1), (5, 0.080), (3, 0.230), (1, 0.120)]
    ]
    state = {
        "component_id": "website",
        "probe": "http",
        "region": "default",
        "verdict": "up",
        "last_result_at": now,
        "last_ok": True,
        "last_latency_seconds": 0.1234,
    }
    store.probes.record(results, [state])
    fresh(app)

    html = get(client)
    website = html[html.index('<span class="component-name">Website</span>') :]
    assert '<strong class="latency-now">123 ms</strong>' in website
    spark = re.search(r'<svg class="spark"[^>]*aria-label="([^"]+)"', website)
    assert spark and spark.group(1) == "Response time over the last 24 hours: 80 ms to 230 ms"
    assert len(re.search(r'<polyline points="([^"]+)"', website).group(1).split()) == 6


def record_latencies(store, component: str, probe: str, latencies: list[float]) -> None:
    """One result per hour, the newest half an hour ago, and the check's state."""
    now = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
    results = [
        {
            "component_id": component,
            "probe": probe,
            "region": "default",
            "started_at": now - timedelta(hours=len(latencies) - n),
            "duration_seconds": latency,
            "latency_seconds": latency,
            "ok": True,
        }
        for n, latency in enumerate(latencies)
    ]
    state = {
        "component_id": component,
        "probe": probe,
        "region": "default",
        "verdict": "up",
        "last_result_at": now,
        "last_ok": True,
        "last_latency_seconds": latencies[-1],
    }
    store.probes.record(results, [state])


def test_it_draws_no_sparkline_stub_from_the_first_hours(app, client):
    # Two hours of data would be a line over 1/23 of the box: a 4-pixel stub at its edge.
    record_latencies(runtime(app).store, "website", "http", [0.080, 0.120])
    fresh(app)
    website = get(client).split('<span class="component-name">Website</span>')[1]
    website = website.split('<li class="component">')[0]
    assert '<strong class="latency-now">120 ms</strong>' in website
    assert '<svg class="spark"' not in website


def test_it_writes_sub_millisecond_response_times_as_less_than_one(app, client):
    # A TCP connect on the same machine takes a tenth of a millisecond: not "0 ms".
    record_latencies(runtime(app).store, "sip-gateway", "tcp", [0.0002] * 6 + [0.0001])
    fresh(app)
    for lang, spark in [
        ("en", "Response time over the last 24 hours: &lt; 1 ms to &lt; 1 ms"),
        ("de", "Antwortzeit der letzten 24 Stunden: &lt; 1 ms bis &lt; 1 ms"),
    ]:
        html = get(client, **{"Accept-Language": lang})
        gateway = html.split('<span class="component-name">SIP Gateway</span>')[1]
        gateway = gateway.split('<li class="component">')[0]
        assert '<strong class="latency-now">&lt; 1 ms</strong>' in gateway
        assert f'aria-label="{spark}"' in gateway
        assert "0 ms" not in gateway


def test_it_respects_showcase_and_only_show_if_degraded(app, client):
    extra = "    showcase: false\n  - {id: backups, name: Backups, only_show_if_degraded: true}\n"
    write_config(app, MINIMAL_CONFIG + extra)
    html = get(client)
    assert "Daily uptime of SIP Gateway" in html
    assert "Daily uptime of Website" not in html  # showcase: false, no bar
    assert '<span class="component-name">Website</span>' in html
    assert "Backups" not in html  # operational, and only shown when degraded

    ops.set_component_status(
        runtime(app).store, "backups", "partial_outage", reason="t", source="t"
    )
    fresh(app)
    html = get(client)
    assert '<span class="component-name">Backups</span>' in html


# -- times, languages, history, permalinks --------------------------------------------------------
def test_it_shows_times_in_the_site_timezone_with_its_abbreviation(app, client):
    store = runtime(app).store
    winter = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
    incident = ops.open_incident(
        store, ACTOR, name="Winter", status="investigating", impact="minor", body="Cold.", at=winter
    )
    ops.update_incident(
        store,
        ACTOR,
        incident,
        status="resolved",
        body="Warm.",
        at=datetime(2025, 7, 1, 8, 5, tzinfo=UTC),
    )
    fresh(app)

    html = get(client, f"/incidents/{incident}")
    assert "Jan 15, 2025, 13:00 CET" in html
    assert "Jul 1, 2025, 10:05 CEST" in html
    assert '<time class="local" datetime="2025-01-15T12:00:00+00:00">' in html
    german = get(client, f"/incidents/{incident}", **{"Accept-Language": "de"})
    assert "15. Jan. 2025, 13:00 MEZ" in german
    assert "1. Juli 2025, 10:05 MESZ" in german
    assert "Behoben" in german


def test_it_renders_an_incident_permalink_with_the_full_timeline(app, client):
    store = runtime(app).store
    now = utcnow()
    incident = ops.open_incident(
        store,
        ACTOR,
        name="Calls fail",
        status="investigating",
        impact="major",
        body="Looking.",
        components={"sip-gateway": "partial_outage", "website": "degraded_performance"},
        at=now - timedelta(hours=2),
    )
    ops.update_incident(store, ACTOR, incident, status="monitoring", body="A fix is out.", at=now)
    fresh(app)

    html = get(client, f"/incidents/{incident}")
    assert "<h1>Calls fail</h1>" in html
    statuses = re.findall(r'<h2 class="update-status">(\w+)</h2>', html)
    assert statuses == ["Monitoring", "Investigating"]  # newest first
    assert html.index("A fix is out.") < html.index("Looking.")
    assert "This incident affected: SIP Gateway, Website." in html


def test_it_renders_a_maintenance_permalink(app, client):
    store = runtime(app).store
    start = datetime(2030, 3, 2, 22, 0, tzinfo=UTC)
    window = ops.schedule_maintenance(
        store,
        ACTOR,
        name="Upgrade",
        body="New **version**.",
        scheduled_for=start,
        scheduled_until=start + timedelta(hours=2),
        components=["sip-gateway"],
    )
    fresh(app)

    html = get(client, f"/maintenance/{window}")
    assert "<h1>Upgrade</h1>" in html
    assert "Scheduled: " in html and "Mar 2, 2030, 23:00 CET" in html
    assert "Mar 3, 2030, 01:00 CET" in html
    assert "New <strong>version</strong>." in html
    assert "Components affected: SIP Gateway." in html


@pytest.mark.parametrize(
    "url", ["/incidents/999", "/maintenance/999", "/incidents/abc", "/maintenance/-1"]
)
def test_it_answers_404_for_unknown_ids(client, url):
    assert client.get(url).status_code == 404


def test_it_pages_the_history_by_month_newest_first(app, client):
    store = runtime(app).store
    tz = runtime(app).config.site.tz
    now = utcnow()
    old_month = months_back(month_start(now, tz), 2)
    old = datetime(old_month.year, old_month.month, 15, 12, tzinfo=tz)
    recent = ops.open_incident(
        store,
        ACTOR,
        name="Recent trouble",
        status="resolved",
        impact="minor",
        body="Fixed.",
        at=now,
    )
    ancient = ops.open_incident(
        store,
        ACTOR,
        name="Ancient trouble",
        status="resolved",
        impact="major",
        body="Fixed long ago.",
        at=old,
    )
    works = ops.schedule_maintenance(
        store,
        ACTOR,
        name="Old works",
        body="Done.",
        scheduled_for=old + timedelta(days=1),
        scheduled_until=old + timedelta(days=1, hours=1),
    )
    fresh(app)

    first = get(client, "/history")
    assert first == get(client, "/history?page=1")
    assert f'href="/incidents/{recent}"' in first and "Ancient trouble" not in first
    assert 'rel="next" href="/history?page=2"' in first and 'rel="prev"' not in first
    assert "Month 1 of 3" in first

    empty = get(client, "/history?page=2")
    assert "No incidents or maintenance reported this month." in empty
    assert 'rel="prev" href="/history?page=1"' in empty
    assert 'rel="next" href="/history?page=3"' in empty

    last = get(client, "/history?page=3")
    assert f'href="/incidents/{ancient}"' in last and f'href="/maintenance/{works}"' in last
    assert "Recent trouble" not in last and 'rel="next"' not in last
    month_name = old.strftime("%B %Y")  # the C locale's names are the English ones
    assert f'<h2 id="month-heading">{month_name}</h2>' in last

    for page in ("4", "0", "-1", "abc", "", "1.5", "01", "9999999"):
        assert client.get(f"/history?page={page}").status_code == 404, page


def test_it_says_so_when_the_history_is_empty(client):
    html = get(client, "/history")
    assert "No incidents or maintenance reported this month." in html
    assert 'rel="next"' not in html and 'rel="prev"' not in html


def test_it_chooses_the_language_from_the_switcher_cookie_and_header(app, client):
    assert banner(get(client, **{"Accept-Language": "fr-FR,fr"}))[1] == "All Systems Operational"
    assert banner(get(client, **{"Accept-Language": "de-AT"}))[1] == "Alle Systeme betriebsbereit"

    response = client.get("/?lang=de", headers={"Accept-Language": "en"})
    assert banner(response.get_data(as_text=True))[1] == "Alle Systeme betriebsbereit"
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lang=de;")
    assert "Secure" in cookie and "SameSite=Lax" in cookie and "HttpOnly" in cookie
    assert response.headers["Cache-Control"] == "private, no-cache"
    assert response.headers["Vary"] == "Accept-Language, Cookie, Accept-Encoding"

    client.set_cookie("lang", "de")
    assert banner(get(client, **{"Accept-Language": "en"}))[1] == "Alle Systeme betriebsbereit"
    switched = client.get("/?lang=en")
    assert banner(switched.get_data(as_text=True))[1] == "All Systems Operational"
    assert switched.headers["Set-Cookie"].startswith("lang=en;")

    html = get(client, "/history?page=1&lang=xx")  # not a site language: ignored
    assert 'href="/history?page=1&amp;lang=en"' in html and 'hreflang="de"' in html


def test_it_offers_only_the_site_languages(app, client):
    write_config(
        app, MINIMAL_CONFIG.replace("timezone: Europe/Berlin", "timezone: UTC\n  languages: [en]")
    )
    html = get(client, **{"Accept-Language": "de"})
    assert banner(html)[1] == "All Systems Operational"
    assert "hreflang" not in html  # one language: no switcher
    assert "Set-Cookie" not in client.get("/?lang=de").headers


# -- subscribing ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("lang", "label", "button"),
    [
        ("en", "Email address", "Subscribe by email"),
        ("de", "E-Mail-Adresse", "Per E-Mail abonnieren"),
    ],
)
def test_it_offers_a_subscribe_form_in_each_language(client, lang, label, button):
    for url in ("/", "/subscribe"):
        html = get(client, url, **{"Accept-Language": lang})
        page = Parsed(html)
        [form] = page.all("form")
        assert form == {"class": "subscribe-form", "method": "post", "action": "/subscribe"}, url
        [field] = [i for i in page.all("input") if i.get("name") == "email"]
        assert (field["type"], field["name"], field["id"]) == ("email", "email", "subscribe-email")
        assert "required" in field and field["autocomplete"] == "email"
        assert f'<label for="subscribe-email">{label}</label>' in html
        assert f'<button type="submit">{button}</button>' in html
        assert 'href="/history.atom"' in html and 'href="/maintenance.ics"' in html


def _row_counts(store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {
            table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            for table in schema.metadata.sorted_tables
        }


@pytest.mark.parametrize(
    ("lang", "heading"),
    [("en", "Check your inbox"), ("de", "Sehen Sie in Ihren Posteingang")],
)
def test_subscribing_asks_to_confirm_and_never_echoes_the_address(app, client, lang, heading):
    response = client.post(
        "/subscribe", data={"email": "alice@example.com"}, headers={"Accept-Language": lang}
    )

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"<h1>{heading}</h1>" in html
    assert 'href="/history.atom"' in html and 'href="/history.rss"' in html
    assert "alice@example.com" not in html
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Security-Policy"] == CSP
    assert runtime(app).store.subscribers.count_by_state() == {"pending": 1}


# -- caching, headers, the database away ----------------------------------------------------------
def test_it_answers_304_when_the_etag_matches_and_varies_by_language(client):
    first = client.get("/")
    assert first.status_code == 200 and first.headers["ETag"]
    assert first.headers["Vary"] == "Accept-Language, Cookie, Accept-Encoding"
    assert first.headers["Cache-Control"] == "public, max-age=10, stale-while-revalidate=30"
    again = client.get("/", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    german = client.get("/", headers={"Accept-Language": "de"})
    assert german.headers["ETag"] != first.headers["ETag"]
    stale = client.get(
        "/", headers={"Accept-Language": "de", "If-None-Match": first.headers["ETag"]}
    )
    assert stale.status_code == 200


def test_it_serves_pages_from_the_snapshot_without_asking_the_database(app, client):
    rt = runtime(app)
    incident = ops.open_incident(
        rt.store, ACTOR, name="X", status="resolved", impact="minor", body="x"
    )
    rt.snapshots = SnapshotCache(rt.store, lambda: rt.config, clock=Clock())
    urls = ["/", "/history", f"/incidents/{incident}", "/favicon.svg"]
    for url in urls:
        client.get(url)  # the snapshot is read and every page rendered once
    statements: list[str] = []
    sa.event.listen(rt.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    for url in urls * 3:
        assert client.get(url, headers={"Accept-Language": "en"}).status_code == 200
    assert statements == []


def test_it_sends_the_security_headers_on_every_response(client):
    for url in ("/", "/history", "/subscribe", "/favicon.svg", "/healthz", "/incidents/999"):
        response = client.get(url)
        assert response.headers["Content-Security-Policy"] == CSP, url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_it_keeps_answering_with_a_note_when_the_database_goes_away(app, client):
    rt = runtime(app)
    ops.set_component_status(rt.store, "sip-gateway", "partial_outage", reason="t", source="t")
    clock = Clock()
    rt.snapshots = SnapshotCache(rt.store, lambda: rt.config, clock=clock)
    assert "temporarily unavailable" not in get(client)

    rt.snapshots.store = rt.store = Store(make_engine(UNREACHABLE))
    clock.now += 2
    html = get(client)
    assert re.search(
        r'Last updated <time class="local" datetime="[^"]+">[^<]+</time> — live data is '
        r"temporarily unavailable\.",
        html,
    )
    assert banner(html) == ("major", "Partial System Outage")  # the last known state
    assert "Zuletzt aktualisiert" in get(client, **{"Accept-Language": "de"})
    assert client.get("/history").status_code == 200


def test_it_shows_the_components_without_data_when_the_database_was_never_there(app, client):
    rt = runtime(app)
    rt.store = Store(make_engine(UNREACHABLE))
    fresh(app)
    html = get(client)
    assert "Live data is temporarily unavailable." in html
    assert banner(html) == ("no_data", "No Current Status Data")
    assert "SIP Gateway" in html


def test_it_serves_a_favicon_that_shows_the_status(app, client):
    ops.set_component_status(runtime(app).store, "website", "major_outage", reason="t", source="t")
    fresh(app)
    response = client.get("/favicon.svg?s=critical")
    assert response.mimetype == "image/svg+xml"
    assert 'fill="#cf222e"' in response.get_data(as_text=True)
    assert response.headers["ETag"]


# -- what the page is made of --------------------------------------------------------------------
def _bodies(store) -> dict[str, int]:
    incident = ops.open_incident(
        store,
        ACTOR,
        name="Evil",
        status="investigating",
        impact="minor",
        body=(
            "<script>alert(1)</script> <img src=x onerror=alert(1)> "
            "[click](javascript:alert(1)) [docs](https://example.com/help) "
            '<a href="javascript:alert(2)">x</a> ![pixel](https://tracker.example/p.gif)'
        ),
        components={"sip-gateway": "degraded_performance"},
    )
    window = ops.schedule_maintenance(
        store,
        ACTOR,
        name="Works",
        body="# Heading\n\nPlain.",
        scheduled_for=utcnow() + timedelta(hours=1),
        scheduled_until=utcnow() + timedelta(hours=2),
    )
    return {"incident": incident, "maintenance": window}


def test_it_renders_update_bodies_as_sanitized_markdown(app, client):
    ids = _bodies(runtime(app).store)
    fresh(app)
    for url in ("/", f"/incidents/{ids['incident']}", "/history"):
        page = Parsed(get(client, url))
        assert [s.get("src") for s in page.all("script")] == ["/static/refresh.js"]
        assert not [a for _, attrs in page.tags for a in attrs if a.startswith("on")]
        hrefs = [a.get("href") or "" for a in page.all("a")]
        assert not [h for h in hrefs if h.lower().startswith("javascript:")]
        assert not page.all("img")  # the image became a link: nothing loads from elsewhere
        docs = [a for a in page.all("a") if a.get("href") == "https://example.com/help"]
        assert docs and all(a.get("rel") == "nofollow noopener" for a in docs), url


def test_it_needs_nothing_the_csp_forbids_and_has_one_h1_and_landmarks(app, client):
    ids = _bodies(runtime(app).store)
    _maintenance(runtime(app).store)
    fresh(app)
    for url in ("/", "/history", f"/incidents/{ids['incident']}", "/maintenance/1", "/subscribe"):
        page = Parsed(get(client, url))
        names = [name for name, _ in page.tags]
        assert not [attrs for _, attrs in page.tags if "style" in attrs], url
        assert "style" not in names
        assert all(s.get("src") and "defer" in s for s in page.all("script"))
        assert [n for n in names if n in ("header", "main", "footer")] == [
            "header",
            "main",
            "footer",
        ]
        assert names.count("h1") == 1, url
        levels = [int(n[1]) for n in names if re.fullmatch(r"h[1-6]", n)]
        assert all(b <= a + 1 for a, b in itertools.pairwise(levels)), (url, levels)
        assert page.all("a")[0] == {"class": "skip-link", "href": "#main"}
        external = [
            value
            for _, attrs in page.tags
            for key, value in attrs.items()
            if key in ("src", "href") and value and value.startswith(("http:", "https:", "//"))
        ]
        # Links in update bodies may point anywhere; nothing is loaded from elsewhere.
        assert all(v == "https://example.com/help" or "tracker" in v for v in external)
    day = Parsed(get(client)).all("li")
    assert {"class": "day-unknown", "tabindex": "0"} in day


def test_it_ships_a_complete_compiled_german_catalogue():
    po_path = TRANSLATIONS / "de" / "LC_MESSAGES" / "messages.po"
    with po_path.open("rb") as f:
        catalog = read_po(f, locale="de")
    with (po_path.with_suffix(".mo")).open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    translated = {(m.context, m.id): m.string for m in catalog if m.id}  # context: pgettext
    assert all(translated.values()), [k for k, v in translated.items() if not v]
    assert not [m.id for m in catalog if m.id and m.fuzzy]
    # The .mo is committed (no compile step after a clone) and must match the .po.
    assert {
        (context, k): compiled.pgettext(context, k) if context else compiled.gettext(k)
        for context, k in translated
    } == translated

    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    extracted = {
        message
        for _, _, message, _, _ in extract_from_dir(
            str(ROOT), method_map, options_map, keywords={"_": None, "_l": None, "gettext": None}
        )
    }
    ids = {k for _, k in translated}
    assert extracted and extracted <= ids, sorted(extracted - ids)


def test_the_english_banner_is_the_statuspage_api_description(app):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        assert {k: str(BANNER[k]) for k in INDICATOR_DESCRIPTIONS} == INDICATOR_DESCRIPTIONS


def test_it_sends_the_page_gzipped_to_browsers_that_accept_it(client):
    import gzip

    plain = client.get("/")
    packed = client.get("/", headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.get_data()) == plain.get_data()
    assert len(packed.get_data()) < len(plain.get_data()) / 3
    assert packed.headers["ETag"] != plain.headers["ETag"]  # one strong ETag per encoding
    again = client.get(
        "/", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]}
    )
    assert again.status_code == 304
