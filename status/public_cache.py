"""Serving public responses from the snapshot: one render per change, ETags and 304s.

Every public URL (page, JSON, feeds, calendar) answers through :func:`cached`: the body
is rendered once per snapshot and key, then served as the same bytes with a strong
ETag, ``Cache-Control: public, max-age=10, stale-while-revalidate=30`` and a 304 for a
matching ``If-None-Match``. Browsers, nginx and CDNs can all cache it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from flask import Response, request

from status.runtime import runtime
from status.snapshot import Snapshot

CACHE_CONTROL = "public, max-age=10, stale-while-revalidate=30"


@dataclass(frozen=True)
class Rendered:
    body: bytes
    etag: str
    mimetype: str


def render_once(
    snapshot: Snapshot, key: Hashable, render: Callable[[Snapshot], str | bytes], mimetype: str
) -> Rendered:
    """The rendered body for this snapshot and key; rendered on the first call only."""

    def make() -> Rendered:
        body = render(snapshot)
        if isinstance(body, str):
            body = body.encode()
        return Rendered(body, hashlib.blake2b(body, digest_size=16).hexdigest(), mimetype)

    return snapshot.memo((key, mimetype), make)


def cached(
    key: Hashable,
    render: Callable[[Snapshot], str | bytes],
    mimetype: str,
    *,
    vary: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """Answer a public GET from the current snapshot (see the module docstring)."""
    rendered = render_once(runtime().snapshot(), key, render, mimetype)
    if rendered.etag in request.if_none_match:
        response = Response(status=304)
    else:
        response = Response(rendered.body, mimetype=rendered.mimetype)
    response.set_etag(rendered.etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    if vary:
        response.headers["Vary"] = vary
    response.headers.update(headers or {})
    return response
