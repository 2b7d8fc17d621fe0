"""The probe worker, and its processes, without the web app.

``flask --app app probes run`` runs :func:`run_worker` in its own process. With
``--processes N`` it hands over to ``python -m probes.main`` (by ``exec``, same pid),
which loads only what probing needs (no Flask, templates, feeds) before forking the
workers: the workers share that memory, and the web stack would have been dead weight
in every one of them. The settings come in the environment, as for the app
(``DATABASE_URL``, ``STATUS_CONFIG``, ``LOG_LEVEL``), never on the command line, where
``ps`` shows them.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from probes.metrics import ProbeMetrics
from probes.processes import run_forked, stop_with_parent
from probes.scheduler import Scheduler
from status import jobs
from status.config import ConfigError, ConfigHolder
from status.store import Store, make_engine

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


def run_worker(
    store: Store,
    holder: ConfigHolder,
    region: str,
    metrics_address: str,
    worker_id: str | None = None,
) -> None:
    """One worker: serve its metrics, run its share of the checks until SIGTERM."""
    from prometheus_client import start_http_server

    metrics = ProbeMetrics(region=region)
    if metrics_address:
        host, _, port = metrics_address.rpartition(":")
        start_http_server(int(port), addr=host or "127.0.0.1", registry=metrics.registry)
        log.info("probe metrics on http://%s/metrics", metrics_address)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=holder.reload).start())
    scheduler = Scheduler(
        store, lambda: holder.current, region=region, metrics=metrics, worker_id=worker_id
    )
    # The clock (maintenance windows, overrides) runs wherever probes run; a lease picks one.
    clock = jobs.clock_worker(store, lambda: holder.current)
    threading.Thread(target=clock, args=(stopping,), name="clock", daemon=True).start()
    scheduler.run(stopping)


def command(region: str, metrics_address: str, processes: int) -> list[str]:
    """How ``probes run --processes N`` continues: this module, as a fresh program."""
    return [
        sys.executable,
        "-m",
        "probes.main",
        "--region",
        region,
        "--metrics",
        metrics_address,
        "--processes",
        str(processes),
    ]


def environment(database_url: str, status_config: str, log_level: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "STATUS_CONFIG": status_config,
        "LOG_LEVEL": log_level,
        "PYTHONPATH": path,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m probes.main", description=__doc__)
    parser.add_argument("--region", default="default")
    parser.add_argument("--metrics", default="127.0.0.1:9115")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--worker-number", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        holder = ConfigHolder(os.environ.get("STATUS_CONFIG", "status.yaml"))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    store = Store(make_engine(os.environ["DATABASE_URL"]))
    host, _, port = args.metrics.rpartition(":")
    # The supervisor: this process (it becomes one) or, for a worker it started anew,
    # the parent we have now.
    supervisor = os.getpid() if args.worker_number is None else os.getppid()

    def worker(number: int) -> int:
        stop_with_parent(supervisor)
        store.engine.dispose(close=False)  # the parent's connections stay its own
        # The same name for the process started anew after a crash: it takes its leases
        # back at once instead of waiting for them to run out.
        worker_id = f"{args.region}-{socket.gethostname()}-{os.getppid()}-{number}"
        address = f"{host or '127.0.0.1'}:{int(port) + number}" if args.metrics else ""
        run_worker(store, holder, args.region, address, worker_id)
        return 0

    if args.worker_number is not None:  # started anew by the supervisor
        return worker(args.worker_number)
    restart = [*command(args.region, args.metrics, args.processes), "--worker-number", "{n}"]
    run_forked(args.processes, worker, command=restart, before_fork=store.engine.dispose)


if __name__ == "__main__":
    sys.exit(main())
