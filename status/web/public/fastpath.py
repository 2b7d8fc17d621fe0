"""A WSGI fast path for the outage rush: repeat public GETs never enter Flask.

The public responses are already rendered once per snapshot (status/web/public/cache.py);
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
``cache.cached()`` are kept, and never one that sets a cookie.

Who asks is in none of that, so the fast path stays out of every request where who
asks could matter: it looks only at the public URLs (:func:`is_public`; the console,
``/api/v1``, ``/metrics``, ``/healthz`` and ``/ping`` never enter it), and a request
that carries credentials (an ``Authorization`` header or a session cookie) is neither
answered from it nor kept in it, whatever its URL.
"""

from __future__ import annotations

import io
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from http.cookies import CookieError, SimpleCookie

from flask import Flask

from status.runtime import runtime
from status.web.public.cache import MARKER

MAX_ENTRIES = 2000  # per snapshot: random Accept-Language values cannot fill memory
WARM_MAX = 32  # requests replayed against a new snapshot before it goes live
# What a replayed request carries: enough to ask the same thing, nothing about the asker.
REPLAYED = {
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "HTTP_HOST",
    "HTTP_ACCEPT_LANGUAGE",
    "HTTP_ACCEPT_ENCODING",
    "wsgi.url_scheme",
    "wsgi.version",
    "wsgi.errors",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
}


PUBLIC_PATHS = frozenset(
    {"/", "/history", "/subscribe", "/favicon.svg", "/history.atom", "/history.rss"}
    | {"/maintenance.ics"}
)
PUBLIC_PREFIXES = ("/incidents/", "/maintenance/", "/api/v2/")


def is_public(path: str) -> bool:
    """Whether ``path`` is one of the public URLs (DESIGN §4) the fast path may answer."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def cookie_names(header: str | None) -> set[str]:
    """The names of the cookies in a Cookie header (their values unread)."""
    if not header:
        return set()
    return {part.split("=", 1)[0].strip() for part in header.split(";")}


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
        # The most recently kept requests (what they asked for, not who asked), replayed
        # against each new snapshot before it goes live: see SnapshotCache.
        self.recent: OrderedDict[tuple, dict] = OrderedDict()
        self._recent_lock = threading.Lock()
        # The session cookie by either name (__Host- prefixed when the site is https).
        session = app.config["SESSION_COOKIE_NAME"].removeprefix("__Host-")
        self.credential_cookies = {session, f"__Host-{session}"}

    def carries_credentials(self, environ: dict) -> bool:
        """An Authorization header or a session cookie: this request may be someone's."""
        if environ.get("HTTP_AUTHORIZATION"):
            return True
        return bool(cookie_names(environ.get("HTTP_COOKIE")) & self.credential_cookies)

    def warm(self, snapshot) -> None:
        """Answer the recent requests once against ``snapshot``, so they are kept ready."""
        with self._recent_lock:
            requests = list(self.recent.values())
        for environ in requests:
            result = self(dict(environ, **{"wsgi.input": io.BytesIO()}), lambda *a, **k: None)
            if hasattr(result, "close"):
                result.close()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or not is_public(environ.get("PATH_INFO", ""))
            or self.carries_credentials(environ)
        ):
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
        self._remember(key, environ)
        return [body]

    def _remember(self, key: tuple, environ: dict) -> None:
        wanted = {k: v for k, v in environ.items() if k in REPLAYED}
        if key[4]:  # the language cookie, and no other cookie
            wanted["HTTP_COOKIE"] = f"lang={key[4]}"
        with self._recent_lock:
            self.recent[key[:-1]] = wanted  # without the minute
            self.recent.move_to_end(key[:-1])
            while len(self.recent) > WARM_MAX:
                self.recent.popitem(last=False)


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
    app.wsgi_app = path = PublicFastPath(app.wsgi_app, app)
    runtime(app).snapshot_warmer = path.warm
