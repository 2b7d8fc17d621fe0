"""The nginx config documented in docs/static-mirror.md, made to run on loopback.

The page bench (bench/page.py) and the mirror test (tests/test_export.py) serve the
exported mirror with exactly the documented config: it is read from the doc's one
``nginx`` block, and only what belongs to a deployment is swapped — the listen address
(plain HTTP, no certificate), the root and the app's address. If the doc's config
changes shape so that a swap no longer applies, this says so instead of guessing.
"""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "static-mirror.md"
BLOCK = re.compile(r"^```nginx\n(.*?)^```$", re.S | re.M)
CERTIFICATE = re.compile(r"^\s*ssl_certificate(_key)?\s.*;\n", re.M)


def documented() -> str:
    """The doc's nginx block, as written."""
    blocks = BLOCK.findall(DOC.read_text())
    if len(blocks) != 1:
        raise ValueError(f"{DOC}: expected one nginx block, found {len(blocks)}")
    return blocks[0]


def on_loopback(mirror: Path, port: int, app_port: int) -> str:
    """The documented block, listening on 127.0.0.1:port, serving ``mirror``."""
    text = documented()
    swaps = {
        "listen 443 ssl http2;": f"listen 127.0.0.1:{port};",
        "root /var/www/status;": f"root {mirror};",
        "server 127.0.0.1:8080;": f"server 127.0.0.1:{app_port};",
    }
    for old, new in swaps.items():
        if text.count(old) != 1:
            raise ValueError(f"{DOC}: expected {old!r} once in the nginx block")
        text = text.replace(old, new)
    text, certificates = CERTIFICATE.subn("", text)
    if certificates != 2:
        raise ValueError(f"{DOC}: expected ssl_certificate and ssl_certificate_key")
    return text


def nginx_conf(tmp: Path, http: str) -> str:
    """A whole nginx.conf running unprivileged out of ``tmp``, ``http`` in its http block."""
    return f"""worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    include /etc/nginx/mime.types;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
{http}
}}
"""


def command(tmp: Path, nginx: str = "nginx") -> list[str]:
    """Run ``tmp/nginx.conf`` in the foreground; no log or pid file outside ``tmp``."""
    return [nginx, "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-e", str(tmp / "error.log")]
