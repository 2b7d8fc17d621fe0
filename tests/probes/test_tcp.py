"""The TCP probe against real loopback servers (tests/probes/servers.py)."""

from __future__ import annotations

import socket

import pytest

from probes import tcp
from status.config import TcpProbe
from tests.probes.servers import LineServer, SilentServer, closed_port, wait_until

SHORT = 0.5  # the timeout where a test waits for it
REPLIES = {"PING": "PONG", "INFO": "é\tlong " + "x" * 100}


def run(port: int, timeout: float = 5.0, **fields):
    spec = TcpProbe.model_validate({"type": "tcp", "host": "127.0.0.1", "port": port, **fields})
    return tcp.probe(spec, timeout=timeout)


@pytest.fixture(scope="module")
def server():
    with LineServer(replies=REPLIES) as server:
        yield server


def test_it_connects_and_measures(server):
    result = run(server.port)
    assert (result.ok, result.error, result.degraded) == (True, None, False)
    assert 0 < result.latency_seconds <= result.duration_seconds < 1
    assert result.http_status_code is None


def test_it_says_the_connection_was_refused():
    result = run(closed_port())
    assert (result.ok, result.error, result.latency_seconds) == (False, "connection refused", None)
    assert result.duration_seconds < 1


def test_it_says_the_host_does_not_resolve():
    spec = TcpProbe.model_validate({"type": "tcp", "host": "nonexistent.invalid", "port": 80})
    result = tcp.probe(spec, timeout=2)
    assert not result.ok and result.error.startswith("cannot resolve host: ")


@pytest.mark.parametrize(
    ("fields", "sent"),
    [
        ({"send": "PING", "expect": "PONG"}, "PING\r\n"),
        ({"send": "PING\n", "expect": "PONG"}, "PING\n"),  # already a line: sent as it is
        ({"send": "INFO", "expect": "long x"}, "INFO\r\n"),
        ({"send": "HELLO"}, "HELLO\r\n"),  # nothing expected: sending is enough
    ],
)
def test_it_sends_a_line_and_waits_for_the_reply(fields, sent):
    with LineServer(replies=REPLIES) as server:
        result = run(server.port, **fields)
        assert (result.ok, result.error) == (True, None)
        assert 0 < result.latency_seconds < 1
        assert wait_until(lambda: server.received)  # without expect, nobody waited for it
    assert server.received == [sent]


def test_it_reads_a_banner_without_sending():
    with LineServer(banner="220 mail.test ESMTP ready") as server:
        result = run(server.port, expect="220 ")
    assert (result.ok, result.error) == (True, None)
    assert server.received == []


@pytest.mark.parametrize(
    ("send", "error"),
    [
        ("HELLO", "expected 'PONG', received 'HELLO'"),
        ("INFO", f"expected 'PONG', received 'é\\tlong {'x' * 50}...'"),
    ],
)
def test_it_says_what_it_got_instead(send, error):
    with LineServer(replies=REPLIES, close_after_reply=True) as server:
        result = run(server.port, send=send, expect="PONG")
    assert (result.ok, result.error) == (False, error)
    assert result.duration_seconds < 1


def test_it_says_when_the_server_hangs_up_without_a_word():
    with LineServer(replies={"QUIT": ""}, close_after_reply=True) as server:
        result = run(server.port, send="QUIT", expect="BYE")
    assert (result.ok, result.error) == (False, "expected 'BYE', received '\\r\\n'")


def test_it_times_out_on_the_wrong_reply_from_a_server_that_stays(server):
    result = run(server.port, timeout=SHORT, send="HELLO", expect="PONG")
    assert not result.ok
    assert result.error == "timed out after 0.5s waiting for 'PONG', received 'HELLO'"
    assert SHORT * 0.9 <= result.duration_seconds < SHORT + 0.5


def test_it_times_out_on_a_server_that_never_answers():
    with SilentServer() as silent:
        result = run(silent.port, timeout=SHORT, send="PING", expect="PONG")
    assert (result.ok, result.error) == (False, "timed out after 0.5s waiting for 'PONG'")
    assert SHORT * 0.9 <= result.duration_seconds < SHORT + 0.5


def test_it_stops_reading_after_64_kib():
    big = "x" * (100 << 10)
    with LineServer(replies={"DUMP": big}) as server:
        result = run(server.port, send="DUMP", expect="PONG")
    assert not result.ok and result.error.startswith("expected 'PONG', received 'xxx")
    assert result.duration_seconds < 1


def test_it_never_raises(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(socket, "create_connection", broken)
    result = run(closed_port())
    assert (result.ok, result.error) == (False, "boom")


@pytest.mark.parametrize(
    "update", [{"port": None}, {"port": -1}, {"expect": 42}, {"send": b"PING"}]
)
def test_it_never_raises_with_a_nonsense_spec(server, update):
    spec = TcpProbe.model_validate({"type": "tcp", "host": "127.0.0.1", "port": server.port})
    result = tcp.probe(spec.model_copy(update=update), timeout=1)
    assert not result.ok and result.error and "\n" not in result.error


def test_it_gives_up_when_no_time_is_left(server):
    result = run(server.port, timeout=0)
    assert (result.ok, result.error) == (False, "timed out after 0s")
