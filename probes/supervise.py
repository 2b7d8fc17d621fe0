"""The small parent of forked probe workers (see probes/processes.py).

Started by ``exec`` in the process that loaded the app and forked the workers, so it
keeps that process's pid (the workers remain its children) but none of its memory: the
pages the workers inherited are then shared by the workers alone. It imports nothing
of the app. It waits for its children, passes SIGTERM, SIGINT and SIGHUP on, and starts
a worker anew when one dies: as a fresh process running the command it was given
(``{n}`` in it stands for the worker's number), backing off when one keeps dying.

    LEITSTAND_SUPERVISE='{"children": {"<pid>": <n>}, "command": [...]}' \\
        python -m probes.supervise
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import time

log = logging.getLogger("probes.supervise")

ENV = "LEITSTAND_SUPERVISE"
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STABLE_SECONDS = 60.0
"""A worker that ran this long before dying is started again at once, not backed off."""


def supervise(
    children: dict[int, int],
    command: list[str],
    *,
    backoff: float = 1.0,
    max_backoff: float = 30.0,
) -> int:
    """Wait for ``children`` (pid -> worker number); 0 once all stopped on request."""
    running = {pid: (number, time.monotonic()) for pid, number in children.items()}
    failures: dict[int, int] = {}
    state = {"stopping": False, "failed": False}

    def forward(signum, _frame):
        if signum in (signal.SIGTERM, signal.SIGINT):
            state["stopping"] = True
        for pid in list(running):
            with contextlib.suppress(ProcessLookupError):  # it has just exited
                os.kill(pid, signal.SIGTERM if signum == signal.SIGINT else signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)  # blocked across the exec
    while running:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid not in running:
            continue
        number, started = running.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        if state["stopping"]:
            state["failed"] |= code != 0
            log.info("probe worker process %d stopped (exit %d)", number, code)
            continue
        if time.monotonic() - started > STABLE_SECONDS:
            failures[number] = 0  # it had been running fine: no crash loop
        failures[number] = failures.get(number, 0) + 1
        delay = min(max_backoff, backoff * 2 ** (failures[number] - 1))
        log.error(
            "probe worker process %d died (exit %d); starting it again in %gs", number, code, delay
        )
        deadline = time.monotonic() + delay
        while not state["stopping"] and time.monotonic() < deadline:
            time.sleep(min(0.1, deadline - time.monotonic()))
        if state["stopping"]:
            continue
        argv = [part.replace("{n}", str(number)) for part in command]
        pid = os.posix_spawn(argv[0], argv, os.environ)
        running[pid] = (number, time.monotonic())
        log.info("probe worker process %d started again (pid %d)", number, pid)
    return 1 if state["failed"] else 0


def main() -> int:
    spec = json.loads(os.environ.pop(ENV))
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    children = {int(pid): number for pid, number in spec["children"].items()}
    return supervise(children, spec["command"])


if __name__ == "__main__":
    sys.exit(main())
