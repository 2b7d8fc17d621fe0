"""The HTTP probe against real loopback servers (tests/probes/servers.py)."""

from __future__ import annotations

import logging
import time
import tracemalloc

import pytest
import requests

from probes import http
from status.config import HttpProbe
from tests.probes.servers import HttpServer, SilentServer, closed_port, make_ca, make_cert

SHORT = 0.5  # the timeout where a test waits for it


def spec(url: str, **fields) -> HttpProbe:
    return HttpProbe.model_validate({"type": "http", "url": url, **fields})


def run(url: str, timeout: float = 5.0, **fields):
    return http.probe(spec(url, **fields), timeout=timeout)


@pytest.fixture(scope="module")
def server():
    with HttpServer() as server:
        server.reply(
            "/health",
            json_body={"status": "ok", "up": True, "count": 3, "data": {"items": [{"name": "a"}]}},
        )
        server.reply("/broken-json", body='{"status": "ok"', headers={"Content-Type": "json"})
        yield server


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """One CA and the certificates it issued, plus the bad ones."""
    directory = tmp_path_factory.mktemp("certs")
    ca = make_ca(directory)
    return {
        "good": make_cert(directory, ca=ca),
        "client": make_cert(directory, hosts=("probe.test",), ca=ca),
        "expired": make_cert(directory, ca=ca, days_left=-2),
        "not-yet-valid": make_cert(directory, ca=ca, days_old=-2),
        "wrong-host": make_cert(directory, ca=ca, hosts=("other.test",)),
        "self-signed": make_cert(directory, self_signed=True),
    }


@pytest.fixture(scope="module")
def https(certs):
    with HttpServer(tls=certs["good"]) as server:
        yield server


def test_it_succeeds_on_200_and_measures(server):
    result = run(server.url + "/ok")
    assert (result.ok, result.error, result.degraded) == (True, None, False)
    assert (result.http_status_code, result.http_content_length) == (200, 2)
    assert 0 < result.latency_seconds <= result.duration_seconds < 1
    assert result.ssl_earliest_cert_expiry is None and result.dns_lookup_time_seconds is None


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/status/503", None, "status 503, expected 2xx"),
        ("/status/404", [200, 301], "status 404, expected 200 or 301"),
        ("/status/500", ["2xx", "3xx"], "status 500, expected 2xx or 3xx"),
        ("/status/204", None, None),
        ("/status/301", [200, 301], None),  # no Location: just a status
        ("/status/503", ["5xx"], None),
    ],
)
def test_it_checks_the_status(server, path, status, error):
    expect = {"status": status} if status else {}
    result = run(server.url + path, expect=expect)
    assert (result.ok, result.error) == (error is None, error)
    assert result.http_status_code == int(path.rsplit("/", 1)[1])


def test_it_reports_the_declared_length_of_an_unexpected_status(server):
    result = run(server.url + "/status/503")
    assert result.http_content_length == len(b"status 503")


@pytest.mark.parametrize(
    ("expect", "error"),
    [
        ({"body_contains": '"status": "ok"'}, None),
        ({"body_contains": "degraded"}, "body does not contain 'degraded'"),
        ({"body_contains": "x" * 100}, f"body does not contain '{'x' * 57}...'"),
        ({"body_regex": r'"count":\s*\d+'}, None),
        ({"body_regex": r"^down"}, "body does not match /^down/"),
        ({"body_contains": "status", "body_regex": "nope"}, "body does not match /nope/"),
    ],
)
def test_it_checks_the_body(server, expect, error):
    result = run(server.url + "/health", expect=expect)
    assert (result.ok, result.error) == (error is None, error)


@pytest.mark.parametrize(
    ("paths", "error"),
    [
        ({"status": "ok", "count": 3, "up": True}, None),
        ({"data.items.0.name": "a", "data.items.-1.name": "a"}, None),
        ({"data.items": [{"name": "a"}]}, None),
        ({"status": "down"}, "json status: expected 'down', found 'ok'"),
        ({"count": "3"}, "json count: expected '3', found 3"),
        ({"count": 4}, "json count: expected 4, found 3"),
        ({"up": 1}, "json up: expected 1, found true"),  # JSON true is not 1
        ({"data": "x"}, """json data: expected 'x', found {"items": [{"name": "a"}]}"""),
        ({"data.items.1.name": "b"}, "json data.items.1.name: missing"),
        ({"data.items.first": "a"}, "json data.items.first: missing"),
        ({"data.things": []}, "json data.things: missing"),
        ({"status.code": 1}, "json status.code: missing"),  # a string has no fields
        ({"status": "ok", "count": 4, "nope": 1}, "json count: expected 4, found 3"),
    ],
)
def test_it_checks_json_paths(server, paths, error):
    result = run(server.url + "/health", expect={"json": paths})
    assert (result.ok, result.error) == (error is None, error)


def test_it_says_when_the_body_is_not_json(server):
    result = run(server.url + "/broken-json", expect={"json": {"status": "ok"}})
    assert not result.ok
    assert result.error == ("body is not valid JSON: Expecting ',' delimiter at line 1, column 16")


def test_it_checks_in_order_status_first(server):
    result = run(server.url + "/status/503", expect={"body_contains": "nope", "json": {"a": 1}})
    assert result.error == "status 503, expected 2xx"


def test_it_is_degraded_when_slower_than_max_latency(server):
    result = run(server.url + "/slow?seconds=0.3", expect={"max_latency": "100ms"})
    assert (result.ok, result.degraded) == (True, True)
    assert 0.3 <= result.latency_seconds < 1
    assert result.error == f"latency {result.latency_seconds:.2f}s, expected at most 0.1s"


def test_it_is_not_degraded_within_max_latency(server):
    result = run(server.url + "/ok", expect={"max_latency": "2s"})
    assert (result.ok, result.degraded, result.error) == (True, False, None)


@pytest.mark.parametrize(
    "path",
    [
        "/slow?seconds=10",  # no headers in time
        "/drip?bytes=100&interval=0.05",  # headers at once, then a byte every 50 ms
        "/redirect?to=/slow%3Fseconds%3D10",  # the deadline covers the redirect chain
    ],
)
def test_it_gives_up_at_the_deadline(server, path):
    result = run(server.url + path, timeout=SHORT)
    assert not result.ok
    assert result.error == "timed out after 0.5s"
    assert SHORT * 0.9 <= result.duration_seconds < SHORT + 0.5


def test_it_gives_up_on_a_server_that_never_answers():
    with SilentServer() as silent:
        result = run(silent.url + "/", timeout=SHORT)
    assert (result.ok, result.error) == (False, "timed out after 0.5s")
    assert result.duration_seconds < SHORT + 0.5
    assert result.http_status_code is None and result.latency_seconds is None


def test_it_keeps_the_drip_measurements_it_had(server):
    result = run(server.url + "/drip?bytes=100&interval=0.05", timeout=SHORT)
    assert result.http_status_code == 200 and result.latency_seconds < SHORT


@pytest.mark.parametrize(
    ("path", "length"),
    [
        ("/huge?mib=5", 5 << 20),  # the Content-Length it declared
        ("/huge?mib=5&chunked=1", 1 << 20),  # no length declared: what was read
    ],
)
def test_it_reads_at_most_a_mib_of_a_huge_body(server, path, length):
    tracemalloc.start()
    try:
        result = run(server.url + path, expect={"body_contains": "xxx"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (result.ok, result.error) == (True, None)
    assert result.http_content_length == length
    assert peak < 4 << 20


def test_it_says_a_cut_json_body_was_cut(server):
    result = run(server.url + "/huge?mib=2", expect={"json": {"a": 1}})
    assert result.error == (
        "body is not valid JSON: Expecting value at line 1, column 1 (read only the first 1 MiB)"
    )


def test_it_can_use_the_connection_again_after_a_cut_body(server):
    run(server.url + "/huge?mib=2")
    assert run(server.url + "/ok").ok


def test_it_reuses_connections(server):
    first, second = run(server.url + "/ok?n=1"), run(server.url + "/ok?n=2")
    assert first.ok and second.ok
    ports = {r.path: r.client_port for r in server.requests_to("/ok")}
    assert ports["/ok?n=1"] == ports["/ok?n=2"]


@pytest.mark.parametrize(
    ("fields", "ok", "status", "error"),
    [
        ({}, True, 200, None),
        ({"follow_redirects": False}, False, 302, "redirect to {url}/ok not followed (status 302)"),
        ({"follow_redirects": False, "expect": {"status": ["3xx"]}}, True, 302, None),
    ],
)
def test_it_follows_redirects_unless_told_not_to(server, fields, ok, status, error):
    result = run(server.url + "/redirect?to=/ok", **fields)
    assert (result.ok, result.http_status_code) == (ok, status)
    assert result.error == (error.format(url=server.url) if error else None)


def test_it_stops_after_too_many_redirects(server):
    url = server.reply("/loop", status=302, headers={"Location": "/loop"})
    result = run(url)
    assert (result.ok, result.error) == (False, "too many redirects (more than 30)")


def test_it_says_the_connection_was_refused():
    result = run(f"http://127.0.0.1:{closed_port()}/")
    assert (result.ok, result.error) == (False, "connection refused")
    assert result.duration_seconds < 1 and result.http_status_code is None


def test_it_says_the_host_does_not_resolve():
    result = run("http://nonexistent.invalid/", timeout=2)
    assert not result.ok and result.error.startswith("cannot resolve host: ")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_it_sends_method_headers_and_body(server, method):
    result = run(
        server.url + f"/echo?m={method}",
        method=method,
        headers={"X-Token": "s3cret", "Content-Type": "text/plain"},
        body="hello",
    )
    assert result.ok
    (received,) = server.requests_to(f"/echo?m={method}")
    assert (received.method, received.body) == (method, b"hello")
    assert received.headers["X-Token"] == "s3cret"
    assert received.headers["User-Agent"] == http.USER_AGENT


def test_it_sends_head_without_reading_a_body(server):
    result = run(server.url + "/huge?mib=3", method="HEAD")
    assert (result.ok, result.http_content_length) == (True, 3 << 20)


def test_it_keeps_no_cookies_between_runs(server):
    server.reply("/cookie", body="ok", headers={"Set-Cookie": "session=abc; Path=/"})
    run(server.url + "/cookie")
    run(server.url + "/echo?after-cookie")
    (received,) = server.requests_to("/echo?after-cookie")
    assert "Cookie" not in received.headers


def test_it_goes_through_the_proxy_the_environment_names(server, monkeypatch):
    # The loopback server plays the proxy: it receives the absolute URL.
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    result = run("http://through-proxy.invalid/ok")
    assert (result.ok, result.http_status_code) == (True, 200)
    assert [r.path for r in server.requests if "through-proxy" in r.path] == [
        "http://through-proxy.invalid/ok"
    ]


def test_it_skips_the_proxy_for_hosts_in_no_proxy(server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    result = run(server.url + "/ok?no-proxy")
    assert (result.ok, result.error) == (True, None)


# -- HTTPS -------------------------------------------------------------------------------
def test_it_verifies_https_with_ca_file(https, certs):
    result = run(https.url + "/ok", ca_file=str(certs["good"].ca_file))
    assert (result.ok, result.error, result.http_status_code) == (True, None, 200)


@pytest.mark.parametrize(
    ("cert", "with_ca", "error"),
    [
        ("good", False, "self-signed certificate in certificate chain"),  # CA not trusted
        ("self-signed", False, "self-signed certificate"),
        ("expired", True, "certificate has expired"),
        ("not-yet-valid", True, "certificate is not yet valid"),
        ("wrong-host", True, "IP address mismatch, certificate is not valid for '127.0.0.1'."),
    ],
)
def test_it_fails_on_certificates_it_cannot_verify(certs, cert, with_ca, error):
    with HttpServer(tls=certs[cert]) as server:
        fields = {"ca_file": str(certs[cert].ca_file)} if with_ca else {}
        result = run(server.url + "/ok", **fields)
    assert (result.ok, result.error) == (False, f"TLS certificate verify failed: {error}")
    assert result.http_status_code is None


def test_it_skips_verification_when_told_and_warns_once(https, caplog):
    caplog.set_level(logging.WARNING, logger="probes.http")
    url = https.url + "/ok?unverified"
    results = [run(url, verify_tls=False) for _ in range(3)]
    assert all(r.ok for r in results)
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == [f"not verifying the TLS certificate of {url} (verify_tls: false)"]


def test_it_presents_a_client_certificate(certs):
    client = certs["client"]
    with HttpServer(tls=certs["good"], client_ca=client.ca_file) as server:
        trusted = {"ca_file": str(certs["good"].ca_file)}
        with_cert = run(
            server.url + "/ok",
            client_cert=str(client.cert_file),
            client_key=str(client.key_file),
            **trusted,
        )
        without = run(server.url + "/ok", **trusted)
    assert (with_cert.ok, with_cert.error) == (True, None)
    assert not without.ok
    assert without.error.startswith(("TLS error: ", "connection"))


def test_it_says_what_is_wrong_with_a_missing_ca_file(https, tmp_path):
    result = run(https.url + "/ok", ca_file=str(tmp_path / "missing.pem"))
    assert not result.ok
    assert "missing.pem" in result.error and "Traceback" not in result.error


# -- never raises ------------------------------------------------------------------------
def test_it_never_raises_when_requests_breaks(server, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom at 0x7f3a")

    monkeypatch.setattr(requests.Session, "send", broken)
    result = run(server.url + "/ok")
    assert (result.ok, result.http_status_code) == (False, None)
    assert result.error == "boom at 0x7f3a" and result.duration_seconds >= 0


@pytest.mark.parametrize(
    "update",
    [
        {"url": "http://exa mple.test/"},
        {"url": "nonsense"},
        {"method": "BREW"},
        {"headers": {"Bad\nName": "x"}},
        {"expect": None},
        {"client_cert": "/nonexistent/cert.pem"},
    ],
)
def test_it_never_raises_with_a_nonsense_spec(server, update):
    broken = spec(server.url + "/ok").model_copy(update=update)
    result = http.probe(broken, timeout=2)
    assert not result.ok and result.error
    assert "\n" not in result.error and "Traceback" not in result.error
    assert result.duration_seconds < 2


def test_it_gives_up_when_no_time_is_left(server):
    started = time.perf_counter()
    result = run(server.url + "/ok", timeout=0)
    assert (result.ok, result.error) == (False, "timed out after 0s")
    assert time.perf_counter() - started < 0.1
