"""The public page in a real browser: Debian's chromium driven by Playwright.

Checks what only a browser shows: the page renders under our CSP, makes no request
beyond 127.0.0.1, logs no console error, and axe-core (injected from node_modules, not
fetched) finds no serious or critical accessibility violation — in light and dark mode
and at 360 px wide. static/refresh.js shows local times and refreshes the content in
place (Playwright's clock skips the 60 s wait). A 360 px wide screenshot is kept in
test-artifacts/ for a human to look at.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from werkzeug.serving import make_server

from status import ops
from status.clock import utcnow
from status.runtime import runtime
from tests.conftest import ROOT, system_component_missing

ACTOR = ops.Actor("user", "alice@example.org")

CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists():
        system_component_missing("chromium", "install Debian's chromium package")
    if not AXE.exists():
        system_component_missing("axe-core", "run `npm ci` (make test does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        system_component_missing("playwright", "pip install -r requirements.txt")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def site(app):
    """The app on a real loopback port, with some of everything on the page."""
    store = runtime(app).store
    now = utcnow()
    ops.set_component_status(store, "sip-gateway", "partial_outage", reason="x", source="console")
    ops.open_incident(
        store,
        ACTOR,
        name="Calls to mobile numbers fail",
        status="identified",
        impact="major",
        body="We found the **cause** and are working on a fix.",
        components={"sip-gateway": "partial_outage"},
    )
    ops.schedule_maintenance(
        store,
        ACTOR,
        name="Database upgrade",
        body="Short interruptions are possible.",
        scheduled_for=now + timedelta(days=2),
        scheduled_until=now + timedelta(days=2, hours=2),
        components=["website"],
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def visit(browser, url: str, width: int = 1280, **context):
    page = browser.new_context(viewport={"width": width, "height": 900}, **context).new_page()
    requests, problems = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    response = page.goto(url)
    page.wait_for_load_state("networkidle")
    return page, response, requests, problems


def test_it_renders_with_nothing_but_our_own_origin(browser, site):
    page, response, requests, problems = visit(browser, site + "/")
    assert response.status == 200
    assert page.locator("h1").count() == 1
    assert "Calls to mobile numbers fail" in page.content()
    assert requests and all(url.startswith(site + "/") for url in requests), requests
    assert problems == []  # no console errors, no CSP violations


def serious_violations(page) -> list[str]:
    """What axe-core finds of impact serious or critical on the page as it is now."""
    page.evaluate(AXE.read_text())  # evaluated by DevTools: not subject to the page's CSP
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize(
    ("path", "width", "scheme"),
    [
        ("/", 1280, "light"),
        ("/", 1280, "dark"),
        ("/", 360, "light"),
        ("/history", 1280, "light"),
        ("/subscribe", 1280, "light"),
    ],
)
def test_axe_finds_no_serious_accessibility_problem(browser, site, path, width, scheme):
    page, response, _requests, _problems = visit(
        browser, site + path, width=width, color_scheme=scheme
    )
    assert response.status == 200
    dark = page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches")
    assert dark == (scheme == "dark")
    assert serious_violations(page) == []


def test_it_fits_a_small_phone_and_saves_a_screenshot(browser, site):
    page, response, _requests, _problems = visit(browser, site + "/", width=360)
    assert response.status == 200
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 360, "the page scrolls sideways at 360 px"
    # 30 days of bar, and beside it the uptime of those 30 days alone.
    bars = page.locator("ol.bar").count()
    assert bars > 0
    assert page.locator("ol.bar > li:visible").count() == 30 * bars
    assert page.locator(".uptime-total.scale-short:visible").count() == bars
    assert page.locator(".uptime-total.scale-long:visible").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "status-page-360.png"), full_page=True)
    assert (ARTIFACTS / "status-page-360.png").stat().st_size > 1000


def test_it_works_with_javascript_disabled(browser, site):
    page, response, _requests, problems = visit(browser, site + "/", java_script_enabled=False)
    assert response.status == 200
    assert "SIP Gateway" in page.inner_text("body")
    assert problems == []


def test_the_script_shows_local_times_and_refreshes_the_content(browser, site, app):
    zone = "America/New_York"
    page = browser.new_context(timezone_id=zone, locale="en-US").new_page()
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.clock.install()  # refresh.js waits 60 s between refreshes: let the test skip them
    page.goto(site + "/")

    def local_text(when: str) -> str:
        """What a reader in New York should see for a <time datetime=...>."""
        moment = datetime.fromisoformat(when).astimezone(ZoneInfo(zone))
        return f"{moment:%-I:%M %p} {moment.tzname()}"  # e.g. "7:05 AM EST"

    stamp = page.locator("main time.local").first
    assert local_text(stamp.get_attribute("datetime")) in stamp.inner_text()
    assert stamp.get_attribute("title").endswith(("CET", "CEST"))  # the site's own, kept
    assert page.inner_text(".times-note") == "Times are shown in your time zone."

    page.evaluate("window.notReloaded = true")
    ops.open_incident(
        runtime(app).store,
        ACTOR,
        name="Voicemail is unreachable",
        status="investigating",
        impact="minor",
        body="Looking into it.",
    )
    runtime(app).snapshots = None  # the next request sees it at once
    page.clock.run_for(61_000)

    fresh = page.locator("main article", has_text="Voicemail is unreachable")
    fresh.wait_for(timeout=5000)
    assert page.evaluate("window.notReloaded") is True  # replaced in place, not reloaded
    stamp = fresh.locator("time.local").first
    assert local_text(stamp.get_attribute("datetime")) in stamp.inner_text()
    assert problems == []


def test_an_unknown_address_shows_the_sites_own_page_in_german(browser, site):
    page, response, requests, _problems = visit(browser, site + "/no-such-page", locale="de-DE")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Seite nicht gefunden"
    assert page.locator("nav.site-nav a").first.inner_text() == "Aktueller Status"
    assert not [url for url in requests if url.endswith(".js")]  # no script, none needed
    assert serious_violations(page) == []
