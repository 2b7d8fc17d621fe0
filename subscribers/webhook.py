"""Webhooks (requests): a signed JSON POST per outbox row, to an address checked first.

Before every request the URL is checked again (status/netguard.py: DNS answers change)
and the connection goes to one of the addresses just checked, never to a second
look-up of the name: the URL is rewritten to the address, while ``Host``, SNI and the
certificate check keep the registered name (:class:`PinnedAdapter`). No proxy from the
environment, no redirects, bounded timeouts, at most 64 KiB of the answer read.

Signature (docs/webhooks.md): ``X-Leitstand-Timestamp: <unix seconds>`` and
``X-Leitstand-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`` with
the subscription's own secret. ``X-Leitstand-Delivery`` is the outbox row's id: the
same on every retry of one delivery, so a receiver can drop repeats.

Answers: 2xx delivered; 408, 429, 5xx, timeouts and connection trouble are retried
with the outbox's back-off; a redirect and any other 4xx are permanent: the row fails
and the webhook is disabled (``bouncing``), like an email address refused with 5xx.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import requests
from requests.adapters import HTTPAdapter

from status import links, netguard
from status.config import Config
from status.ops import webhooks
from status.store import Store
from subscribers.base import Channel, Delivery, DeliveryError
from subscribers.webhook_payload import EventBody, verification

log = logging.getLogger(__name__)

MAX_ANSWER = 64 * 1024
USER_AGENT = "Leitstand-Webhook/1"
TEMPORARY = {408, 429}
VERIFY = "subscriber.confirm_requested"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=`` + hex HMAC-SHA256 over ``timestamp + "." + body``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + digest.hexdigest()


class PinnedAdapter(HTTPAdapter):
    """Connects to the address in the URL, but speaks TLS to ``host``: SNI and the
    certificate's name are the registered host's, not the address's."""

    def __init__(self, host: str) -> None:
        self.host = host
        super().__init__(max_retries=0, pool_connections=1, pool_maxsize=1)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs["server_hostname"] = self.host
        pool_kwargs["assert_hostname"] = self.host
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


def _netloc(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _host_header(target: netguard.Target) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


class WebhookChannel(Channel):
    """Deliveries to webhook subscribers; ``config`` is read at each delivery (a reload
    changes the allowed networks, CA file and timeouts at once)."""

    name = "webhook"

    def __init__(self, store: Store, config: Callable[[], Config], secret: str) -> None:
        self.store = store
        self.config = config
        self.secret = secret
        self._bodies: OrderedDict[int, EventBody | None] = OrderedDict()
        self._lock = threading.Lock()

    async def notify(self, delivery: Delivery) -> None:
        await asyncio.to_thread(self.deliver, delivery)

    # -- one delivery (in a worker thread) ----------------------------------------------
    def deliver(self, delivery: Delivery) -> None:
        config = self.config()
        row = self.store.subscribers.get(delivery.subscriber_id)
        if row is None or row.channel != "webhook" or not row.webhook_secret:
            raise DeliveryError("the webhook subscription is gone", permanent=True)
        subject = (self.secret, row.id, row.token_version)
        unsubscribe = links.url(
            config.site.url, links.UNSUBSCRIBE, links.unsubscribe_token(*subject)
        )
        challenge = None
        if delivery.notice.kind == VERIFY:
            challenge = webhooks.challenge(*subject)
            body = verification(config, delivery.event_id, challenge, unsubscribe)
        else:
            prepared = self._body(delivery.event_id, config)
            if prepared is None:
                raise DeliveryError("what the event was about is gone", permanent=False)
            body = prepared.body(unsubscribe)
        answer = self.post(row.webhook_url, row.webhook_secret, body, delivery, config)
        if challenge is not None:
            if not echoes(answer, challenge):
                raise DeliveryError("the answer did not echo the challenge")
            webhooks.verified(self.store, row.id, row.token_version)

    def _body(self, event_id: int, config: Config) -> EventBody | None:
        with self._lock:  # built once per event, whichever thread asks first
            if event_id not in self._bodies:
                event = self.store.outbox.event(event_id)
                self._bodies[event_id] = event and EventBody(self.store, config, event)
                while len(self._bodies) > 16:
                    self._bodies.popitem(last=False)
            return self._bodies[event_id]

    def post(self, url: str, secret: str, body: bytes, delivery: Delivery, config: Config):
        """POST ``body`` to ``url``; the first 64 KiB of a 2xx answer, else DeliveryError."""
        settings = config.webhooks
        try:
            target = netguard.check(url, settings.allow_networks)
        except netguard.Unresolved as exc:
            raise DeliveryError(str(exc)) from None
        except netguard.Refused as exc:
            raise DeliveryError(f"refused: {exc}", permanent=True) from None
        timestamp = str(int(time.time()))
        headers = {
            "Host": _host_header(target),
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "X-Leitstand-Timestamp": timestamp,
            "X-Leitstand-Signature": sign(secret, timestamp, body),
            "X-Leitstand-Event": delivery.notice.kind,
            "X-Leitstand-Delivery": str(delivery.outbox_id),
        }
        last: Exception | None = None
        for address in target.addresses:
            try:
                return self._send(target, address, headers, body, settings)
            except requests.ConnectionError as exc:  # this address is down: the next one
                last = exc
        raise DeliveryError(f"cannot connect: {_short(last)}")

    def _send(self, target: netguard.Target, address: str, headers, body, settings) -> bytes:
        url = f"{target.scheme}://{_netloc(address, target.port)}{target.path}"
        with requests.Session() as session:
            session.trust_env = False  # no proxy, netrc or CA bundle from the environment
            session.mount(f"{target.scheme}://", PinnedAdapter(target.host))
            try:
                response = session.post(
                    url,
                    data=body,
                    headers=headers,
                    timeout=(settings.connect_timeout, settings.read_timeout),
                    allow_redirects=False,
                    verify=settings.ca_file or True,
                    stream=True,
                )
            except requests.Timeout as exc:
                if isinstance(exc, requests.ConnectTimeout):
                    raise
                raise DeliveryError(f"timed out: {_short(exc)}") from None
            except requests.ConnectionError:
                raise
            except requests.RequestException as exc:
                raise DeliveryError(f"{type(exc).__name__}: {_short(exc)}") from None
            with response:
                try:
                    answer = response.raw.read(MAX_ANSWER, decode_content=True) or b""
                except Exception:
                    answer = b""
                return _judge(response.status_code, answer)


def _judge(status: int, answer: bytes) -> bytes:
    if 200 <= status < 300:
        return answer
    if 300 <= status < 400:
        raise DeliveryError(f"HTTP {status}: redirects are not followed", permanent=True)
    if status in TEMPORARY or status >= 500:
        raise DeliveryError(f"HTTP {status}")
    raise DeliveryError(f"HTTP {status}", permanent=True)


def echoes(answer: bytes, challenge: str) -> bool:
    """Whether the answer is the challenge: as the whole body, or as ``{"challenge":
    ...}`` (also inside ``{"verification": {...}}``)."""
    text = answer.decode("utf-8", "replace").strip()
    if hmac.compare_digest(text.encode(), challenge.encode()):
        return True
    try:
        data = json.loads(text)
    except ValueError:
        return False
    if isinstance(data, dict) and isinstance(data.get("verification"), dict):
        data = data["verification"]
    found = data.get("challenge") if isinstance(data, dict) else None
    return isinstance(found, str) and hmac.compare_digest(found.encode(), challenge.encode())


def _short(exc: Exception | None) -> str:
    text = str(exc) if exc is not None else "no address"
    return text if len(text) <= 300 else text[:300] + "..."
