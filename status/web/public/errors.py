"""The error pages (404, 405) of the public site: in its layout and the reader's language.

Rendered from the snapshot like every public page, once per snapshot and language, and
cached the same way (``Cache-Control: public``), so a crawler's stream of unknown
addresses costs no more than the page itself. Without JavaScript, as the body is the
same for every address: it names none. Under ``/api/`` the machines get the framework's
short answer; their clients read the status code, not a page.
"""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from status.snapshot import Snapshot
from status.web import language
from status.web.public.cache import cached
from status.web.public.pages import context

PAGES = {
    404: (
        _l("Page not found"),
        _l("There is no page at this address. It may have moved, or the address is mistyped."),
    ),
    405: (
        _l("Method not allowed"),
        _l("This address does not answer requests of this kind."),
    ),
}


def error_page(error: HTTPException):
    if request.path.startswith("/api/"):
        return error
    lang = language.language()
    heading, text = PAGES[error.code]

    def render(snapshot: Snapshot) -> str:
        ctx = context(snapshot, lang, None)
        return render_template("public/error.html", **ctx, heading=heading, text=text)

    response = cached(
        ("error", error.code, lang), render, "text/html", vary=language.VARY, status=error.code
    )
    for name, value in error.get_headers():
        if name.lower() == "allow":  # 405: which methods the address does answer
            response.headers[name] = value
    return language.remember_choice(response)


def init_app(app: Flask) -> None:
    for code in PAGES:
        app.register_error_handler(code, error_page)
