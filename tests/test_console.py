"""The ops console: login, sessions, CSRF, roles, and each form, on both engines."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from status import ops
from status import schema as t
from status.clock import utcnow
from status.runtime import runtime

PASSWORD = "correct horse battery staple"
USERS = {"viewer": "vera@example.org", "editor": "ed@example.org", "admin": "ada@example.org"}


@pytest.fixture
def people(app):
    store, actor = runtime(app).store, ops.Actor.system("tests")
    for role, name in USERS.items():
        ops.add_user(store, actor, name=name, password=PASSWORD, role_name=role)
    return USERS


def csrf(client, path: str = "/console/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def without_token(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", html)


def log_in(client, name: str, password: str = PASSWORD):
    return client.post(
        "/console/login",
        data={"username": name, "password": password, "csrf_token": csrf(client)},
    )


@pytest.fixture
def as_role(app, people):
    def client_for(role: str):
        client = app.test_client()
        assert log_in(client, people[role]).status_code == 302
        return client

    return client_for


def post(client, path: str, **data):
    """A form as the browser sends it, with the token of the page it is on."""
    page = "/console/" if path.endswith("/logout") else path
    return client.post(path, data={"csrf_token": csrf(client, page), **data})


def test_it_needs_a_login_and_answers_every_failure_the_same(app, client, people):
    assert client.get("/console/").headers["Location"].startswith("/console/login")
    wrong = log_in(client, people["editor"], "not the password at all")
    unknown = log_in(client, "nobody@example.org", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong user name, password or code." in wrong.text
    assert without_token(wrong.text) == without_token(unknown.text)
    assert log_in(client, people["editor"]).headers["Location"] == "/console/"
    page = client.get("/console/")
    assert page.status_code == 200 and "ed@example.org" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    actions = [e.action for e in runtime(app).store.audit.entries()][-3:]
    assert actions == ["session.login_failed", "session.login_failed", "session.login"]


def test_a_form_without_its_csrf_token_changes_nothing(app, as_role):
    editor = as_role("editor")
    response = editor.post("/console/incidents/new", data={"name": "X", "impact": "minor"})
    assert response.status_code == 400
    assert runtime(app).store.incidents.all() == []


def test_an_editor_opens_an_incident_that_the_public_sees(app, client, as_role):
    editor = as_role("editor")
    form = {
        "name": "Calls failing in EU",
        "status": "investigating",
        "impact": "major",
        "component:sip-gateway": "major_outage",
        "body": "We are **on it**.",
        "notify": "on",
    }
    preview = post(editor, "/console/incidents/new", action="preview", **form)
    assert "<strong>on it</strong>" in preview.text and runtime(app).store.incidents.all() == []
    opened = post(editor, "/console/incidents/new", action="open", **form)
    assert opened.status_code == 302
    runtime(app).snapshots = None
    assert "Calls failing in EU" in client.get("/").text
    incident_id = int(opened.headers["Location"].rsplit("/", 1)[1])
    updated = post(editor, f"/console/incidents/{incident_id}", action="post",
                   status="resolved", body="Fixed.")  # fmt: skip
    assert updated.status_code == 302
    assert runtime(app).store.incidents.get(incident_id).status == "resolved"
    [entry, _] = runtime(app).store.audit.entries(target_type="incident")
    assert entry.actor == "user:ed@example.org" and entry.ip == "127.0.0.1"


def test_a_refused_form_names_the_field_and_keeps_what_was_typed(as_role):
    editor = as_role("editor")
    form = {"name": "Kept title", "status": "investigating", "impact": "minor"}
    form["component:nope"] = "major_outage"
    response = post(editor, "/console/incidents/new", action="open", **form)
    assert response.status_code == 400
    assert "components: unknown component" in response.text and "Kept title" in response.text


CONSOLE_ROLE_TABLE = [
    ("GET", "/console/", "viewer"),
    ("GET", "/console/incidents", "viewer"),
    ("POST", "/console/incidents/new", "editor"),
    ("POST", "/console/maintenance", "editor"),
    ("POST", "/console/overrides", "editor"),
    ("GET", "/console/users", "admin"),
    ("POST", "/console/users", "admin"),
    ("GET", "/console/tokens", "admin"),
    ("GET", "/console/audit", "admin"),
    ("GET", "/console/subscribers", "admin"),
]


@pytest.mark.parametrize(("method", "path", "needed"), CONSOLE_ROLE_TABLE)
def test_each_role_is_refused_what_it_may_not_do(as_role, method, path, needed):
    roles = list(USERS)
    for role in roles:
        client = as_role(role)
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(path, data={"csrf_token": csrf(client, "/console/")})
        allowed = roles.index(role) >= roles.index(needed)
        assert (response.status_code == 403) is not allowed, (role, response.status_code)


def test_logout_disabling_and_a_new_password_end_sessions_at_once(app, people, as_role):
    editor = as_role("editor")
    assert post(
        editor,
        "/console/",
    ).status_code in (302, 405)  # any POST keeps the session
    assert editor.get("/console/").status_code == 200
    admin = as_role("admin")
    post(admin, "/console/users", action="disable", username=people["editor"])
    assert "/console/login" in editor.get("/console/").headers["Location"]

    viewer = as_role("viewer")
    post(admin, "/console/users", action="password", username=people["viewer"],
         password="another long passphrase")  # fmt: skip
    assert "/console/login" in viewer.get("/console/").headers["Location"]

    assert post(admin, "/console/logout").status_code == 302
    assert "/console/login" in admin.get("/console/").headers["Location"]


def test_a_session_ends_after_five_idle_minutes(app, as_role):
    editor = as_role("editor")
    assert editor.get("/console/").status_code == 200
    with runtime(app).store.engine.begin() as conn:
        conn.execute(
            sa.update(t.sessions).values(last_seen_at=utcnow() - timedelta(minutes=5, seconds=1))
        )
    ended = editor.get("/console/")
    assert "ended=1" in ended.headers["Location"]
    login_page = editor.get(ended.headers["Location"])
    assert "Your session ended" in login_page.text


def test_logins_are_throttled_per_account(app, people):
    app.config["CONSOLE_LOGIN_LIMIT"] = "3 per minute"
    client = app.test_client()
    codes = [log_in(client, people["admin"], "wrong password guess").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_admins_manage_users_tokens_and_read_the_audit_log(app, as_role):
    admin = as_role("admin")
    added = post(admin, "/console/users", action="add", username="neu@example.org",
                 password="a long enough passphrase", role="viewer")  # fmt: skip
    assert added.status_code == 302
    weak = post(admin, "/console/users", action="add", username="weak@example.org",
                password="password1234", role="viewer")  # fmt: skip
    assert weak.status_code == 400 and "password: " in weak.text

    created = post(admin, "/console/tokens", action="create", name="deploy-bot", role="editor")
    token = re.search(r'<code class="token">([^<]+)</code>', created.text).group(1)
    assert ops.authenticate_token(runtime(app).store, token) is not None
    assert token not in admin.get("/console/tokens").text

    promoted = post(
        admin, "/console/users", action="role", username="neu@example.org", role="editor"
    )
    assert promoted.status_code == 302
    assert runtime(app).store.users.by_name("neu@example.org").role == "editor"

    page = admin.get("/console/audit", query_string={"object": "user"})
    assert "user.add" in page.text
    exported = admin.get("/console/audit", query_string={"format": "csv", "object": "token"})
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert exported.text.splitlines()[1].split(",")[3] == "token.create"


def test_maintenance_and_overrides_from_the_console(app, as_role):
    editor = as_role("editor")
    day = (utcnow() + timedelta(days=3)).date().isoformat()
    preview = post(editor, "/console/maintenance", action="preview", title="DB upgrade",
                   start=f"{day}T02:00", end=f"{day}T04:00", body="Short **pauses**.")  # fmt: skip
    assert "<strong>pauses</strong>" in preview.text
    assert runtime(app).store.maintenance.all() == []
    scheduled = post(editor, "/console/maintenance", title="DB upgrade", start=f"{day}T02:00",
                     end=f"{day}T04:00", components="website")  # fmt: skip
    assert scheduled.status_code == 302
    [(row, _, covered)] = runtime(app).store.maintenance.public()
    assert row.scheduled_for.astimezone(runtime(app).config.site.tz).hour == 2
    assert [c.component_id for c in covered] == ["website"]
    set_ = post(editor, "/console/overrides", action="set", component="website",
                status="major_outage", reason="Probes blind", duration="2h")  # fmt: skip
    assert set_.status_code == 302
    assert "Probes blind" in editor.get("/console/overrides").text
    assert (
        post(editor, "/console/overrides", action="clear", component="website").status_code == 302
    )
    assert runtime(app).store.overrides.active(utcnow()) == {}


def test_an_editor_publishes_a_draft_the_public_then_sees(app, client, as_role):
    store = runtime(app).store
    draft = ops.open_incident(
        store, ops.Actor("alertmanager", "am"), name="Alert: SIP down", status="investigating",
        impact="major", body="- SipDown", draft=True,
    )  # fmt: skip
    runtime(app).snapshots = None
    assert "Alert: SIP down" not in client.get("/").text
    viewer, editor = as_role("viewer"), as_role("editor")
    assert "Draft" in viewer.get("/console/incidents").text
    page = viewer.get(f"/console/incidents/{draft}").text
    assert "not on the public page" in page and 'value="publish"' not in page
    assert post(viewer, f"/console/incidents/{draft}", action="publish").status_code == 403
    assert 'value="publish"' in editor.get(f"/console/incidents/{draft}").text
    published = post(editor, f"/console/incidents/{draft}", action="publish", notify="on")
    assert published.status_code == 302 and not store.incidents.get(draft).draft
    runtime(app).snapshots = None
    assert "Alert: SIP down" in client.get("/").text
    [event] = [e for e in store.events.after(0) if e.kind == "incident.opened"]
    assert event.notify and event.object_id == str(draft)
