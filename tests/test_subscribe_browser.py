"""Subscribing in a real browser (Debian's chromium), in German: the form on /subscribe,
the page its confirmation link opens, the button that confirms; each page with nothing
serious for axe."""

from __future__ import annotations

import pytest

from status import links
from status.runtime import runtime
from tests.test_browser import browser, serious_violations, site  # noqa: F401

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_a_visitor_subscribes_to_some_components_and_confirms(browser, site, app):  # noqa: F811
    context = browser.new_context(locale="de-DE")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(site + "/subscribe")
    page.get_by_label("E-Mail-Adresse").fill("Bob@Example.com")
    page.get_by_label("Nur die ausgewählten:").check()
    page.get_by_label("SIP Gateway").check()
    page.get_by_role("button", name="Per E-Mail abonnieren").click()
    page.wait_for_load_state()
    assert page.url == site + "/subscribe"
    assert serious_violations(page) == []

    store = runtime(app).store
    subscriber = store.subscribers.by_email("bob@example.com")
    assert subscriber is not None and subscriber.state == "pending"
    assert subscriber.language == "de"
    token = links.confirm_token(app.config["SECRET_KEY"], subscriber.id, subscriber.token_version)

    page.goto(f"{site}/subscribe/confirm/{token}")  # what the confirmation email links to
    assert store.subscribers.by_email("bob@example.com").state == "pending"  # a GET: not yet
    assert serious_violations(page) == []
    page.get_by_role("button", name="Mein Abonnement bestätigen").click()
    page.wait_for_load_state()
    confirmed = store.subscribers.by_email("bob@example.com")
    assert confirmed.state == "confirmed" and not confirmed.all_components
    assert serious_violations(page) == []
    context.close()
