"""The HTTP(S) probe: one request, its response judged against ``expect`` (DESIGN §5).

Each worker thread keeps one ``requests.Session``, so connections to a target are reused
from one run to the next; cookies are not kept between runs. A probe's request is prepared
once (headers, body, basic auth from the URL, proxies and CA bundle from the environment,
as ``requests`` would take them) and sent as a copy on every run: preparing it anew each
time cost more CPU than the request itself (docs/benchmarks.md). The deadline bounds connect
and headers together (urllib3's total timeout) and then every read of the body, so a
target that drips its body fails at the deadline too. Only the DNS lookup is unbounded.

The body is read up to ``BODY_LIMIT``; a longer one is not an error, the checks see its
beginning. ``latency_seconds`` is the time to the response headers (over all redirects
followed), without our reading and checking of the body.
"""

from __future__ import annotations

import functools
import http.client
import json
import logging
import os
import re
import ssl
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import timedelta
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urljoin

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InsecureRequestWarning

from probes.base import Deadline, ProbeResult, describe, error_text, failure
from probes.tcp import quote, socket_error
from status.config import HttpExpect, HttpProbe

log = logging.getLogger(__name__)

BODY_LIMIT = 1 << 20
CHUNK = 64 * 1024
USER_AGENT = "Leitstand status probe"

_local = threading.local()
_warned: set[str] = set()  # URLs already warned about for verify_tls: false
_warned_lock = threading.Lock()
_MISSING = object()


def probe(spec: HttpProbe, *, timeout: float) -> ProbeResult:
    """Request ``spec.url`` and check the response within ``timeout`` seconds (DESIGN §5)."""
    started = time.perf_counter()
    try:
        deadline = Deadline(timeout)
        response = _send(spec, deadline)
    except Exception as exc:
        return failure(request_error(exc, timeout), started)
    try:
        return _judge(spec.expect, response, deadline, started)
    except Exception as exc:
        return failure(request_error(exc, timeout), started)
    finally:
        # A body read to the end has given its connection back to the pool already;
        # one we stopped reading is closed here rather than reused half-read.
        response.close()


class _Adapter(HTTPAdapter):
    """Gives every request, redirects included, what is left of this thread's deadline."""

    def send(self, request, *args, **kwargs):
        deadline: Deadline | None = getattr(_local, "deadline", None)
        if deadline is not None:
            kwargs["timeout"] = urllib3.Timeout(total=deadline.remaining())
        return super().send(request, *args, **kwargs)


def _session() -> requests.Session:
    """This thread's session: pools for many distinct targets, a few connections each."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        # What requests would read from the environment on every request is read once,
        # per probe, in _prepared().
        session.trust_env = False
        adapter = _Adapter(pool_connections=256, pool_maxsize=4, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        # Runs must not depend on each other; cookies still flow within a redirect chain.
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        _local.session = session
    return session


@functools.lru_cache(maxsize=8192)
def _prepared(
    method: str, url: str, headers: tuple[tuple[str, str], ...], body: str | None
) -> tuple[requests.PreparedRequest, dict[str, str], str | bool]:
    """The request to send for these settings, with its proxies and CA bundle."""
    request = requests.Request(
        method,
        url,
        headers={**requests.utils.default_headers(), "User-Agent": USER_AGENT, **dict(headers)},
        data=body.encode() if body is not None else None,
    ).prepare()
    proxies = requests.utils.get_environ_proxies(url)
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    return request, proxies, ca_bundle or True


def _send(spec: HttpProbe, deadline: Deadline) -> requests.Response:
    """Send the request and return once the headers are in; the body is left to read."""
    request, proxies, ca_bundle = _prepared(
        spec.method, spec.url, tuple(spec.headers.items()), spec.body
    )
    options: dict[str, Any] = {
        "allow_redirects": spec.follow_redirects,
        "stream": True,
        "verify": spec.ca_file or ca_bundle,
        "cert": _client_cert(spec),
        "proxies": proxies,
    }
    session = _session()
    _local.deadline = deadline
    try:
        if spec.verify_tls:
            return session.send(request.copy(), **options)
        _warn_unverified(spec.url)
        with warnings.catch_warnings():
            # Said once per URL in our log instead of once per request by urllib3.
            warnings.simplefilter("ignore", InsecureRequestWarning)
            return session.send(request.copy(), **{**options, "verify": False})
    finally:
        _local.deadline = None


def _client_cert(spec: HttpProbe) -> str | tuple[str, str] | None:
    if spec.client_cert and spec.client_key:
        return (spec.client_cert, spec.client_key)
    return spec.client_cert  # a single PEM holding certificate and key, or None


def _warn_unverified(url: str) -> None:
    with _warned_lock:
        if url in _warned:
            return
        _warned.add(url)
    log.warning("not verifying the TLS certificate of %s (verify_tls: false)", url)


def _judge(
    expect: HttpExpect, response: requests.Response, deadline: Deadline, started: float
) -> ProbeResult:
    """Check the response, reading its body only once the status is as expected."""
    latency = sum((r.elapsed for r in [*response.history, response]), timedelta()).total_seconds()
    measured: dict[str, Any] = {
        "latency_seconds": latency,
        "http_status_code": response.status_code,
    }
    declared = _declared_length(response)
    if not expect.status_matches(response.status_code):
        return failure(
            _status_error(expect, response), started, http_content_length=declared, **measured
        )
    try:
        body, truncated = read_body(response, deadline)
    except Exception as exc:
        return failure(request_error(exc, deadline.timeout), started, **measured)
    measured["http_content_length"] = max(len(body), declared or 0)
    error = _body_error(expect, response, body, truncated)
    if error:
        return failure(error, started, **measured)
    degraded = expect.max_latency is not None and latency > expect.max_latency
    return ProbeResult(
        ok=True,
        duration_seconds=time.perf_counter() - started,
        degraded=degraded,
        error=f"latency {latency:.2f}s, expected at most {expect.max_latency:g}s"
        if degraded
        else None,
        **measured,
    )


def _status_error(expect: HttpExpect, response: requests.Response) -> str:
    code = response.status_code
    if response.is_redirect:
        target = urljoin(response.url, response.headers["Location"])
        return f"redirect to {target} not followed (status {code})"
    return f"status {code}, expected {' or '.join(str(s) for s in expect.status)}"


def _declared_length(response: requests.Response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def read_body(response: requests.Response, deadline: Deadline) -> tuple[bytes, bool]:
    """Up to BODY_LIMIT bytes of the (decoded) body, and whether there was more.

    ``read1`` returns whatever one socket read brings, so the deadline is checked between
    reads however slowly the bytes come, and each read is bounded by what is left of it.
    """
    raw = response.raw
    chunks: list[bytes] = []
    size = 0
    while size < BODY_LIMIT:
        _bound_reads(raw, deadline.remaining())
        chunk = raw.read1(min(CHUNK, BODY_LIMIT - size), decode_content=True)
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), True


def _bound_reads(raw: urllib3.HTTPResponse, seconds: float) -> None:
    """Let the next socket read block for at most ``seconds``."""
    sock = getattr(raw.connection, "sock", None)
    if sock is not None:
        sock.settimeout(seconds)


def _body_error(
    expect: HttpExpect, response: requests.Response, body: bytes, truncated: bool
) -> str | None:
    """The first body check that fails, in the order body_contains, body_regex, json."""
    if expect.body_contains is None and expect.body_regex is None and not expect.json_:
        return None
    text = body.decode(response.encoding or "utf-8", "replace")
    if expect.body_contains is not None and expect.body_contains not in text:
        return f"body does not contain {quote(expect.body_contains)}"
    if expect.body_regex is not None and not re.search(expect.body_regex, text):
        return f"body does not match /{expect.body_regex}/"
    if not expect.json_:
        return None
    try:
        document = json.loads(text)
    except ValueError as exc:
        where = f" at line {exc.lineno}, column {exc.colno}" if hasattr(exc, "lineno") else ""
        more = f" (read only the first {BODY_LIMIT >> 20} MiB)" if truncated else ""
        return f"body is not valid JSON: {getattr(exc, 'msg', exc)}{where}{more}"
    for path, wanted in expect.json_.items():
        found = _lookup(document, path)
        if found is _MISSING:
            return f"json {path}: missing"
        if not _same(found, wanted):
            return f"json {path}: expected {_show(wanted)}, found {_show(found)}"
    return None


def _lookup(document: Any, path: str) -> Any:
    """The value at a dotted path like ``data.items.0.name``; integer parts index lists."""
    for part in str(path).split("."):
        if isinstance(document, dict) and part in document:
            document = document[part]
        elif isinstance(document, list) and re.fullmatch(r"-?\d+", part):
            index = int(part)
            if not -len(document) <= index < len(document):
                return _MISSING
            document = document[index]
        else:
            return _MISSING
    return document


def _same(found: Any, wanted: Any) -> bool:
    # JSON true is not 1, though Python says True == 1.
    if isinstance(found, bool) or isinstance(wanted, bool):
        return type(found) is type(wanted) and found == wanted
    return found == wanted


def _show(value: Any) -> str:
    if isinstance(value, str):
        return quote(value)
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def request_error(exc: BaseException, timeout: float) -> str:
    """A short text for what requests, urllib3 or the socket raised.

    Said from the wrapped cause that says it best; what no case here explains gets the
    text the other probes give too (``error_text``).
    """
    causes = list(_causes(exc))
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate verify failed: {cause.verify_message or describe(cause)}"
    if isinstance(exc, requests.Timeout) or any(isinstance(c, TimeoutError) for c in causes):
        return f"timed out after {timeout:g}s"
    if isinstance(exc, requests.TooManyRedirects):
        return f"too many redirects (more than {_session().max_redirects})"
    for cause in causes:
        if isinstance(cause, ssl.SSLError):
            reason = cause.reason or describe(cause)
            return f"TLS error: {reason.lower().replace('_', ' ')}"
        if isinstance(cause, http.client.IncompleteRead):
            return "connection closed before the end of the body"
        if isinstance(cause, http.client.RemoteDisconnected):
            return "connection closed without a response"
        if isinstance(cause, OSError) and (cause.errno or isinstance(cause, TimeoutError)):
            return socket_error(cause, timeout)
    if not isinstance(exc, OSError | urllib3.exceptions.HTTPError):  # a bug, not the target
        log.warning("http probe failed unexpectedly", exc_info=exc)
    # requests' own texts repeat the pool and URL; the innermost cause says it shortest.
    return error_text(causes[-1], timeout)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps: causes, contexts, urllib3 reasons, exceptions in args."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        wrapped += list(current.args)
        todo += [w for w in wrapped if isinstance(w, BaseException)]
