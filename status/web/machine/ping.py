"""/ping/<token>: heartbeats from cron jobs and batch work (healthchecks-style)."""

from __future__ import annotations

from flask import Blueprint

from status.runtime import runtime

bp = Blueprint("ping", __name__)


@bp.route("/ping/<token>", methods=["GET", "POST", "HEAD"])
def ping(token: str):
    return _record(token, fail=False)


@bp.route("/ping/<token>/fail", methods=["GET", "POST", "HEAD"])
def ping_fail(token: str):
    return _record(token, fail=True)


def _record(token: str, *, fail: bool):
    # Tokens are 32 random URL-safe characters; anything else cannot match.
    if len(token) > 64 or not runtime().store.heartbeats.ping(token, fail=fail):
        return "not found\n", 404, {"Content-Type": "text/plain", "Cache-Control": "no-store"}
    return "OK\n", 200, {"Content-Type": "text/plain", "Cache-Control": "no-store"}
