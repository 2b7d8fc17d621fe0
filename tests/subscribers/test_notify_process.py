"""``flask --app app notify run`` as a process: killed with SIGKILL mid-delivery and
restarted, and two at once on PostgreSQL; every subscriber counted at the server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
import sqlalchemy as sa

from status import schema as t
from subscribers.notifier import PER_CONNECTION, PER_SESSION
from tests.conftest import ROOT, SECRET
from tests.subscribers.support import (
    add_subscribers,
    incident,
    smtp_server,
    wait_until,
    write_config,
)

SUBSCRIBERS = 2000
CONNECTIONS = 4
LEASE = 3.0


def start_notifier(database_url: str, config_path, log_path, *options) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "STATUS_CONFIG": str(config_path),
        "SECRET_KEY": SECRET,
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "flask", "--app", "app", "notify", "run",
               "--lease", str(LEASE), "--poll", "0.1", *options]  # fmt: skip
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log_path.open("ab"), stderr=subprocess.STDOUT
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def sent(db) -> int:
    with db.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).where(t.outbox.c.state == "sent")).scalar()


def per_recipient(mailbox) -> tuple[Counter, Counter]:
    ids = mailbox.message_ids()
    return Counter(rcpt for rcpt, _ in ids), Counter(ids)


@pytest.fixture
def setup(db, database_url, tmp_path):
    with smtp_server() as smtp:
        config = write_config(tmp_path / "status.yaml", smtp.port, connections=CONNECTIONS)
        emails = [f"s{i:05d}@example.org" for i in range(SUBSCRIBERS)]
        add_subscribers(db, emails)
        yield db, database_url, config, smtp, emails


def test_a_notifier_killed_mid_delivery_and_restarted_sends_everyone_one_message(setup, tmp_path):
    db, database_url, config, smtp, emails = setup
    log = tmp_path / "notifier.log"
    first = start_notifier(database_url, config, log)
    second = None
    try:
        incident(db)
        assert wait_until(lambda: smtp.mailbox.count() >= SUBSCRIBERS // 3, timeout=60), (
            log.read_text()
        )
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        at_kill = smtp.mailbox.count()
        assert at_kill < SUBSCRIBERS, "too fast to kill mid-way"

        second = start_notifier(database_url, config, log)
        assert wait_until(lambda: sent(db) == SUBSCRIBERS, timeout=120), log.read_text()
    finally:
        first.kill()
        if second is not None:
            stop(second)

    messages, by_id = per_recipient(smtp.mailbox)
    assert set(messages) == set(emails)  # nobody missed
    repeated = sum(messages.values()) - SUBSCRIBERS
    # Only rows sent but not yet recorded when the process died go out twice, each with
    # its own stable Message-ID: at most two batches and one message per worker
    # (the in-flight window).
    window = 2 * PER_CONNECTION * CONNECTIONS + PER_SESSION * CONNECTIONS
    print(f"\nin-flight window: {repeated} repeated of {window} possible "
          f"({db.dialect}, killed at {at_kill} messages)")  # fmt: skip
    assert repeated <= window
    assert all(n == 1 for n in Counter(rcpt for rcpt, _ in by_id).values())  # one Message-ID each


def test_two_notifiers_at_once_send_no_message_twice(setup, tmp_path):
    db, database_url, config, smtp, emails = setup
    if db.dialect != "postgresql":
        pytest.skip("several notifiers at once are for PostgreSQL (SKIP LOCKED)")
    log = tmp_path / "notifier.log"
    workers = [start_notifier(database_url, config, log) for _ in range(2)]
    try:
        incident(db)
        assert wait_until(lambda: sent(db) == SUBSCRIBERS, timeout=120), log.read_text()
    finally:
        for worker in workers:
            stop(worker)

    messages, _ = per_recipient(smtp.mailbox)
    assert set(messages) == set(emails)
    assert max(messages.values()) == 1
    with db.engine.connect() as conn:
        claimed_by = conn.execute(sa.select(sa.func.count(sa.distinct(t.outbox.c.claimed_by))))
    assert claimed_by.scalar() == 0  # every claim released once recorded


def test_concurrency_sets_the_smtp_connections_a_worker_keeps(db, database_url, tmp_path):
    concurrency = 3
    with smtp_server() as smtp:
        # The config asks for 2; the option wins.
        config = write_config(tmp_path / "status.yaml", smtp.port, connections=2)
        add_subscribers(db, [f"s{i:03d}@example.org" for i in range(60)])
        log = tmp_path / "notifier.log"
        process = start_notifier(database_url, config, log, "--concurrency", str(concurrency))
        try:
            incident(db)
            assert wait_until(lambda: sent(db) == 60, timeout=60), log.read_text()
        finally:
            stop(process)
        assert smtp.mailbox.count() == 60
        assert smtp.mailbox.sessions == concurrency
