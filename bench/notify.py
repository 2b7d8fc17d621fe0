"""Benchmark: one incident to 10,000 confirmed subscribers, through Postfix's smtp-sink.

Each round, on a fresh ``smtp-sink`` (Debian package postfix) on a loopback port:

- **notifier**: ``flask --app app notify run`` (a subprocess, started idle, default
  ``--poll``) and 10,000 confirmed subscribers in the database; the bench opens an
  incident with ``status.ops.open_incident`` and times from its return (the event is
  committed) until smtp-sink has received the 10,000th message (its ``-c`` counter, read
  live from its stdout): fan-out, claims, rendering, SMTP and recording all included.
- **bare client**: the same 10,000 messages, prepared in memory beforehand (the bytes
  the notifier sends, one per subscriber), sent by plain aiosmtplib clients over the
  same number of connections (``smtp.connections``), each kept open for its share: what
  the SMTP exchange alone costs on this box (``sendmail``, one command at a time): the
  reference of the issue's target (>= 0.7x);
- **the notifier's SMTP code alone**: the same messages through
  ``subscribers.smtp.SmtpPool`` (pipelined, as smtp-sink allows; the notifier's
  settings and as many senders as its workers, two per connection), no database and
  no rendering. The notifier against this is what the rest of it costs: printed, no
  target. Each phase goes first in turn.

smtp-sink appends every message to a dump file (``-D``); the bench counts the
recipients and ``Message-ID`` headers in it: lost = subscribers without a message,
duplicates = messages beyond one per Message-ID.

The memory pass (once, after the rounds): ``--memory-subscribers`` (100,000) confirmed
subscribers, one incident, the notifier's peak RSS (``VmHWM`` of the process in
``/proc/<pid>/status``) once every message has arrived.

    .venv/bin/python bench/notify.py [--database-url postgresql+psycopg://...] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ops import postgres_schema  # noqa: E402
from bench.probes import Processes, bench_environment, code_version, free_port  # noqa: E402

SUBSCRIBERS, MEMORY_SUBSCRIBERS = 10_000, 100_000
TARGET_RATE, TARGET_RATIO, TARGET_MEMORY_MB = 1000.0, 0.7, 150.0
SINK = next(
    (p for p in ("/usr/sbin/smtp-sink", "/usr/lib/postfix/sbin/smtp-sink") if Path(p).exists()),
    None,
)
SECRET = "bench-notify-" + "s" * 40


def site_config(port: int, connections: int) -> str:
    return f"""\
site: {{title: Bench Cloud Status, url: 'https://status.bench.example', timezone: Europe/Berlin}}
groups:
  - {{id: telephony, name: Telephony}}
components:
  - {{id: sip-gateway, name: SIP Gateway, group: telephony}}
  - {{id: website, name: Website}}
smtp:
  host: 127.0.0.1
  port: {port}
  starttls: false
  from: "Bench Status <status@bench.example>"
  connections: {connections}
"""


# -- smtp-sink -----------------------------------------------------------------------------
class Sink:
    """smtp-sink on ``port``, dumping to ``dump``; ``count`` follows its ``-c`` counter."""

    def __init__(self, procs: Processes, tmp: Path, port: int, name: str) -> None:
        directory = tmp / "dumps"
        directory.mkdir(exist_ok=True)
        tmp.chmod(0o711)  # smtp-sink drops to nobody after binding: it must reach
        directory.chmod(0o777)  # the dump directory and write there
        self.dump = directory / name
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        self.proc = procs.start(
            [SINK, "-c", *user, "-D", str(self.dump), f"127.0.0.1:{port}", "1000"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.procs = procs
        self.count = 0
        self.reached: dict[int, float] = {}
        self.wanted: int | None = None
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        tail = b""
        while True:
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                return
            now = time.monotonic()
            tail = (tail + chunk)[-200:]
            found = re.findall(rb"mesg=(\d+)", tail)
            if found:
                with self.cond:
                    self.count = int(found[-1])
                    if self.wanted is not None and self.count >= self.wanted:
                        self.reached.setdefault(self.wanted, now)
                    self.cond.notify_all()

    def wait_for(self, wanted: int, timeout: float) -> float | None:
        """When the ``wanted``-th message arrived (monotonic), None on a timeout."""
        with self.cond:
            self.wanted = wanted
            if self.count >= wanted:
                self.reached.setdefault(wanted, time.monotonic())
            self.cond.wait_for(lambda: wanted in self.reached, timeout)
            return self.reached.get(wanted)

    def stop(self) -> None:
        time.sleep(0.3)  # the last transaction's dump is written
        self.procs.stop(self.proc)

    def tally(self) -> tuple[int, int, int]:
        """(messages, distinct Message-IDs, distinct recipients) in the dump."""
        ids, recipients, messages = Counter(), set(), 0
        with self.dump.open("rb") as dump:
            for line in dump:
                if line.startswith(b"X-Rcpt-Args: "):
                    messages += 1
                    recipients.add(line[13:].strip())
                elif line[:11].lower() == b"message-id:":
                    ids[line[11:].strip()] += 1
        return messages, len(ids), len(recipients)


def wait_port(port: int, timeout: float = 10.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"smtp-sink did not listen on {port}")


# -- the database --------------------------------------------------------------------------
def add_subscribers(store, count: int, start: int = 0) -> None:
    """Confirmed subscribers, all components, in statements of 5,000 rows."""
    import sqlalchemy as sa

    from status import schema as t
    from status.clock import utcnow
    from status.links import first_version

    now = utcnow()
    for first in range(start, start + count, 5000):
        rows = [
            {
                "email": f"s{n:06d}@bench.example",
                "state": "confirmed",
                "language": "de" if n % 4 == 0 else "en",
                "all_components": True,
                "created_at": now,
                "updated_at": now,
                "confirmed_at": now,
                "token_version": first_version(),
            }
            for n in range(first, min(first + 5000, start + count))
        ]
        with store.engine.begin() as conn:
            conn.execute(sa.insert(t.subscribers), rows)
    if store.dialect == "postgresql":
        # A site's subscribers come over weeks, and autovacuum has long analyzed them;
        # these came in a second.
        with store.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE subscribers"))


def open_incident(store, round_: int) -> int:
    from status.ops.actor import Actor
    from status.ops.incidents import open_incident as open_

    return open_(
        store,
        Actor("user", "bench"),
        name=f"Calls failing in EU ({round_})",
        status="investigating",
        impact="major",
        body="We are looking into failing calls.",
        components={"sip-gateway": "major_outage"},
    )


# -- the notifier --------------------------------------------------------------------------
def start_notifier(procs: Processes, tmp: Path, database_url: str, config: Path, poll: float):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "STATUS_CONFIG": str(config),
        "SECRET_KEY": SECRET,
        "LOG_LEVEL": "WARNING",
    }
    flask = str(ROOT / ".venv" / "bin" / "flask")
    log = (tmp / "notifier.log").open("a")
    proc = procs.start(
        [flask, "--app", "app", "notify", "run", "--poll", str(poll)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    time.sleep(2.0)  # imports, migrations checked, the first idle look at the outbox
    if proc.poll() is not None:
        sys.exit(f"notify run exited with {proc.returncode}; see {tmp / 'notifier.log'}")
    return proc


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def deliver_one_incident(opts, procs, tmp, store, database_url, *, dump, round_, count, timeout):
    """Start smtp-sink and ``notify run``, open an incident, wait for ``count`` messages;
    (sink, seconds from the commit to the last message or None, the notifier's peak RSS)."""
    port = free_port()
    config = tmp / "status.yaml"
    config.write_text(site_config(port, opts.connections))
    sink = Sink(procs, tmp, port, dump)
    wait_port(port)
    proc = start_notifier(procs, tmp, database_url, config, opts.poll)
    try:
        open_incident(store, round_)
        started = time.monotonic()
        done = sink.wait_for(count, timeout=timeout)
        rss = peak_rss_mb(proc.pid)
    finally:
        procs.stop(proc)
        sink.stop()
    return sink, (done - started if done else None), rss


def notifier_phase(opts, procs, tmp, store, database_url, round_) -> dict:
    sink, seconds, rss = deliver_one_incident(
        opts, procs, tmp, store, database_url,
        dump=f"notifier-{round_}.dump", round_=round_, count=opts.subscribers, timeout=600,
    )  # fmt: skip
    messages, ids, recipients = sink.tally()
    return {
        "seconds": seconds,
        "rate": opts.subscribers / seconds if seconds else None,
        "messages": messages,
        "lost": opts.subscribers - recipients,
        "duplicates": messages - ids,
        "rss_mb": rss,
    }


# -- the bare client -----------------------------------------------------------------------
def prepared_messages(count: int, connections: int) -> list[tuple[str, bytes]]:
    """The notifier's own bytes for ``count`` recipients (rendered here, not timed)."""
    from datetime import timedelta

    from status.config import Smtp
    from status.links import first_version
    from subscribers.base import Delivery
    from subscribers.content import Notice
    from subscribers.email import EmailChannel

    smtp = Smtp.model_validate(
        {
            "host": "127.0.0.1",
            "port": 25,
            "starttls": False,
            "from": "Bench Status <status@bench.example>",
            "connections": connections,
        }
    )
    channel = EmailChannel(smtp, SECRET)
    notices = {
        language: Notice(
            event_id=1,
            kind="incident.opened",
            language=language,
            site_title="Bench Cloud Status",
            site_url="https://status.bench.example",
            name="Calls failing in EU",
            status_label=label,
            body="We are looking into failing calls.",
            when="3 Dec 2026, 09:00 CET",
            url="https://status.bench.example/incidents/1",
            components=("SIP Gateway",),
        )
        for language, label in (("en", "Investigating"), ("de", "Wird untersucht"))
    }
    now = datetime.now(UTC) - timedelta(seconds=1)
    out = []
    for n in range(count):
        address = f"s{n:06d}@bench.example"
        delivery = Delivery(
            outbox_id=n + 1,
            event_id=1,
            channel="email",
            subscriber_id=n + 1,
            address=address,
            language="en",
            token_version=first_version(),
            attempts=1,
            created_at=now,
            notice=notices["de" if n % 4 == 0 else "en"],
        )
        out.append((address, channel.render(delivery)))
    return out


async def send_bare(port: int, messages: list[tuple[str, bytes]], connections: int) -> None:
    import aiosmtplib

    async def one(share: list[tuple[str, bytes]]) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await client.connect()
        for address, message in share:
            await client.sendmail("status@bench.example", [address], message)
        await client.quit()

    await asyncio.gather(*(one(messages[i::connections]) for i in range(connections)))


async def send_pooled(port: int, messages: list[tuple[str, bytes]], connections: int) -> None:
    """The notifier's own SMTP code (``subscribers.smtp``, pipelined where the server
    allows, the notifier's settings) with nothing else: no database, no rendering."""
    from status.config import Smtp
    from subscribers.notifier import PER_SESSION
    from subscribers.smtp import SmtpPool

    smtp = Smtp.model_validate(
        {"host": "127.0.0.1", "port": port, "starttls": False,
         "from": "status@bench.example", "connections": connections}
    )  # fmt: skip
    pool = SmtpPool(smtp, connections)
    senders = PER_SESSION * connections  # as many as the notifier's workers

    async def one(share: list[tuple[str, bytes]]) -> None:
        for address, message in share:
            await pool.send("status@bench.example", address, message)

    await asyncio.gather(*(one(messages[i::senders]) for i in range(senders)))
    await pool.close()


def bare_phase(opts, procs, tmp, messages, round_, send=send_bare) -> dict:
    port = free_port()
    sink = Sink(procs, tmp, port, f"{send.__name__}-{round_}.dump")
    wait_port(port)
    try:
        started = time.monotonic()
        asyncio.run(send(port, messages, opts.connections))
        done = sink.wait_for(len(messages), timeout=600)
    finally:
        sink.stop()
    seconds = done - started if done else None
    return {"seconds": seconds, "rate": len(messages) / seconds if seconds else None}


def memory_pass(opts, procs, tmp, store, database_url, have: int) -> dict:
    add_subscribers(store, opts.memory_subscribers - have, start=have)
    _, seconds, rss = deliver_one_incident(
        opts, procs, tmp, store, database_url,
        dump="memory.dump", round_=0, count=opts.memory_subscribers, timeout=1800,
    )  # fmt: skip
    return {
        "rss_mb": rss,
        "seconds": seconds,
        "rate": opts.memory_subscribers / seconds if seconds else None,
    }


# -- report --------------------------------------------------------------------------------
def median(rows: list[dict], key: str) -> float | None:
    values = [r[key] for r in rows]
    return statistics.median(values) if values and None not in values else None


def report(notifier, bare, pooled, memory: dict | None, engine: str) -> None:
    rate, bare_rate = median(notifier, "rate"), median(bare, "rate")
    ratio = rate / bare_rate if rate and bare_rate else None
    pooled_rate = median(pooled, "rate")
    lost = sum(r["lost"] for r in notifier)
    duplicates = sum(r["duplicates"] for r in notifier)
    print(f"\nmedians over {len(notifier)} rounds, {engine}:")
    print(
        f"  notifier, event commit -> last message: {median(notifier, 'seconds'):.2f} s, "
        f"{rate:.0f} msg/s (peak RSS {median(notifier, 'rss_mb'):.0f} MB)"
    )
    print(
        f"  bare aiosmtplib, same messages:          {median(bare, 'seconds'):.2f} s, "
        f"{bare_rate:.0f} msg/s"
    )
    print(
        f"  the notifier's SMTP code alone:           {median(pooled, 'seconds'):.2f} s, "
        f"{pooled_rate:.0f} msg/s (notifier / this: {rate / pooled_rate:.2f}x, no target)"
    )
    checks = [
        (">= 1,000 msg/s event to last message", f"{rate:.0f} msg/s", rate >= TARGET_RATE),
        (">= 0.7x the bare client", f"{ratio:.2f}x", ratio >= TARGET_RATIO),
        ("0 lost (all rounds)", str(lost), lost == 0),
        ("0 duplicates (all rounds)", str(duplicates), duplicates == 0),
    ]
    if memory:
        mb = memory["rss_mb"]
        checks.append(
            (f"< 150 MB for {MEMORY_SUBSCRIBERS:,}", f"{mb:.0f} MB", mb < TARGET_MEMORY_MB)
        )
        print(f"  memory pass: {memory['seconds']:.1f} s, {memory['rate']:.0f} msg/s")
    for name, value, passed in checks:
        print(f"  {name:40} {value:>12}  {'PASS' if passed else 'FAIL'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="postgresql+psycopg://... (default: SQLite)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--subscribers", type=int, default=SUBSCRIBERS)
    parser.add_argument("--connections", type=int, default=4, help="smtp.connections (both)")
    parser.add_argument("--poll", type=float, default=0.25, help="notify run --poll")
    parser.add_argument(
        "--memory-subscribers",
        type=int,
        default=MEMORY_SUBSCRIBERS,
        help="the memory pass (0: skip it)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    opts = parser.parse_args(argv)
    if SINK is None or shutil.which("flask", path=str(ROOT / ".venv" / "bin")) is None:
        sys.exit("needs smtp-sink (apt-get install postfix) and the virtualenv's flask")
    engine = "PostgreSQL" if opts.database_url else "SQLite"
    print(
        f"bench/notify.py at {code_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{engine}, {opts.subscribers:,} subscribers, {opts.connections} connections"
    )
    print("load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    from status import migrate
    from status.store import Store, make_engine

    with bench_environment(opts.keep) as (procs, tmp), postgres_schema(opts.database_url) as pg:
        database_url = pg or f"sqlite:///{tmp / 'bench.db'}"
        store = Store(make_engine(database_url))
        migrate.upgrade(store.engine)
        add_subscribers(store, opts.subscribers)
        messages = prepared_messages(opts.subscribers, opts.connections)
        notifier, bare, pooled = [], [], []
        phases = ["notifier", "bare", "pooled"]
        for round_ in range(1, opts.rounds + 1):
            for phase in phases:
                if phase == "bare":
                    bare.append(bare_phase(opts, procs, tmp, messages, round_))
                elif phase == "pooled":
                    pooled.append(bare_phase(opts, procs, tmp, messages, round_, send_pooled))
                else:
                    notifier.append(notifier_phase(opts, procs, tmp, store, database_url, round_))
            phases.append(phases.pop(0))  # each phase goes first in turn
            n, b, p = notifier[-1], bare[-1], pooled[-1]
            print(
                f"  round {round_}: notifier {n['seconds']:.2f} s ({n['rate']:.0f} msg/s, "
                f"{n['messages']} received, lost {n['lost']}, duplicates {n['duplicates']}, "
                f"RSS {n['rss_mb']:.0f} MB); bare {b['seconds']:.2f} s ({b['rate']:.0f} msg/s)"
                f"; notifier's SMTP alone {p['seconds']:.2f} s ({p['rate']:.0f} msg/s)"
                f"; load {os.getloadavg()[0]:.2f}"
            )
        memory = None
        if opts.memory_subscribers:
            memory = memory_pass(opts, procs, tmp, store, database_url, opts.subscribers)
            print(
                f"  memory: {opts.memory_subscribers:,} subscribers, peak RSS "
                f"{memory['rss_mb']:.0f} MB"
            )
        store.dispose()
        report(notifier, bare, pooled, memory, engine)
        print("load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
