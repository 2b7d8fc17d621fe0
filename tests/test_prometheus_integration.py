"""A real Prometheus (Debian's package) on loopback scrapes a web process and a probe
worker, evaluates the shipped rules, and answers the PromQL probe (docs/prometheus.md).

One deployment, started once for the module: ``flask db upgrade``, then gunicorn
(``app:create_app()``), ``flask --app app probes run`` and ``prometheus``, each a
process of its own, scraped every second. The worker runs a ``type: prometheus`` check
against that same Prometheus, so the probe is proven inside the scheduler too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from probes import prometheus
from status.config import PrometheusProbe
from status.models import ComponentStatus
from tests.conftest import ROOT, SECRET, system_component_missing
from tests.test_process import environment, free_port, wait_for

RULES = ROOT / "docs" / "prometheus-rules.yml"
DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"
WAIT = 20.0


@dataclass
class Deployment:
    prometheus: str  # base URL
    web: str  # host:port
    worker: str  # host:port


def query(deployment: Deployment, expr: str) -> dict:
    """Prometheus's whole answer to an instant query (errors included)."""
    url = f"{deployment.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as exc:
        if exc.code == 503:  # its storage still starting: a plain-text answer
            raise
        return json.load(exc)


def result(deployment: Deployment, expr: str) -> list[dict]:
    answer = query(deployment, expr)
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def config(web_port: int, prometheus_url: str) -> str:
    return textwrap.dedent(
        f"""\
        site: {{title: Prometheus Test, url: 'https://status.test'}}
        components:
          - id: web
            name: Web
            success_threshold: 1
            probes: [{{type: tcp, host: 127.0.0.1, port: {web_port}, interval: 1s,
                       timeout: 500ms}}]
          - id: scrapes
            name: Scrapes
            success_threshold: 1
            probes:
              - type: prometheus
                url: {prometheus_url}
                query: 'up{{job=~"leitstand|leitstand-probes"}}'
                expect: {{value: == 1}}
                interval: 1s
                timeout: 900ms
        """
    )


def prometheus_config(web: str, worker: str) -> str:
    return textwrap.dedent(
        f"""\
        global: {{scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}}
        rule_files: ['{RULES}']
        scrape_configs:
          - job_name: leitstand
            static_configs: [{{targets: ['{web}']}}]
          - job_name: leitstand-probes
            static_configs: [{{targets: ['{worker}']}}]
        """
    )


def spawn(tmp_path: Path, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
    """Start a process with its output in a file (a full pipe would stop it)."""
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def logs(tmp_path: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in tmp_path.glob("*.log"))


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    binary = shutil.which("prometheus")
    if not binary:
        system_component_missing("prometheus", "install Debian's prometheus package")
    tmp_path = tmp_path_factory.mktemp("prometheus")
    env = environment(tmp_path, SECRET_KEY=SECRET, LOG_LEVEL="WARNING")
    web_port, worker_port, prometheus_port = free_port(), free_port(), free_port()
    deployment = Deployment(
        f"http://127.0.0.1:{prometheus_port}", f"127.0.0.1:{web_port}", f"127.0.0.1:{worker_port}"
    )
    Path(env["STATUS_CONFIG"]).write_text(config(web_port, deployment.prometheus))
    (tmp_path / "prometheus.yml").write_text(prometheus_config(deployment.web, deployment.worker))
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    processes = [
        spawn(
            tmp_path,
            "web",
            [sys.executable, "-m", "gunicorn", "-b", deployment.web, "-w", "1", "app:create_app()"],
            env,
        ),
        spawn(tmp_path, "probes", [*flask, "probes", "run", "--metrics", deployment.worker], env),
        spawn(
            tmp_path,
            "prometheus",
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{prometheus_port}",
            ],
            env,
        ),
    ]
    try:
        try:
            wait_for(
                lambda: _scrapes_up(deployment),
                lambda up: up == {"leitstand", "leitstand-probes"},
                timeout=WAIT,
            )
        except BaseException:
            print(logs(tmp_path))
            raise
        yield deployment
    finally:
        for proc in processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _scrapes_up(deployment: Deployment) -> set[str]:
    try:
        return {s["metric"]["job"] for s in result(deployment, "up == 1")}
    except OSError:
        return set()  # Prometheus is still starting


def test_prometheus_ingests_the_web_metrics_with_our_labels(deployment):
    series = result(deployment, 'leitstand_component_status{job="leitstand"}')
    labels = {(s["metric"]["component"], s["metric"]["status"]) for s in series}
    assert labels == {(c, s.value) for c in ("web", "scrapes") for s in ComponentStatus}
    one_hot = result(deployment, "sum by (component) (leitstand_component_status)")
    assert {s["metric"]["component"]: s["value"][1] for s in one_hot} == {
        "web": "1",
        "scrapes": "1",
    }
    for name in ("leitstand_database_up", "leitstand_incidents_open", "leitstand_outbox_pending"):
        assert [s["metric"]["job"] for s in result(deployment, name)] == ["leitstand"], name
    assert result(deployment, "leitstand_database_up")[0]["value"][1] == "1"


def test_prometheus_ingests_the_probe_workers_metrics(deployment):
    # The worker's own PromQL check asks this Prometheus whether both targets are up.
    expr = 'probe_success{job="leitstand-probes", region="default"} == 1'
    series = wait_for(lambda: result(deployment, expr), lambda found: len(found) == 2, timeout=WAIT)
    assert {(s["metric"]["component"], s["metric"]["probe"]) for s in series} == {
        ("web", "tcp"),
        ("scrapes", "prometheus"),
    }
    durations = result(deployment, 'probe_duration_seconds{probe="prometheus"}')
    assert len(durations) == 1 and 0 < float(durations[0]["value"][1]) < 0.9
    runs = result(deployment, 'leitstand_probe_runs_total{component="scrapes"}')
    assert {s["metric"]["result"] for s in runs} == {"success", "degraded", "failure"}


def run(deployment: Deployment, expr: str, value: str, **expect):
    spec = PrometheusProbe.model_validate(
        {
            "type": "prometheus",
            "url": deployment.prometheus,
            "query": expr,
            "expect": {"value": value, **expect},
        }
    )
    return prometheus.probe(spec, timeout=5.0)


def test_the_probe_judges_real_answers(deployment):
    ok = run(deployment, 'up{job=~"leitstand.*"}', "== 1")
    assert (ok.ok, ok.error) == (True, None)
    assert run(deployment, "scalar(count(up))", ">= 2").ok
    missed = run(deployment, 'up{job="leitstand"}', "> 1")
    assert missed.error == f'value 1 not > 1 for up{{instance="{deployment.web}", job="leitstand"}}'
    empty = run(deployment, 'up{job="nope"}', "== 1")
    assert empty.error == "no data: the query returned no samples"
    assert run(deployment, 'up{job="nope"}', "== 1", no_data="ok").ok
    bad = run(deployment, "up{", "== 1")
    assert bad.error.startswith('query failed: bad_data: invalid parameter "query": ')
    nan = run(deployment, "0 / 0", "< 1")
    assert nan.error == "value NaN is not a finite number"
    matrix = run(deployment, "up[1m]", "== 1")
    assert (
        matrix.error == "the query returned a range vector: expected an instant vector or a scalar"
    )


def test_the_shipped_rules_load_and_evaluate(deployment):
    def rules():
        with urllib.request.urlopen(f"{deployment.prometheus}/api/v1/rules", timeout=5) as answer:
            groups = json.load(answer)["data"]["groups"]
        return {r["name"]: r["health"] for g in groups for r in g["rules"]}

    health = wait_for(rules, lambda h: h and set(h.values()) == {"ok"}, timeout=WAIT)
    assert "LeitstandProbeFailing" in health and "LeitstandOutboxBacklog" in health


def test_the_dashboards_queries_run(deployment):
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs
    for expr in exprs:
        concrete = expr.replace("$__rate_interval", "1m")
        for variable in ("$component", "$region"):
            concrete = concrete.replace(variable, ".+")
        answer = query(deployment, concrete)
        assert answer["status"] == "success", (expr, answer)
