"""`flask --app app user|token|audit ...` (contract forms), on both engines."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import sqlalchemy as sa

from status import ops
from status import schema as t
from status.clock import utcnow
from status.runtime import runtime

PASSWORD = "correct horse battery staple"


def invoke(runner, *args, stdin=None):
    return runner.invoke(args=list(args), input=stdin)


def add_alice(runner, role="editor"):
    result = invoke(
        runner, "user", "add", "alice@example.org", "--role", role, "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result


def token_for(runner, *extra):
    result = invoke(runner, "token", "create", "--name", "deploy-bot", "--role", "editor", *extra)
    assert result.exit_code == 0, result.output
    return result.output.splitlines()[-1]


def test_it_adds_a_user_who_is_listed_and_audited(app, runner):
    assert "added with role editor" in add_alice(runner).output
    listed = invoke(runner, "user", "list").output
    assert listed.startswith("alice@example.org\teditor\tactive\tlast login never")
    [entry] = runtime(app).store.audit.entries()
    assert entry.action == "user.add" and entry.actor.startswith("system:cli:")
    assert PASSWORD not in json.dumps(entry.details)
    user = runtime(app).store.users.by_name("Alice@Example.org")
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash


def test_it_refuses_weak_passwords_and_duplicates_naming_the_field(app, runner):
    for weak, why in [("short pass", "at least 12"), ("password1234", "common")]:
        result = invoke(
            runner, "user", "add", "bob@example.org", "--role", "viewer", "--password-stdin",
            stdin=weak + "\n",
        )  # fmt: skip
        assert result.exit_code == 1
        assert "password: " in result.output and why in result.output
    assert runtime(app).store.users.all() == []
    add_alice(runner)
    again = invoke(
        runner, "user", "add", "ALICE@example.org", "--role", "admin", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert again.exit_code == 1 and "username: a user" in again.output


def test_a_token_is_printed_once_stored_as_a_hash_and_works_until_revoked(app, runner):
    result = invoke(runner, "token", "create", "--name", "deploy-bot", "--role", "editor")
    token = result.output.splitlines()[-1]
    assert token.startswith("lst_") and len(token) > 40
    store = runtime(app).store
    identity = ops.authenticate_token(store, token)
    assert identity.role == "editor" and identity.name == "deploy-bot"
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(t.api_tokens)).one()
    assert token not in str(tuple(stored)) and stored.last_used_at is not None
    listed = invoke(runner, "token", "list").output
    assert token not in listed and stored.prefix in listed and "\tlive\t" in listed

    assert invoke(runner, "token", "revoke", str(stored.id)).exit_code == 0
    assert ops.authenticate_token(store, token) is None
    assert invoke(runner, "token", "revoke", str(stored.id)).exit_code == 1


def test_a_token_expires(app, runner):
    token = token_for(runner, "--expires", "90d")
    store = runtime(app).store
    assert ops.authenticate_token(store, token) is not None
    assert ops.authenticate_token(store, token, utcnow() + timedelta(days=91)) is None
    assert invoke(runner, "token", "create", "--name", "x", "--role", "editor",
                  "--expires", "soon").exit_code == 2  # fmt: skip


def test_disabling_or_a_new_password_ends_a_users_tokens_at_once(app, runner):
    add_alice(runner)
    store = runtime(app).store
    token = token_for(runner, "--user", "alice@example.org")
    assert ops.authenticate_token(store, token) is not None

    assert invoke(runner, "user", "disable", "alice@example.org").exit_code == 0
    assert ops.authenticate_token(store, token) is None
    assert "\tdisabled\t" in invoke(runner, "user", "list").output
    assert invoke(runner, "user", "enable", "alice@example.org").exit_code == 0
    assert ops.authenticate_token(store, token) is None  # revoked, not only paused

    second = token_for(runner, "--user", "alice@example.org")
    result = invoke(
        runner, "user", "passwd", "alice@example.org", "--password-stdin",
        stdin="another long passphrase\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert ops.authenticate_token(store, second) is None
    actions = [e.action for e in store.audit.entries()]
    assert actions == ["user.add", "token.create", "user.disable", "user.enable",
                       "token.create", "user.passwd"]  # fmt: skip


def test_audit_list_export_and_verify(app, runner):
    add_alice(runner)
    token_for(runner)
    listed = invoke(runner, "audit", "list", "--object", "token").output.splitlines()
    assert len(listed) == 1 and "\ttoken.create\ttoken:1\t" in listed[0]
    exported = json.loads(invoke(runner, "audit", "export", "--since", "1h").output)
    assert [e["action"] for e in exported] == ["user.add", "token.create"]
    rows = list(csv.DictReader(io.StringIO(invoke(runner, "audit", "export",
                                                  "--format", "csv").output)))  # fmt: skip
    assert [r["action"] for r in rows] == ["user.add", "token.create"]
    assert invoke(runner, "audit", "list", "--until", "1h").output == ""

    ok = invoke(runner, "audit", "verify")
    assert ok.exit_code == 0 and "2 entries verified" in ok.output
    with runtime(app).store.engine.begin() as conn:
        conn.execute(sa.update(t.audit_log).where(t.audit_log.c.id == 1).values(ip="203.0.113.9"))
    broken = invoke(runner, "audit", "verify")
    assert broken.exit_code == 1 and "entry 1: its content was altered" in broken.output
