"""Several probe worker processes from one command: ``probes run --processes N``.

One Python process runs its probes on one core at most (the GIL), so a region's checks
are shared by several processes, exactly as by workers on several hosts: each is a
member with leases of its own (see probes/scheduler.py). This module only makes them
from one command: the parent loads the app and the config, then forks the workers, so
the imported code and the config are in memory once (copy-on-write) rather than once
per process. The parent starts no threads: it waits for its children, passes SIGTERM,
SIGINT and SIGHUP on, and forks a worker anew when one dies (backing off when one
keeps dying).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import random
import signal
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STABLE_SECONDS = 60.0
"""A worker that ran this long before dying is started again at once, not backed off."""


def run_forked(
    count: int,
    worker: Callable[[int], int],
    *,
    before_fork: Callable[[], None] = lambda: None,
    backoff: float = 1.0,
    max_backoff: float = 30.0,
) -> int:
    """Run ``worker(n)`` for n in 0..count-1, each in a forked process, until SIGTERM.

    ``before_fork`` runs in the parent before each fork (close database connections
    there: a child must not share the parent's sockets). Returns 0 once every worker
    has stopped after SIGTERM or SIGINT, 1 if one of them exited non-zero then.
    """
    children: dict[int, tuple[int, float]] = {}  # pid -> (worker number, started)
    state = {"stopping": False, "failed": False}

    def forward(signum, _frame):
        if signum in (signal.SIGTERM, signal.SIGINT):
            state["stopping"] = True
        for pid in list(children):
            _signal(pid, signal.SIGTERM if signum == signal.SIGINT else signum)

    def fork(number: int) -> None:
        before_fork()
        gc.collect()
        # What is in memory now stays shared: frozen objects are never visited by the
        # collector, which would otherwise write to every page holding one, in every
        # process (they stay frozen for good: they were alive when the workers began).
        gc.freeze()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                for signum in FORWARDED:
                    signal.signal(signum, signal.SIG_DFL)
                random.seed()  # the parent's state would give every child the same jitter
                code = worker(number)
            except BaseException:
                log.exception("probe worker process %d failed", number)
            finally:
                logging.shutdown()
                os._exit(code)
        children[pid] = (number, time.monotonic())
        log.info("probe worker process %d started (pid %d)", number, pid)

    previous = {signum: signal.signal(signum, forward) for signum in FORWARDED}
    try:
        for number in range(count):
            fork(number)
        failures = [0] * count
        while children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            if pid not in children:
                continue
            number, started = children.pop(pid)
            code = os.waitstatus_to_exitcode(status)
            if state["stopping"]:
                state["failed"] |= code != 0
                log.info("probe worker process %d stopped (exit %d)", number, code)
                continue
            if time.monotonic() - started > STABLE_SECONDS:
                failures[number] = 0  # it had been running fine: no crash loop
            failures[number] += 1
            delay = min(max_backoff, backoff * 2 ** (failures[number] - 1))
            log.error(
                "probe worker process %d died (exit %d); starting it again in %gs",
                number,
                code,
                delay,
            )
            _sleep_unless_stopping(delay, state)
            if state["stopping"]:
                continue
            fork(number)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 1 if state["failed"] else 0


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # it has just exited
        os.kill(pid, signum)


def _sleep_unless_stopping(seconds: float, state: dict) -> None:
    deadline = time.monotonic() + seconds
    while not state["stopping"] and time.monotonic() < deadline:
        time.sleep(min(0.1, deadline - time.monotonic()))
