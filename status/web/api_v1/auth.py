"""Bearer tokens and roles for /api/v1, and the guard every endpoint runs behind.

The guard, in order: authenticate the token (401), check its role (403), parse the
query (400) and the JSON body (422) with the endpoint's models, run the view (with
``Idempotency-Key`` on POST, once), and answer its model as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import Response, g, jsonify, request
from pydantic import BaseModel, ValidationError

from status import ops
from status.models import Role
from status.runtime import runtime
from status.web.api_v1 import idempotency
from status.web.api_v1.errors import ApiError, from_validation
from status.web.api_v1.registry import Endpoint

RANK = [Role.VIEWER, Role.EDITOR, Role.ADMIN]


def allows(have: str, need: Role) -> bool:
    """Each role includes the rights of the ones before it (least privilege)."""
    return RANK.index(Role(have)) >= RANK.index(need)


def authenticate() -> ops.TokenIdentity:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <token>")
    identity = ops.authenticate_token(runtime().store, token.strip())
    if identity is None:
        raise ApiError(401, "unauthorized", "the token is unknown, revoked or expired")
    return identity


def actor(kind: str = "token") -> ops.Actor:
    """Who acts in this request (for the audit log), with where from."""
    identity: ops.TokenIdentity = g.identity
    return ops.Actor(kind, identity.name, ip=request.remote_addr)


def guarded(view: Callable, spec: Endpoint) -> Callable:
    @wraps(view)
    def run(**path_args):
        g.identity = None
        if spec.role is not None:
            g.identity = authenticate()
            if not allows(g.identity.role, spec.role):
                raise ApiError(403, "forbidden", f"this needs the {spec.role.value} role")
        args = dict(path_args)
        if spec.query is not None:
            try:
                args["query"] = spec.query.model_validate(request.args.to_dict())
            except ValidationError as exc:
                return from_validation(exc, "query")
        if spec.body is not None:
            if spec.max_body is not None:
                request.max_content_length = spec.max_body
            data = request.get_json(silent=True)
            if data is None and not request.get_data(cache=True):
                data = {}  # no body at all: the model's defaults (or its missing fields)
            if not isinstance(data, dict):
                raise ApiError(400, "bad_request", "the body must be a JSON object")
            try:
                args["body"] = spec.body.model_validate(data)
            except ValidationError as exc:
                return from_validation(exc, "body", spec.invalid_body)

        def answer() -> Response:
            return as_response(view(**args), spec.status)

        key = request.headers.get("Idempotency-Key")
        if spec.method == "POST" and key is not None and g.identity is not None:
            return idempotency.once(f"token:{g.identity.token_id}", key, answer)
        return answer()

    return run


def as_response(result, status: int) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status=204)
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    response = jsonify(result)
    response.status_code = status
    return response
