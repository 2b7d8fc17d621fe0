"""The config file (DESIGN §7): load, expand ``${ENV}``, validate, report by YAML path.

Import from here, not from the modules below, which are split by what they hold:

- ``values``: durations, slugs, URLs, ports, and the base model;
- ``probes``: one model per probe type;
- ``models``: the site, groups, components, smtp and the whole ``Config``;
- ``loader``: ``load_config``, ``${ENV}`` expansion and errors named by YAML path;
- ``holder``: ``ConfigHolder``, the config of a running process.
"""

from __future__ import annotations

from status.config.holder import ConfigHolder
from status.config.loader import ConfigError, load_config
from status.config.models import (
    Component,
    Config,
    Console,
    Group,
    IncidentTemplate,
    Notifications,
    Retention,
    Scheduler,
    Site,
    Smtp,
    Webhooks,
)
from status.config.probes import (
    PROBE_TYPES,
    DnsExpect,
    DnsProbe,
    HeartbeatProbe,
    HttpExpect,
    HttpProbe,
    Probe,
    ProbeBase,
    PrometheusExpect,
    PrometheusProbe,
    TcpProbe,
    TlsProbe,
)
from status.config.values import Duration, HttpUrl, Model, Port, Slug, parse_duration

__all__ = [
    "PROBE_TYPES",
    "Component",
    "Config",
    "ConfigError",
    "ConfigHolder",
    "Console",
    "DnsExpect",
    "DnsProbe",
    "Duration",
    "Group",
    "HeartbeatProbe",
    "HttpExpect",
    "HttpProbe",
    "HttpUrl",
    "IncidentTemplate",
    "Model",
    "Notifications",
    "Port",
    "Probe",
    "ProbeBase",
    "PrometheusExpect",
    "PrometheusProbe",
    "Retention",
    "Scheduler",
    "Site",
    "Slug",
    "Smtp",
    "TcpProbe",
    "TlsProbe",
    "Webhooks",
    "load_config",
    "parse_duration",
]
