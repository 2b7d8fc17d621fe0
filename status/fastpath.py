"""A WSGI fast path for the outage rush: repeat public GETs never enter Flask.

The public responses are already rendered once per snapshot (status/public_cache.py);
what remains per request is Flask's machinery (request context, session, locale
selection, after-request hooks), which costs more than the response itself. So the
first time Flask answers a public GET, this middleware keeps the complete answer —
status, every header, body — in the current snapshot, keyed by what the answer may
depend on. Later requests with the same key get those bytes straight from WSGI, 304
included, until the snapshot changes (or the minute turns: some documents depend on
the clock).

What a public answer depends on, and so the key: the host, path and query string, the
``lang`` cookie (the only cookie the public pages read), ``Accept-Language``, and
whether the client accepts gzip. Only answers marked cacheable by
``public_cache.cached()`` are kept, and never one that sets a cookie.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from http.cookies import CookieError, SimpleCookie

from flask import Flask

from status.runtime import runtime

MARKER = "X-Leitstand-Cacheable"  # set by public_cache.cached(), removed here
MAX_ENTRIES = 2000  # per snapshot: random Accept-Language values cannot fill memory


class Kept:
    __slots__ = ("body", "etag", "headers", "headers_304", "status")

    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.etag = next((v for k, v in headers if k.lower() == "etag"), None)
        # A 304 repeats the caching headers, without the body's.
        self.headers_304 = [
            (k, v)
            for k, v in headers
            if k.lower() not in ("content-length", "content-type", "content-encoding")
        ]


class PublicFastPath:
    def __init__(self, wsgi_app: Callable, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET":
            return self.wsgi_app(environ, start_response)
        try:
            snapshot = runtime(self.app).snapshot()
        except Exception:  # no valid config: let Flask say so
            return self.wsgi_app(environ, start_response)
        key = (
            "wsgi",
            environ.get("HTTP_HOST", ""),
            environ.get("PATH_INFO", ""),
            environ.get("QUERY_STRING", ""),
            _lang_cookie(environ.get("HTTP_COOKIE")),
            environ.get("HTTP_ACCEPT_LANGUAGE", ""),
            "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""),
            minute(),
        )
        kept: Kept | None = snapshot.peek(key)
        if kept is not None:
            if kept.etag and kept.etag in environ.get("HTTP_IF_NONE_MATCH", ""):
                start_response("304 NOT MODIFIED", kept.headers_304)
                return [b""]
            start_response(kept.status, kept.headers)
            return [kept.body]
        return self._through_flask(environ, start_response, snapshot, key)

    def _through_flask(self, environ, start_response, snapshot, key) -> Iterable[bytes]:
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            cacheable = any(k == MARKER for k, _ in headers)
            headers = [(k, v) for k, v in headers if k != MARKER]
            captured.update(status=status, headers=headers, cacheable=cacheable)
            return start_response(status, headers, exc_info)

        result = self.wsgi_app(environ, capture)
        if not (
            captured.get("cacheable")
            and captured["status"].startswith("200")
            and not any(k.lower() == "set-cookie" for k, _ in captured["headers"])
            and snapshot.memo_size() < MAX_ENTRIES
        ):
            return result
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        snapshot.memo(key, lambda: Kept(captured["status"], captured["headers"], body))
        return [body]


def minute() -> int:
    """The current minute: documents that depend on the clock change at most this often."""
    return int(time.time() // 60)


def _lang_cookie(header: str | None) -> str:
    if not header or "lang=" not in header:
        return ""
    try:
        morsel = SimpleCookie(header).get("lang")
    except CookieError:
        return ""
    return morsel.value if morsel else ""


def init_app(app: Flask) -> None:
    app.wsgi_app = PublicFastPath(app.wsgi_app, app)
