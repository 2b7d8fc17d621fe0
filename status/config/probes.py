"""The probe models: one per probe type, told apart by ``type`` (DESIGN §7)."""

from __future__ import annotations

import contextlib
import operator
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

# Imported at run time, not for type checking only: pydantic resolves the annotations
# (``from __future__ import annotations`` makes them strings) in this module's namespace.
from status.config.values import Duration, HttpUrl, Model, Port, Regex, Slug


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
    body_regex: Regex | None = None
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


_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
}
_COMPARISON = re.compile(r"\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*")


def _comparison(value: Any) -> dict[str, Any]:
    """``"< 0.05"`` as ``{"op": "<", "number": 0.05}``; a bare number means ``==``."""
    op, number = "==", value
    if isinstance(value, str) and (match := _COMPARISON.fullmatch(value)):
        op, number = match.groups()
        with contextlib.suppress(ValueError):  # not a number: refused below
            number = float(number)
    if isinstance(number, int | float) and not isinstance(number, bool) and number == number:
        return {"op": op, "number": number}  # number == number: not NaN
    raise ValueError(
        f"invalid comparison {value!r}: use an operator (<, <=, ==, !=, >=, >) and a number, "
        "like '< 0.05'"
    )


class Comparison(Model):
    """A sample's value against a number: ``< 0.05``, ``== 1``."""

    op: Literal["<", "<=", "==", "!=", ">=", ">"]
    number: float

    def holds(self, value: float) -> bool:
        return _COMPARE[self.op](value, self.number)

    def __str__(self) -> str:
        return f"{self.op} {self.number:.15g}"


class PrometheusExpect(Model):
    value: Annotated[Comparison, BeforeValidator(_comparison)]
    """What every sample of the result (or the scalar) must satisfy."""
    no_data: Literal["fail", "ok"] = "fail"
    """What an empty result means: a failure (the default) or all well."""


class PrometheusProbe(ProbeBase):
    type: Literal["prometheus"]
    url: HttpUrl  # the Prometheus server, e.g. http://prometheus:9090 (no /api/v1/query)
    query: str = Field(min_length=1)
    headers: dict[str, str] = {}
    verify_tls: bool = True
    ca_file: str | None = None  # trust these CAs instead of the system's
    expect: PrometheusExpect


Probe = Annotated[
    HttpProbe | TcpProbe | TlsProbe | DnsProbe | HeartbeatProbe | PrometheusProbe,
    Field(discriminator="type"),
]
PROBE_TYPES = ("http", "tcp", "tls", "dns", "heartbeat", "prometheus")
