"""``flask --app app notify run``: the notifier's command (registered by app.py)."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from status.cli import config_holder
from status.runtime import runtime
from status.settings import SettingsError, require_secret_key


@click.group("notify", cls=AppGroup)
def notify_group() -> None:
    """The notifier: delivers subscriber notifications."""


@notify_group.command("run")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=None,
    help="The SMTP connections this worker keeps, two deliveries under way on each "
    "(default: smtp.connections). Run several workers for more.",
)
@click.option(
    "--lease",
    type=click.FloatRange(1, 3600),
    default=300.0,
    show_default=True,
    help="Seconds a claimed batch stays this worker's; a dead worker's rows are taken "
    "again after it.",
)
@click.option("--poll", type=click.FloatRange(0.05, 60), default=0.25, show_default=True,
              help="Seconds between looks at the outbox when there is nothing to do.")  # fmt: skip
def notify_run(concurrency: int | None, lease: float, poll: float) -> None:
    """Fan out events and deliver the outbox until SIGTERM (the batch in hand is
    finished first); reload the config on SIGHUP."""
    from subscribers.notifier import Notifier

    try:
        require_secret_key(current_app.config)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    rt = runtime()
    holder = config_holder(rt)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=holder.reload).start())
    notifier = Notifier(
        rt.store,
        lambda: holder.current,
        current_app.config["SECRET_KEY"],
        concurrency=concurrency,
        lease=lease,
        poll=poll,
    )
    notifier.run(stopping)


def init_app(app) -> None:
    app.cli.add_command(notify_group)
