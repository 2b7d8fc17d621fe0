"""404 and 405: in the page's layout and the reader's language, without JavaScript,
cached like the other public pages."""

from __future__ import annotations

import pytest

from tests.test_views import CSP, Parsed, fresh

GERMAN = {"Accept-Language": "de-DE,de;q=0.9"}


@pytest.mark.parametrize("url", ["/no-such-page", "/incidents/999", "/history?page=abc"])
def test_an_unknown_address_gets_the_sites_own_404_in_the_readers_language(client, url):
    response = client.get(url, headers=GERMAN)
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert '<html lang="de">' in html
    assert "<title>Seite nicht gefunden — Test Cloud Status</title>" in html
    assert "<h1>Seite nicht gefunden</h1>" in html
    assert "Unter dieser Adresse gibt es keine Seite." in html
    assert '<a href="/">Aktueller Status</a>' in html  # the site's own navigation
    page = Parsed(html)
    assert page.all("script") == []  # works, and is the same, without JavaScript
    assert [a["href"] for a in page.all("a") if a.get("hreflang")] == ["?lang=en", "?lang=de"]

    english = client.get(url).get_data(as_text=True)
    assert "<h1>Page not found</h1>" in english and '<html lang="en">' in english


def test_a_method_the_address_does_not_answer_gets_a_405_page_with_allow(client):
    response = client.post("/", headers=GERMAN)
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "HEAD"}
    html = response.get_data(as_text=True)
    assert "<h1>Methode nicht erlaubt</h1>" in html
    assert "Diese Adresse beantwortet Anfragen dieser Art nicht." in html
    assert "<script" not in html


def test_error_pages_are_cached_like_the_other_public_pages(app, client):
    first = client.get("/one-unknown-page")
    second = client.get("/another/unknown/page")
    assert first.get_data() == second.get_data()  # the body names no address
    assert first.headers["ETag"] == second.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=10, stale-while-revalidate=30"
    assert first.headers["Vary"] == "Accept-Language, Cookie, Accept-Encoding"
    assert first.headers["Content-Security-Policy"] == CSP
    # A 304 stands for a 200: a matching ETag still gets the 404 and its page.
    again = client.get("/one-unknown-page", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 404 and again.get_data() == first.get_data()
    fresh(app)
    assert client.get("/one-unknown-page").headers["ETag"] == first.headers["ETag"]


def test_the_json_api_keeps_a_short_404(client):
    response = client.get("/api/v2/no-such-document.json")
    assert response.status_code == 404
    assert "Test Cloud Status" not in response.get_data(as_text=True)
