"""Where a webhook may point: no requests into the operator's own network (SSRF).

A target URL is checked twice: when it is registered and before every delivery (DNS
answers change). Its host is resolved, and **every** address must be public: loopback,
private (RFC 1918, IPv6 ULA), link-local (169.254.0.0/16 with the cloud metadata
address, fe80::/10), multicast, unspecified, reserved and other non-global addresses
are refused, as are IPv4 addresses hidden in IPv6 (``::ffff:10.0.0.1``, NAT64 and
6to4 forms). The caller then connects to one of the checked addresses, never
resolving the name again (subscribers/webhook.py pins it).

The config may allow networks (``webhooks.allow_networks``): an address inside one of
them passes, and only a target whose addresses are all inside them may use plain
``http``. Everything else must be ``https``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
MAX_URL = 2048
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """The URL may not be a webhook target (the message says why, for the registrant)."""


class Unresolved(Refused):
    """The host has no address now (DNS may answer later: a delivery retries)."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``addresses``, all allowed) and what to ask for."""

    url: str
    scheme: str
    host: str  # the name (or literal address) for the Host header, SNI and the certificate
    port: int
    path: str  # with the query
    addresses: tuple[str, ...]


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _embedded_v4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4), if any."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def blocked_reason(address: Address, allow: Sequence[Network] = ()) -> str | None:
    """Why ``address`` may not be connected to (None: it may)."""
    if any(address.version == net.version and address in net for net in allow):
        return None
    inner = _embedded_v4(address)
    if inner is not None:
        reason = blocked_reason(inner, allow)
        if reason is not None:
            return reason
    for flag, reason in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    ):
        if getattr(address, flag):
            return f"a {reason} address"
    if not address.is_global:
        return "not a public address"
    return None


def check(
    url: str,
    allow: Sequence[Network] = (),
    *,
    resolver: Resolver = resolve,
) -> Target:
    """``url`` as a :class:`Target`, or :class:`Refused` saying why it may not be one."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise Refused("must be a URL of at most 2048 characters")
    if any(ord(ch) <= 32 or ord(ch) == 127 for ch in url):
        raise Refused("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("is not a valid URL") from None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("https", "http") or not host:
        raise Refused("must be an https URL")
    if parts.username is not None or parts.password is not None:
        raise Refused("must not carry a user name or password")
    port = port or (443 if scheme == "https" else 80)
    addresses = _addresses(host, port, resolver)
    for address in addresses:
        reason = blocked_reason(address, allow)
        if reason is not None:
            raise Refused(f"points to {reason} ({address}); webhooks must be public")
    inside = all(any(a.version == n.version and a in n for n in allow) for a in addresses)
    if scheme == "http" and not inside:
        raise Refused("must be an https URL")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(url, scheme, host, port, path, tuple(str(a) for a in addresses))


def _addresses(host: str, port: int, resolver: Resolver) -> list[Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        found = resolver(host.rstrip("."), port)
    except (OSError, UnicodeError) as exc:
        raise Unresolved(f"its host {host} cannot be resolved ({type(exc).__name__})") from None
    addresses = []
    for text in found:
        try:
            addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))
        except ValueError:
            raise Refused(f"its host {host} resolves to {text!r}") from None
    if not addresses:
        raise Unresolved(f"its host {host} has no address")
    return addresses
