"""``flask --app app subscriber find|export|erase EMAIL``, ``subscriber import FILE.csv``
(contract): one subscriber by exact address, and a list moved from another status page;
``subscriber webhooks`` and ``subscriber erase-webhook ID`` for webhook subscriptions.

Each is made through :mod:`status.ops.subscriber_admin` as actor ``system:cli:<login
name>`` and audited like the console's. ``export`` prints the JSON of GDPR Art. 15.
"""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from status.cli_accounts import run
from status.ops import subscriber_admin as admin
from status.ops import webhooks
from status.ops.subscribers import Policy
from status.runtime import runtime

subscriber = AppGroup("subscriber", help="Find, export, erase or import subscribers.")


@subscriber.command("find")
@click.argument("email")
def find(email: str) -> None:
    """Show the subscriber with exactly this address (exit 1 when there is none)."""
    found = run(admin.find, email)
    if found is None:
        raise click.ClickException("no subscriber with this address")
    components = "all" if found["components"] is None else ", ".join(found["components"])
    click.echo(f"{found['id']}\t{found['email']}\t{found['state']}\t{found['language']}\t"
               f"{components}")  # fmt: skip


@subscriber.command("export")
@click.argument("email")
def export(email: str) -> None:
    """Print everything held about the subscriber as JSON (GDPR Art. 15)."""
    click.echo(json.dumps(run(admin.export, email), ensure_ascii=False, indent=2))


@subscriber.command("erase")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask.")
def erase(email: str, yes: bool) -> None:
    """Delete the subscriber and all held about them (GDPR Art. 17)."""
    if not yes:
        click.confirm(f"Erase {email} and all data held about them?", abort=True)
    subscriber_id = run(admin.erase, email)
    click.echo(f"erased subscriber {subscriber_id}")


@subscriber.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
def import_(file) -> None:
    """Import subscribers from a CSV: email, confirmed (yes/no), language, components,
    confirmed_at, consent_version. Only rows marked confirmed count as confirmed; the
    others are sent a confirmation email. Known addresses are skipped."""
    policy = Policy.from_config(runtime().config)
    result = run(admin.import_csv, policy, file.read())
    for error in result.errors:
        click.echo(error, err=True)
    click.echo(f"added {result.added} ({result.confirmed} confirmed), skipped "
               f"{result.skipped} known, {len(result.errors)} with errors")  # fmt: skip
    if result.errors:
        raise SystemExit(1)


@subscriber.command("webhooks")
def webhook_list() -> None:
    """List webhook subscriptions: id, state, components, URL."""
    for hook in webhooks.listing(runtime().store):
        components = "all" if hook["components"] is None else ",".join(hook["components"])
        click.echo(f"{hook['id']}\t{hook['state']}\t{components}\t{hook['url']}")


@subscriber.command("erase-webhook")
@click.argument("webhook_id", type=int)
def erase_webhook(webhook_id: int) -> None:
    """Delete one webhook subscription (its id from ``subscriber webhooks``)."""
    run(webhooks.erase, webhook_id)
    click.echo(f"erased webhook {webhook_id}")


def init_app(app) -> None:
    app.cli.add_command(subscriber)
