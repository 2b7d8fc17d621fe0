"""The config file's value types: durations, slugs, URLs, ports, and the base model."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

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
Regex = Annotated[str, AfterValidator(_regex)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
