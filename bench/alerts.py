"""Benchmark: one Alertmanager delivery of 1,000 alerts over 200 components.

Serves the app with gunicorn (as bench/ops.py: 2 gthread workers, 8 threads) on a site of
200 components with one ``alerts:`` rule per component (the rule list is walked for
every alert, as a real one is), and for each round posts to ``/api/v1/alertmanager``:

- **firing**: 1,000 alerts (5 per component, severities mixed) in one payload: the time
  from sending to the answer (the target: < 1 s), then the time until
  ``/api/v2/summary.json`` shows every component with the alert's status (< 2 s);
- **repeat**: the same payload again, as Alertmanager resends it (nothing changes);
- **resolved**: the same alerts resolved, until every component reads operational again.

The reference, in the same run and server: the same number of alerts, of the same size,
whose labels no rule takes: the app receives, authenticates, parses and validates the
same amount of JSON, walks the rules, and stores nothing. The ratio says what taking in
and storing the alerts costs on top of receiving them.

    .venv/bin/python bench/alerts.py [--database-url postgresql+psycopg://...] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ops import postgres_schema, start_app  # noqa: E402
from bench.probes import bench_environment, code_version  # noqa: E402

COMPONENTS, ALERTS = 200, 1000
TARGET_HANDLED, TARGET_VISIBLE = 1.0, 2.0  # seconds
SEVERITY = {"critical": "major_outage", "warning": "degraded_performance"}


def site_config() -> str:
    lines = [
        "site: {title: Alerts Bench, url: 'https://status.bench.example', timezone: Europe/Berlin}",
        "components:",
        *(f"  - {{id: c{n}, name: Component {n}}}" for n in range(COMPONENTS)),
        "alerts:",
        *(
            f"  - {{match: {{service: s{n}}}, components: [c{n}], incident: draft}}"
            for n in range(COMPONENTS)
        ),
    ]
    return "\n".join(lines) + "\n"


def payload(status: str, *, matching: bool = True) -> dict:
    now = datetime.now(UTC)
    alerts = []
    for n in range(ALERTS):
        component = n % COMPONENTS
        severity = "critical" if component % 2 else "warning"
        labels = {
            "alertname": f"Alert{n // COMPONENTS}",
            "service": f"s{component}" if matching else f"nobody{component}",
            "instance": f"host-{n}.bench.example:9100",
            "severity": severity,
        }
        alerts.append(
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": f"Alert {n} on component {component}"},
                "startsAt": (now - timedelta(minutes=5)).isoformat(),
                "endsAt": (now + timedelta(minutes=5) if status == "firing" else now).isoformat(),
                "generatorURL": "http://prometheus.bench.example/graph",
                "fingerprint": f"{n:016x}",
            }
        )
    return {
        "receiver": "leitstand",
        "status": status,
        "alerts": alerts,
        "groupLabels": {"alertname": "bench"},
        "commonLabels": {},
        "commonAnnotations": {"summary": "Bench alerts"},
        "externalURL": "http://alertmanager.bench.example",
        "version": "4",
        "groupKey": '{}:{alertname="bench"}',
        "truncatedAlerts": 0,
    }


def expected(status: str) -> dict[str, str]:
    if status == "resolved":
        return {f"c{n}": "operational" for n in range(COMPONENTS)}
    return {f"c{n}": SEVERITY["critical" if n % 2 else "warning"] for n in range(COMPONENTS)}


def post(session: requests.Session, url: str, body: bytes) -> tuple[float, float, dict]:
    started = time.monotonic()
    answer = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=60)
    done = time.monotonic()
    answer.raise_for_status()
    return done - started, done, answer.json()


def visible(base: str, want: dict[str, str], since: float, give_up: float = 20.0) -> float | None:
    """Seconds from ``since`` until summary.json shows ``want`` (a new connection per GET,
    so either worker may answer; both must have it twice in a row)."""
    seen_in_a_row = 0
    while time.monotonic() - since < give_up:
        data = requests.get(f"{base}/api/v2/summary.json", timeout=10).json()
        shown = {c["id"]: c["status"] for c in data["components"]}
        if all(shown.get(k) == v for k, v in want.items()):
            seen_in_a_row += 1
            if seen_in_a_row == 1:
                first = time.monotonic() - since
            if seen_in_a_row >= 4:
                return first
        else:
            seen_in_a_row = 0
        time.sleep(0.02)
    return None


def run(opts, procs, tmp: Path, database_url: str) -> dict:
    from bench.ops import editor_token
    from status import migrate
    from status.store import make_engine

    config = tmp / "status.yaml"
    config.write_text(site_config())
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    engine.dispose()
    token = editor_token(database_url)
    app = start_app(procs, tmp, database_url, config)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    url = f"{app.url}/api/v1/alertmanager"
    rows = {"reference": [], "firing": [], "repeat": [], "resolved": [], "seen_firing": [],
            "seen_resolved": []}  # fmt: skip
    for round_ in range(1, opts.rounds + 1):
        reference = json.dumps(payload("firing", matching=False)).encode()
        firing = json.dumps(payload("firing")).encode()
        resolved = json.dumps(payload("resolved")).encode()
        took, _, answer = post(session, url, reference)
        assert answer["unmatched"] == ALERTS, answer
        rows["reference"].append(took)
        took, done, answer = post(session, url, firing)
        assert answer["matched"] == ALERTS and answer["changed"] == ALERTS, answer
        rows["firing"].append(took)
        rows["seen_firing"].append(visible(app.url, expected("firing"), done))
        took, _, answer = post(session, url, firing)
        assert answer["changed"] == 0, answer
        rows["repeat"].append(took)
        took, done, answer = post(session, url, resolved)
        assert answer["changed"] == ALERTS, answer
        rows["resolved"].append(took)
        rows["seen_resolved"].append(visible(app.url, expected("resolved"), done))
        print(
            f"  round {round_}: reference {ms(rows['reference'][-1])}, firing "
            f"{ms(rows['firing'][-1])} (seen after {sec(rows['seen_firing'][-1])}), repeat "
            f"{ms(rows['repeat'][-1])}, resolved {ms(rows['resolved'][-1])} "
            f"(seen after {sec(rows['seen_resolved'][-1])})"
        )
    return rows


def ms(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds * 1000:.0f} ms"


def sec(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.2f} s"


def median(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if len(known) == len(values) and known else None


def report(rows: dict, engine: str) -> bool:
    m = {k: median(v) for k, v in rows.items()}
    print(f"\nmedians over {len(rows['firing'])} rounds, {engine}:")
    for key in rows:
        value = m[key]
        print(f"  {key:14} {sec(value) if key.startswith('seen') else ms(value)}")
    ratio = m["firing"] / m["reference"] if m["firing"] and m["reference"] else None
    print(f"  firing / reference (same bytes, no rule takes them): {ratio:.2f}x" if ratio else "")
    checks = [
        ("1,000 alerts handled < 1 s", m["firing"], TARGET_HANDLED),
        ("resolving them handled < 1 s", m["resolved"], TARGET_HANDLED),
        ("page shows the alerts < 2 s", m["seen_firing"], TARGET_VISIBLE),
        ("page shows them resolved < 2 s", m["seen_resolved"], TARGET_VISIBLE),
    ]
    ok = True
    for name, value, target in checks:
        passed = value is not None and value < target
        ok &= passed
        print(f"  {name:32} {sec(value):>10}  {'PASS' if passed else 'FAIL'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="postgresql+psycopg://... (default: SQLite)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    opts = parser.parse_args(argv)
    engine = "PostgreSQL" if opts.database_url else "SQLite"
    print(f"bench/alerts.py at {code_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {engine}")
    with bench_environment(opts.keep) as (procs, tmp), postgres_schema(opts.database_url) as pg:
        database_url = pg or f"sqlite:///{tmp / 'bench.db'}"
        rows = run(opts, procs, tmp, database_url)
        ok = report(rows, engine)
        procs.stop_all()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
