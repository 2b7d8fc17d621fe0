"""The `flask --app app ...` command groups for operations."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from status import backup as backups
from status import migrate
from status.config import ConfigError, load_config
from status.runtime import runtime
from status.settings import config_hint


@click.group("config", cls=AppGroup)
def config_group() -> None:
    """Check the config file."""


@config_group.command("check")
@click.argument("file", required=False)
def config_check(file: str | None) -> None:
    """Validate FILE (default: $STATUS_CONFIG or status.yaml); exit 1 if invalid."""
    from flask import current_app

    path = file or current_app.config["STATUS_CONFIG"]
    try:
        config = load_config(path)
    except ConfigError as exc:
        hint = None if file else config_hint(path)
        click.echo(f"{exc}\n{hint}" if hint else str(exc), err=True)
        sys.exit(1)
    probes = sum(len(c.probes) for c in config.components)
    click.echo(
        f"{path}: ok: {len(config.groups)} groups, {len(config.components)} components, "
        f"{probes} probes"
    )


@click.group("db", cls=AppGroup)
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema (safe to repeat)."""
    rt = runtime()
    migrate.upgrade(rt.store.engine)
    click.echo(f"database at schema {rt.store.schema_revision()}")


@db_group.command("current")
def db_current() -> None:
    """Print the database's schema revision and the newest one."""
    click.echo(f"database: {runtime().store.schema_revision() or 'empty'}")
    click.echo(f"newest:   {migrate.head_revision()}")


@click.command("backup")
@with_appcontext
@click.argument("file", type=click.Path(dir_okay=False))
def backup_command(file: str) -> None:
    """Write a consistent snapshot of the database to FILE, while the app runs."""
    try:
        backups.backup(runtime().store, file)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written to {file}")


@click.command("restore")
@with_appcontext
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_command(file: str, yes: bool) -> None:
    """Replace the database with the backup in FILE (checked first)."""
    rt = runtime()
    try:
        backups.require_sqlite(rt.store)
        revision = backups.verify(file)
        if not yes:
            click.confirm(
                f"{file} is a good backup (schema {revision}). Replace the current data?",
                abort=True,
            )
        backups.restore(rt.store, file)
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"restored {file}; database at schema {rt.store.schema_revision()}")


@click.group("heartbeats", cls=AppGroup)
def heartbeats_group() -> None:
    """Heartbeat checks (pushed by cron jobs and batch work)."""


@heartbeats_group.command("list")
def heartbeats_list() -> None:
    """Print each heartbeat check with the URL it must call."""
    rt = runtime()
    config = config_holder(rt).current
    checks = [(c.id, p.key) for c in config.components for p in c.probes if p.type == "heartbeat"]
    tokens = rt.store.heartbeats.tokens(checks)
    for component, probe in checks:
        token = tokens[(component, probe)]
        click.echo(f"{component}/{probe}\t{config.site.url}/ping/{token}")


@click.command("export")
@with_appcontext
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--watch", is_flag=True, help="Keep rewriting the files as the data changes.")
def export_command(directory: str, watch: bool) -> None:
    """Write the public site (page, JSON, feeds, calendar) as static files to DIRECTORY."""
    import signal
    import threading

    from flask import current_app

    from status.web.public import mirror

    app = current_app._get_current_object()
    config_holder(runtime())
    if not watch:
        report = mirror.export(app, directory)
        click.echo(
            f"{directory}: {len(report.written)} files written, {report.unchanged} unchanged, "
            f"{len(report.removed)} removed"
        )
        return
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    click.echo(f"mirroring the public site to {directory} (Ctrl-C stops)", err=True)
    mirror.watch(app, directory, stopping)


def config_holder(rt):
    if rt.config_holder is None:
        from flask import current_app

        hint = config_hint(current_app.config["STATUS_CONFIG"])
        raise click.ClickException(f"{rt.config_error}\n{hint}" if hint else str(rt.config_error))
    return rt.config_holder


def init_app(app: Flask) -> None:
    for command in (
        config_group,
        db_group,
        backup_command,
        restore_command,
        heartbeats_group,
        export_command,
    ):
        app.cli.add_command(command)
