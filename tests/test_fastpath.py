"""The WSGI fast path: repeat public GETs are answered without entering Flask."""

from __future__ import annotations

import pytest

from status import ops
from status.runtime import runtime


@pytest.fixture(autouse=True)
def one_minute(monkeypatch):
    """Kept answers are keyed by the minute: a test that straddles a minute's turn would
    see a second render that has nothing to do with what it checks."""
    from status.web.public import fastpath

    monkeypatch.setattr(fastpath, "minute", lambda: 29_000_000)


@pytest.fixture
def flask_calls(app):
    calls: list[str] = []
    app.before_request(lambda: calls.append("flask") and None)
    return calls


def same_answer(a, b) -> bool:
    def headers(r):
        return sorted((k, v) for k, v in r.headers.items() if k != "Date")

    return (a.status, headers(a), a.get_data()) == (b.status, headers(b), b.get_data())


def test_a_repeat_request_gets_the_same_answer_without_flask(client, flask_calls):
    first = client.get("/")
    second = client.get("/")
    assert flask_calls == ["flask"]
    assert same_answer(first, second)
    assert "X-Leitstand-Cacheable" not in second.headers
    assert second.headers["Content-Security-Policy"].startswith("default-src 'self'")

    not_modified = client.get("/", headers={"If-None-Match": first.headers["ETag"]})
    assert not_modified.status_code == 304 and not_modified.get_data() == b""
    assert not_modified.headers["ETag"] == first.headers["ETag"]
    assert flask_calls == ["flask"]


def test_it_keeps_one_answer_per_language_and_encoding(client, flask_calls):
    english = client.get("/", headers={"Accept-Language": "en"})
    german = client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert "All Systems Operational" in english.get_data(as_text=True)
    assert "All Systems Operational" not in german.get_data(as_text=True)
    packed = client.get(
        "/", headers={"Accept-Language": "de-DE,de;q=0.9", "Accept-Encoding": "gzip"}
    )
    assert packed.headers["Content-Encoding"] == "gzip"
    assert len(flask_calls) == 3

    assert same_answer(german, client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9"}))
    assert same_answer(english, client.get("/", headers={"Accept-Language": "en"}))
    assert len(flask_calls) == 3


def test_the_language_cookie_is_part_of_the_key(client, flask_calls):
    client.set_cookie("lang", "de")
    german = client.get("/")
    client.set_cookie("lang", "en")
    english = client.get("/")
    assert german.get_data() != english.get_data()
    assert len(flask_calls) == 2


def test_answers_that_set_a_cookie_or_are_not_public_are_never_kept(client, flask_calls):
    for _ in range(2):
        switched = client.get("/?lang=de")
        assert "Set-Cookie" in switched.headers
        assert client.get("/healthz").status_code == 200
    assert len(flask_calls) == 4


def test_a_new_snapshot_brings_new_answers(app, client, flask_calls):
    client.get("/")
    ops.set_component_status(
        runtime(app).store, "website", "major_outage", reason="down", source="console"
    )
    runtime(app).snapshots = None  # as if a second had passed
    assert "Major Service Outage" in client.get("/").get_data(as_text=True)
    assert len(flask_calls) == 2


def test_a_change_is_rendered_behind_the_requests_and_served_warm(app, client, flask_calls):
    import time

    rt = runtime(app)
    rt.background_snapshots = True
    rt.snapshots = None
    german = {"Accept-Language": "de", "Accept-Encoding": "gzip"}
    assert "All Systems Operational" in client.get("/").get_data(as_text=True)
    client.get("/", headers=german)
    rt.snapshots.check_every = 0.0
    before = rt.snapshots.get()

    ops.set_component_status(rt.store, "website", "major_outage", reason="down", source="console")
    # The request that notices the change is not held up: it gets the last answer.
    assert "All Systems Operational" in client.get("/").get_data(as_text=True)
    deadline = time.monotonic() + 10
    while rt.snapshots._snapshot is before and time.monotonic() < deadline:
        time.sleep(0.02)
    rt.snapshots.check_every = 60.0

    calls = len(flask_calls)
    assert "Major Service Outage" in client.get("/").get_data(as_text=True)
    assert client.get("/", headers=german).headers["Content-Encoding"] == "gzip"
    assert len(flask_calls) == calls  # both were rendered before the snapshot went live


# -- who asks: the fast path must never hand one caller's answer to another -----------------
def echo_caller():
    """A route that answers per caller but is (wrongly) marked cacheable, as a careless
    console or API view might be: only the fast path's own rules keep it private."""
    from flask import request

    from status.web.public.cache import MARKER

    cookies = request.cookies
    who = (
        request.headers.get("Authorization")
        or cookies.get("session")
        or cookies.get("__Host-session")
        or "anonymous"
    )
    return who, 200, {MARKER: "1", "Content-Type": "text/plain"}


@pytest.fixture
def echo_app(app):
    for rule in ("/console/whoami", "/api/v1/whoami", "/api/v2/whoami"):
        app.add_url_rule(rule, rule, echo_caller)
    return app


@pytest.mark.parametrize("path", ["/console/whoami", "/api/v1/whoami"])
def test_it_never_answers_a_console_or_api_get(echo_app, flask_calls, path):
    client = echo_app.test_client()
    assert client.get(path).get_data(as_text=True) == "anonymous"
    assert client.get(path).get_data(as_text=True) == "anonymous"
    assert flask_calls == ["flask", "flask"]  # nothing was kept, even without credentials
    alice = client.get(path, headers={"Authorization": "Bearer alice-token"})
    assert alice.get_data(as_text=True) == "Bearer alice-token"


@pytest.mark.parametrize(
    "credentials",
    [
        {"headers": {"Authorization": "Bearer alice-token"}},
        {"cookie": ("session", "alice-session")},
        {"cookie": ("__Host-session", "alice-session")},
    ],
    ids=["bearer", "session-cookie", "host-session-cookie"],
)
def test_it_neither_keeps_nor_serves_answers_to_requests_with_credentials(
    echo_app, flask_calls, credentials
):
    path = "/api/v2/whoami"  # a public prefix: only the credential rule protects it
    alice = echo_app.test_client()
    if "cookie" in credentials:
        alice.set_cookie(*credentials["cookie"])
    first = alice.get(path, headers=credentials.get("headers", {}))
    assert first.get_data(as_text=True) != "anonymous"

    bob = echo_app.test_client()
    assert bob.get(path).get_data(as_text=True) == "anonymous"  # alice's was not kept
    assert bob.get(path).get_data(as_text=True) == "anonymous"  # kept now, for anonymous
    calls = len(flask_calls)
    again = alice.get(path, headers=credentials.get("headers", {}))
    assert again.get_data(as_text=True) == first.get_data(as_text=True)  # not bob's
    assert len(flask_calls) == calls + 1  # through Flask, not from the fast path


def test_only_public_urls_enter_the_fast_path(app):
    from status.web.public.fastpath import is_public

    public = {"public", "api_v2", "feeds"}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:  # the fast path answers GETs only (POST /subscribe)
            continue
        path = rule.rule.replace("<int:incident_id>", "1").replace("<int:maintenance_id>", "1")
        assert is_public(path) == (rule.endpoint.split(".")[0] in public), rule.rule
    for path in ("/console", "/console/", "/api/v1/incidents", "/metrics", "/healthz"):
        assert not is_public(path)
