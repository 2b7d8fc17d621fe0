"""What docs/prometheus.md ships is valid for the real tools and names only real series:
the rules file (promtool), the Alertmanager config (amtool), the Grafana dashboard."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from probes.base import ProbeResult
from probes.metrics import ProbeMetrics
from tests.conftest import ROOT, system_component_missing

DOCS = ROOT / "docs"
GUIDE = DOCS / "prometheus.md"
RULES = DOCS / "prometheus-rules.yml"
DASHBOARD = DOCS / "grafana-dashboard.json"
OURS = re.compile(r"\b(?:leitstand|probe)_[a-z0-9_]+\b")


def tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        package = "prometheus-alertmanager" if name == "amtool" else "prometheus"
        system_component_missing(name, f"install Debian's {package} package")
    return found


def test_promtool_accepts_the_rules_file():
    result = subprocess.run(
        [tool("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_the_rules_fire_as_documented():
    result = subprocess.run(
        [tool("promtool"), "test", "rules", "prometheus-rules-test.yml"],
        cwd=ROOT / "tests" / "fixtures",
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def yaml_block(containing: str) -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), re.S)
    [block] = [b for b in blocks if containing in b]
    return block


def test_amtool_accepts_the_guides_alertmanager_config(tmp_path):
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml_block("webhook_configs:"))
    result = subprocess.run(
        [tool("amtool"), "check-config", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "/api/v1/alertmanager" in config.read_text()
    assert "send_resolved: true" in config.read_text()


def test_promtool_accepts_the_guides_scrape_config(tmp_path):
    config = tmp_path / "prometheus.yml"
    rules = tmp_path / "leitstand-rules.yml"
    shutil.copy(RULES, rules)
    config.write_text(
        yaml_block("scrape_configs:").replace("/etc/prometheus/leitstand-rules.yml", str(rules))
    )
    result = subprocess.run(
        [tool("promtool"), "check", "config", str(config)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def exposed(client) -> set[str]:
    """Every sample name the web /metrics and a probe worker (every probe type) expose."""
    text = client.get("/metrics").get_data(as_text=True)
    metrics = ProbeMetrics(region="fra")
    for probe_type in ("http", "tls", "dns", "prometheus"):
        metrics.prepare("web", probe_type, probe_type)
        metrics.observe(
            "web",
            probe_type,
            ProbeResult(
                ok=True,
                duration_seconds=0.1,
                started_at=datetime.now(UTC),
                http_status_code=200,
                http_content_length=2,
                ssl_earliest_cert_expiry=2e9,
                dns_lookup_time_seconds=0.01,
            ),
        )
    metrics.lag.observe(0.01)
    text += generate_latest(metrics.registry).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    exprs = [t["expr"] for p in panels for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return exprs


def test_the_dashboard_and_the_rules_name_only_metrics_we_expose(exposed):
    rules = RULES.read_text()
    used = {name for expr in [*dashboard_expressions(), rules] for name in OURS.findall(expr)}
    assert used - exposed == set()
    # and the dashboard covers the contract's metrics
    for name in ("probe_success", "leitstand_component_status", "leitstand_outbox_pending"):
        assert any(name in expr for expr in dashboard_expressions()), name
