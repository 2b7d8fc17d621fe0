"""The DNS probe against a real loopback DNS server (dnslib) answering from a small zone."""

from __future__ import annotations

import re
import time

import pytest
from tlsdns_servers import ZoneResolver, closed_port, dns_server

from probes import dns
from status.config import DnsProbe

MANY = [f"198.51.100.{i}" for i in range(1, 41)]  # too many for a 512-byte UDP answer
ZONE = "\n".join(
    [
        "www.example.test.   60 IN A     192.0.2.1",
        "www.example.test.   60 IN A     192.0.2.2",
        "lossy.example.test. 60 IN A     192.0.2.3",
        "v6.example.test.    60 IN AAAA  2001:db8::1",
        "alias.example.test. 60 IN CNAME www.example.test.",
        "example.test.       60 IN MX    10 mail.example.test.",
        "example.test.       60 IN MX    20 backup.example.test.",
        'example.test.       60 IN TXT   "v=spf1 -all"',
        *(f"many.example.test. 60 IN A {ip}" for ip in MANY),
    ]
)


@pytest.fixture(scope="module")
def zone() -> ZoneResolver:
    return ZoneResolver(
        ZONE,
        servfail=["broken.example.test"],
        silent=["slow.example.test"],
        lossy=["lossy.example.test"],
    )


@pytest.fixture(scope="module")
def resolver(zone) -> str:
    with dns_server(zone) as port:
        yield f"127.0.0.1:{port}"


def spec(resolver: str, name: str, record: str = "A", contains=()) -> DnsProbe:
    return DnsProbe.model_validate(
        {
            "type": "dns",
            "name": name,
            "record": record,
            "resolver": resolver,
            "expect": {"contains": list(contains)},
        }
    )


ANSWERED = {
    "A": ("www.example.test", "A", ["192.0.2.1", "192.0.2.2"]),
    "A, no expectation": ("www.example.test", "A", []),
    "A through a CNAME": ("alias.example.test", "A", ["192.0.2.2"]),
    "CNAME target, any case, trailing dot": ("alias.example.test", "CNAME", ["WWW.example.test."]),
    "AAAA in another spelling": ("v6.example.test", "AAAA", ["2001:DB8:0::1"]),
    "MX by target": ("example.test", "MX", ["mail.example.test", "backup.example.test"]),
    "MX by text": ("example.test", "MX", ["10 mail.example.test."]),
    "TXT": ("example.test", "TXT", ["v=spf1 -all"]),
    "over TCP after a truncated UDP answer": ("many.example.test", "A", [MANY[-1]]),
}


@pytest.mark.parametrize(("name", "record", "contains"), ANSWERED.values(), ids=ANSWERED.keys())
def test_it_passes_when_every_expected_value_is_answered(resolver, name, record, contains):
    result = dns.probe(spec(resolver, name, record, contains), timeout=2)

    assert result.ok, result.error
    assert result.error is None
    assert 0 < result.latency_seconds <= result.dns_lookup_time_seconds <= result.duration_seconds
    assert result.ssl_earliest_cert_expiry is None and result.http_status_code is None


def test_it_falls_back_to_tcp_on_truncation(resolver, zone):
    dns.probe(spec(resolver, "many.example.test"), timeout=2)

    assert [q for q in zone.questions if q[0] == "many.example.test."][-2:] == [
        ("many.example.test.", "A", "udp"),
        ("many.example.test.", "A", "tcp"),
    ]


FAILED = {
    "answer missing": (
        "www.example.test",
        "A",
        ["192.0.2.1", "192.0.2.9"],
        r"expected answer containing 192\.0\.2\.9, got 192\.0\.2\.1, 192\.0\.2\.2",
    ),
    "MX missing": (
        "example.test",
        "MX",
        ["mx.example.test"],
        r"expected answer containing mx\.example\.test, "
        r"got 10 mail\.example\.test, 20 backup\.example\.test",
    ),
    "TXT missing": (
        "example.test",
        "TXT",
        ["v=spf1 ~all"],
        r"expected answer containing v=spf1 ~all, got v=spf1 -all",
    ),
    "NXDOMAIN": (
        "no.such.name.test",
        "A",
        [],
        r"NXDOMAIN: no\.such\.name\.test does not exist",
    ),
    "no record of that type": (
        "www.example.test",
        "MX",
        [],
        r"no answer for MX record of www\.example\.test",
    ),
    "SERVFAIL": (
        "broken.example.test",
        "A",
        [],
        r"SERVFAIL from 127\.0\.0\.1:\d+ for broken\.example\.test",
    ),
}


@pytest.mark.parametrize(
    ("name", "record", "contains", "error"), FAILED.values(), ids=FAILED.keys()
)
def test_it_fails_with_a_clear_error(resolver, name, record, contains, error):
    result = dns.probe(spec(resolver, name, record, contains), timeout=2)

    assert not result.ok
    assert re.fullmatch(error, result.error), result.error
    assert result.duration_seconds < 2


def test_it_keeps_what_it_measured_when_the_answer_is_wrong(resolver):
    result = dns.probe(spec(resolver, "www.example.test", contains=["192.0.2.9"]), timeout=2)

    assert not result.ok
    assert result.dns_lookup_time_seconds > 0 and result.latency_seconds > 0


def test_it_gives_up_on_a_server_that_never_answers(resolver):
    begin = time.monotonic()
    result = dns.probe(spec(resolver, "slow.example.test"), timeout=1)
    took = time.monotonic() - begin

    assert not result.ok
    assert result.error == "timed out after 1s"
    assert 1 <= took < 1.1
    assert result.dns_lookup_time_seconds is None


def test_it_asks_again_when_a_udp_answer_is_lost(resolver, monkeypatch):
    monkeypatch.setattr(dns, "RETRY", 0.2)

    result = dns.probe(spec(resolver, "lossy.example.test", contains=["192.0.2.3"]), timeout=1)

    assert result.ok, result.error
    assert 0.2 <= result.dns_lookup_time_seconds < 0.5
    assert result.latency_seconds < 0.1  # the round trip that answered, not the wait


def test_it_times_out_on_a_resolver_that_is_not_there():
    # UDP to a closed port: the ICMP "port unreachable" does not reach an unconnected socket
    result = dns.probe(spec(f"127.0.0.1:{closed_port()}", "www.example.test"), timeout=0.5)

    assert not result.ok
    assert result.error == "timed out after 0.5s"
    assert 0.5 <= result.duration_seconds < 0.6


@pytest.mark.parametrize(
    ("resolver", "error"),
    [
        ("dns.example.test", "resolver must be an IP address, not 'dns.example.test'"),
        ("127.0.0.1:99999", "resolver port must be a number from 1 to 65535, not '99999'"),
    ],
)
def test_it_rejects_a_resolver_it_cannot_use(resolver, error):
    result = dns.probe(spec(resolver, "www.example.test"), timeout=1)

    assert (result.ok, result.error) == (False, error)
