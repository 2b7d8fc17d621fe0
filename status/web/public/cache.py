"""Serving public responses from the snapshot: one render per change, ETags and 304s.

Every public URL (page, JSON, feeds, calendar) answers through :func:`cached`: the body
is rendered once per snapshot and key, then served as the same bytes with a strong
ETag, ``Cache-Control: public, max-age=10, stale-while-revalidate=30`` and a 304 for a
matching ``If-None-Match``. Browsers, nginx and CDNs can all cache it. Bodies of 1 KiB
or more are also gzipped once, for clients that accept it (the page shrinks ~20x).
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from flask import Response, request

from status.runtime import runtime
from status.snapshot import Snapshot

CACHE_CONTROL = "public, max-age=10, stale-while-revalidate=30"
MARKER = "X-Leitstand-Cacheable"  # the WSGI fast path may keep this answer (removed there)
GZIP_MIN_BYTES = 1024


@dataclass(frozen=True)
class Rendered:
    body: bytes
    etag: str
    mimetype: str
    gzipped: bytes | None = None  # compressed once, for clients that accept gzip


def render_once(
    snapshot: Snapshot, key: Hashable, render: Callable[[Snapshot], str | bytes], mimetype: str
) -> Rendered:
    """The rendered body for this snapshot and key; rendered on the first call only."""

    def make() -> Rendered:
        body = render(snapshot)
        if isinstance(body, str):
            body = body.encode()
        etag = hashlib.blake2b(body, digest_size=16).hexdigest()
        gzipped = gzip.compress(body, 6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        return Rendered(body, etag, mimetype, gzipped)

    return snapshot.memo((key, mimetype), make)


def cached(
    key: Hashable,
    render: Callable[[Snapshot], str | bytes],
    mimetype: str,
    *,
    vary: str | None = None,
    headers: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """Answer a public GET from the current snapshot (see the module docstring).

    ``status`` other than 200 (the error pages): cached the same, but never a 304, which
    stands for a 200 only, and never kept by the fast path.
    """
    rendered = render_once(runtime().snapshot(), key, render, mimetype)
    compressed = rendered.gzipped is not None and request.accept_encodings["gzip"] > 0
    body, etag = (
        (rendered.gzipped, rendered.etag + "-gz") if compressed else (rendered.body, rendered.etag)
    )
    if status != 200:
        response = Response(body, status=status, mimetype=rendered.mimetype)
    elif etag in request.if_none_match:
        response = Response(status=304)
    else:
        response = Response(body, mimetype=rendered.mimetype)
        response.headers[MARKER] = "1"  # the WSGI fast path may keep this answer
    if compressed:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Vary"] = ", ".join(filter(None, [vary, "Accept-Encoding"]))
    response.headers.update(headers or {})
    return response
