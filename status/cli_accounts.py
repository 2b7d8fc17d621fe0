"""``flask --app app user|token|audit ...``: accounts and the audit log from a shell.

The forms are a contract (scripts depend on them): ``token create`` prints the token
alone on its last line. Every change is made through :mod:`status.ops` as actor
``system:cli:<login name>`` and lands in the audit log like a change from the console.
"""

from __future__ import annotations

import csv
import getpass
import json
import sys
from datetime import datetime, timedelta

import click
from flask.cli import AppGroup

from status import ops
from status.clock import moment_or_ago, utcnow
from status.config import parse_duration
from status.models import Role
from status.runtime import runtime

ROLES = click.Choice([r.value for r in Role])


def cli_actor() -> ops.Actor:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without /etc/passwd entry)
        who = "unknown"
    return ops.Actor.system(f"cli:{who}")


def run(command, *args, **kwargs):
    """Run an ops command; its refusal becomes one line on stderr and exit status 1."""
    try:
        return command(runtime().store, cli_actor(), *args, **kwargs)
    except ops.OpsError as exc:
        raise click.ClickException(str(exc)) from exc


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def parse_time(value: str | None, field: str) -> datetime | None:
    """An ISO 8601 time (UTC when it has no offset), or a duration ago (``2h``)."""
    if value is None:
        return None
    try:
        return moment_or_ago(value)
    except ValueError:
        raise click.BadParameter(
            "an ISO 8601 time or a duration (e.g. 24h)", param_hint=field
        ) from None


# -- users ---------------------------------------------------------------------------------
@click.group("user", cls=AppGroup)
def user_group() -> None:
    """Console users (individual logins; roles viewer, editor, admin)."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", "role_name", type=ROLES, required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def user_add(name: str, role_name: str, password_stdin: bool) -> None:
    """Add the user NAME (an email address)."""
    password = read_password(password_stdin)
    user_id = run(ops.add_user, name=name, password=password, role_name=role_name)
    click.echo(f"user {name} added with role {role_name} (id {user_id})")


@user_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def user_passwd(name: str, password_stdin: bool) -> None:
    """Set NAME's password; ends NAME's sessions and revokes NAME's tokens."""
    run(ops.set_password, name=name, password=read_password(password_stdin))
    click.echo(f"password of {name} changed; their sessions and tokens ended")


@user_group.command("disable")
@click.argument("name")
def user_disable(name: str) -> None:
    """Disable NAME: no login, sessions and tokens end at once."""
    run(ops.set_disabled, name=name, disabled=True)
    click.echo(f"user {name} disabled; their sessions and tokens ended")


@user_group.command("enable")
@click.argument("name")
def user_enable(name: str) -> None:
    """Enable NAME again (tokens revoked on disabling stay revoked)."""
    run(ops.set_disabled, name=name, disabled=False)
    click.echo(f"user {name} enabled")


@user_group.command("list")
def user_list() -> None:
    """Every user: name, role, state, last login."""
    for user in runtime().store.users.all():
        state = "disabled" if user.disabled else "active"
        last = user.last_login_at.isoformat(timespec="seconds") if user.last_login_at else "never"
        click.echo(f"{user.username}\t{user.role}\t{state}\tlast login {last}")


# -- tokens --------------------------------------------------------------------------------
@click.group("token", cls=AppGroup)
def token_group() -> None:
    """API tokens (bearer tokens for /api/v1, bound to a role)."""


@token_group.command("create")
@click.option("--name", required=True, help="What uses it, e.g. deploy-bot.")
@click.option("--role", "role_name", type=ROLES, required=True)
@click.option("--expires", help="Lifetime, e.g. 90d (default: no expiry).")
@click.option("--user", "owner", help="The user it acts for (it ends with their access).")
def token_create(name: str, role_name: str, expires: str | None, owner: str | None) -> None:
    """Create a token; it is printed once, alone on the last line, and never again."""
    expires_at = None
    if expires:
        try:
            expires_at = utcnow() + timedelta(seconds=parse_duration(expires))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--expires") from None
    token_id, token = run(
        ops.create_token, name=name, role_name=role_name, expires_at=expires_at, owner=owner
    )
    until = f", expires {expires_at.isoformat(timespec='seconds')}" if expires_at else ""
    click.echo(f"token {token_id} '{name}' ({role_name}{until}); store it now, it is shown once:")
    click.echo(token)


@token_group.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke the token with id TOKEN_ID (see token list)."""
    run(ops.revoke_token, token_id)
    click.echo(f"token {token_id} revoked")


@token_group.command("list")
def token_list() -> None:
    """Every token: id, name, prefix, role, state, last use."""
    now = utcnow()
    for row in runtime().store.tokens.all():
        if row.revoked_at:
            state = "revoked"
        elif row.expires_at and row.expires_at <= now:
            state = "expired"
        else:
            state = f"expires {row.expires_at:%Y-%m-%d}" if row.expires_at else "live"
        used = row.last_used_at.isoformat(timespec="seconds") if row.last_used_at else "never"
        click.echo(f"{row.id}\t{row.name}\t{row.prefix}…\t{row.role}\t{state}\tlast used {used}")


# -- the audit log ---------------------------------------------------------------------------
@click.group("audit", cls=AppGroup)
def audit_group() -> None:
    """The audit log: every change, who made it, when and from where."""


def _filters(f):
    f = click.option("--actor", help="e.g. user:alice@example.org")(f)
    f = click.option("--object", "target", help="TYPE or TYPE:ID, e.g. incident:12")(f)
    f = click.option("--since", help="ISO time or a duration ago (24h)")(f)
    return click.option("--until", help="ISO time or a duration ago")(f)


def _entries(actor, target, since, until):
    target_type, _, target_id = (target or "").partition(":")
    return runtime().store.audit.entries(
        actor=actor,
        target_type=target_type or None,
        target_id=target_id or None,
        since=parse_time(since, "--since"),
        until=parse_time(until, "--until"),
    )


def _as_dict(row) -> dict:
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "actor": row.actor,
        "action": row.action,
        "object": f"{row.target_type}:{row.target_id}" if row.target_id else row.target_type,
        "ip": row.ip,
        "details": row.details,
        "hash": row.hash,
    }


@audit_group.command("list")
@_filters
def audit_list(actor, target, since, until) -> None:
    """Entries, oldest first."""
    for row in _entries(actor, target, since, until):
        entry = _as_dict(row)
        details = json.dumps(entry["details"], ensure_ascii=False, sort_keys=True)
        click.echo(
            f"{entry['id']}\t{row.at.isoformat(timespec='seconds')}\t{entry['actor']}\t"
            f"{entry['action']}\t{entry['object']}\t{entry['ip'] or '-'}\t{details}"
        )


@audit_group.command("export")
@_filters
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json")
def audit_export(actor, target, since, until, fmt) -> None:
    """Entries as JSON (an array) or CSV, for archiving or a SIEM."""
    entries = [_as_dict(row) for row in _entries(actor, target, since, until)]
    if fmt == "json":
        click.echo(json.dumps(entries, ensure_ascii=False, indent=1))
        return
    fields = ["id", "at", "actor", "action", "object", "ip", "details", "hash"]
    out = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
    out.writeheader()
    for entry in entries:
        out.writerow({**entry, "details": json.dumps(entry["details"], ensure_ascii=False)})


@audit_group.command("verify")
def audit_verify() -> None:
    """Check the hash chain; exit 1 naming the first entry altered or removed."""
    problem = runtime().store.audit.verify()
    if problem is not None:
        where = f"entry {problem.entry_id}" if problem.entry_id else "the end of the log"
        raise click.ClickException(f"audit log broken at {where}: {problem.reason}")
    click.echo(f"audit log intact: {len(runtime().store.audit.entries())} entries verified")


def init_app(app) -> None:
    for group in (user_group, token_group, audit_group):
        app.cli.add_command(group)
