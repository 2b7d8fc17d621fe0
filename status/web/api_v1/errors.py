"""Errors as ``{"error": {"code", "message", "field"}}``, whatever went wrong."""

from __future__ import annotations

from flask import Response, jsonify
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from status import ops

STATUS_OF_CODE = {"invalid": 422, "not_found": 404, "conflict": 409, "forbidden": 403}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error(status: int, code: str, message: str, field: str | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "field": field}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="leitstand"'
    return response


def from_validation(exc: ValidationError, where: str, status: int | None = None) -> Response:
    """The first problem pydantic found, with the field's dotted path."""
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in first["loc"]) or None
    message = first["msg"]
    return error(status or (422 if where == "body" else 400), "invalid", message, field)


def handle(exc: ApiError | ops.OpsError | HTTPException) -> Response:
    if isinstance(exc, ApiError):
        return error(exc.status, exc.code, exc.message, exc.field)
    if isinstance(exc, ops.OpsError):
        return error(STATUS_OF_CODE.get(exc.code, 422), exc.code, exc.message, exc.field)
    code = (exc.name or "error").lower().replace(" ", "_")
    return error(exc.code or 500, code, exc.description or exc.name)
