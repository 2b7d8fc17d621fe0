"""The config loader: every problem named by file, YAML path and reason (DESIGN §7)."""

from __future__ import annotations

import logging
import os
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from status.config import ConfigError, ConfigHolder, load_config, parse_duration

ROOT = Path(__file__).resolve().parent.parent
# Kept here rather than imported from conftest: these tests need neither Flask nor a database.
HOLDER_CONFIG = textwrap.dedent(
    """\
    site: {title: Test Cloud Status, url: 'https://status.test.example/'}
    groups:
      - {id: telephony, name: Telephony}
    components:
      - {id: sip-gateway, name: SIP Gateway, group: telephony}
      - id: website
        name: Website
    """
)

SITE = "site: {title: T, url: 'https://status.example.com'}\n"
ONE = "components:\n  - {id: web, name: Web}\n"


def probes(*specs: str) -> str:
    """A config with one component carrying these probes (YAML flow mappings)."""
    return SITE + "components:\n  - {id: web, name: Web, probes: [" + ", ".join(specs) + "]}\n"


def write(tmp_path, text: str):
    path = tmp_path / "status.yaml"
    path.write_text(textwrap.dedent(text))
    return path


BAD = [
    (SITE + ONE + "colour: blue\n", "colour: unknown key"),
    (
        SITE + "components:\n  - {id: web, name: Web, colour: blue}\n",
        "components[0].colour: unknown key",
    ),
    (
        probes("{type: tcp, host: h, port: 1, tls: yes}"),
        "components[0].probes[0].tls: unknown key",
    ),
    ("site: {url: 'https://s.example'}\n" + ONE, "site.title: required"),
    (
        SITE + "components:\n  - {id: Web_1, name: Web}\n",
        "components[0].id: must be a slug: lowercase letters, digits and '-'",
    ),
    (
        SITE + "components:\n  - {id: web, name: Web}\n  - {id: web, name: Again}\n",
        "components[1].id: duplicate id 'web'",
    ),
    (
        SITE + "groups: [{id: g, name: G}, {id: g, name: H}]\n" + ONE,
        "groups[1].id: duplicate id 'g'",
    ),
    (
        SITE + "components:\n  - {id: web, name: Web, group: nope}\n",
        "components[0].group: unknown group 'nope'",
    ),
    (
        probes("{type: tcp, host: h, port: 1, interval: 5x}"),
        "components[0].probes[0].interval: invalid duration '5x' (use e.g. 30s, 5m, 1h)",
    ),
    (
        probes("{type: tcp, host: h, port: 1, interval: 5s, timeout: 5s}"),
        "components[0].probes[0].timeout: must be shorter than interval",
    ),
    (
        probes("{type: icmp, host: h}"),
        "components[0].probes[0]: unknown probe type 'icmp': "
        "use one of http, tcp, tls, dns, heartbeat, prometheus",
    ),
    (
        probes("{type: http, url: 'ftp://x'}"),
        "components[0].probes[0].url: must be an http:// or https:// URL, not 'ftp://x'",
    ),
    (
        probes("{type: http, url: 'http://x', expect: {body_regex: '(['}}"),
        "components[0].probes[0].expect.body_regex: invalid regular expression: "
        "unterminated character set at position 1",
    ),
    (
        probes("{type: http, url: 'http://a'}", "{type: http, url: 'http://b'}"),
        "components[0].probes[1].id: duplicate probe id 'http' in component 'web'; "
        "give each probe of one type its own id",
    ),
    (
        probes("{type: tcp, host: h, port: 70000}"),
        "components[0].probes[0].port: Input should be less than or equal to 65535",
    ),
    (
        "site: {title: T, url: 'https://s.example', timezone: Mars/Olympus}\n" + ONE,
        "site.timezone: unknown timezone 'Mars/Olympus'",
    ),
    (
        SITE + ONE + "smtp: {host: h, from: x@y, password: '${LEITSTAND_TEST_UNSET}'}\n",
        "smtp.password: environment variable LEITSTAND_TEST_UNSET is not set",
    ),
    (
        SITE + "components:\n  - {id: web, name: [Web}\n",
        # libyaml's wording, and PyYAML's own where it was built without libyaml
        "line 3: did not find expected ',' or ']'"
        if yaml.__with_libyaml__
        else "line 3: expected ',' or ']', but got '}'",
    ),
    (
        SITE + ONE + "smtp: {host: h, from: x@y, tls: true}\n",
        "smtp: starttls and tls exclude each other: choose one",
    ),
    (
        SITE + "components: []\n",
        "components: List should have at least 1 item after validation, not 0",
    ),
    (
        SITE + ONE + "scheduler: {concurrency: 0}\n",
        "scheduler.concurrency: Input should be greater than or equal to 1",
    ),
    (
        probes("{port: 1}"),
        "components[0].probes[0]: required: type, one of http, tcp, tls, dns, heartbeat, "
        "prometheus",
    ),
    ("- just\n- a list\n", "(top level): must be a mapping of keys (site, components, ...)"),
    (
        probes("{type: tcp, host: h, port: 1, tcp: 1}"),
        "components[0].probes[0].tcp: unknown key",
    ),
    (
        probes("{type: http, url: 'http://x', expect: {status: [600]}}"),
        "components[0].probes[0].expect.status[0]: "
        "invalid status 600: use a code like 200 or a class like 2xx",
    ),
    (
        probes("{type: tls, host: h, warn_days: 7}"),
        "components[0].probes[0]: warn_days must be at least min_days_left",
    ),
    (
        probes("{type: heartbeat}"),
        "components[0].probes[0].period: required",
    ),
    (
        "site: {title: T, url: 'https://s.example', languages: [fr]}\n" + ONE,
        "site.languages[0]: Input should be 'en' or 'de'",
    ),
    (
        probes("{type: prometheus, url: 'http://p:9090', query: up}"),
        "components[0].probes[0].expect: required",
    ),
    (
        probes("{type: prometheus, url: 'http://p:9090', expect: {value: 1}}"),
        "components[0].probes[0].query: required",
    ),
    (
        probes("{type: prometheus, url: 'p:9090', query: up, expect: {value: 1}}"),
        "components[0].probes[0].url: must be an http:// or https:// URL, not 'p:9090'",
    ),
    (
        probes("{type: prometheus, url: 'http://p', query: up, expect: {value: '=< 0.05'}}"),
        "components[0].probes[0].expect.value: invalid comparison '=< 0.05': use an operator "
        "(<, <=, ==, !=, >=, >) and a number, like '< 0.05'",
    ),
    (
        probes("{type: prometheus, url: 'http://p', query: up, expect: {value: '< x'}}"),
        "components[0].probes[0].expect.value: invalid comparison '< x': use an operator "
        "(<, <=, ==, !=, >=, >) and a number, like '< 0.05'",
    ),
    (
        probes("{type: prometheus, url: 'http://p', query: up, expect: {value: 1, no_data: skip}}"),
        "components[0].probes[0].expect.no_data: Input should be 'fail' or 'ok'",
    ),
    (
        SITE + "components:\n  - {id: web, name: Web, probes: ['${NOPE}']}\n",
        "components[0].probes[0]: environment variable NOPE is not set",
    ),
]


@pytest.mark.parametrize("text, problem", BAD, ids=[problem.split(":")[0] for _, problem in BAD])
def test_it_rejects_bad_config_naming_file_path_and_reason(tmp_path, text, problem):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == f"{path}: {problem}"


def test_it_lists_every_problem_on_its_own_line(tmp_path):
    path = write(tmp_path, "site: {title: T}\ncomponents:\n  - {id: web}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.problems == [
        f"{path}: site.url: required",
        f"{path}: components[0].name: required",
    ]


def test_it_reports_missing_variables_together_with_the_other_problems(tmp_path):
    path = write(
        tmp_path,
        SITE
        + "components:\n  - {id: web, name: Web, group: nope}\n"
        + "  - {id: db, probes: [{type: tcp, host: h, port: '${DB_PORT}'}]}\n"
        + "smtp: {host: h, from: x@y, password: '${SMTP_PASSWORD}'}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.problems == [
        f"{path}: components[1].probes[0].port: environment variable DB_PORT is not set",
        f"{path}: smtp.password: environment variable SMTP_PASSWORD is not set",
        f"{path}: components[1].name: required",
        f"{path}: components[0].group: unknown group 'nope'",
    ]

    path.write_text(path.read_text().replace("{id: db,", "{id: db, name: DB,"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={"DB_PORT": "5432"})
    assert caught.value.problems == [
        f"{path}: smtp.password: environment variable SMTP_PASSWORD is not set",
        f"{path}: components[0].group: unknown group 'nope'",
    ]


def test_it_reports_references_and_exclusive_options_with_the_field_errors(tmp_path):
    # The README promises every problem at once: nothing may wait for a second round.
    path = write(
        tmp_path,
        SITE
        + "groups: [{id: g, name: G}, {id: g, name: H}]\n"
        + "components:\n"
        + "  - {id: web, name: Web, group: nope, failure_threshold: 0}\n"
        + "  - {id: web, name: Again, probes: [{type: tcp, host: h, port: 1},"
        + " {type: tcp, host: h, port: 2}]}\n"
        + "smtp: {host: h, port: smtp, from: x@y, tls: yes}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert sorted(caught.value.problems) == sorted(
        f"{path}: {problem}"
        for problem in [
            "components[0].failure_threshold: Input should be greater than or equal to 1",
            "smtp.port: Input should be a valid integer, unable to parse string as an integer",
            "groups[1].id: duplicate id 'g'",
            "components[1].id: duplicate id 'web'",
            "components[0].group: unknown group 'nope'",
            "components[1].probes[1].id: duplicate probe id 'tcp' in component 'web'; "
            "give each probe of one type its own id",
            "smtp: starttls and tls exclude each other: choose one",
        ]
    )


def test_it_names_the_variable_a_bad_value_came_from(tmp_path):
    path = write(tmp_path, probes("{type: tcp, host: h, port: '${DB_PORT}'}"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={"DB_PORT": "abc"})
    assert caught.value.problems == [
        f"{path}: components[0].probes[0].port: Input should be a valid integer, unable to "
        "parse string as an integer (the value comes from ${DB_PORT})"
    ]


def test_it_names_an_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match=r"missing.yaml: cannot read config: No such file"):
        load_config(tmp_path / "missing.yaml")


def test_it_expands_the_environment(tmp_path):
    path = write(
        tmp_path,
        SITE.replace("title: T", "title: '${ORG} Status'")
        + ONE
        + "smtp: {host: '${SMTP_HOST:-localhost}', password: 'pa$$${SMTP_PASSWORD}', from: x@y}\n",
    )
    config = load_config(path, environ={"ORG": "Acme", "SMTP_PASSWORD": "s3cret"})
    assert config.site.title == "Acme Status"
    assert config.smtp.host == "localhost"
    assert config.smtp.password == "pa$s3cret"
    assert config.site.url == "https://status.example.com"

    config = load_config(path, environ={"ORG": "Acme", "SMTP_PASSWORD": "x", "SMTP_HOST": "mx"})
    assert config.smtp.host == "mx"


def test_it_reads_os_environ_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("LEITSTAND_TEST_TITLE", "From Env")
    path = write(tmp_path, SITE.replace("title: T", "title: '${LEITSTAND_TEST_TITLE}'") + ONE)
    assert load_config(path).site.title == "From Env"


@pytest.mark.parametrize(
    "text, seconds",
    [
        (15, 15.0),
        (2.5, 2.5),
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("1h30m", 5400.0),
    ],
)
def test_it_parses_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "5x", "m5", "1h 30", "-5s", "0s", 0, -1, float("nan"), True, None]
)
def test_it_rejects_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_it_fills_defaults(tmp_path):
    path = write(
        tmp_path,
        probes("{type: http, url: 'https://x'}"),
    )
    config = load_config(path)
    web = config.component("web")
    assert (web.failure_threshold, web.success_threshold, web.quorum) == (3, 2, 1)
    assert web.group is None and web.auto_incident is False
    probe = web.probes[0]
    assert (probe.key, probe.interval, probe.timeout, probe.method) == ("http", 60.0, 10.0, "GET")
    assert probe.verify_tls and probe.follow_redirects
    assert config.site.timezone == "UTC" and config.site.languages == ["en", "de"]
    assert config.smtp is None
    assert (config.scheduler.concurrency, config.retention.raw_days) == (32, 7)


def test_it_reads_a_prometheus_probe_and_its_comparison(tmp_path):
    path = write(
        tmp_path,
        probes(
            "{type: prometheus, url: 'http://prometheus:9090', query: 'up{job=\"api\"}',"
            " headers: {Authorization: 'Bearer ${PROM_TOKEN}'}, expect: {value: '>= 1'}}",
            "{type: prometheus, id: errors, url: 'https://p', query: x, expect: {value: 0.5}}",
        ),
    )
    first, second = load_config(path, environ={"PROM_TOKEN": "t0k"}).component("web").probes
    assert (first.key, first.query, first.headers) == (
        "prometheus",
        'up{job="api"}',
        {"Authorization": "Bearer t0k"},
    )
    assert (str(first.expect.value), first.expect.no_data, first.verify_tls) == (
        ">= 1",
        "fail",
        True,
    )
    assert [first.expect.value.holds(v) for v in (0.5, 1, 2)] == [False, True, True]
    assert (second.key, str(second.expect.value)) == ("errors", "== 0.5")


@pytest.mark.parametrize(
    "expected, code, matches",
    [
        (["2xx"], 204, True),
        (["2xx"], 301, False),
        ([200, 301], 301, True),
        ([200, 301], 302, False),
        (["4xx", 503], 503, True),
        (["4xx", 503], 418, True),
    ],
)
def test_it_matches_expected_status_codes(tmp_path, expected, code, matches):
    path = write(
        tmp_path,
        SITE + "components:\n  - id: web\n    name: Web\n    probes:\n"
        f"      - {{type: http, url: 'https://x', expect: {{status: {expected}}}}}\n",
    )
    expect = load_config(path).components[0].probes[0].expect
    assert expect.status_matches(code) is matches


def test_the_example_config_is_valid_and_offline():
    config = load_config(ROOT / "status.example.yaml", environ={})
    assert 6 <= len(config.components) <= 12
    assert {p.type for c in config.components for p in c.probes} >= {"http", "tcp", "heartbeat"}
    for component in config.components:
        for probe in component.probes:
            target = getattr(probe, "url", None) or getattr(probe, "host", None) or ""
            assert probe.type == "heartbeat" or "127.0.0.1" in target, component.id


@pytest.mark.parametrize("environ, port", [({}, 8080), ({"PORT": "18555"}, 18555)])
def test_the_example_config_probes_the_port_the_app_listens_on(environ, port):
    config = load_config(ROOT / "status.example.yaml", environ=environ)
    probes = [p for c in config.components for p in c.probes if p.type != "heartbeat"]
    assert {p.port for p in probes if p.type == "tcp"} == {port}
    assert {p.url.split("/")[2] for p in probes if p.type == "http"} == {f"127.0.0.1:{port}"}
    assert config.site.url == f"http://127.0.0.1:{port}"


def test_it_looks_up_components_and_groups(tmp_path):
    config = load_config(write(tmp_path, HOLDER_CONFIG), environ={})
    assert config.site.url == "https://status.test.example"
    assert config.group("telephony").name == "Telephony"
    assert config.group("nope") is None
    assert config.component("website").group is None
    assert config.component("nope") is None
    assert [c.id for c in config.components_in("telephony")] == ["sip-gateway"]


def test_the_holder_keeps_the_last_good_config_and_picks_up_a_good_edit(tmp_path, caplog):
    path = write(tmp_path, HOLDER_CONFIG)
    holder = ConfigHolder(path, environ={})
    first = holder.current
    assert holder.last_error is None
    assert holder.loaded_at.utcoffset() == timedelta(0)
    assert not holder.changed_on_disk()

    path.write_text(HOLDER_CONFIG + "    colour: blue\n")
    os.utime(path, ns=(1, 1))  # a distinct stamp even within the clock's resolution
    assert holder.changed_on_disk()
    with caplog.at_level(logging.INFO, logger="status.config"):
        assert holder.reload() is False
    assert holder.current is first
    assert holder.last_error == f"{path}: components[1].colour: unknown key"
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert not holder.changed_on_disk()

    caplog.clear()
    path.write_text(HOLDER_CONFIG.replace("Test Cloud", "Edited Cloud"))
    assert holder.changed_on_disk()
    with caplog.at_level(logging.INFO, logger="status.config"):
        assert holder.reload() is True
    assert holder.current.site.title == "Edited Cloud Status"
    assert holder.last_error is None
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert not holder.changed_on_disk()


def test_the_holder_refuses_to_start_on_an_invalid_file(tmp_path):
    with pytest.raises(ConfigError, match="site: required"):
        ConfigHolder(write(tmp_path, ONE), environ={})


def test_a_deleted_file_counts_as_changed_and_keeps_the_config(tmp_path):
    path = write(tmp_path, HOLDER_CONFIG)
    holder = ConfigHolder(path, environ={})
    path.unlink()
    assert holder.changed_on_disk()
    assert holder.reload() is False
    assert holder.last_error.startswith(f"{path}: cannot read config: ")
    assert holder.current.site.title == "Test Cloud Status"
