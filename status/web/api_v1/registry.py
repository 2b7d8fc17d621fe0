"""Endpoints declared once: the route, the role it needs, the pydantic models of its body,
query and answer. The same models validate the requests and make the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint
from pydantic import BaseModel

from status.models import Role


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # OpenAPI style: /incidents/{incident_id}
    summary: str
    tag: str
    role: Role | None  # None: no token needed
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = field(default=())
    max_body: int | None = None  # bytes, where the app-wide limit is too small
    invalid_body: int = 422  # the status of a body that does not validate


ENDPOINTS: list[Endpoint] = []


MAX_ID = 2**31 - 1
"""Ids are 32-bit on both engines: a larger one cannot exist (and is 404, not an error)."""


def flask_path(path: str) -> str:
    """/incidents/{incident_id} -> /incidents/<int(...):incident_id> (``*_id``: an id)."""
    out = path
    for part in path.split("/"):
        if part.startswith("{"):
            name = part[1:-1]
            converter = f"int(max={MAX_ID}):" if name.endswith("_id") else ""
            out = out.replace(part, f"<{converter}{name}>")
    return out


def endpoint(bp: Blueprint, method: str, path: str, **spec) -> Callable:
    """Register a view under ``path`` and describe it for the OpenAPI document."""

    def register(view: Callable) -> Callable:
        described = Endpoint(method=method, path=path, **spec)
        ENDPOINTS.append(described)
        from status.web.api_v1.auth import guarded  # the guard reads the registry entry

        bp.add_url_rule(
            flask_path(path),
            endpoint=view.__name__,
            view_func=guarded(view, described),
            methods=[method],
        )
        return view

    return register
