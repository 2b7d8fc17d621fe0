"""The TLS probe against real loopback TLS servers and certificates made for each case."""

from __future__ import annotations

import re
import time

import pytest
from tlsdns_servers import CertFactory, closed_port, silent_tcp_server, tls_server

from probes import tls
from status.config import TlsProbe


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> CertFactory:
    return CertFactory(tmp_path_factory.mktemp("certs"))


def spec(port: int, ca_file, **fields) -> TlsProbe:
    return TlsProbe.model_validate(
        {"type": "tls", "host": "127.0.0.1", "port": port, "ca_file": str(ca_file), **fields}
    )


# name: (certificate, probe fields, ok, degraded, error: a template over the cert's dates)
CASES = {
    "valid": ({}, {}, True, False, None),
    "expired": (
        {"valid_from_days": -30, "valid_until_days": -3},
        {},
        False,
        False,
        "certificate expired 3 days ago ({not_after:%Y-%m-%d})",
    ),
    "not yet valid": (
        {"valid_from_days": 5},
        {},
        False,
        False,
        "certificate not valid until {not_before:%Y-%m-%d}",
    ),
    "wrong host": (
        {"dns": ["foo.example", "bar.example"], "ips": ["192.0.2.7"]},
        {},
        False,
        False,
        "certificate is for foo.example, bar.example, 192.0.2.7, not 127.0.0.1",
    ),
    "self-signed": (
        {"self_signed": True},
        {},
        False,
        False,
        "certificate verify failed: self-signed certificate",
    ),
    "below warn_days": (
        {"valid_until_days": 20},
        {"warn_days": 30, "min_days_left": 14},
        True,
        True,
        "certificate expires in 20 days (below warn_days 30)",
    ),
    "below min_days_left": (
        {"valid_until_days": 5},
        {"warn_days": 30, "min_days_left": 14},
        False,
        False,
        "certificate expires in 5 days (below min_days_left 14)",
    ),
}


@pytest.mark.parametrize(
    ("cert_args", "fields", "ok", "degraded", "error"), CASES.values(), ids=CASES.keys()
)
def test_it_judges_the_certificate(certs, cert_args, fields, ok, degraded, error):
    cert = certs.leaf(re.sub(r"\W", "-", str(cert_args)), **cert_args)
    with tls_server(cert) as server:
        result = tls.probe(spec(server.port, certs.ca_file, **fields), timeout=5)

    assert (result.ok, result.degraded) == (ok, degraded)
    assert result.error == (error.format(**vars(cert)) if error else None)
    assert result.ssl_earliest_cert_expiry == cert.not_after.timestamp()
    assert 0 < result.duration_seconds < 5


def test_it_measures_a_good_handshake(certs):
    cert = certs.leaf("good")
    with tls_server(cert) as server:
        result = tls.probe(spec(server.port, certs.ca_file), timeout=5)

    assert result.ok
    assert result.error is None
    assert 0 < result.latency_seconds <= result.duration_seconds
    assert result.http_status_code is None and result.dns_lookup_time_seconds is None


def test_it_does_not_trust_the_system_cas_for_a_private_ca(certs):
    with tls_server(certs.leaf("private")) as server:
        result = tls.probe(
            TlsProbe.model_validate({"type": "tls", "host": "127.0.0.1", "port": server.port}),
            timeout=5,
        )

    assert not result.ok
    assert result.error == "certificate verify failed: unable to get local issuer certificate"


def test_it_sends_and_checks_server_name_instead_of_the_host(certs):
    cert = certs.leaf("sni", dns=["foo.example"], ips=[])
    with tls_server(cert) as server:
        result = tls.probe(spec(server.port, certs.ca_file, server_name="foo.example"), timeout=5)
        wrong = tls.probe(spec(server.port, certs.ca_file, server_name="bar.example"), timeout=5)

    assert result.ok, result.error
    assert server.server_names[0] == "foo.example"
    assert not wrong.ok
    assert wrong.error == "certificate is for foo.example, not bar.example"


def test_it_reports_a_refused_connection(certs):
    port = closed_port()

    result = tls.probe(spec(port, certs.ca_file), timeout=2)

    assert not result.ok
    assert result.error == f"connection refused by 127.0.0.1:{port}"
    assert result.latency_seconds is None and result.ssl_earliest_cert_expiry is None


def test_it_gives_up_on_a_server_that_never_handshakes(certs):
    with silent_tcp_server() as port:
        begin = time.monotonic()
        result = tls.probe(spec(port, certs.ca_file), timeout=1)
        took = time.monotonic() - begin

    assert not result.ok
    assert result.error == "timed out after 1s (TLS handshake)"
    assert 1 <= took < 1.5
    assert result.duration_seconds == pytest.approx(took, abs=0.05)


def test_it_reports_an_unreadable_ca_file(tmp_path):
    result = tls.probe(spec(443, tmp_path / "missing.pem"), timeout=1)

    assert not result.ok
    assert (
        result.error == f"cannot use ca_file {tmp_path / 'missing.pem'}: no such file or directory"
    )


def test_it_reports_the_earliest_expiry_in_the_presented_chain(tmp_path):
    short_lived_ca = CertFactory(tmp_path, ca_days=100)
    cert = short_lived_ca.leaf("chained", valid_until_days=365, with_ca=True)
    with tls_server(cert) as server:
        result = tls.probe(spec(server.port, short_lived_ca.ca_file), timeout=5)

    assert result.ok and not result.degraded
    ca_expiry = short_lived_ca.ca.not_valid_after_utc.timestamp()
    assert result.ssl_earliest_cert_expiry == ca_expiry < cert.not_after.timestamp()
