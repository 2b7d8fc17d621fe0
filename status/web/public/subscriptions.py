"""Email subscriptions on the public site: the sign-up form's POST, and the pages the
signed links in the emails open (confirm, manage, unsubscribe).

The form lives on the cached pages (``/``, ``/subscribe``), which cannot carry a
per-visitor CSRF token; its POST is accepted only from this site (``Sec-Fetch-Site``,
``Origin``: docs/decisions.md). The answer to a sign-up is the same whatever the
address (no enumeration), and a filled honeypot gets it too, without storing anything.

A link's GET only shows a button; the POST acts (mail scanners follow links). The one
exception to buttons is RFC 8058: ``POST /unsubscribe/<token>`` with the body
``List-Unsubscribe=One-Click``, which a mail client sends for its unsubscribe button.
These pages are someone's: never cached (not by the fast path, which answers GETs of
the public URLs only, nor by anyone else), and they leak no token in a Referer.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _

from status import links
from status.ops import Invalid
from status.ops import subscribers as subs
from status.runtime import runtime
from status.web import language
from status.web.public.pages import context
from status.web.security import small_body, subscription_limits

log = logging.getLogger(__name__)
bp = Blueprint("subscriptions", __name__)


def init_app(app) -> None:
    app.register_blueprint(bp)


def policy() -> subs.Policy:
    return subs.Policy.from_config(runtime().config)


# -- pages --------------------------------------------------------------------------------
def render(template: str, status: int = 200, here=("public.subscribe", {}), **values) -> Response:
    snapshot = runtime().snapshot()
    ctx = context(snapshot, language.language(), here)
    response = Response(render_template(template, **ctx, **values), status=status)
    response.mimetype = "text/html"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Vary"] = language.VARY
    return response


def from_this_site() -> bool:
    """A browser's cross-site POST is refused: by Sec-Fetch-Site where the browser sends
    it, else by Origin (this host, or the site's configured URL)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser, or one from before Origin: no cross-site form either
    site = urlsplit(runtime().config.site.url)
    return origin in (request.host_url.rstrip("/"), f"{site.scheme}://{site.netloc}")


def form_values() -> dict:
    form = request.form
    return {
        "email": form.get("email", "")[:254],
        "scope": "some" if form.get("scope") == "some" else "all",
        "components": form.getlist("component"),
        "groups": form.getlist("group"),
        "language": form.get("language", ""),
    }


def chosen(values: dict) -> dict:
    """The command's arguments for what the form chose."""
    if values["scope"] == "all":
        return {"components": None, "groups": ()}
    return {"components": values["components"], "groups": values["groups"]}


@bp.post("/subscribe")
@subscription_limits
def subscribe():
    small_body()
    if not from_this_site():
        return render("public/subscription.html", 403, mode="refused",
                      heading=_("Not sent from this site"),
                      text=_("This form can only be sent from this status page."))  # fmt: skip
    values = form_values()
    if request.form.get("website"):  # the honeypot: a bot filled what no person sees
        log.info("subscribe: honeypot filled; nothing stored")
        return render("public/subscribe.html", sent=True)
    try:
        subs.subscribe(
            runtime().store,
            policy(),
            email=values["email"],
            language=values["language"] or language.language(),
            ip=request.remote_addr,
            method="form",
            **chosen(values),
        )
    except Invalid as exc:
        errors = {exc.field or "form": field_message(exc)}
        return render("public/subscribe.html", 400, form=values, errors=errors)
    return render("public/subscribe.html", sent=True)


def field_message(exc: Invalid) -> str:
    if exc.field == "email":
        return _("Please enter a valid email address.")
    if exc.field in ("components", "groups"):
        return _("Choose at least one component, or all components.")
    return _("Please check your choices.")


def bad_link(error: links.BadLink) -> Response:
    if error.expired:
        text = _("This link has expired. Subscribe again to get a new one.")
    else:
        text = _("This link is not valid (any more). Subscribe again to get a new one.")
    return render("public/subscription.html", 410 if error.expired else 404,
                  mode="bad", heading=_("Link not valid"), text=text)  # fmt: skip


def secret() -> str:
    return current_app.config["SECRET_KEY"]


def here(endpoint: str, token: str) -> tuple[str, dict]:
    return (endpoint, {"token": token})


@bp.route(links.PATHS[links.CONFIRM].replace("{token}", "<token>"), methods=["GET", "POST"])
def confirm(token: str):
    small_body()
    store, where = runtime().store, here("subscriptions.confirm", token)
    try:
        row = subs.check_link(store, secret(), links.CONFIRM, token)
        if request.method == "POST":
            subs.confirm(store, policy(), secret(), token, ip=request.remote_addr)
            manage = links.manage_token(secret(), row.id, row.token_version)
            return render("public/subscription.html", here=where, mode="confirmed",
                          heading=_("Subscription confirmed"), email=row.email or row.webhook_url,
                          manage_url=links.PATHS[links.MANAGE].format(token=manage))  # fmt: skip
    except links.BadLink as exc:
        return bad_link(exc)
    return render("public/subscription.html", here=where, mode="confirm",
                  heading=_("Confirm your subscription"),
                  email=row.email or row.webhook_url)  # fmt: skip


@bp.route(links.PATHS[links.MANAGE].replace("{token}", "<token>"), methods=["GET", "POST"])
def manage(token: str):
    small_body()
    store, where = runtime().store, here("subscriptions.manage", token)
    try:
        row = subs.check_link(store, secret(), links.MANAGE, token)
        if row.state != subs.CONFIRMED:
            raise links.BadLink("not confirmed")
        if request.method == "POST" and request.form.get("action") == "unsubscribe":
            subs.unsubscribe(store, secret(), token, purpose=links.MANAGE)
            return unsubscribed()
        saved, errors = False, {}
        values = current_choice(store, row)
        if request.method == "POST":
            values = form_values()
            try:
                subs.manage(store, policy(), secret(), token,
                            language=values["language"] or None, **chosen(values))  # fmt: skip
                saved = True
            except Invalid as exc:
                errors = {exc.field or "form": field_message(exc)}
    except links.BadLink as exc:
        return bad_link(exc)
    return render("public/subscription.html", 400 if errors else 200, here=where,
                  mode="manage", heading=_("Your subscription"), email=row.email,
                  site_config=runtime().config, form=values, errors=errors,
                  saved=saved)  # fmt: skip


def current_choice(store, row) -> dict:
    components = [] if row.all_components else store.subscribers.components(row.id)
    return {
        "scope": "all" if row.all_components else "some",
        "components": components,
        "groups": [],
        "language": row.language,
    }


def unsubscribed() -> Response:
    return render("public/subscription.html", mode="unsubscribed", heading=_("Unsubscribed"))


@bp.route(links.PATHS[links.UNSUBSCRIBE].replace("{token}", "<token>"), methods=["GET", "POST"])
def unsubscribe(token: str):
    """GET: a button. POST (the button, or RFC 8058's one-click from a mail client,
    without a session or an Origin of ours): unsubscribe."""
    small_body()
    store = runtime().store
    try:
        if request.method == "POST":
            subs.unsubscribe(store, secret(), token)
            if request.form.get("List-Unsubscribe") == "One-Click":  # a mail client
                return Response("unsubscribed\n", mimetype="text/plain",
                                headers={"Cache-Control": "no-store"})  # fmt: skip
            return unsubscribed()
        links.check(secret(), links.UNSUBSCRIBE, token)  # an old link of a gone row: fine
    except links.BadLink as exc:
        return bad_link(exc)
    return render("public/subscription.html", here=here("subscriptions.unsubscribe", token),
                  mode="unsubscribe", heading=_("Unsubscribe"))  # fmt: skip


@bp.errorhandler(429)
def too_many(_error):
    text = _("Too many sign-ups from here or for this address. Please try again later.")
    return render("public/subscription.html", 429, mode="refused",
                  heading=_("Too many requests"), text=text)  # fmt: skip
