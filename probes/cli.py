"""``flask --app app probes run``: the probe worker's command (registered by app.py)."""

from __future__ import annotations

import os

import click
from flask.cli import AppGroup

from status.cli import config_holder
from status.runtime import runtime


@click.group("probes", cls=AppGroup)
def probes_group() -> None:
    """The probe worker."""


@probes_group.command("run")
@click.option("--region", default="default", show_default=True, help="This worker's region.")
@click.option(
    "--metrics",
    "metrics_address",
    default="127.0.0.1:9115",
    show_default=True,
    help="Serve the probe metrics on HOST:PORT ('' for none); with --processes N, "
    "process n serves on PORT+n.",
)
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes sharing the region's checks; one per core uses every core.",
)
def probes_run(region: str, metrics_address: str, processes: int) -> None:
    """Run the checks of the config file until SIGTERM; reload the config on SIGHUP."""
    from flask import current_app

    from probes import main as probes_main

    rt = runtime()
    holder = config_holder(rt)
    if processes == 1:
        probes_main.run_worker(rt.store, holder, region, metrics_address)
        return
    # The workers are forked from a process that loaded only what probing needs.
    config = current_app.config
    env = probes_main.environment(config["DATABASE_URL"], holder.path, config["LOG_LEVEL"])
    argv = probes_main.command(region, metrics_address, processes)
    os.execve(argv[0], argv, env)


def init_app(app) -> None:
    app.cli.add_command(probes_group)
