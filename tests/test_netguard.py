"""The SSRF guard (status/netguard.py): which webhook targets are refused, table-driven;
no network: names resolve through a stand-in resolver."""

from __future__ import annotations

import ipaddress

import pytest

from status import netguard

LOOPBACK = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]


def resolver(table):
    def resolve(host, port):
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    return resolve


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://127.8.9.10/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("https://10.0.0.1/hook", "private"),
        ("https://172.16.5.4/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://[fd00::1]/hook", "private"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://224.0.0.1/hook", "multicast"),
        ("https://[ff02::1]/hook", "multicast"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://[::]/hook", "unspecified"),
        ("https://240.0.0.1/hook", "reserved"),
        ("https://100.64.0.1/hook", "not a public"),  # carrier-grade NAT
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),  # IPv4-mapped
        ("https://[::ffff:169.254.169.254]/hook", "link-local"),
        ("https://[64:ff9b::a00:1]/hook", "private"),  # NAT64 of 10.0.0.1
        ("https://[2002:7f00:1::]/hook", "loopback"),  # 6to4 of 127.0.0.1
        ("https://2130706433/hook", "cannot be resolved"),  # no decimal tricks either
    ],
)
def test_it_refuses_targets_inside_the_operators_network(url, why):
    with pytest.raises(netguard.Refused, match=why):
        netguard.check(url, resolver=resolver({}))


def test_a_name_is_refused_when_any_of_its_addresses_is_not_public():
    names = resolver(
        {
            "localhost": ["127.0.0.1", "::1"],
            "mixed.example": ["93.184.216.34", "10.1.2.3"],
            "metadata.example": ["169.254.169.254"],
        }
    )
    for host in ("localhost", "mixed.example", "metadata.example"):
        with pytest.raises(netguard.Refused):
            netguard.check(f"https://{host}/hook", resolver=names)


def test_localhost_is_refused_with_the_real_resolver():
    with pytest.raises(netguard.Refused, match="loopback"):
        netguard.check("https://localhost/hook")


def test_public_https_targets_pass_with_every_checked_address():
    names = resolver({"hooks.example": ["93.184.216.34", "2606:2800:220:1::1"]})
    target = netguard.check("https://hooks.example:8443/in?x=1", resolver=names)
    assert target.host == "hooks.example" and target.port == 8443
    assert target.path == "/in?x=1"
    assert target.addresses == ("93.184.216.34", "2606:2800:220:1::1")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://93.184.216.34/hook", "https"),
        ("ftp://93.184.216.34/hook", "https"),
        ("https://user:pw@93.184.216.34/hook", "user name"),
        ("https:///hook", "https"),
        ("https://93.184.216.34/a b", "spaces"),
        ("https://93.184.216.34/\r\nX: 1", "control"),
        ("https://93.184.216.34:99999/", "valid"),
        ("https://nowhere.invalid/hook", "cannot be resolved"),
        ("https://example.org/" + "x" * 2100, "2048"),
    ],
)
def test_it_refuses_what_is_not_a_plain_https_url(url, why):
    with pytest.raises(netguard.Refused, match=why):
        netguard.check(url, resolver=resolver({}))


def test_allowed_networks_let_loopback_in_and_plain_http_only_there():
    assert netguard.check("https://127.0.0.1:8443/hook", LOOPBACK).addresses == ("127.0.0.1",)
    assert netguard.check("http://[::1]:8080/hook", LOOPBACK).scheme == "http"
    with pytest.raises(netguard.Refused, match="private"):
        netguard.check("https://10.0.0.1/hook", LOOPBACK)
    names = resolver({"hooks.example": ["93.184.216.34"]})
    with pytest.raises(netguard.Refused, match="https"):
        netguard.check("http://hooks.example/hook", LOOPBACK, resolver=names)
