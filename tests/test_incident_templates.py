"""Incident templates from the config file: checked at load, used by the console and CLI."""

from __future__ import annotations

import pytest

from status.config import ConfigError, load_config
from status.runtime import runtime
from tests.conftest import MINIMAL_CONFIG
from tests.test_console import as_role, people  # noqa: F401

TEMPLATES = """\
incident_templates:
  - id: carrier
    name: "Calls failing: a carrier is down"
    status: identified
    impact: major
    body: "One of our carriers is down. Calls are rerouted."
    components: {sip-gateway: partial_outage}
"""


@pytest.fixture
def with_templates(app, config_file):
    config_file.write_text(MINIMAL_CONFIG + TEMPLATES)
    runtime(app).config_holder.reload()
    assert runtime(app).config.incident_template("carrier") is not None


def test_a_template_naming_an_unknown_component_stops_the_config(tmp_path):
    bad = tmp_path / "status.yaml"
    bad.write_text(
        MINIMAL_CONFIG
        + TEMPLATES.replace("sip-gateway", "sip-gw")
        + "  - id: carrier\n    name: again\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config(bad)
    text = str(raised.value)
    assert "incident_templates[0].components.sip-gw: unknown component 'sip-gw'" in text
    assert "incident_templates[1].id: duplicate id 'carrier'" in text


def test_the_cli_opens_from_a_template_and_options_win(app, runner, with_templates):
    result = runner.invoke(args=["incident", "open", "--template", "carrier",
                                 "--impact", "critical"])  # fmt: skip
    assert result.exit_code == 0, result.output
    [(row, [update], [component])] = runtime(app).store.incidents.public()
    assert row.name == "Calls failing: a carrier is down" and row.status == "identified"
    assert row.impact == "critical"  # the option wins over the template
    assert update.body.startswith("One of our carriers") and component.status == "partial_outage"
    missing = runner.invoke(args=["incident", "open", "--template", "nope"])
    assert missing.exit_code == 2 and "no incident template 'nope'" in missing.output
    assert runner.invoke(args=["incident", "open", "--name", "x"]).exit_code == 2


def test_the_console_fills_the_form_from_a_template(with_templates, as_role):  # noqa: F811
    editor = as_role("editor")
    page = editor.get("/console/incidents/new").text
    assert "Calls failing: a carrier is down" in page  # offered
    filled = editor.get("/console/incidents/new?template=carrier").text
    assert 'value="Calls failing: a carrier is down"' in filled
    assert "One of our carriers is down." in filled
    assert '<option value="partial_outage" selected>' in filled
