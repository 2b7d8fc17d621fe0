"""Languages and local time for the public pages: Flask-Babel, the site's timezone.

The language of a request is, in order: ``?lang=`` (the switcher, which also sets the
``lang`` cookie), the ``lang`` cookie, the best ``Accept-Language`` match — always one
of ``site.languages``. Times are shown in the site's timezone with its abbreviation,
formatted the way the language writes dates and numbers (Babel's CLDR data).

The compiled catalogues (``translations/*/LC_MESSAGES/messages.mo``) are committed, so a
fresh clone needs no compile step; ``docs/public-page.md`` says how to update them.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton, format_timedelta
from babel.numbers import format_decimal, format_percent
from flask import Flask, Response, request
from flask_babel import Babel, get_locale

from status.runtime import runtime

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
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


# -- formatting (explicit locale and zone: rendered once, served to many) --------------------
def format_when(moment: datetime, tz: tzinfo, lang: str) -> str:
    """``Jan 15, 2025, 13:00 CET`` / ``15. Jan. 2025, 13:00 MEZ``."""
    local = moment.astimezone(tz)
    pattern = Locale.parse(lang).datetime_formats["medium"]
    text = pattern.replace("{1}", format_skeleton("yMMMd", local, locale=lang)).replace(
        "{0}", local.strftime("%H:%M")
    )
    return f"{text} {zone_abbreviation(local, lang)}"


def zone_abbreviation(local: datetime, lang: str) -> str:
    """The language's abbreviation (MEZ) where CLDR has one, else the tz database's (CET)."""
    name = format_datetime(local, "z", tzinfo=local.tzinfo, locale=lang)
    if name[:1] in "+-" or name.startswith("GMT"):
        return local.tzname() or name
    return name


def format_day(day: date, lang: str) -> str:
    """``Jan 15, 2025`` / ``15. Jan. 2025``."""
    return format_skeleton("yMMMd", datetime(day.year, day.month, day.day), locale=lang)


def format_month(day: date, lang: str) -> str:
    """``January 2025`` / ``Januar 2025`` (the stand-alone month name)."""
    return format_date(day, "LLLL y", locale=lang)


def format_uptime(share: float, lang: str) -> str:
    """``99.95%`` / ``99,95 %``; floored, so only time without any downtime says 100%."""
    pattern = Locale.parse(lang).percent_formats[None].pattern.replace("#,##0", "#,##0.00", 1)
    return format_percent(math.floor(share * 10000) / 10000, pattern, locale=lang)


def format_ms(seconds: float, lang: str) -> str:
    return f"{format_decimal(round(seconds * 1000), locale=lang)} ms"


def format_duration(seconds: float, lang: str) -> str:
    """``2 hours`` / ``45 Sekunden``, rounded the way people say it."""
    return format_timedelta(timedelta(seconds=seconds), threshold=1.5, locale=lang)


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    Babel(app, locale_selector=select_language)
