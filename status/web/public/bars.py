"""The day bars of the public page, rendered once per change of their own data.

A bar is 90 day cells with their tooltips: most of the time it takes to render ``/``.
Its data (the component's days, their incidents) changes with the daily rollups, not
with every incident update; so a new snapshot reuses the bars whose days are the same,
and an update during an outage re-renders the page around them. Kept per process, the
most recent :data:`KEEP` bars.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from flask import render_template
from markupsafe import Markup

from status.snapshot.memo import ByIdentity
from status.web.public.viewmodels import DayView, Fmt, Row

KEEP = 2048
_bars: OrderedDict[tuple, Markup] = OrderedDict()
_lock = threading.Lock()
# The day cells a bar was last rendered from (viewmodels.day_views hands out the same
# list while they do not change): a lookup by identity skips building the key.
_by_days = ByIdentity(keep=KEEP)


def _day_key(day: DayView) -> tuple:
    incidents = tuple((i.id, i.name) for i in day.incidents)
    return (day.day, day.state, day.uptime, tuple(day.durations), incidents)


def bar(row: Row, fmt: Fmt, status_label) -> Markup:
    """The rendered bar of ``row`` in ``fmt``'s language and zone."""
    component = row.component
    return _by_days.get(
        row.days,
        lambda: _rendered(row, fmt, status_label),
        fmt.lang, str(fmt.tz), component.id, component.name,
    )  # fmt: skip


def _rendered(row: Row, fmt: Fmt, status_label) -> Markup:
    component = row.component
    key = (fmt.lang, str(fmt.tz), component.id, component.name, tuple(map(_day_key, row.days)))
    with _lock:
        found = _bars.get(key)
        if found is not None:
            _bars.move_to_end(key)
            return found
    html = Markup(
        render_template(
            "public/_bar.html", row=row, c=component, fmt=fmt, status_label=status_label
        )
    )
    with _lock:
        _bars[key] = html
        while len(_bars) > KEEP:
            _bars.popitem(last=False)
    return html
