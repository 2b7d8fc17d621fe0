"""The console in a real browser (Debian's chromium): log in, post an incident, see it on
the public page; a forged form is refused; axe finds nothing serious."""

from __future__ import annotations

import pytest

from status import ops
from status.runtime import runtime
from tests.test_browser import browser, serious_violations, site, visit  # noqa: F401

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def editor(app):
    store = runtime(app).store
    ops.add_user(store, ops.Actor.system("tests"), name="ed@example.org", password=PASSWORD,
                 role_name="editor")  # fmt: skip
    return "ed@example.org"


def log_in(page, site_url: str, name: str) -> None:
    page.goto(site_url + "/console/")
    page.get_by_label("User name (email)").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(site_url + "/console/")


def test_an_editor_logs_in_posts_an_incident_and_the_public_sees_it(browser, site, editor):  # noqa: F811
    page, _, requests, problems = visit(browser, site + "/console/login")
    log_in(page, site, editor)
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    assert serious_violations(page) == []

    page.get_by_role("link", name="Open an incident").first.click()
    page.get_by_label("Title").fill("Voicemail unavailable")
    page.get_by_label("Impact").select_option("major")
    page.get_by_label("SIP Gateway").select_option("partial_outage")
    page.get_by_label("Message (Markdown)").fill("We are **investigating**.")
    page.get_by_role("button", name="Preview").click()
    assert page.locator(".preview strong").inner_text() == "investigating"
    assert serious_violations(page) == []
    page.get_by_role("button", name="Open incident").click()
    assert page.get_by_role("heading", name="Voicemail unavailable").is_visible()

    public = page.context.new_page()
    public.goto(site + "/")
    assert "Voicemail unavailable" in public.content()
    assert problems == [] and all(url.startswith(site + "/") for url in requests)


def test_a_form_from_another_page_is_refused(browser, site, editor, app):  # noqa: F811
    page, *_ = visit(browser, site + "/console/login")
    log_in(page, site, editor)
    # A page elsewhere posts to the console in the user's browser, without the token.
    page.set_content(
        f'<form method="post" action="{site}/console/incidents/new">'
        '<input name="name" value="Forged"><input name="impact" value="critical">'
        '<input name="status" value="investigating"><input name="action" value="open">'
        "<button>go</button></form>"
    )
    page.get_by_role("button", name="go").click()
    assert "did not come from this console" in page.content()
    assert "Forged" not in [i.name for i in runtime(app).store.incidents.all()]
