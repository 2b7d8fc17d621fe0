"""One's own account in the console: password change, two-factor login (TOTP)."""

from __future__ import annotations

import re

import pyotp
import pytest

from status.runtime import runtime
from tests.conftest import MINIMAL_CONFIG
from tests.test_console import PASSWORD, as_role, csrf, log_in, people, post  # noqa: F401


def account(client) -> str:
    return client.get("/console/account").text


def test_a_user_changes_their_password_and_their_other_sessions_end(app, people, as_role):  # noqa: F811
    here, elsewhere = as_role("editor"), as_role("editor")
    wrong = post(here, "/console/account", action="password", current="nope",
                 password="a brand new passphrase")  # fmt: skip
    assert "current: is not your current password" in here.get(wrong.headers["Location"]).text
    post(here, "/console/account", action="password", current=PASSWORD,
         password="a brand new passphrase")  # fmt: skip
    assert here.get("/console/").status_code == 200
    assert "/console/login" in elsewhere.get("/console/").headers["Location"]
    assert log_in(app.test_client(), people["editor"], "a brand new passphrase").status_code == 302


def test_two_factor_login_is_set_up_with_a_code_and_then_required(app, people, as_role):  # noqa: F811
    client = as_role("admin")
    page = post(client, "/console/account", action="totp_start").text
    secret = re.search(r'<code class="token">([A-Z2-7]+)</code>', page).group(1)
    bad = post(client, "/console/account", action="totp_confirm", code="000000")
    assert "code: " in client.get(bad.headers["Location"]).text
    post(client, "/console/account", action="totp_confirm", code=pyotp.TOTP(secret).now())
    assert "On: logging in needs the code" in account(client)

    fresh = app.test_client()
    assert log_in(fresh, people["admin"]).status_code == 401  # the password alone
    with_code = fresh.post("/console/login", data={
        "username": people["admin"], "password": PASSWORD, "code": pyotp.TOTP(secret).now(),
        "csrf_token": csrf(fresh),
    })  # fmt: skip
    assert with_code.status_code == 302
    actions = [e.action for e in runtime(app).store.audit.entries(actor="user:ada@example.org")]
    assert "user.totp_on" in actions and actions[-1] == "session.login"


@pytest.fixture
def totp_required(app, config_file):
    config_file.write_text(MINIMAL_CONFIG + "console:\n  require_totp_for_admins: true\n")
    runtime(app).config_holder.reload()
    assert runtime(app).config.console.require_totp_for_admins


def test_where_required_an_admin_sets_up_a_second_factor_before_anything(totp_required, as_role):  # noqa: F811
    admin = as_role("admin")
    assert admin.get("/console/users").headers["Location"] == "/console/account"
    editor = as_role("editor")
    assert editor.get("/console/incidents").status_code == 200  # only admins need it
