"""Several probe worker processes from one command: ``probes run --processes N``.

One Python process runs its probes on one core at most (the GIL), so a region's checks
are shared by several processes, exactly as by workers on several hosts: each is a
member with leases of its own (see probes/scheduler.py). This module only makes them
from one command. The process that loaded the app and the config forks the workers, so
what they inherited is in memory once (copy-on-write) rather than once per worker, and
then becomes, by ``exec``, the small supervisor in probes/supervise.py: same pid, the
workers still its children, none of the loaded memory kept for itself.
"""

from __future__ import annotations

import ctypes
import gc
import json
import logging
import os
import random
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from probes import supervise

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def run_forked(
    count: int,
    worker: Callable[[int], int],
    *,
    command: list[str],
    before_fork: Callable[[], None] = lambda: None,
) -> NoReturn:
    """Fork ``worker(n)`` for n in 0..count-1, then become their supervisor.

    ``command`` starts worker ``{n}`` afresh, for when one dies (the supervisor can no
    longer fork from the loaded app). ``before_fork`` runs first (close database
    connections there: a worker must not share the parent's sockets).
    """
    # Signals wait until the supervisor listens: a SIGTERM in between must not leave
    # the workers without their parent. The mask is kept across exec.
    signal.pthread_sigmask(signal.SIG_BLOCK, supervise.FORWARDED)
    before_fork()
    gc.collect()
    # What is in memory now stays shared: frozen objects are never visited by the
    # collector, which would otherwise write to every page holding one, in every worker
    # (they stay frozen for good: they were alive when the workers began).
    gc.freeze()
    children: dict[str, int] = {}
    for number in range(count):
        pid = os.fork()
        if pid == 0:
            _worker(number, worker)
        children[str(pid)] = number
        log.info("probe worker process %d started (pid %d)", number, pid)
    logging.shutdown()
    env = {**os.environ, supervise.ENV: json.dumps({"children": children, "command": command})}
    script = str(Path(supervise.__file__).resolve())
    os.execve(sys.executable, [sys.executable, script], env)


def stop_with_parent(parent: int) -> None:
    """Have this process sent SIGTERM when its parent, the supervisor, is gone.

    A supervisor killed outright (SIGKILL, OOM killer) must not leave its workers probing
    on, unseen, for ever. Linux only (prctl PR_SET_PDEATHSIG); elsewhere nothing is done.
    ``parent`` is the pid the parent had: if it is gone already, the signal comes now.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        log.warning("cannot ask to stop with the parent: %s", os.strerror(ctypes.get_errno()))
        return
    if os.getppid() != parent:  # it died before we asked
        os.kill(os.getpid(), signal.SIGTERM)


def _worker(number: int, worker: Callable[[int], int]) -> NoReturn:
    code = 1
    try:
        for signum in supervise.FORWARDED:
            signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, supervise.FORWARDED)
        random.seed()  # the parent's state would give every worker the same jitter
        code = worker(number)
    except BaseException:
        log.exception("probe worker process %d failed", number)
    finally:
        logging.shutdown()
        os._exit(code)
