"""The config file (DESIGN §7): load, expand ``${ENV}``, validate, report by YAML path."""

from __future__ import annotations

import logging
import math
import os
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

log = logging.getLogger(__name__)
# libyaml where PyYAML was built with it: 5x faster on a config of thousands of checks,
# and far less garbage left in the heap of a process that forks probe workers.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigError(Exception):
    """The config file is unusable; ``str()`` is the message for the user."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


# -- value types -------------------------------------------------------------------------
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> float:
    """Seconds from ``15``, ``2.5``, ``500ms``, ``30s``, ``5m``, ``1h``, ``1d``, ``1h30m``."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r} (use e.g. 30s, 5m, 1h)")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (text := value.strip().replace(" ", "")):
        parts = _DURATION_PART.findall(text)
        if "".join(n + u for n, u in parts) != text:
            raise ValueError(f"invalid duration '{value}' (use e.g. 30s, 5m, 1h)")
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        raise ValueError(f"invalid duration {value!r} (use e.g. 30s, 5m, 1h)")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("must be longer than zero")
    return seconds


def _slug(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", value):
        raise ValueError("must be a slug: lowercase letters, digits and '-'")
    return value


def _http_url(value: str) -> str:
    if not re.match(r"https?://[^/\s]+", value) or any(c.isspace() for c in value):
        raise ValueError(f"must be an http:// or https:// URL, not '{value}'")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return value


Duration = Annotated[float, BeforeValidator(parse_duration)]
Slug = Annotated[str, AfterValidator(_slug)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- probes ------------------------------------------------------------------------------
class ProbeBase(Model):
    id: Slug | None = None
    interval: Duration = 60.0
    timeout: Duration = 10.0

    @field_validator("timeout")
    @classmethod
    def _timeout_within_interval(cls, value: float, info: ValidationInfo) -> float:
        # `interval` is declared first, so it is in info.data unless it was invalid itself.
        interval = info.data.get("interval")
        if interval is not None and value >= interval:
            raise ValueError("must be shorter than interval")
        return value

    @property
    def key(self) -> str:
        """The probe's id within its component (the `probe` metric label).

        Called `id`, not `name`, because `name` is the DNS probe's query (DESIGN §7).
        """
        return self.id or self.type


_STATUS_CLASS = re.compile(r"[1-5]xx")


def _status(value: Any) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599:
        return value
    if isinstance(value, str) and _STATUS_CLASS.fullmatch(value):
        return value
    raise ValueError(f"invalid status {value!r}: use a code like 200 or a class like 2xx")


class HttpExpect(Model):
    status: list[Annotated[int | str, BeforeValidator(_status)]] = ["2xx"]
    body_contains: str | None = None
    body_regex: Annotated[str, AfterValidator(_regex)] | None = None
    json_: dict[str, Any] = Field(default_factory=dict, alias="json")
    max_latency: Duration | None = None

    def status_matches(self, code: int) -> bool:
        return any(
            code == want if isinstance(want, int) else str(code)[0] == want[0]
            for want in self.status
        )


class HttpProbe(ProbeBase):
    type: Literal["http"]
    url: HttpUrl
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str] = {}
    body: str | None = None
    follow_redirects: bool = True
    verify_tls: bool = True
    client_cert: str | None = None
    client_key: str | None = None
    ca_file: str | None = None  # trust these CAs instead of the system's
    expect: HttpExpect = HttpExpect()


class TcpProbe(ProbeBase):
    type: Literal["tcp"]
    host: str
    port: Port
    send: str | None = None
    expect: str | None = None


class TlsProbe(ProbeBase):
    type: Literal["tls"]
    host: str
    port: Port = 443
    server_name: str | None = None
    ca_file: str | None = None  # trust these CAs instead of the system's
    warn_days: int = Field(30, ge=0)
    min_days_left: int = Field(14, ge=0)

    @model_validator(mode="after")
    def _warn_before_fail(self):
        if self.warn_days < self.min_days_left:
            raise ValueError("warn_days must be at least min_days_left")
        return self


class DnsExpect(Model):
    contains: list[str] = []


class DnsProbe(ProbeBase):
    type: Literal["dns"]
    name: str  # the name to resolve (DESIGN §7)
    record: Literal["A", "AAAA", "CNAME", "MX", "NS", "TXT", "SRV", "CAA", "PTR", "SOA"] = "A"
    resolver: str | None = None
    expect: DnsExpect = DnsExpect()

    @field_validator("resolver")
    @classmethod
    def _resolver(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[\w.:\[\]-]+", value):
            raise ValueError(f"must be an address like 127.0.0.1 or 127.0.0.1:5353, not '{value}'")
        return value


class HeartbeatProbe(ProbeBase):
    type: Literal["heartbeat"]
    period: Duration
    grace: Duration = 60.0


Probe = Annotated[
    HttpProbe | TcpProbe | TlsProbe | DnsProbe | HeartbeatProbe, Field(discriminator="type")
]
PROBE_TYPES = ("http", "tcp", "tls", "dns", "heartbeat")


# -- the file ----------------------------------------------------------------------------
class Site(Model):
    title: str
    url: HttpUrl
    timezone: str = "UTC"
    languages: list[Literal["en", "de"]] = Field(["en", "de"], min_length=1)

    @field_validator("url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone '{value}'") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Group(Model):
    id: Slug
    name: str
    description: str = ""


class Component(Model):
    id: Slug
    name: str
    group: str | None = None
    description: str = ""
    failure_threshold: int = Field(3, ge=1)
    success_threshold: int = Field(2, ge=1)
    quorum: int = Field(1, ge=1)
    auto_incident: bool = False
    showcase: bool = True
    only_show_if_degraded: bool = False
    probes: list[Probe] = []


class Smtp(Model):
    host: str
    port: Port = 587
    starttls: bool = True
    tls: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = Field(alias="from")
    timeout: Duration = 10.0

    @model_validator(mode="after")
    def _one_tls_mode(self):
        if self.starttls and self.tls:
            raise ValueError("starttls and tls exclude each other: choose one")
        return self


class Scheduler(Model):
    concurrency: int = Field(32, ge=1, le=1024)


class Retention(Model):
    raw_days: int = Field(7, ge=1)


class Config(Model):
    site: Site
    groups: list[Group] = []
    components: list[Component] = Field(min_length=1)
    smtp: Smtp | None = None
    scheduler: Scheduler = Scheduler()
    retention: Retention = Retention()

    def component(self, component_id: str) -> Component | None:
        return next((c for c in self.components if c.id == component_id), None)

    def group(self, group_id: str) -> Group | None:
        return next((g for g in self.groups if g.id == group_id), None)

    def components_in(self, group_id: str) -> list[Component]:
        return [c for c in self.components if c.group == group_id]


# -- cross-references, reported with the YAML path of the offending value -------------------
def _references(config: Config) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for kind, items in (("groups", config.groups), ("components", config.components)):
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.id in seen:
                problems.append((f"{kind}[{i}].id", f"duplicate id '{item.id}'"))
            seen.add(item.id)
    groups = {g.id for g in config.groups}
    for i, component in enumerate(config.components):
        if component.group is not None and component.group not in groups:
            problems.append((f"components[{i}].group", f"unknown group '{component.group}'"))
        keys: set[str] = set()
        for j, probe in enumerate(component.probes):
            if probe.key in keys:
                problems.append(
                    (
                        f"components[{i}].probes[{j}].id",
                        f"duplicate probe id '{probe.key}' in component '{component.id}'; "
                        "give each probe of one type its own id",
                    )
                )
            keys.add(probe.key)
    return problems


# -- environment expansion ----------------------------------------------------------------------
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand(node: Any, environ: Mapping[str, str], path: str, problems: list) -> Any:
    if isinstance(node, dict):
        return {k: _expand(v, environ, _join(path, k), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand(v, environ, f"{path}[{i}]", problems) for i, v in enumerate(node)]
    if not isinstance(node, str) or "$" not in node:
        return node

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in environ:
            return environ[name]
        if default is not None:
            return default
        problems.append((path, f"environment variable {name} is not set"))
        return ""

    return _VAR.sub(substitute, node)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _yaml_path(loc: tuple, data: Any) -> str:
    """``components[2].probes[0].url`` from pydantic's loc, walked against the input so
    that synthetic parts (union tags, validator names) drop out."""
    path, node, tag_seen = "", data, False
    for i, part in enumerate(loc):
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            path, node, tag_seen = f"{path}[{part}]", node[part], False
        elif isinstance(node, dict) and not tag_seen and _is_tag(part, node):
            tag_seen = True  # the union tag comes first, even if a key has the same name
        elif isinstance(node, dict) and part in node:
            path, node, tag_seen = _join(path, part), node[part], False
        elif isinstance(node, dict) and isinstance(part, str) and i == len(loc) - 1:
            path = _join(path, part)  # a missing key: name it
    return path or "(top level)"


def _is_tag(part: Any, node: dict) -> bool:
    return part in PROBE_TYPES and node.get("type") == part


def _reason(error: dict) -> str:
    if error["type"] == "missing":
        return "required"
    if error["type"] == "extra_forbidden":
        return "unknown key"
    if error["type"] == "union_tag_invalid":
        return f"unknown probe type {error['input']['type']!r}: use one of {', '.join(PROBE_TYPES)}"
    if error["type"] == "union_tag_not_found":
        return f"required: type, one of {', '.join(PROBE_TYPES)}"
    return error["msg"].removeprefix("Value error, ")


def load_config(path: str | os.PathLike, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file; raise ConfigError naming every problem."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{name}: cannot read config: {exc.strerror}"]) from None
    try:
        data = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{name}: {where}{problem}"]) from None
    if not isinstance(data, dict):
        raise ConfigError(
            [f"{name}: (top level): must be a mapping of keys (site, components, ...)"]
        )

    problems: list[tuple[str, str]] = []
    data = _expand(data, os.environ if environ is None else environ, "", problems)
    unset = [where for where, _ in problems]
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        config = None
        for error in exc.errors(include_url=False):
            where = _yaml_path(error["loc"], data)
            # A value left empty by a missing variable is reported once, as that.
            if not any(_within(where, path) for path in unset):
                problems.append((where, _reason(error)))
    if config is not None:
        problems += _references(config)
    if problems:
        raise ConfigError(list(dict.fromkeys(f"{name}: {where}: {why}" for where, why in problems)))
    return config


def _within(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith((f"{ancestor}.", f"{ancestor}["))


class ConfigHolder:
    """The current config of a running process; reloads keep the last good one."""

    def __init__(self, path: str | os.PathLike, environ: Mapping[str, str] | None = None):
        self.path = str(path)
        self._environ = environ
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self.current: Config = load_config(path, environ)
        self.last_error: str | None = None
        self.loaded_at: datetime = datetime.now(UTC)

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def changed_on_disk(self) -> bool:
        """True when the file's (mtime_ns, size) differ from the last (attempted) load."""
        return self._file_stamp() != self._stamp

    def reload(self) -> bool:
        """Re-read the file; on any problem keep the current config and say why."""
        with self._lock:
            self._stamp = self._file_stamp()
            try:
                config = load_config(self.path, self._environ)
            except ConfigError as exc:
                self.last_error = str(exc)
                log.error(
                    "config reload refused, keeping the last good config: %s",
                    str(exc).replace("\n", "; "),
                )
                return False
            self.current, self.last_error, self.loaded_at = config, None, datetime.now(UTC)
        log.info("config reloaded from %s: %d components", self.path, len(config.components))
        return True
