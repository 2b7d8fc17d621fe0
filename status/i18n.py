"""Languages and local time, without Flask: the catalogues, dates, numbers, durations.

Times are shown in the site's timezone with its abbreviation, formatted the way the
language writes dates and numbers (Babel's CLDR data). :func:`translate` serves texts
written outside a request (the probes' own incident updates); pages translate through
Flask-Babel (:mod:`status.web.language`), from the same catalogues.

The compiled catalogues (``translations/*/LC_MESSAGES/messages.mo``) are committed, so a
fresh clone needs no compile step; ``docs/public-page.md`` says how to update them.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, tzinfo
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_datetime, format_skeleton, format_timedelta
from babel.numbers import format_decimal, format_percent
from babel.support import Translations

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


@cache
def _catalogue(lang: str) -> Translations:
    return Translations.load(str(TRANSLATIONS), [lang])


def translate(message: str, lang: str, **params: str) -> str:
    """``message`` (marked with ``N_``) in ``lang``, with its ``%(name)s`` filled in."""
    return _catalogue(lang).gettext(message) % params


# -- formatting (explicit locale and zone: rendered once, served to many) --------------------
# Pure functions of their arguments, called thousands of times per page (90 days for each
# component): kept, as Babel's formatting is most of a page's rendering time otherwise.
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


@lru_cache(maxsize=8192)
def format_day(day: date, lang: str) -> str:
    """``Jan 15, 2025`` / ``15. Jan. 2025``."""
    return format_skeleton("yMMMd", datetime(day.year, day.month, day.day), locale=lang)


@lru_cache(maxsize=8192)
def format_month(day: date, lang: str) -> str:
    """``January 2025`` / ``Januar 2025`` (the stand-alone month name)."""
    return format_date(day, "LLLL y", locale=lang)


@lru_cache(maxsize=8192)
def format_uptime(share: float, lang: str) -> str:
    """``99.95%`` / ``99,95 %``; floored, so only time without any downtime says 100%."""
    pattern = Locale.parse(lang).percent_formats[None].pattern.replace("#,##0", "#,##0.00", 1)
    return format_percent(math.floor(share * 10000) / 10000, pattern, locale=lang)


@lru_cache(maxsize=8192)
def format_ms(seconds: float, lang: str) -> str:
    """``123 ms``, ``1,234 ms`` / ``1.234 ms``; below half a millisecond ``< 1 ms``, not 0."""
    millis = round(seconds * 1000)
    if millis < 1:
        return "< 1 ms"
    return f"{format_decimal(millis, locale=lang)} ms"


@lru_cache(maxsize=8192)
def format_duration(seconds: float, lang: str) -> str:
    """``2 hours`` / ``45 Sekunden``, rounded the way people say it."""
    return format_timedelta(timedelta(seconds=seconds), threshold=1.5, locale=lang)
