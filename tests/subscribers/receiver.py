"""A real HTTPS webhook receiver on loopback, and the config and helpers its tests share.

``Receiver(cert)`` serves from a daemon thread (stopped on leaving the context), records
every request, and answers by a script per path: ``receiver.script("/hook", 500, 200)``
answers 500 once, then 200; ``"echo"`` answers a verification request with its
challenge, ``("sleep", s)`` waits s seconds before answering 200, ``("redirect", to)``
answers 302. With no script left a path answers 200 (and echoes challenges).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import textwrap
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from status.config import load_config
from status.ops import subscribers as subs
from status.ops import webhooks
from subscribers.notifier import Notifier
from tests.conftest import MINIMAL_CONFIG, SECRET
from tests.probes.servers import Cert, server_context


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(Received(self.path, dict(self.headers.items()), body))
            script = owner.scripts.get(self.path) or []
            step = script.pop(0) if script else "echo"
        if isinstance(step, tuple) and step[0] == "sleep":
            owner.stopping.wait(step[1])
            step = "echo"
        if isinstance(step, tuple) and step[0] == "redirect":
            return self._reply(302, b"", {"Location": step[1]})
        if step == "echo":
            return self._reply(200, _challenge(body))
        return self._reply(int(step), b"status")

    def _reply(self, status: int, body: bytes, headers: dict | None = None) -> None:
        try:
            self.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True  # the client gave up (a timeout test)


def _challenge(body: bytes) -> bytes:
    try:
        found = json.loads(body).get("verification", {}).get("challenge")
    except (ValueError, AttributeError):
        return b"ok"
    return json.dumps({"challenge": found}).encode() if found else b"ok"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: Receiver

    def handle_error(self, request, client_address) -> None:
        pass


class Receiver:
    def __init__(self, cert: Cert, host: str = "127.0.0.1") -> None:
        self.requests: list[Received] = []
        self.scripts: dict[str, list] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.host = host
        self.server = _Server((host, 0), _Handler)
        self.server.owner = self
        self.server.socket = server_context(cert).wrap_socket(self.server.socket, server_side=True)

    def __enter__(self) -> Receiver:
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def url(self, path: str = "/hook") -> str:
        return f"https://{self.host}:{self.server.server_address[1]}{path}"

    def script(self, path: str, *steps) -> None:
        with self.lock:
            self.scripts[path] = list(steps)

    def to(self, path: str = "/hook", event: str | None = None) -> list[Received]:
        with self.lock:
            found = [r for r in self.requests if r.path == path]
        if event is not None:
            found = [r for r in found if r.headers.get("X-Leitstand-Event") == event]
        return found


LOOPBACK_ALLOWED = """\
webhooks:
  allow_networks: [127.0.0.0/8, "::1/128"]
  ca_file: {ca_file}
  connect_timeout: 2s
  read_timeout: {read_timeout}
notifications:
  retry_after: 50ms
  retry_max: 200ms
"""


def write_config(path, cert: Cert, *, allow: bool = True, read_timeout: str = "5s"):
    text = LOOPBACK_ALLOWED.format(ca_file=cert.ca_file, read_timeout=read_timeout)
    if not allow:
        text = text.replace('allow_networks: [127.0.0.0/8, "::1/128"]', "allow_networks: []")
    path.write_text(MINIMAL_CONFIG + textwrap.dedent(text))
    return path


def notifier(store, config_path, secret: str = SECRET) -> Notifier:
    config = load_config(config_path)
    return Notifier(store, lambda: config, secret, poll=0.05)


def drain(store, config_path, until=None, timeout: float = 20.0, secret: str = SECRET) -> None:
    """Run the notifier until nothing is due and ``until()`` holds (retries come due);
    without ``until``, once."""
    deadline = time.monotonic() + timeout
    while True:
        notifier(store, config_path, secret).run_until_idle()
        if until is None or until() or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def register(store, config_path, url: str, **kw) -> webhooks.Registration:
    config = load_config(config_path)
    return webhooks.register(
        store,
        subs.Policy.from_config(config),
        url=url,
        allow=config.webhooks.allow_networks,
        **kw,
    )


def verify_signature(secret: str, headers: dict, body: bytes, tolerance: float = 300) -> bool:
    """Exactly what docs/webhooks.md tells receivers to do."""
    timestamp = headers["X-Leitstand-Timestamp"]
    signature = headers["X-Leitstand-Signature"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(signature, "v1=" + expected)
