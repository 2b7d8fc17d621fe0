"""``Idempotency-Key`` on POST: a retry gets the first answer instead of a duplicate.

The key is reserved before the command runs, so two copies of one request in flight
do not both act: the second gets 409 ``in_progress``. A reservation whose request
died without an answer is taken over after :data:`STALE_SECONDS`. The same key with a
different request is 409 ``idempotency_key_reused``. Keys are kept 24 hours.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

from flask import Response, request

from status.clock import utcnow
from status.runtime import runtime
from status.web.api_v1.errors import ApiError

STALE_SECONDS = 60
KEEP = timedelta(hours=24)
MAX_KEY = 200


def fingerprint() -> str:
    body = request.get_data(cache=True)
    return hashlib.sha256(f"{request.method} {request.path}\n".encode() + body).hexdigest()


def once(actor: str, key: str, answer: Callable[[], Response]) -> Response:
    """The answer to this request, computed at most once per (actor, key)."""
    if not key or len(key) > MAX_KEY:
        raise ApiError(400, "invalid", f"must be 1 to {MAX_KEY} characters", "Idempotency-Key")
    store, now, request_hash = runtime().store, utcnow(), fingerprint()
    store.idempotency.prune(now - KEEP)
    while not store.idempotency.reserve(actor, key, request_hash, now):
        kept = store.idempotency.get(actor, key)
        if kept is None:
            continue  # released in between: try again
        if kept.request != request_hash:
            raise ApiError(409, "idempotency_key_reused", "this key was used for another request")
        if kept.status_code:
            replay = Response(kept.body, status=kept.status_code, mimetype="application/json")
            replay.headers["Idempotent-Replayed"] = "true"
            return replay
        if (now - kept.created_at).total_seconds() < STALE_SECONDS:
            raise ApiError(409, "in_progress", "a request with this key is being answered")
        store.idempotency.release(actor, key)
    try:
        response = answer()
    except BaseException:
        store.idempotency.release(actor, key)
        raise
    if response.status_code >= 500:
        store.idempotency.release(actor, key)
    else:
        store.idempotency.finish(actor, key, response.status_code, response.get_data(as_text=True))
    return response
