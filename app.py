"""Leitstand: create_app() for WSGI servers and the CLI; ``python app.py`` runs it all in one.

gunicorn "app:create_app()"          web only (any number of processes)
flask --app app probes run           probe worker (see README)
flask --app app notify run           notifier: fan-out and delivery of subscriber email
python app.py                        all-in-one: web + probe scheduler + notifier +
                                     config watcher, one process (make run)

This is the composition: the one module that imports the core (``status``), the web
surfaces (``status.web``) and the plugins (``probes``, ``subscribers``), wires
them into one process and registers every command line group (docs/architecture.md).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

import click
from flask import Flask

import probes.cli
import subscribers.cli
from status import cli, cli_accounts, cli_ops, cli_subscribers, demo, jobs, web
from status.config import ConfigError, ConfigHolder
from status.runtime import Runtime, Supervisor, config_watcher, runtime
from status.settings import (
    SettingsError,
    cannot_listen,
    from_environ,
    listen_address,
    require_secret_key,
)
from status.store import Store, make_engine

log = logging.getLogger("leitstand")


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; touches no database, so it starts even while the database is away."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(from_environ(os.environ, app.instance_path))
    app.config.update(
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    if test_config:
        app.config.update(test_config)
    configure_logging(app.config["LOG_LEVEL"])
    os.makedirs(app.instance_path, exist_ok=True)

    # The `flask` commands sign nothing, so they need no secret; a broken config is
    # reported by the commands that need one, so `config check` and `db upgrade` work.
    in_cli = click.get_current_context(silent=True) is not None
    if not app.testing and not in_cli:
        require_secret_key(app.config)
    try:
        holder, error = ConfigHolder(app.config["STATUS_CONFIG"]), None
    except ConfigError as exc:
        if not in_cli:
            raise
        holder, error = None, exc

    app.extensions["leitstand"] = Runtime(
        store=Store(make_engine(app.config["DATABASE_URL"])),
        config_holder=holder,
        config_error=error,
        background_snapshots=not app.testing,
    )
    web.init_app(app)
    cli.init_app(app)
    cli_accounts.init_app(app)
    cli_ops.init_app(app)
    cli_subscribers.init_app(app)
    probes.cli.init_app(app)
    subscribers.cli.init_app(app)
    return app


def configure_logging(level: str) -> None:
    """One line per event on stderr."""
    root = logging.getLogger()
    if not any(getattr(h, "_leitstand", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._leitstand = True
        root.addHandler(handler)
    root.setLevel(level)


class _Shutdown(SystemExit):
    """Raised by the signal handlers: waitress's loop stops on SystemExit, not Exception."""


def main() -> int:
    """The all-in-one process: listen, migrate, start the workers, serve until SIGTERM."""
    from waitress import create_server

    from status import migrate

    try:
        host, port = listen_address()  # the environment first: PORT=abc is about PORT
        app = create_app()
    except (SettingsError, ConfigError) as exc:
        print(f"leitstand: {exc}", file=sys.stderr)
        return 2
    # Bind before anything starts: a port in use ends here, in one line, with nothing to stop.
    try:
        server = create_server(app, host=host, port=port, threads=8, ident="leitstand")
    except OSError as exc:
        print(f"leitstand: {cannot_listen(host, port, exc)}", file=sys.stderr)
        return 2
    rt = runtime(app)
    received: list[str] = []
    reload_requested = threading.Event()
    try:
        migrate.upgrade(rt.store.engine)
        rt.supervisor = start_workers(rt, reload_requested, app.config["SECRET_KEY"])

        def shutdown(signum, _frame):
            received.append(signal.Signals(signum).name)
            raise _Shutdown()

        signal.signal(signal.SIGTERM, shutdown)
        signal.signal(signal.SIGINT, shutdown)
        signal.signal(signal.SIGHUP, lambda *_: reload_requested.set())
        log.info("serving on http://%s:%s/ (config %s)", host, port, rt.config_holder.path)
        first_admin_hint(rt, f"http://{host}:{port}/console/")
        server.run()  # returns (waitress catches SystemExit) or raises _Shutdown
    except _Shutdown:
        pass
    finally:
        log.info("%s: shutting down", received[0] if received else "server stopped")
        server.close()
        if rt.supervisor:
            rt.supervisor.stop()
        rt.store.dispose()
    log.info("stopped")
    return 0


def first_admin_hint(rt: Runtime, console_url: str) -> None:
    """No default account exists: say how to make the first one."""
    if not rt.store.users.all():
        log.warning(
            "no console user yet: create the first admin with "
            "`flask --app app user add you@example.org --role admin`, then log in at %s",
            console_url,
        )


def start_workers(rt: Runtime, reload_requested: threading.Event, secret: str) -> Supervisor:
    """The all-in-one's background workers: config watcher, probe scheduler, clock and
    notifier (and, for the shipped example, the demo's own jobs: see status/demo.py)."""
    from probes.metrics import ProbeMetrics
    from probes.scheduler import Scheduler
    from subscribers.notifier import Notifier

    supervisor = Supervisor()
    holder = rt.config_holder
    supervisor.add("config", config_watcher(holder, reload_requested))
    probe_metrics = ProbeMetrics(registry=rt.registry)
    scheduler = Scheduler(rt.store, lambda: holder.current, metrics=probe_metrics)
    supervisor.add("probes", scheduler.run)
    supervisor.add("clock", jobs.clock_worker(rt.store, lambda: holder.current))
    supervisor.add("notifier", Notifier(rt.store, lambda: holder.current, secret).run)
    if demo.is_example(holder.path):
        supervisor.add("demo", demo.DemoJobs(rt.store, lambda: holder.current).run)
    supervisor.start()
    return supervisor


if __name__ == "__main__":
    sys.exit(main())
