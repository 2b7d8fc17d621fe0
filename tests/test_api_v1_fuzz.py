"""Schemathesis over the whole /api/v1: whatever it sends, never a server error, and
every answer matches the OpenAPI document."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from status import ops
from status.runtime import runtime
from status.web.api_v1.registry import ENDPOINTS

EXAMPLES = 12  # per operation and engine: about 20 s for the whole API on both engines


def test_the_api_never_fails_with_a_server_error(app):
    store = runtime(app).store
    _, token = ops.create_token(store, ops.Actor.system("tests"), name="fuzz", role_name="admin")
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(ENDPOINTS)  # every operation in the document

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case):
            case.call_and_validate(
                headers=headers,
                checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
            )

        run()
