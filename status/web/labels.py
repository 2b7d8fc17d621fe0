"""The words every surface shows for each status, impact and banner state (en + de)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from status.models import ComponentStatus, Indicator
from status.rules import INDICATOR_DESCRIPTIONS

# The page has states the API cannot say: nothing known about any component, and
# nothing wrong with those measured while others have no current data.
NO_DATA = "no_data"
PARTIAL_DATA = "partial_data"
BANNER = {
    **{indicator: _l(text) for indicator, text in INDICATOR_DESCRIPTIONS.items()},
    NO_DATA: _l("No Current Status Data"),
    PARTIAL_DATA: _l("Operational where measured; some components have no current data"),
}
# The icon of the banner: the component status that looks like the indicator.
BANNER_ICON = {
    Indicator.NONE: ComponentStatus.OPERATIONAL,
    Indicator.MINOR: ComponentStatus.DEGRADED_PERFORMANCE,
    Indicator.MAJOR: ComponentStatus.PARTIAL_OUTAGE,
    Indicator.CRITICAL: ComponentStatus.MAJOR_OUTAGE,
    Indicator.MAINTENANCE: ComponentStatus.UNDER_MAINTENANCE,
    NO_DATA: ComponentStatus.UNKNOWN,
    PARTIAL_DATA: ComponentStatus.UNKNOWN,
}
COMPONENT_STATUS = {
    ComponentStatus.OPERATIONAL: _l("Operational"),
    ComponentStatus.DEGRADED_PERFORMANCE: _l("Degraded Performance"),
    ComponentStatus.PARTIAL_OUTAGE: _l("Partial Outage"),
    ComponentStatus.MAJOR_OUTAGE: _l("Major Outage"),
    ComponentStatus.UNDER_MAINTENANCE: _l("Under Maintenance"),
    ComponentStatus.UNKNOWN: _l("No data"),
}
INCIDENT_STATUS = {
    "investigating": _l("Investigating"),
    "identified": _l("Identified"),
    "monitoring": _l("Monitoring"),
    "resolved": _l("Resolved"),
    "postmortem": _l("Postmortem"),
}
MAINTENANCE_STATUS = {
    "scheduled": _l("Scheduled"),
    "in_progress": _l("In Progress"),
    "verifying": _l("Verifying"),
    "completed": _l("Completed"),
    "cancelled": _l("Cancelled"),
}
IMPACT = {
    "none": _l("No impact"),
    "minor": _l("Minor impact"),
    "major": _l("Major impact"),
    "critical": _l("Critical impact"),
}


def label(mapping: dict, key: str) -> str:
    """The translated label of a status word; the word itself if we have none."""
    text = mapping.get(key)
    return str(text) if text is not None else key
