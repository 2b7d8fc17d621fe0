from __future__ import annotations

import sqlite3

import pytest

from status import migrate, ops
from status.runtime import runtime


def test_it_checks_a_good_config_file(runner, config_file):
    result = runner.invoke(args=["config", "check", str(config_file)])
    assert result.exit_code == 0, result.output
    assert result.output == f"{config_file}: ok: 1 groups, 2 components, 0 probes\n"


def test_it_reports_a_bad_config_file_with_its_yaml_path(runner, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "site: {title: T, url: 'https://s.example'}\n"
        "components:\n  - {id: web, name: Web, probes: [{type: http}]}\n"
    )
    result = runner.invoke(args=["config", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}: components[0].probes[0].url: required" in result.output


def test_it_upgrades_the_database_and_says_where_it_is(runner):
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert result.output == f"database at schema {migrate.head_revision()}\n"


only_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_it_explains_pg_dump_when_asked_to_back_up_postgresql(runner, tmp_path):
    target = tmp_path / "backup.db"
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 1
    assert "pg_dump --format=custom" in result.output
    assert not target.exists()
    result = runner.invoke(args=["restore", "--yes", str(target)])
    assert result.exit_code == 1
    assert "pg_restore" in result.output


@only_sqlite
def test_it_backs_up_and_restores_from_the_command_line(app, runner, tmp_path):
    store = runtime(app).store
    target = tmp_path / "backup.db"
    ops.set_component_status(store, "website", "major_outage", reason="down", source="console")
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    ops.set_component_status(store, "website", "operational", reason="up", source="console")

    result = runner.invoke(args=["restore", str(target)], input="n\n")
    assert result.exit_code == 1
    assert store.components.states()["website"].status == "operational"

    result = runner.invoke(args=["restore", str(target)], input="y\n")
    assert result.exit_code == 0, result.output
    assert store.components.states()["website"].status == "major_outage"


@only_sqlite
def test_it_refuses_to_restore_a_broken_file(runner, tmp_path):
    broken = tmp_path / "broken.db"
    sqlite3.connect(broken).execute("CREATE TABLE x (y)").connection.commit()
    result = runner.invoke(args=["restore", "--yes", str(broken)])
    assert result.exit_code == 1
    assert "not a Leitstand backup" in result.output
