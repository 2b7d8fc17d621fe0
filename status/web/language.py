"""The language of a request: Flask-Babel over the site's languages.

The language of a request is, in order: ``?lang=`` (the switcher, which also sets the
``lang`` cookie), the ``lang`` cookie, the best ``Accept-Language`` match — always one
of ``site.languages``. The compiled catalogues (``translations/*/LC_MESSAGES/
messages.mo``) are committed, so a fresh clone needs no compile step;
``docs/public-page.md`` says how to update them.
"""

from __future__ import annotations

from flask import Flask, Response, g, request
from flask_babel import Babel, get_locale, get_translations

from status.i18n import TRANSLATIONS
from status.runtime import runtime

COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 86400
VARY = "Accept-Language, Cookie"


def site_languages() -> list[str]:
    try:
        return list(runtime().config.site.languages)
    except Exception:  # no valid config (CLI only): the pages are not served then anyway
        return ["en"]


def requested_language() -> str | None:
    """The switcher's choice (``?lang=de``), if it names one of the site's languages."""
    lang = request.args.get("lang")
    return lang if lang in site_languages() else None


def select_language() -> str:
    """The language for this request (see the module docstring)."""
    languages = site_languages()
    chosen = requested_language() or request.cookies.get(COOKIE)
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or languages[0]


def language() -> str:
    """The current request's language code, as Flask-Babel selected it."""
    return str(get_locale() or "en")


def remember_choice(response: Response) -> Response:
    """After ``?lang=xx``: keep the choice in a cookie, and keep that answer private."""
    lang = requested_language()
    if lang:
        response.set_cookie(
            COOKIE, lang, max_age=COOKIE_MAX_AGE, secure=True, httponly=True, samesite="Lax"
        )
        # The body is the same for everyone asking ?lang=xx; the Set-Cookie is not ours to
        # hand out from a shared cache.
        response.headers["Cache-Control"] = "private, no-cache"
    return response


def _translations():
    """The request's catalogue, looked up once per request: Flask-Babel's own template
    callables look it up for every string (~290 on ``/``, a third of a render's time)."""
    found = getattr(g, "_leitstand_translations", None)
    if found is None:
        found = g._leitstand_translations = get_translations()
    return found


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_language)
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )
