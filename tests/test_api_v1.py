"""/api/v1: tokens and roles, every endpoint, errors, idempotency, paging, OpenAPI."""

from __future__ import annotations

import json
import re

import jsonschema_rs
import pytest

from status import ops
from status.clock import utcnow
from status.runtime import runtime

ROLES = ("viewer", "editor", "admin")


@pytest.fixture
def tokens(app) -> dict[str, str]:
    store = runtime(app).store
    actor = ops.Actor.system("tests")
    return {
        role: ops.create_token(store, actor, name=f"{role}-bot", role_name=role)[1]
        for role in ROLES
    }


@pytest.fixture
def api(client, tokens):
    """call(method, path, role="editor", json=..., headers=...) -> response."""

    def call(method: str, path: str, role: str | None = "editor", **kwargs):
        headers = dict(kwargs.pop("headers", {}))
        if role:
            headers["Authorization"] = f"Bearer {tokens[role]}"
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    return call


@pytest.fixture
def conforms(client):
    """Asserts that an answer matches the OpenAPI document's schema for it."""
    document = client.get("/api/v1/openapi.json").get_json()

    def check(response, method: str, path: str):
        operation = document["paths"][path][method.lower()]
        content = operation["responses"][str(response.status_code)].get("content")
        if content is None:
            assert response.get_data() == b""
            return
        schema = {**content["application/json"]["schema"], "components": document["components"]}
        jsonschema_rs.validator_for(schema).validate(response.get_json())

    return check


INCIDENT = {
    "name": "Calls failing in EU",
    "impact": "major",
    "components": {"sip-gateway": "major_outage"},
    "body": "We are **investigating**.",
}


def test_an_incident_posted_through_the_api_reaches_the_public_page(app, client, api, conforms):
    created = api("POST", "/incidents", json=INCIDENT)
    assert created.status_code == 201, created.get_json()
    conforms(created, "POST", "/incidents")
    incident = created.get_json()
    assert incident["status"] == "investigating" and incident["components"] == {
        "sip-gateway": "major_outage"
    }
    runtime(app).snapshots = None
    [shown] = client.get("/api/v2/incidents/unresolved.json").get_json()["incidents"]
    assert shown["id"] == str(incident["id"]) and shown["name"] == INCIDENT["name"]

    updated = api("POST", f"/incidents/{incident['id']}/updates",
                  json={"status": "resolved", "body": "Fixed."})  # fmt: skip
    assert updated.status_code == 201 and updated.get_json()["resolved_at"] is not None
    conforms(updated, "POST", "/incidents/{incident_id}/updates")
    assert [u["status"] for u in updated.get_json()["updates"]] == ["resolved", "investigating"]
    [entry, _] = runtime(app).store.audit.entries(target_type="incident")
    assert entry.actor == "token:editor-bot" and entry.ip == "127.0.0.1"


def test_lists_page_with_limit_and_cursor(api, conforms):
    ids = [api("POST", "/incidents", json={**INCIDENT, "name": f"N{n}"}).get_json()["id"]
           for n in range(5)]  # fmt: skip
    api("POST", f"/incidents/{ids[0]}/updates", json={"status": "resolved"})
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api("GET", "/incidents", role="viewer", query_string=query)
        conforms(page, "GET", "/incidents")
        seen += [i["id"] for i in page.get_json()["data"]]
        cursor = page.get_json()["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    open_only = api("GET", "/incidents", role="viewer", query_string={"state": "open"})
    assert [i["id"] for i in open_only.get_json()["data"]] == ids[:0:-1]


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code", "field"),
    [
        ({"json": {**INCIDENT, "impact": "huge"}}, 422, "invalid", "impact"),
        ({"json": {**INCIDENT, "components": {"nope": "major_outage"}}}, 422, "invalid",
         "components"),
        ({"json": {**INCIDENT, "colour": "red"}}, 422, "invalid", "colour"),
        ({"data": "not json", "content_type": "application/json"}, 400, "bad_request", None),
        ({"json": {**INCIDENT}, "role": "viewer"}, 403, "forbidden", None),
        ({"json": {**INCIDENT}, "role": None}, 401, "unauthorized", None),
        ({"json": INCIDENT, "role": None, "headers": {"Authorization": "Bearer lst_nope"}},
         401, "unauthorized", None),
    ],
)  # fmt: skip
def test_bad_requests_get_the_error_format_naming_the_field(
    app, api, request_kwargs, status, code, field
):
    kwargs = dict(request_kwargs)
    response = api("POST", "/incidents", role=kwargs.pop("role", "editor"), **kwargs)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert response.get_json()["error"]["field"] == field
    assert response.headers["Cache-Control"] == "no-store"
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert runtime(app).store.incidents.all() == []


def test_unknown_ids_and_bad_queries(api):
    assert api("GET", "/incidents/999", role="viewer").get_json()["error"]["code"] == "not_found"
    response = api("GET", "/incidents", role="viewer", query_string={"limit": "0"})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "limit"
    response = api("GET", "/incidents", role="viewer", query_string={"cursor": "%%%"})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "cursor"


# Who may do what: each role's denials, for every endpoint.
ROLE_TABLE = [
    ("GET", "/incidents", "viewer"),
    ("POST", "/incidents", "editor"),
    ("GET", "/maintenances", "viewer"),
    ("POST", "/maintenances", "editor"),
    ("GET", "/overrides", "viewer"),
    ("PUT", "/overrides/website", "editor"),
    ("DELETE", "/overrides/website", "editor"),
    ("GET", "/users", "admin"),
    ("POST", "/users", "admin"),
    ("PATCH", "/users/alice@example.org", "admin"),
    ("GET", "/tokens", "admin"),
    ("POST", "/tokens", "admin"),
    ("DELETE", "/tokens/1", "admin"),
    ("GET", "/audit", "admin"),
]


@pytest.mark.parametrize(("method", "path", "needed"), ROLE_TABLE)
def test_each_role_is_refused_what_it_may_not_do(api, method, path, needed):
    for role in ROLES:
        response = api(method, path, role=role, json={})
        allowed = ROLES.index(role) >= ROLES.index(needed)
        assert (response.status_code == 403) is not allowed, (role, response.get_json())


def test_a_retried_post_with_its_idempotency_key_makes_one_incident(app, api):
    headers = {"Idempotency-Key": "deploy-4711"}
    first = api("POST", "/incidents", json=INCIDENT, headers=headers)
    again = api("POST", "/incidents", json=INCIDENT, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(runtime(app).store.incidents.all()) == 1
    other = api("POST", "/incidents", json={**INCIDENT, "name": "Other"}, headers=headers)
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert api("POST", "/incidents", json=INCIDENT).status_code == 201  # no key: a new one


def test_maintenance_in_the_site_timezone_updates_and_cancel(app, api, conforms):
    day = (utcnow().date()).replace(year=utcnow().year + 1).isoformat()
    body = {"title": "Database upgrade", "start": f"{day}T02:00", "end": f"{day}T04:00",
            "components": ["website"]}  # fmt: skip
    created = api("POST", "/maintenances", json=body)
    assert created.status_code == 201, created.get_json()
    conforms(created, "POST", "/maintenances")
    window = created.get_json()
    assert window["scheduled_for"].startswith(f"{day}T01:00") and window["status"] == "scheduled"
    path = f"/maintenances/{window['id']}"
    started = api("POST", f"{path}/updates", json={"status": "in_progress", "body": "Started."})
    assert started.get_json()["status"] == "in_progress"
    cancelled = api("POST", f"{path}/cancel", json={"body": "Stopped."})
    assert cancelled.status_code == 200 and cancelled.get_json()["cancelled"] is True
    conforms(api("GET", path, role="viewer"), "GET", "/maintenances/{maintenance_id}")
    backwards = api("POST", "/maintenances", json={**body, "end": f"{day}T01:00"})
    assert backwards.status_code == 422 and backwards.get_json()["error"]["field"] == "end"


def test_overrides_set_listed_and_cleared(api, conforms):
    put = api("PUT", "/overrides/website", json={"status": "major_outage", "reason": "Blind"})
    assert put.status_code == 200, put.get_json()
    conforms(put, "PUT", "/overrides/{component}")
    listed = api("GET", "/overrides", role="viewer")
    assert [o["component"] for o in listed.get_json()["data"]] == ["website"]
    assert api("PUT", "/overrides/nope", json={"status": "major_outage", "reason": "x"}
               ).status_code == 422  # fmt: skip
    assert api("DELETE", "/overrides/website").status_code == 204
    assert api("DELETE", "/overrides/website").status_code == 404


def test_admins_manage_users_and_tokens(app, api, conforms):
    user = {"username": "alice@example.org", "password": "correct horse battery", "role": "viewer"}
    created = api("POST", "/users", role="admin", json=user)
    assert created.status_code == 201 and "password" not in created.get_json()
    conforms(created, "POST", "/users")
    assert api("POST", "/users", role="admin", json=user).status_code == 409
    weak = api("POST", "/users", role="admin", json={**user, "username": "b", "password": "x"})
    assert weak.status_code == 422 and weak.get_json()["error"]["field"] == "password"

    wanted = {"name": "alice-cli", "role": "viewer", "user": "alice@example.org"}
    token = api("POST", "/tokens", role="admin", json=wanted)
    assert token.status_code == 201
    conforms(token, "POST", "/tokens")
    secret = token.get_json()["token"]
    listed = api("GET", "/tokens", role="admin")
    assert secret not in json.dumps(listed.get_json())
    assert ops.authenticate_token(runtime(app).store, secret) is not None

    disabled = api("PATCH", "/users/alice@example.org", role="admin", json={"disabled": True})
    assert disabled.status_code == 200 and disabled.get_json()["disabled"] is True
    assert ops.authenticate_token(runtime(app).store, secret) is None

    audit = api("GET", "/audit", role="admin", query_string={"object_type": "user"})
    conforms(audit, "GET", "/audit")
    assert [e["action"] for e in audit.get_json()["data"]] == ["user.add", "user.disable"]


def test_the_openapi_document_describes_every_api_route(app, client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    described = {
        (method.upper(), "/api/v1" + path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api_v1.openapi_document":
            path = re.sub(r"<(?:int\([^)]*\):)?([a-z_]+)>", r"{\1}", rule.rule)
            routed |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert described == routed


def test_an_update_is_corrected_or_deleted_and_the_public_sees_it_edited(app, client, api):
    incident = api("POST", "/incidents", json=INCIDENT).get_json()
    path = f"/incidents/{incident['id']}/updates"
    second = api("POST", path, json={"status": "identified", "body": "Carier down."}).get_json()
    update_id = second["updates"][0]["id"]
    fixed = api("PATCH", f"{path}/{update_id}", json={"body": "Carrier down."})
    assert fixed.status_code == 200 and fixed.get_json()["updates"][0]["edited_at"]
    runtime(app).snapshots = None
    page = client.get(f"/incidents/{incident['id']}").text
    assert "Carrier down." in page and "Carier" not in page and "edited" in page

    assert api("DELETE", f"{path}/{update_id}").status_code == 204
    first = incident["updates"][0]["id"]
    last = api("DELETE", f"{path}/{first}")
    assert last.status_code == 422 and last.get_json()["error"]["field"] == "update_id"
    assert api("PATCH", f"{path}/999", json={"body": "x"}).status_code == 404
    actions = [e.action for e in runtime(app).store.audit.entries(target_type="incident")]
    assert actions[-2:] == ["incident.update_edit", "incident.update_delete"]
