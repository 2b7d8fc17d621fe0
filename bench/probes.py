"""Probe worker benchmark: Leitstand's ``probes run`` against prometheus-blackbox-exporter.

Run from the repository root (needs nginx, prometheus-blackbox-exporter and wrk)::

    .venv/bin/python bench/probes.py                 # 60 s per phase, about 4 minutes
    .venv/bin/python bench/probes.py --quick         # 15 s per phase, a smoke run
    .venv/bin/python bench/probes.py --duration 120 --json /tmp/run1.json

All traffic stays on 127.0.0.1. The bench starts, in a temporary directory that it removes
again (also on Ctrl-C):

- nginx as the targets: ``return 200 "ok\\n"``, keep-alive; component N probes ``/c/NNNN``;
- blackbox: prometheus-blackbox-exporter (module ``http_2xx``), driven by wrk over the same
  URLs: checks/s = wrk's requests/s. wrk runs on the same two cores as the exporter;
- Leitstand phase 1 (saturation): N components at interval 0.5s, more than the box can do,
  in ``probes run --processes P`` (P: one per core): achieved checks/s and CPU seconds per
  1,000 checks;
- Leitstand phase 2 (paced): N components at interval 10s (200 checks/s for 2,000):
  scheduling lag p50/p99 and the latency recorded in ``probe_results``, next to the true
  latency seen by a separate single-threaded reference client (~20 requests/s).

Leitstand's figures come from its own ``/metrics`` (counter and histogram deltas between the
end of the warm-up and the end of the run, summed over the worker processes), ``/proc`` of
the process tree (CPU; peak RSS of the largest process; PSS of all) and the SQLite
database (recorded latency of the probes started in the measured window). Exit status is 0
whatever the figures; only a crash of the bench or of a process under test gives 1.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
BLACKBOX = shutil.which("prometheus-blackbox-exporter") or "/usr/bin/prometheus-blackbox-exporter"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
PACKAGES = {NGINX: "nginx", BLACKBOX: "prometheus-blackbox-exporter", WRK: "wrk"}
CLK_TCK = os.sysconf("SC_CLK_TCK")
REFERENCE_RATE = 20.0  # requests/s of the reference client
REFERENCE_PATHS = (1, 500, 1000, 1500)

# Targets of the issue.
TARGET_THROUGHPUT_RATIO = 0.8  # Leitstand checks/s over blackbox checks/s, at least
TARGET_CPU_RATIO = 1.5  # Leitstand CPU per check over blackbox CPU per check, at most
TARGET_LAG_P99 = 1.0  # seconds at 200 checks/s
TARGET_RECORDED_MEDIAN = 0.005  # seconds
TARGET_RECORDED_P99 = 0.020  # seconds
TARGET_RSS_MB = 200.0


# -- processes and cleanup ---------------------------------------------------------------------
class Processes:
    """Every process the bench starts; all are stopped on the way out, whatever happens."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, args: Sequence[str], **kwargs) -> subprocess.Popen:
        # Own session: Ctrl-C reaches only the bench, which stops them in order. The
        # parent-death signal covers a bench that is killed outright.
        proc = subprocess.Popen(
            list(args), start_new_session=True, preexec_fn=_die_with_parent, **kwargs
        )
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns the exit code."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                print(f"  pid {proc.pid} ignored SIGTERM for {timeout:g}s; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc in self.procs:
            self.procs.remove(proc)
        return proc.returncode

    def stop_all(self) -> None:
        for proc in reversed(list(self.procs)):
            self.stop(proc, timeout=10.0)


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free ports on 127.0.0.1."""
    while True:
        base = free_port()
        with contextlib.ExitStack() as stack:
            try:
                for port in range(base, base + count):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return base


def wait_for_http(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode} during start-up")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                response.read()
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:g}s")


def http_get(url: str, timeout: float = 30.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read().decode()


# -- /proc -------------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and of its waited-for children, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state): utime, stime, cutime, cstime are fields 14 to 17.
    return sum(int(v) for v in fields[11:15]) / CLK_TCK


def status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


def peak_rss_mb(pid: int) -> float:
    return status_field(pid, "VmHWM") / 1024


def pss_kb(pid: int) -> int:
    """Proportional set size: private pages, plus shared ones divided among their sharers.

    What several processes that share pages (forked workers) use together is the sum of
    their PSS; the sum of their RSS counts every shared page once per process.
    """
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    raise KeyError("Pss")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (nginx: master and workers)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").iterdir():
            with contextlib.suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return pids


def tree_cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            total += cpu_seconds(p)
    return total


def box_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    total = sum(values[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


# -- statistics --------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) with linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def histogram_quantile(buckets: list[tuple[float, float]], q: float) -> tuple[float | None, bool]:
    """Like PromQL's histogram_quantile over cumulative (le, count) buckets.

    Interpolates linearly within the bucket the rank falls in. Returns (value, beyond): when
    the rank lies in the +Inf bucket the value is the highest finite bound and ``beyond``
    is True (the real quantile is larger).
    """
    buckets = sorted(buckets)
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return None, False
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return prev_le, True
            if count == prev_count:
                return le, False
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count), False
        prev_le, prev_count = le, count
    return prev_le, True


@dataclass
class Scrape:
    runs: dict[str, float]  # by result
    lag_buckets: dict[float, float]
    lag_count: float
    lag_sum: float


def merge(scrapes: list[Scrape]) -> Scrape:
    """The sum of several workers' scrapes."""
    total = Scrape({}, {}, 0.0, 0.0)
    for one in scrapes:
        for key, value in one.runs.items():
            total.runs[key] = total.runs.get(key, 0.0) + value
        for le, value in one.lag_buckets.items():
            total.lag_buckets[le] = total.lag_buckets.get(le, 0.0) + value
        total.lag_count += one.lag_count
        total.lag_sum += one.lag_sum
    return total


def scrape(url: str) -> Scrape:
    runs: dict[str, float] = {}
    buckets: dict[float, float] = {}
    count = total = 0.0
    for line in http_get(url).splitlines():
        if line.startswith("leitstand_probe_runs_total{"):
            labels, value = line.rsplit(" ", 1)
            result = labels.split('result="', 1)[1].split('"', 1)[0]
            runs[result] = runs.get(result, 0.0) + float(value)
        elif line.startswith("leitstand_probe_lag_seconds_bucket{"):
            labels, value = line.rsplit(" ", 1)
            le = labels.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(le)] = float(value)
        elif line.startswith("leitstand_probe_lag_seconds_count"):
            count = float(line.rsplit(" ", 1)[1])
        elif line.startswith("leitstand_probe_lag_seconds_sum"):
            total = float(line.rsplit(" ", 1)[1])
    return Scrape(runs, buckets, count, total)


# -- results -----------------------------------------------------------------------------------
@dataclass
class Side:
    name: str
    seconds: float = 0.0
    checks: float = 0.0
    checks_per_s: float = 0.0
    failures: float = 0.0
    cpu_seconds: float = 0.0
    cpu_per_1000: float | None = None
    cores_used: float = 0.0
    peak_rss_mb: float = 0.0
    """The largest process's peak."""
    rss_sum_mb: float | None = None
    pss_mb: float | None = None
    """All processes together at the end of the run, shared pages divided (see pss_kb)."""
    threads: int | None = None
    lag_p50: float | None = None
    lag_p99: float | None = None
    lag_p99_beyond: bool = False
    lag_mean: float | None = None
    status_changes: int | None = None
    recorded_rows: int = 0
    recorded_median: float | None = None
    recorded_p99: float | None = None
    true_median: float | None = None
    true_p99: float | None = None
    true_samples: int = 0
    nginx_cpu_seconds: float = 0.0
    driver_cpu_seconds: float | None = None
    box_busy_cores: float = 0.0
    notes: list[str] = field(default_factory=list)


# -- nginx -------------------------------------------------------------------------------------
NGINX_CONF = """\
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


def start_nginx(procs: Processes, tmp: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
    log = (tmp / "nginx.out").open("wb")
    proc = procs.start([NGINX, "-p", str(tmp), "-c", str(conf)], stdout=log, stderr=log)
    wait_for_http(f"http://127.0.0.1:{port}/c/0001", proc, timeout=15)
    return proc, port


def target_url(port: int, i: int) -> str:
    return f"http://127.0.0.1:{port}/c/{i:04d}"


# -- blackbox ----------------------------------------------------------------------------------
BLACKBOX_CONF = """\
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      valid_status_codes: [200]
"""

WRK_LUA = """\
local n = {n}
local i = 0
request = function()
    i = i % n + 1
    return wrk.format("GET", string.format(
        "/probe?module=http_2xx&target=http://127.0.0.1:{port}/c/%04d", i))
end
"""


def run_blackbox(
    procs: Processes, tmp: Path, nginx: subprocess.Popen, target_port: int, args
) -> Side:
    side = Side("blackbox")
    (tmp / "blackbox.yml").write_text(BLACKBOX_CONF)
    (tmp / "rotate.lua").write_text(WRK_LUA.format(n=args.components, port=target_port))
    port = free_port()
    log = (tmp / "blackbox.log").open("wb")
    proc = procs.start(
        [
            BLACKBOX,
            f"--config.file={tmp / 'blackbox.yml'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for_http(f"{base}/metrics", proc, timeout=30)
    sample = http_get(f"{base}/probe?module=http_2xx&target={target_url(target_port, 1)}")
    if "probe_success 1" not in sample:
        raise RuntimeError(f"blackbox probe of nginx failed:\n{sample}")

    def wrk(seconds: int) -> tuple[str, float]:
        out = tmp / "wrk.out"
        with out.open("wb") as fh:
            cmd = [WRK, "-t2", "-c32", f"-d{seconds}s", "-s", str(tmp / "rotate.lua"), base]
            child = procs.start(cmd, stdout=fh, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
            procs.procs.remove(child)
        if child.returncode != 0:
            raise RuntimeError(f"wrk exited with {child.returncode}:\n{out.read_text()}")
        return out.read_text(), usage.ru_utime + usage.ru_stime

    print(f"  blackbox: warm-up {args.blackbox_warmup}s, then wrk -t2 -c32 -d{args.duration}s")
    wrk(args.blackbox_warmup)
    cpu0, nginx0, box0 = cpu_seconds(proc.pid), tree_cpu_seconds(nginx.pid), box_busy_seconds()
    started = time.monotonic()
    report, wrk_cpu = wrk(args.duration)
    side.seconds = time.monotonic() - started
    cpu1, nginx1, box1 = cpu_seconds(proc.pid), tree_cpu_seconds(nginx.pid), box_busy_seconds()
    side.peak_rss_mb = peak_rss_mb(proc.pid)
    side.rss_sum_mb = status_field(proc.pid, "VmRSS") / 1024
    side.pss_mb = pss_kb(proc.pid) / 1024
    side.threads = status_field(proc.pid, "Threads")
    procs.stop(proc)

    requests = errors = 0.0
    for line in report.splitlines():
        words = line.split()
        if line.strip().startswith("Requests/sec:"):
            side.checks_per_s = float(words[-1])
        elif "requests in" in line:
            requests = float(words[0])
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            errors += float(words[-1])
        elif line.strip().startswith("Socket errors:"):
            errors += sum(float(w.rstrip(",")) for w in words[3::2])
    side.checks = requests
    side.failures = errors
    side.cpu_seconds = cpu1 - cpu0
    side.cpu_per_1000 = 1000 * side.cpu_seconds / requests if requests else None
    side.cores_used = side.cpu_seconds / side.seconds
    side.nginx_cpu_seconds = nginx1 - nginx0
    side.driver_cpu_seconds = wrk_cpu
    side.box_busy_cores = (box1[0] - box0[0]) / side.seconds
    side.notes.append(f"wrk itself used {wrk_cpu:.1f} CPU-s of the same 2 cores")
    return side


# -- Leitstand ---------------------------------------------------------------------------------
def leitstand_config(path: Path, args, target_port: int, interval: float) -> None:
    """The config: 5s timeouts as in the issue, but shorter than the interval (a rule)."""
    timeout = f"{min(5000, int(interval * 900))}ms"
    lines = ["site: {title: Probe bench, url: http://127.0.0.1}"]
    if args.concurrency:
        lines.append(f"scheduler: {{concurrency: {args.concurrency}}}")
    lines.append("components:")
    for i in range(1, args.components + 1):
        lines += [
            f"  - id: c{i:04d}",
            f"    name: Component {i}",
            "    probes:",
            f"      - {{type: http, url: '{target_url(target_port, i)}', interval: {interval:g}s,"
            f" timeout: {timeout}, expect: {{status: [200]}}}}",
        ]
    path.write_text("\n".join(lines) + "\n")


def sqlite_time(moment: datetime) -> str:
    """How SQLAlchemy stores a UTC datetime in SQLite (naive text), for comparisons."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def run_leitstand(
    procs: Processes,
    tmp: Path,
    nginx: subprocess.Popen,
    target_port: int,
    args,
    *,
    name: str,
    interval: float,
    reference: bool,
) -> Side:
    side = Side(name)
    work = tmp / name
    work.mkdir()
    config = work / "status.yaml"
    leitstand_config(config, args, target_port, interval)
    db = work / "bench.db"
    env = {
        **os.environ,
        "STATUS_CONFIG": str(config),
        "DATABASE_URL": f"sqlite:///{db}",
        "SECRET_KEY": secrets.token_urlsafe(36),  # 48 characters
        "LOG_LEVEL": "INFO",
    }
    flask = str(VENV_BIN / "flask")
    subprocess.run(
        [flask, "--app", "app", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
    )
    port = free_ports(args.processes)
    log = (work / "probes.log").open("wb")
    proc = procs.start(
        [
            *args.probes_command,
            "--app",
            "app",
            "probes",
            "run",
            "--processes",
            str(args.processes),
            "--metrics",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    endpoints = [f"http://127.0.0.1:{port + n}/metrics" for n in range(args.processes)]
    for metrics in endpoints:
        wait_for_http(metrics, proc, timeout=60)
    print(
        f"  {name}: {args.components} components every {interval:g}s"
        f" ({args.processes} worker process(es)); warm-up {args.warmup}s"
    )
    time.sleep(args.warmup)

    ref = None
    if reference:
        ref_out = work / "reference.json"
        urls = [target_url(target_port, i) for i in REFERENCE_PATHS if i <= args.components]
        ref = procs.start(
            [
                sys.executable,
                __file__,
                "--reference",
                str(ref_out),
                "--duration",
                str(args.duration),
                *urls,
            ],
            stdout=subprocess.DEVNULL,
        )

    def measure() -> tuple[Scrape, float, float, tuple[float, float]]:
        scrapes = [scrape(metrics) for metrics in endpoints]
        cpu = tree_cpu_seconds(proc.pid)
        return merge(scrapes), cpu, tree_cpu_seconds(nginx.pid), box_busy_seconds()

    first, cpu0, nginx0, box0 = measure()
    wall0, started = datetime.now(UTC), time.monotonic()
    print(f"  {name}: measuring {args.duration}s")
    time.sleep(args.duration)
    last, cpu1, nginx1, box1 = measure()
    wall1 = datetime.now(UTC)
    side.seconds = time.monotonic() - started
    tree = process_tree(proc.pid)
    side.peak_rss_mb = max(peak_rss_mb(pid) for pid in tree)
    side.rss_sum_mb = sum(status_field(pid, "VmRSS") for pid in tree) / 1024
    side.pss_mb = sum(pss_kb(pid) for pid in tree) / 1024
    side.threads = sum(status_field(pid, "Threads") for pid in tree)
    code = procs.stop(proc, timeout=60.0)
    if code != 0:
        side.notes.append(f"probes run exited with {code} (negative: killed by a signal)")

    side.checks = sum(last.runs.values()) - sum(first.runs.values())
    side.failures = side.checks - (last.runs.get("success", 0) - first.runs.get("success", 0))
    side.checks_per_s = side.checks / side.seconds
    side.cpu_seconds = cpu1 - cpu0
    side.cpu_per_1000 = 1000 * side.cpu_seconds / side.checks if side.checks else None
    side.cores_used = side.cpu_seconds / side.seconds
    side.nginx_cpu_seconds = nginx1 - nginx0
    side.box_busy_cores = (box1[0] - box0[0]) / side.seconds
    buckets = [
        (le, last.lag_buckets[le] - first.lag_buckets.get(le, 0.0)) for le in last.lag_buckets
    ]
    side.lag_p50, _ = histogram_quantile(buckets, 0.5)
    side.lag_p99, side.lag_p99_beyond = histogram_quantile(buckets, 0.99)
    lag_count = last.lag_count - first.lag_count
    side.lag_mean = (last.lag_sum - first.lag_sum) / lag_count if lag_count else None

    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT latency_seconds FROM probe_results WHERE started_at >= ? AND started_at < ?"
            " AND latency_seconds IS NOT NULL",
            (sqlite_time(wall0), sqlite_time(wall1)),
        ).fetchall()
        side.status_changes = conn.execute(
            "SELECT count(*) FROM component_changes WHERE at >= ? AND at < ?",
            (sqlite_time(wall0), sqlite_time(wall1)),
        ).fetchone()[0]
    latencies = [r[0] for r in rows]
    side.recorded_rows = len(latencies)
    side.recorded_median = percentile(latencies, 0.5)
    side.recorded_p99 = percentile(latencies, 0.99)

    if ref is not None:
        try:
            ref.wait(30)
        except subprocess.TimeoutExpired:
            side.notes.append("reference client overran")
        procs.stop(ref)
        if ref_out.exists():
            true = json.loads(ref_out.read_text())
            side.true_samples = len(true)
            side.true_median = percentile(true, 0.5)
            side.true_p99 = percentile(true, 0.99)
    return side


def reference_client(out: Path, duration: float, urls: list[str]) -> None:
    """The true latency: a plain single-threaded requests.Session at ~REFERENCE_RATE/s.

    Records ``response.elapsed`` (send to headers parsed), the same quantity the http probe
    stores as latency_seconds, but from a process with nothing else to do.
    """
    import requests

    session = requests.Session()
    samples: list[float] = []
    start = time.monotonic()
    n = 0
    while (now := time.monotonic()) < start + duration:
        due = start + n / REFERENCE_RATE
        if due > now:
            time.sleep(due - now)
        with contextlib.suppress(requests.RequestException):
            response = session.get(urls[n % len(urls)], timeout=5)
            if response.status_code == 200:
                samples.append(response.elapsed.total_seconds())
        n += 1
    out.write_text(json.dumps(samples))


# -- report ------------------------------------------------------------------------------------
def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


def num(value: float | None, fmt: str = ".1f") -> str:
    return "-" if value is None else format(value, fmt)


def verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else "PASS" if ok else "FAIL"


def other_load(side: Side) -> float | None:
    """Cores the rest of the machine used meanwhile: noise from outside the bench."""
    if not side.seconds:
        return None
    ours = side.cpu_seconds + side.nginx_cpu_seconds + (side.driver_cpu_seconds or 0.0)
    return max(0.0, side.box_busy_cores - ours / side.seconds)


def report(sides: dict[str, Side], args) -> list[tuple[str, str, bool | None]]:
    """Print the table and the targets; returns (target, figure, passed)."""
    cols = [s for s in (sides.get(k) for k in ("blackbox", "saturation", "paced")) if s]
    rows = [
        ("checks/s", lambda s: num(s.checks_per_s)),
        ("failed checks", lambda s: num(s.failures, ".0f")),
        ("CPU-s / 1000 checks", lambda s: num(s.cpu_per_1000, ".3f")),
        ("cores used", lambda s: num(s.cores_used, ".2f")),
        ("box busy (cores)", lambda s: num(s.box_busy_cores, ".2f")),
        ("other load (cores)", lambda s: num(other_load(s), ".2f")),
        ("status changes", lambda s: num(s.status_changes, "d")),
        ("nginx CPU-s", lambda s: num(s.nginx_cpu_seconds, ".1f")),
        ("peak RSS (largest proc.)", lambda s: f"{s.peak_rss_mb:.0f} MB"),
        ("RSS, all processes", lambda s: num(s.rss_sum_mb, ".0f")),
        ("PSS, all processes", lambda s: num(s.pss_mb, ".0f")),
        ("threads", lambda s: num(s.threads, "d")),
        (
            "lag p50 / p99",
            lambda s: (
                "-"
                if s.lag_p50 is None
                else f"{ms(s.lag_p50)} / {'>' if s.lag_p99_beyond else ''}{ms(s.lag_p99)}"
            ),
        ),
        ("recorded lat. p50/p99", lambda s: f"{ms(s.recorded_median)} / {ms(s.recorded_p99)}"),
        ("true lat. p50/p99", lambda s: f"{ms(s.true_median)} / {ms(s.true_p99)}"),
    ]
    print()
    print(f"code under test: {code_version()}")
    print(
        f"{args.components} components, {args.duration}s measured per phase "
        f"(after {args.warmup}s warm-up); saturation = interval {args.saturation_interval:g}s,"
        f" paced = interval 10s; Leitstand: probes run --processes {args.processes}"
    )
    print(f"{'':24}" + "".join(f"{s.name:>22}" for s in cols))
    for label, show in rows:
        print(f"{label:24}" + "".join(f"{show(s):>22}" for s in cols))
    for s in cols:
        for note in s.notes:
            print(f"  note ({s.name}): {note}")
    print("  lag quantiles are interpolated linearly within the histogram buckets")
    print("  blackbox: wrk (the load driver) shares the 2 cores with the exporter and nginx")

    bb, sat, paced = sides.get("blackbox"), sides.get("saturation"), sides.get("paced")
    targets: list[tuple[str, str, bool | None]] = []
    if bb and sat and bb.checks_per_s:
        ratio = sat.checks_per_s / bb.checks_per_s
        ok = ratio >= TARGET_THROUGHPUT_RATIO
        targets.append(("throughput Leitstand/blackbox >= 0.8", f"{ratio:.2f}", ok))
    if bb and sat and bb.cpu_per_1000 and sat.cpu_per_1000:
        ratio = sat.cpu_per_1000 / bb.cpu_per_1000
        targets.append(("CPU per check ratio <= 1.5", f"{ratio:.2f}", ratio <= TARGET_CPU_RATIO))
    if paced:
        p99 = paced.lag_p99
        targets.append(
            (
                "lag p99 at 200/s < 1 s",
                ("> " if paced.lag_p99_beyond else "") + ms(p99),
                None if p99 is None else (p99 < TARGET_LAG_P99 and not paced.lag_p99_beyond),
            )
        )
        med, p99r = paced.recorded_median, paced.recorded_p99
        targets.append(
            (
                "recorded latency median < 5 ms",
                f"{ms(med)} (true {ms(paced.true_median)})",
                None if med is None else med < TARGET_RECORDED_MEDIAN,
            )
        )
        targets.append(
            (
                "recorded latency p99 < 20 ms",
                f"{ms(p99r)} (true {ms(paced.true_p99)})",
                None if p99r is None else p99r < TARGET_RECORDED_P99,
            )
        )
        targets.append(
            (
                "paced phase keeps up with 200/s (demand)",
                f"{paced.checks_per_s:.1f}/s",
                paced.checks_per_s >= 0.95 * args.components / 10,
            )
        )
    # Several forked processes share pages: what they use together is their PSS.
    memory = max((max(s.peak_rss_mb, s.pss_mb or 0) for s in (sat, paced) if s), default=None)
    if memory is not None:
        targets.append(
            (
                f"memory < 200 MB ({args.components} comp.)",
                f"{memory:.0f} MB",
                memory < TARGET_RSS_MB,
            )
        )
    print()
    for name, figure, ok in targets:
        print(f"  {verdict(ok)}  {name:44} {figure}")
    return targets


def code_version() -> str:
    """The commit under test, with '+dirty' when probes/ or status/ have local changes."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "probes", "status", "app.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (rev or "unknown") + ("+dirty" if dirty else "")


# -- main --------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds measured per phase")
    parser.add_argument("--quick", action="store_true", help="15 s per phase (smoke run)")
    parser.add_argument("--warmup", type=int, default=20, help="seconds before measuring")
    parser.add_argument("--components", type=int, default=2000)
    parser.add_argument(
        "--concurrency", type=int, default=0, help="scheduler.concurrency (default: the app's)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="probes run --processes N (default: one per core)",
    )
    parser.add_argument(
        "--saturation-interval",
        type=float,
        default=0.5,
        help="probe interval of the saturation phase (seconds)",
    )
    parser.add_argument(
        "--phases",
        default="blackbox,saturation,paced",
        help="comma-separated subset of blackbox, saturation, paced",
    )
    parser.add_argument(
        "--probes-command",
        default=str(VENV_BIN / "flask"),
        help="command that stands for `flask` when starting `probes run` (for experiments"
        " and profilers, e.g. 'py-spy record -o prof.svg -- .venv/bin/flask')",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, DBs)")
    parser.add_argument("--reference", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("urls", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.duration = 15
    args.blackbox_warmup = min(5, args.warmup)
    args.probes_command = shlex.split(args.probes_command)
    return args


@contextlib.contextmanager
def bench_environment(keep: bool) -> Iterator[tuple[Processes, Path]]:
    procs = Processes()
    tmp = Path(tempfile.mkdtemp(prefix="leitstand-bench-"))
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started as ignored
    try:
        yield procs, tmp
    finally:
        # No second Ctrl-C may cut the cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        procs.stop_all()
        if keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, signal.default_int_handler)


def ensure_tools() -> None:
    """Install the Debian packages the bench runs, where missing (as root), or say how."""
    missing = sorted({pkg for path, pkg in PACKAGES.items() if not Path(path).exists()})
    if not missing:
        return
    command = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit(f"missing {', '.join(missing)}: install them with `{' '.join(command)}`")
    print(f"installing {', '.join(missing)} (Debian packages)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(command, check=True, env=env)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.reference:
        reference_client(args.reference, args.duration, args.urls)
        return 0
    ensure_tools()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - {"blackbox", "saturation", "paced"}
    if unknown:
        print(f"unknown phases: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    sides: dict[str, Side] = {}
    try:
        with bench_environment(args.keep) as (procs, tmp):
            nginx, port = start_nginx(procs, tmp)
            print(f"nginx on 127.0.0.1:{port}, temp dir {tmp}")
            if "blackbox" in phases:
                sides["blackbox"] = run_blackbox(procs, tmp, nginx, port, args)
            if "saturation" in phases:
                sides["saturation"] = run_leitstand(
                    procs,
                    tmp,
                    nginx,
                    port,
                    args,
                    name="saturation",
                    interval=args.saturation_interval,
                    reference=False,
                )
            if "paced" in phases:
                sides["paced"] = run_leitstand(
                    procs, tmp, nginx, port, args, name="paced", interval=10.0, reference=True
                )
    except KeyboardInterrupt:
        print("interrupted; processes stopped and temp dir removed", file=sys.stderr)
        return 130
    targets = report(sides, args)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "code": code_version(),
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "sides": {k: asdict(v) for k, v in sides.items()},
                    "targets": [{"target": t, "figure": f, "pass": ok} for t, f, ok in targets],
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
