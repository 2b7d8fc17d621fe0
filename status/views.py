"""Public pages. This is the plain first version; the public-site issue builds on it."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, render_template

from status.models import ComponentStatus
from status.runtime import runtime

log = logging.getLogger(__name__)
bp = Blueprint("public", __name__)

LABELS = {
    ComponentStatus.OPERATIONAL: "Operational",
    ComponentStatus.DEGRADED_PERFORMANCE: "Degraded performance",
    ComponentStatus.PARTIAL_OUTAGE: "Partial outage",
    ComponentStatus.MAJOR_OUTAGE: "Major outage",
    ComponentStatus.UNDER_MAINTENANCE: "Under maintenance",
    ComponentStatus.UNKNOWN: "No data",
}


@bp.get("/")
def index():
    rt = runtime()
    config = rt.config
    try:
        states = rt.store.component_states()
        database_ok = True
    except Exception:
        log.exception("cannot read component states")
        states, database_ok = {}, False

    def view(component):
        state = states.get(component.id)
        status = ComponentStatus(state.status) if state else ComponentStatus.UNKNOWN
        return {"component": component, "status": status.value, "label": LABELS[status]}

    sections = [
        {"group": group, "components": [view(c) for c in config.components_in(group.id)]}
        for group in config.groups
    ]
    ungrouped = [view(c) for c in config.components if c.group is None]
    if ungrouped:
        sections.append({"group": None, "components": ungrouped})
    return render_template(
        "public/index.html", site=config.site, sections=sections, database_ok=database_ok
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
