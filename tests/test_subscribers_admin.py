"""Admins find, export and erase one subscriber from the CLI, /api/v1 and the console,
each audited; editors and viewers may not; the public sign-up API; CSV import."""

from __future__ import annotations

import json
import re

import pytest

from status import links, ops
from status.ops import subscribers as subs
from status.runtime import runtime
from tests.test_console import csrf, log_in, people  # noqa: F401  (the fixture)

SECRET_EMAIL = "bob@example.com"


def subscriber(app, email=SECRET_EMAIL, confirm=True) -> int:
    store = runtime(app).store
    policy = subs.Policy.from_config(runtime(app).config)
    subs.subscribe(store, policy, email=email, components=["website"], ip="192.0.2.1")
    row = store.subscribers.by_email(email)
    if confirm:
        token = links.confirm_token(app.config["SECRET_KEY"], row.id, row.token_version)
        subs.confirm(store, policy, app.config["SECRET_KEY"], token)
    return row.id


def audit_actions(app) -> list[tuple[str, str]]:
    return [(e.action, e.target_id) for e in runtime(app).store.audit.entries()]


# -- CLI -----------------------------------------------------------------------------------
def test_the_cli_finds_exports_and_erases_audited(app, runner):
    subscriber_id = subscriber(app)
    found = runner.invoke(args=["subscriber", "find", "BOB@example.com"])
    assert found.exit_code == 0, found.output
    assert found.output.split("\t")[:3] == [str(subscriber_id), SECRET_EMAIL, "confirmed"]
    exported = runner.invoke(args=["subscriber", "export", SECRET_EMAIL])
    data = json.loads(exported.output)
    assert data["components"] == ["website"]
    assert [c["action"] for c in data["consent_records"]] == ["subscribe", "confirm"]
    assert data["consent_records"][0]["ip_prefix"] == "192.0.2.0/24"
    erased = runner.invoke(args=["subscriber", "erase", SECRET_EMAIL, "--yes"])
    assert erased.exit_code == 0 and runtime(app).store.subscribers.get(subscriber_id) is None
    missing = runner.invoke(args=["subscriber", "find", SECRET_EMAIL])
    assert missing.exit_code == 1 and "no subscriber" in missing.output
    assert [a for a, _ in audit_actions(app)] == [
        "subscriber.find", "subscriber.export", "subscriber.erase", "subscriber.find",
    ]  # fmt: skip
    entry = runtime(app).store.audit.entries()[0]
    assert entry.actor.startswith("system:cli:")


def test_the_cli_imports_a_csv(app, runner, tmp_path):
    path = tmp_path / "old-page.csv"
    path.write_text(
        "\ufeffemail,confirmed,language,components\n"
        "ann@example.com,yes,de,website\nben@example.com,no,,\nnot-an-address,yes,,\n"
    )
    result = runner.invoke(args=["subscriber", "import", str(path)])
    assert result.exit_code == 1
    assert "added 2 (1 confirmed), skipped 0 known, 1 with errors" in result.output
    assert "line 4: email" in result.output
    store = runtime(app).store
    assert store.subscribers.by_email("ann@example.com").state == "confirmed"
    assert store.subscribers.by_email("ben@example.com").state == "pending"
    [consent] = store.subscribers.consents(store.subscribers.by_email("ann@example.com").id)
    assert consent.method == "import"


# -- /api/v1 -------------------------------------------------------------------------------
@pytest.fixture
def tokens(app) -> dict[str, str]:
    store, actor = runtime(app).store, ops.Actor.system("tests")
    return {
        role: ops.create_token(store, actor, name=f"{role}-bot", role_name=role)[1]
        for role in ("viewer", "editor", "admin")
    }


def api(client, tokens, path, role="admin", **json_body):
    headers = {"Authorization": f"Bearer {tokens[role]}"} if role else {}
    return client.post(f"/api/v1{path}", json=json_body, headers=headers)


def test_the_public_api_signs_up_and_answers_the_same_for_a_known_address(app, client):
    subscriber(app, "known@example.com")
    new = client.post("/api/v1/subscribers", json={"email": "new@example.com",
                                                   "components": ["sip-gateway"],
                                                   "language": "de"})  # fmt: skip
    known = client.post("/api/v1/subscribers", json={"email": "known@example.com"})
    assert new.status_code == known.status_code == 202
    assert new.get_json() == known.get_json()
    assert new.get_json()["status"] == "accepted"
    row = runtime(app).store.subscribers.by_email("new@example.com")
    assert row.state == "pending" and row.language == "de"
    [consent] = runtime(app).store.subscribers.consents(row.id)
    assert consent.method == "api"


@pytest.mark.parametrize(
    "body, field",
    [({"email": "a@example.com\r\nBcc: x@example.com"}, "email"),
     ({"email": "a@example.com", "components": ["nope"]}, "components"),
     ({"email": "a@example.com", "language": "fr"}, "language"),
     ({"email": "a@example.com", "extra": 1}, "extra")],
)  # fmt: skip
def test_the_public_api_names_the_field_it_refuses(client, body, field):
    response = client.post("/api/v1/subscribers", json=body)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["field"] == field and error["code"] == "invalid" and error["message"]


def test_the_public_api_refuses_a_20_mb_body(client):
    body = b'{"email": "' + b"x" * (20 * 1024 * 1024) + b'"}'
    response = client.post("/api/v1/subscribers", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"


def test_admins_find_export_and_erase_through_the_api(app, client, tokens):
    subscriber_id = subscriber(app)
    found = api(client, tokens, "/subscribers/lookup", email=SECRET_EMAIL)
    assert found.status_code == 200 and found.get_json()["id"] == subscriber_id
    assert found.headers["Cache-Control"] == "no-store"
    exported = api(client, tokens, "/subscribers/export", email=SECRET_EMAIL).get_json()
    assert exported["state"] == "confirmed" and len(exported["consent_records"]) == 2
    assert api(client, tokens, "/subscribers/erase", email=SECRET_EMAIL).status_code == 204
    missing = api(client, tokens, "/subscribers/lookup", email=SECRET_EMAIL)
    assert missing.status_code == 404 and missing.get_json()["error"]["field"] == "email"
    assert api(client, tokens, "/subscribers/erase", email=SECRET_EMAIL).status_code == 404
    actions = audit_actions(app)
    assert ("subscriber.erase", str(subscriber_id)) in actions
    assert [a for a, _ in actions if a.startswith("subscriber.")] == [
        "subscriber.find", "subscriber.export", "subscriber.erase", "subscriber.find",
    ]  # fmt: skip


@pytest.mark.parametrize("role", ["viewer", "editor", None])
@pytest.mark.parametrize("path", ["/subscribers/lookup", "/subscribers/export",
                                  "/subscribers/erase"])  # fmt: skip
def test_only_admins_may_use_the_subscriber_admin_api(app, client, tokens, role, path):
    subscriber(app)
    response = api(client, tokens, path, role=role, email=SECRET_EMAIL)
    assert response.status_code == (401 if role is None else 403)
    assert runtime(app).store.subscribers.by_email(SECRET_EMAIL) is not None


def test_the_openapi_document_has_the_subscriber_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "security" not in paths["/subscribers"]["post"]
    assert set(paths["/subscribers"]["post"]["responses"]) >= {"202", "413", "422", "429"}
    for path in ("/subscribers/lookup", "/subscribers/export", "/subscribers/erase"):
        assert paths[path]["post"]["security"] == [{"bearer": []}]


# -- console -------------------------------------------------------------------------------
def console_as(app, people, role):  # noqa: F811
    client = app.test_client()
    assert log_in(client, people[role]).status_code == 302
    return client


def post(client, **data):
    token = csrf(client, "/console/subscribers")
    return client.post("/console/subscribers", data={"csrf_token": token, **data})


def test_admins_find_export_and_erase_in_the_console(app, people):  # noqa: F811
    subscriber_id = subscriber(app)
    subscriber(app, "pending@example.com", confirm=False)
    admin = console_as(app, people, "admin")
    page = admin.get("/console/subscribers").text
    assert re.search(r"confirmed</th><td>1<", page) and re.search(r"pending</th><td>1<", page)
    found = post(admin, action="find", email=SECRET_EMAIL)
    assert found.status_code == 200 and SECRET_EMAIL in found.text
    exported = post(admin, action="export", email=SECRET_EMAIL)
    assert exported.headers["Content-Disposition"].startswith("attachment")
    assert json.loads(exported.text)["id"] == subscriber_id
    unsure = post(admin, action="erase", email=SECRET_EMAIL)
    assert unsure.status_code == 400
    assert runtime(app).store.subscribers.get(subscriber_id) is not None
    erased = post(admin, action="erase", email=SECRET_EMAIL, sure="1")
    assert erased.status_code == 200
    assert runtime(app).store.subscribers.get(subscriber_id) is None
    assert [a for a, _ in audit_actions(app) if a.startswith("subscriber.")] == [
        "subscriber.find", "subscriber.export", "subscriber.erase",
    ]  # fmt: skip
    assert all(e.actor == f"user:{people['admin']}" for e in runtime(app).store.audit.entries()
               if e.action.startswith("subscriber."))  # fmt: skip


def test_a_console_post_without_csrf_token_is_refused(app, people):  # noqa: F811
    subscriber(app)
    admin = console_as(app, people, "admin")
    response = admin.post("/console/subscribers", data={"action": "erase", "email": SECRET_EMAIL,
                                                        "sure": "1"})  # fmt: skip
    assert response.status_code == 400
    assert runtime(app).store.subscribers.by_email(SECRET_EMAIL) is not None


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_editors_and_viewers_may_not_see_subscribers(app, people, role):  # noqa: F811
    subscriber(app)
    client = console_as(app, people, role)
    assert client.get("/console/subscribers").status_code == 403
    assert post(client, action="erase", email=SECRET_EMAIL, sure="1").status_code == 403
    assert runtime(app).store.subscribers.by_email(SECRET_EMAIL) is not None
    assert audit_actions(app)[-1][0] != "subscriber.erase"


def test_admins_see_webhook_subscriptions_and_erase_one_in_the_console(app, people):  # noqa: F811
    from status.clock import utcnow

    store = runtime(app).store
    hook = store.subscribers.create(
        email=None, language="en", components=["website"], state="confirmed",
        token_version=links.first_version(), at=utcnow(),
        webhook_url="https://hooks.example.net/status", webhook_secret="s" * 43,
    )  # fmt: skip
    admin = console_as(app, people, "admin")
    page = admin.get("/console/subscribers").text
    assert "https://hooks.example.net/status" in page and "s" * 43 not in page
    erased = post(admin, action="erase-webhook", id=str(hook))
    assert erased.status_code == 200 and "webhook subscription is deleted" in erased.text
    assert store.subscribers.get(hook) is None
    assert "https://hooks.example.net/status" not in admin.get("/console/subscribers").text
    entries = [(e.action, e.target_id) for e in store.audit.entries()]
    assert ("subscriber.erase", str(hook)) in entries
    assert post(admin, action="erase-webhook", id=str(hook)).status_code == 404
