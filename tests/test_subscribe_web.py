"""The public subscription pages: the form's POST, the signed links' pages, RFC 8058."""

from __future__ import annotations

import re

import pytest

from status import links
from status.runtime import runtime

SAME = {"Origin": "https://status.test.example", "Sec-Fetch-Site": "same-origin"}
FORM = {"email": "bob@example.com", "scope": "all", "language": "en"}


def store(app):
    return runtime(app).store


def post_form(client, headers=SAME, **fields):
    return client.post("/subscribe", data={**FORM, **fields}, headers=headers)


def token(app, purpose, email="bob@example.com"):
    row = store(app).subscribers.by_email(email)
    return links.make(app.config["SECRET_KEY"], purpose, row.id, row.token_version)


def confirmed(app, client, email="bob@example.com"):
    post_form(client, email=email)
    client.post(f"/subscribe/confirm/{token(app, links.CONFIRM, email)}")
    return store(app).subscribers.by_email(email)


def test_the_form_signs_up_a_pending_subscriber(app, client):
    response = post_form(client, scope="some", component=["website"], group=["telephony"],
                         language="de")  # fmt: skip
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    assert response.headers["Cache-Control"] == "no-store"
    row = store(app).subscribers.by_email("bob@example.com")
    assert row.state == "pending" and row.language == "de"
    assert store(app).subscribers.components(row.id) == ["sip-gateway", "website"]
    assert [e.kind for e in store(app).events.after()] == ["subscriber.confirm_requested"]


def body_of(response) -> str:
    return re.sub(r"\s+", " ", response.text)


def test_the_answer_is_the_same_for_a_known_and_an_unknown_address(app, client):
    confirmed(app, client, "known@example.com")
    known = post_form(client, email="known@example.com")
    unknown = post_form(client, email="unknown@example.com")
    assert known.status_code == unknown.status_code == 200
    assert body_of(known) == body_of(unknown)
    assert dict(known.headers) == dict(unknown.headers)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "null"},
    ],
)
def test_a_cross_origin_post_is_refused(app, client, headers):
    response = post_form(client, headers=headers)
    assert response.status_code == 403
    assert store(app).subscribers.count_by_state() == {}


def test_a_post_without_browser_headers_is_accepted(app, client):
    assert post_form(client, headers={}).status_code == 200


def test_the_honeypot_answers_the_same_and_stores_nothing(app, client):
    bot = post_form(client, website="http://spam.example")
    assert bot.status_code == 200 and "Check your inbox" in bot.text
    assert store(app).subscribers.count_by_state() == {}


@pytest.mark.parametrize("email", ["bob@example.com\r\nBcc: eve@example.com", "not an address"])
def test_a_bad_address_is_shown_again_with_the_reason(app, client, email):
    response = post_form(client, email=email)
    assert response.status_code == 400
    assert "Please enter a valid email address." in response.text
    assert 'aria-invalid="true"' in response.text
    assert store(app).subscribers.count_by_state() == {}


def test_choosing_some_but_none_is_refused(app, client):
    response = post_form(client, scope="some")
    assert response.status_code == 400 and "Choose at least one component" in response.text


def test_a_20_mb_post_gets_413(app, client):
    response = client.post("/subscribe", data={"email": "x" * (20 * 1024 * 1024)}, headers=SAME)
    assert response.status_code == 413


def test_sign_ups_are_rate_limited_per_address(app, client):
    app.config["SUBSCRIBE_ADDRESS_LIMIT"] = "2 per hour"
    assert [post_form(client).status_code for _ in range(3)] == [200, 200, 429]
    limited = post_form(client, email="BOB@example.com ")
    assert limited.status_code == 429 and "Too many" in limited.text
    assert post_form(client, email="other@example.com").status_code == 200


def test_sign_ups_are_rate_limited_per_ip_form_and_api_together(app, client):
    app.config["SUBSCRIBE_LIMIT"] = "3 per minute"
    codes = [post_form(client, email=f"p{i}@example.com").status_code for i in range(2)]
    api = client.post("/api/v1/subscribers", json={"email": "p2@example.com"})
    assert [*codes, api.status_code] == [200, 200, 202]
    assert post_form(client, email="p3@example.com").status_code == 429
    refused = client.post("/api/v1/subscribers", json={"email": "p4@example.com"})
    assert refused.status_code == 429 and refused.json["error"]["code"] == "too_many_requests"


def test_the_confirm_link_shows_a_button_and_only_the_post_confirms(app, client):
    post_form(client)
    url = f"/subscribe/confirm/{token(app, links.CONFIRM)}"
    page = client.get(url)
    assert page.status_code == 200 and 'method="post"' in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert store(app).subscribers.by_email("bob@example.com").state == "pending"
    done = client.post(url)
    assert done.status_code == 200 and "Subscription confirmed" in done.text
    assert store(app).subscribers.by_email("bob@example.com").state == "confirmed"


def test_tampered_and_expired_links_are_refused(app, client, monkeypatch):
    post_form(client)
    good = token(app, links.CONFIRM)
    assert client.get(f"/subscribe/confirm/{good}x").status_code == 404
    assert client.post(f"/subscribe/confirm/{token(app, links.MANAGE)}").status_code == 404
    import time

    later = time.time() + links.MAX_AGE[links.CONFIRM] + 60
    monkeypatch.setattr(time, "time", lambda: later)
    response = client.post(f"/subscribe/confirm/{good}")
    assert response.status_code == 410 and "expired" in response.text
    assert store(app).subscribers.by_email("bob@example.com").state == "pending"


def test_one_click_post_unsubscribes_and_deletes_a_get_does_not(app, client):
    row = confirmed(app, client)
    url = f"/unsubscribe/{token(app, links.UNSUBSCRIBE)}"
    page = client.get(url)
    assert page.status_code == 200 and 'method="post"' in page.text
    assert store(app).subscribers.get(row.id) is not None
    response = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert store(app).subscribers.get(row.id) is None
    assert store(app).subscribers.consents(row.id) == []
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200


def test_the_manage_page_changes_components_and_language_and_unsubscribes(app, client):
    row = confirmed(app, client)
    url = f"/subscribe/manage/{token(app, links.MANAGE)}"
    assert 'value="all" checked' in client.get(url).text
    saved = client.post(url, data={"action": "save", "scope": "some", "component": "website",
                                   "language": "de"})  # fmt: skip
    assert saved.status_code == 200 and "Your choices are saved." in saved.text
    after = store(app).subscribers.get(row.id)
    assert after.language == "de" and not after.all_components
    assert store(app).subscribers.components(row.id) == ["website"]
    gone = client.post(url, data={"action": "unsubscribe"})
    assert gone.status_code == 200 and store(app).subscribers.get(row.id) is None
    assert client.get(url).status_code == 404


def test_token_pages_are_never_kept_by_the_fast_path(app, client):
    confirmed(app, client)
    url = f"/subscribe/manage/{token(app, links.MANAGE)}"
    assert 'value="all" checked' in client.get(url).text
    client.post(url, data={"action": "save", "scope": "some", "component": "website"})
    assert 'value="all" checked' not in client.get(url).text  # a kept answer would be stale
    from status.web.public.fastpath import is_public

    for purpose in links.PURPOSES:
        assert not is_public(links.PATHS[purpose].format(token="abc"))


@pytest.mark.parametrize("lang", ["en", "de"])
def test_the_pages_render_in_both_languages(app, client, lang):
    words = {"en": ("Check your inbox", "Confirm your subscription", "Components"),
             "de": ("Posteingang", "Abonnement bestätigen", "Komponenten")}[lang]  # fmt: skip
    client.set_cookie("lang", lang)
    assert words[2] in client.get("/subscribe").text
    assert words[2] in client.get("/").text
    assert words[0] in post_form(client).text
    assert words[1] in client.get(f"/subscribe/confirm/{token(app, links.CONFIRM)}").text
