"""/healthz: the app's own health, for load balancers and the supervisor's reports."""

from __future__ import annotations

from flask import Blueprint, jsonify

from status.clock import utcnow
from status.migrate import head_revision
from status.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    rt = runtime()
    body: dict = {"database": _database(rt.store)}
    healthy = body["database"] == "ok"
    if healthy:
        body["outbox"] = _outbox(rt.store)

    if rt.config_holder is None:
        body["config"] = f"error: {rt.config_error}"
        healthy = False
    elif rt.config_holder.last_error:
        # Still serving with the last good config: worth a look, not worth pulling us
        # out of a load balancer over a typo.
        body["config"] = f"stale: reload refused: {rt.config_holder.last_error}"
    else:
        body["config"] = "ok"

    if rt.supervisor is not None:
        body["workers"] = rt.supervisor.health()
        healthy &= all(w["state"] == "running" for w in body["workers"].values())

    body["status"] = "ok" if healthy else "error"
    response = jsonify(body)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def _outbox(store) -> dict:
    """How far behind the notifiers are: what waits, and for how long the oldest has."""
    try:
        oldest = store.outbox.oldest_pending_at()
        pending = store.outbox.pending_count()
    except Exception as exc:
        return {"error": type(exc).__name__}
    age = (utcnow() - oldest).total_seconds() if oldest else 0.0
    return {"pending": pending, "oldest_pending_age_seconds": round(max(age, 0.0), 1)}


def _database(store) -> str:
    try:
        revision = store.schema_revision()
    except Exception as exc:  # any driver error means the same to a load balancer
        return f"unreachable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    if revision is None:
        return "not migrated: run `flask --app app db upgrade`"
    if revision != head_revision():
        return f"schema at {revision}, expected {head_revision()}: run `flask --app app db upgrade`"
    return "ok"
