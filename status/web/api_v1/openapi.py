"""The OpenAPI 3.1 document of /api/v1, made from the endpoint registry and the very
pydantic models that validate the requests."""

from __future__ import annotations

from functools import cache

from pydantic.json_schema import models_json_schema

from status.web.api_v1.registry import ENDPOINTS, MAX_ID, Endpoint

REF = "#/components/schemas/{model}"
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "field"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        }
    },
}
REASONS = {
    400: "Malformed request (the field is named)",
    401: "No token, or it is unknown, revoked or expired",
    403: "The token's role may not do this",
    404: "Not found",
    409: "Conflict (exists already, or the Idempotency-Key was used otherwise)",
    413: "The body is too large",
    422: "Invalid (the field is named)",
    429: "Too many requests: try again later",
}


@cache
def document(title: str, version: str = "1") -> dict:
    models = {m for e in ENDPOINTS for m in (e.body, e.answer) if m is not None}
    schemas, defs = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template=REF,
    )
    paths: dict[str, dict] = {}
    for spec in ENDPOINTS:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{title} ops API", "version": version},
        "servers": [{"url": "/api/v1"}],
        "paths": paths,
        "components": {
            "schemas": {**defs.get("$defs", {}), "Error": ERROR},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(spec: Endpoint, schemas: dict) -> dict:
    operation: dict = {
        "summary": spec.summary,
        "tags": [spec.tag],
        "operationId": f"{spec.method.lower()}_{spec.path.strip('/').replace('/', '_')}".replace(
            "{", ""
        ).replace("}", ""),
        "parameters": _parameters(spec),
        "responses": {},
    }
    if spec.role is not None:
        operation["security"] = [{"bearer": []}]
        operation["description"] = f"Needs a token with the {spec.role.value} role or above."
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas[(spec.body, "validation")]}},
        }
    answer: dict = {"description": "OK"}
    if spec.answer is not None:
        answer["content"] = {"application/json": {"schema": schemas[(spec.answer, "validation")]}}
    operation["responses"][str(spec.status)] = answer
    errors = set(spec.errors) | ({401, 403} if spec.role is not None else set())
    if spec.body is not None:
        errors |= {400, 422}
    if spec.method == "POST":
        errors |= {400, 409}  # Idempotency-Key: malformed, reused, or in flight
    for status in sorted(errors):
        operation["responses"][str(status)] = {
            "description": REASONS[status],
            "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
        }
    return operation


def _parameters(spec: Endpoint) -> list[dict]:
    params = []
    for part in spec.path.split("/"):
        if part.startswith("{"):
            name = part[1:-1]
            kind = (
                {"type": "integer", "minimum": 0, "maximum": MAX_ID}
                if name.endswith("_id")
                else {"type": "string"}
            )
            params.append({"name": name, "in": "path", "required": True, "schema": kind})
    if spec.method == "POST":
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "A retry with the same key gets the first answer",
                "schema": {"type": "string", "minLength": 1, "maxLength": 200},
            }
        )
    if spec.query is not None:
        query_schema = spec.query.model_json_schema(ref_template=REF)
        for name, prop in query_schema.get("properties", {}).items():
            required = name in query_schema.get("required", [])
            params.append({"name": name, "in": "query", "required": required, "schema": prop})
    return params
