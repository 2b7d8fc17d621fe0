"""/api/v1: the ops REST API (JSON, bearer tokens, roles). OpenAPI 3.1 at
/api/v1/openapi.json, generated from the models that validate the requests.

Every endpoint is declared with :func:`registry.endpoint` (its role and models) and
calls the same :mod:`status.ops` commands as the console and the CLI. Errors are
``{"error": {"code", "message", "field"}}``; answers are never cached.
"""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify
from werkzeug.exceptions import HTTPException

from status import ops
from status.runtime import runtime
from status.web import security
from status.web.api_v1 import (
    admin,
    alertmanager,
    errors,
    incidents,
    maintenances,
    openapi,
    overrides,
    subscribers,
    webhooks,
)

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.document(runtime().config.site.title))


for part in (
    incidents.bp,
    maintenances.bp,
    overrides.bp,
    admin.bp,
    subscribers.bp,
    webhooks.bp,
    alertmanager.bp,
):
    bp.register_blueprint(part)
bp.after_request(security.private)
for exception in (errors.ApiError, ops.OpsError, HTTPException):
    bp.register_error_handler(exception, errors.handle)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
