"""The DNS probe: resolve one name for one record type, and check what came back.

The resolver is ``spec.resolver`` (``ip``, ``ip:port`` or ``[ipv6]:port``), else the
system's nameservers (/etc/resolv.conf). We ask with ``dns.query`` rather than
``dns.resolver.Resolver.resolve``: its back-off sleeps between rounds ignore the lifetime,
so it can overrun the probe's deadline by up to two seconds. Here every query gets only
what is left of the deadline: UDP, retried every ``RETRY`` seconds, over TCP when the
answer comes back truncated; a server that fails (SERVFAIL, REFUSED, unreachable) is
dropped and the next one asked.

``expect.contains``: every expected value must be one of the answers. Values are compared
normalised: trailing dots stripped, case-insensitive, IP addresses in canonical form; a
record matches on its whole text (``10 mail.example.com``) or on its target
(``mail.example.com``), a TXT record on its unquoted text.
"""

from __future__ import annotations

import ipaddress
import logging
import time

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from probes.base import Deadline, ProbeResult, describe, failure

log = logging.getLogger(__name__)

RETRY = 2.0
"""Seconds to wait for a UDP answer before asking again (dnspython's default, too)."""
_TARGETS = ("target", "exchange", "address", "mname")  # CNAME/NS/PTR/SRV, MX, A/AAAA, SOA
_SHOWN = 6  # answers quoted in an error, at most

Server = tuple[str, int]


class _Failed(Exception):
    """The lookup failed; ``str()`` is the error for the user."""


def probe(spec, *, timeout: float) -> ProbeResult:
    """Resolve ``spec.name`` for ``spec.record`` and check ``spec.expect`` (DESIGN §5)."""
    started = time.perf_counter()
    deadline = Deadline(timeout)
    name = spec.name.rstrip(".")
    try:
        servers = _servers(spec.resolver)
        qname = dns.name.from_text(spec.name)
        query = dns.message.make_query(qname, spec.record)
        begin = time.perf_counter()
        response, latency = _ask(query, servers, deadline, name)
        lookup = time.perf_counter() - begin
    except _Failed as exc:
        return failure(str(exc), started)
    except TimeoutError:
        return failure(f"timed out after {timeout:g}s", started)
    except Exception as exc:
        return failure(describe(exc).rstrip("."), started)
    # the round trip of the query that answered; the lookup adds retries and other servers
    measured = {"dns_lookup_time_seconds": lookup, "latency_seconds": latency}
    if response.rcode() == dns.rcode.NXDOMAIN:
        return failure(f"NXDOMAIN: {name} does not exist", started, **measured)
    try:  # the records of the type asked for, following any CNAME chain in the answer
        rrset = dns.resolver.Answer(
            qname, dns.rdatatype.from_text(spec.record), dns.rdataclass.IN, response
        ).rrset
    except dns.exception.DNSException as exc:
        return failure(describe(exc).rstrip("."), started, **measured)
    if rrset is None:
        return failure(f"no answer for {spec.record} record of {name}", started, **measured)
    answers = list(rrset)
    missing = _missing(spec.expect.contains, answers)
    if missing:
        got = [_display(rdata) for rdata in answers]
        shown = ", ".join(got[:_SHOWN]) + (", ..." if len(got) > _SHOWN else "")
        return failure(
            f"expected answer containing {', '.join(missing)}, got {shown}", started, **measured
        )
    return ProbeResult(ok=True, duration_seconds=time.perf_counter() - started, **measured)


def _ask(
    query: dns.message.Message, servers: list[Server], deadline: Deadline, name: str
) -> tuple[dns.message.Message, float]:
    """The first NOERROR or NXDOMAIN answer, and its round trip; raises _Failed or Timeout."""
    errors: list[str] = []
    while servers:
        for server in list(servers):
            ip, port = server
            wait = min(RETRY, deadline.remaining())
            begin = time.perf_counter()
            try:
                try:
                    response = dns.query.udp(
                        query,
                        ip,
                        port=port,
                        timeout=wait,
                        ignore_unexpected=True,
                        raise_on_truncation=True,
                    )
                except dns.message.Truncated:
                    response = dns.query.tcp(query, ip, port=port, timeout=deadline.remaining())
            except dns.exception.Timeout:
                continue  # UDP may be lost: this server gets another go in the next round
            except TimeoutError:  # the deadline itself (an OSError, not a server's fault)
                raise
            except (OSError, dns.exception.DNSException) as exc:
                errors.append(f"{describe(exc).rstrip('.')} from {_show(server)}")
                servers.remove(server)
                continue
            rcode = response.rcode()
            if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                return response, time.perf_counter() - begin
            errors.append(f"{dns.rcode.to_text(rcode)} from {_show(server)}")
            servers.remove(server)
    raise _Failed(f"{'; '.join(errors)} for {name}")


def _servers(address: str | None) -> list[Server]:
    if address is None:
        system = dns.resolver.Resolver()  # read afresh: /etc/resolv.conf may have changed
        return [(str(ip), system.port) for ip in system.nameservers]
    host, port = _split(address)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise _Failed(f"resolver must be an IP address, not '{host}'") from None
    return [(host, port)]


def _split(address: str) -> tuple[str, int]:
    """``ip``, ``ip:port``, ``[ipv6]:port`` or a bare IPv6 address -> (ip, port)."""
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest.removeprefix(":")
    elif address.count(":") == 1:
        host, _, port = address.partition(":")
    else:
        host, port = address, ""
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise _Failed(f"resolver port must be a number from 1 to 65535, not '{port}'")
    return host, int(port or 53)


def _show(server: Server) -> str:
    ip, port = server
    if port == 53:
        return ip
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _missing(expected: list[str], answers) -> list[str]:
    found = set()
    for rdata in answers:
        found.update(_normal(text) for text in _texts(rdata))
    return [value for value in expected if _normal(value) not in found]


def _texts(rdata) -> list[str]:
    """What one answer may be matched on: its text, its target, a TXT record's content."""
    texts = [rdata.to_text()]
    texts += [str(getattr(rdata, attr)) for attr in _TARGETS if hasattr(rdata, attr)]
    if hasattr(rdata, "strings"):  # TXT, SPF
        texts.append(b"".join(rdata.strings).decode(errors="replace"))
    return texts


def _normal(text: str) -> str:
    text = text.strip().rstrip(".")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text.lower()


def _display(rdata) -> str:
    if hasattr(rdata, "strings"):
        return b"".join(rdata.strings).decode(errors="replace")
    return rdata.to_text().rstrip(".")
