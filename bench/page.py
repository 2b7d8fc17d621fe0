"""Benchmark: the public page and summary.json during an outage rush.

    .venv/bin/python bench/page.py [--duration 15] [--connections 64]

Builds a realistic site (50 components in 8 groups, 90 days of rollups, 500 past
incidents, 3 active), serves it with gunicorn, and loads it with wrk (-t2 -c64). In the
same run, as references on the same noisy 2-core machine:

- a Flask hello-world under the same gunicorn settings, returning a body as large as
  the status page (the Python ceiling);
- nginx serving a static file of that size, and nginx serving the exported mirror
  (``flask export``) with exactly the config documented in docs/static-mirror.md
  (bench/nginx_mirror.py reads it from there).

Prints requests/s, p50/p99 latency and errors per target, and the ratios the issue asks
for. Needs gunicorn (requirements.txt), wrk and nginx (Debian packages).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import nginx_mirror  # noqa: E402  (needs ROOT on the path)

GUNICORN_ARGS = ["--workers", "2", "--worker-class", "gthread", "--threads", "8"]

HELLO = """
import os
from flask import Flask, Response
BODIES = {
    "page": b"x" * int(os.environ["PAGE_SIZE"]),
    "summary": b"x" * int(os.environ["SUMMARY_SIZE"]),
}
app = Flask(__name__)

@app.get("/<size>")
def hello(size):
    return Response(BODIES[size], mimetype="text/html")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def site_config(groups: int = 8, components: int = 50) -> str:
    lines = [
        "site: {title: Bench Cloud, url: 'https://status.bench.example', timezone: Europe/Berlin}",
        "groups:",
    ]
    lines += [f"  - {{id: group-{g}, name: Group {g}}}" for g in range(groups)]
    lines.append("components:")
    for c in range(components):
        lines.append(
            f"  - {{id: component-{c:02d}, name: Component {c:02d}, group: group-{c % groups},"
            f" description: 'Component number {c} of the bench'}}"
        )
    return "\n".join(lines) + "\n"


def populate(database_url: str, config_path: Path) -> None:
    """90 days of rollups, 500 resolved incidents, 3 active ones, some statuses."""
    from status import migrate, ops
    from status.config import load_config
    from status.store import Store, make_engine

    actor = ops.Actor.system("bench")
    config = load_config(config_path)
    store = Store(make_engine(database_url))
    migrate.upgrade(store.engine)
    rng = random.Random(7)
    now = datetime.now(UTC)
    today = now.astimezone(config.site.tz).date()
    rows = []
    for component in config.components:
        for n in range(90):
            down = rng.choice([0, 0, 0, 0, 0, 0, 120, 900, 3600])
            rows.append(
                {
                    "component_id": component.id,
                    "day": today - timedelta(days=n),
                    "checks": 2880,
                    "failures": down // 30,
                    "seconds_operational": 86400.0 - down,
                    "seconds_major": float(down),
                    "latency_p50": 0.040 + rng.random() / 50,
                    "latency_p95": 0.120 + rng.random() / 10,
                }
            )
    store.rollups.save(rows)
    ids = [c.id for c in config.components]
    for n in range(500):
        at = now - timedelta(days=rng.uniform(1, 700))
        affected = rng.choice(ids)
        incident = ops.open_incident(
            store,
            actor,
            name=f"Past incident {n}: elevated error rates",
            status="investigating",
            impact=rng.choice(["minor", "major", "critical"]),
            body="We are investigating reports of **errors**.",
            components={affected: "partial_outage"},
            at=at,
        )
        ops.update_incident(
            store,
            actor,
            incident,
            status="identified",
            body="Cause found.",
            at=at + timedelta(minutes=20),
        )
        ops.update_incident(
            store,
            actor,
            incident,
            status="resolved",
            body="Resolved. See the [postmortem](https://example.com/pm).",
            components={affected: "operational"},
            at=at + timedelta(hours=1),
        )
    for n, component_id in enumerate(ids[:3]):
        ops.set_component_status(
            store, component_id, "major_outage", reason="bench", source="console"
        )
        ops.open_incident(
            store,
            actor,
            name=f"Active incident {n}",
            status="investigating",
            impact="critical",
            body="Calls fail. We are on it.",
            components={component_id: "major_outage"},
            at=now - timedelta(minutes=10 + n),
        )
    for component_id in ids[3:]:
        ops.set_component_status(
            store, component_id, "operational", reason="bench", source="console"
        )
    store.dispose()


def wait_http(url: str, timeout: float = 30, headers: dict[str, str] | None = None) -> bytes:
    """The body as sent on the wire (still compressed if the server compressed it)."""
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers=headers or {})
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(request, timeout=5) as response:
            return response.read()
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


WRK_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, duration: int, connections: int, headers: dict[str, str] | None = None):
    args = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {q: float(v) * UNITS[u] for q, v, u in WRK_LATENCY.findall(out)}
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(match.group(1))
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        errors += sum(int(x) for x in match.groups())
    return {"rps": rps, "p50_ms": latency.get("50"), "p99_ms": latency.get("99"), "errors": errors}


STATIC_SERVER = """
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--encoding", choices=["gzip", "identity"], default="gzip")
    opts = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool) and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"{tool} not found: apt-get install {tool}")

    tmp = Path(tempfile.mkdtemp(prefix="leitstand-bench-page-"))
    tmp.chmod(0o755)  # nginx's workers run as another user
    procs: list[subprocess.Popen] = []
    try:
        config = tmp / "status.yaml"
        config.write_text(site_config())
        database_url = f"sqlite:///{tmp / 'bench.db'}"
        started = time.monotonic()
        populate(database_url, config)
        print(f"data: 50 components, 90 days, 503 incidents ({time.monotonic() - started:.0f}s)")
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "STATUS_CONFIG": str(config),
            "SECRET_KEY": secrets.token_urlsafe(48),
            "LOG_LEVEL": "WARNING",
        }
        gunicorn = str(ROOT / ".venv" / "bin" / "gunicorn")
        app_port = free_port()
        procs.append(
            subprocess.Popen(
                [gunicorn, *GUNICORN_ARGS, "--bind", f"127.0.0.1:{app_port}", "app:create_app()"],
                cwd=ROOT,
                env=env,
            )
        )
        app_url = f"http://127.0.0.1:{app_port}"
        # What a browser sends: the app answers with its gzipped copy (--encoding identity
        # measures the uncompressed bodies instead).
        accept = {"Accept-Encoding": opts.encoding}
        raw_page = wait_http(app_url + "/")
        page = wait_http(app_url + "/", headers=accept)
        summary = wait_http(app_url + "/api/v2/summary.json", headers=accept)

        (tmp / "hello.py").write_text(HELLO)
        hello_port = free_port()
        procs.append(
            subprocess.Popen(
                [gunicorn, *GUNICORN_ARGS, "--bind", f"127.0.0.1:{hello_port}", "hello:app"],
                cwd=tmp,
                env={**env, "PAGE_SIZE": str(len(page)), "SUMMARY_SIZE": str(len(summary))},
            )
        )
        hello_url = f"http://127.0.0.1:{hello_port}/"
        wait_http(hello_url + "page")

        mirror = tmp / "mirror"
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", "export", str(mirror)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        static = tmp / "static"
        static.mkdir()
        (static / "file.html").write_bytes(b"x" * len(raw_page))
        mirror_port, static_port = free_port(), free_port()
        servers = nginx_mirror.on_loopback(mirror, mirror_port, app_port)
        servers += STATIC_SERVER.format(port=static_port, root=static)
        (tmp / "nginx.conf").write_text(nginx_mirror.nginx_conf(tmp, servers))
        procs.append(subprocess.Popen(nginx_mirror.command(tmp)))
        wait_http(f"http://127.0.0.1:{mirror_port}/")

        with urllib.request.urlopen(urllib.request.Request(app_url + "/", headers=accept)) as r:
            etag = r.headers["ETag"]
        print(
            f"page: {len(raw_page) / 1024:.0f} KiB, {len(page) / 1024:.0f} KiB as sent "
            f"({opts.encoding}); wrk -t2 -c{opts.connections} -d{opts.duration}s"
        )
        targets = {
            "hello-world, page size": (f"{hello_url}page", {}),
            "/ (gunicorn)": (app_url + "/", accept),
            "/ 304 (If-None-Match)": (app_url + "/", {**accept, "If-None-Match": etag}),
            "hello-world, summary size": (f"{hello_url}summary", {}),
            "/api/v2/summary.json": (app_url + "/api/v2/summary.json", accept),
            "nginx static file": (f"http://127.0.0.1:{static_port}/file.html", {}),
            "nginx mirror /": (f"http://127.0.0.1:{mirror_port}/", {}),
        }
        print(f"summary.json: {len(summary) / 1024:.0f} KiB; {opts.rounds} rounds, medians")
        rounds: dict[str, list[dict]] = {name: [] for name in targets}
        for _ in range(opts.rounds):  # interleaved, so drift hits every target alike
            for name, (url, headers) in targets.items():
                rounds[name].append(wrk(url, opts.duration, opts.connections, headers))
        runs = {
            name: {k: statistics.median(r[k] for r in results) for k in results[0]}
            for name, results in rounds.items()
        }
        print(f"{'target':26} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for name, r in runs.items():
            print(
                f"{name:26} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
                f"{int(r['errors']):7d}"
            )

        def ratio(a: str, b: str) -> float:
            return runs[a]["rps"] / runs[b]["rps"]

        checks = [
            ("/ vs hello-world", ratio("/ (gunicorn)", "hello-world, page size"), ">= 0.9"),
            (
                "summary.json vs hello-world",
                ratio("/api/v2/summary.json", "hello-world, summary size"),
                ">= 0.9",
            ),
            (
                "304 vs hello-world",
                ratio("/ 304 (If-None-Match)", "hello-world, page size"),
                "> 1.0",
            ),
            ("mirror vs nginx static", ratio("nginx mirror /", "nginx static file"), ">= 0.9"),
        ]
        print()
        for name, value, target in checks:
            bound = float(target.split()[1])
            ok = value >= bound if target.startswith(">=") else value > bound
            print(f"{name:30} {value:6.2f}x  target {target:7} {'PASS' if ok else 'FAIL'}")
        for name in ("/ (gunicorn)", "/api/v2/summary.json"):
            r = runs[name]
            ok = r["p99_ms"] < 100 and r["errors"] == 0
            print(
                f"{name + ' p99, errors':30} {r['p99_ms']:6.1f} ms, {int(r['errors'])}  "
                f"target < 100 ms, 0  {'PASS' if ok else 'FAIL'}"
            )
        return 0
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM if proc.args[0] != "nginx" else signal.SIGQUIT)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
