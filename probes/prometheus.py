"""The Prometheus probe: one PromQL instant query, every sample judged against ``expect``.

``GET <url>/api/v1/query?query=...&timeout=...`` (Prometheus's HTTP API, no ``time``: the
server's now). Every sample of an instant vector, or the scalar, must satisfy
``expect.value`` (``< 0.05``, ``== 1``); an empty vector fails unless ``expect.no_data`` is
``ok``. NaN and ±Inf fail whatever the comparison, as does an answer that is not an
instant vector or a scalar: a check that cannot be judged is not a success.

The deadline bounds connect and headers together, then every read of the body (the HTTP
probe's helpers); Prometheus is told to give up a little earlier (``timeout``), so that a
slow query comes back as its own clear error rather than as our timeout.
"""

from __future__ import annotations

import json
import math
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InsecureRequestWarning

from probes.base import Deadline, ProbeResult, failure
from probes.http import BODY_LIMIT, USER_AGENT, read_body, request_error
from status.config import PrometheusExpect, PrometheusProbe

API_PATH = "/api/v1/query"
SERVER_SHARE = 0.9
"""Of what is left of the deadline, the share Prometheus gets for the query itself."""
LABELS_LIMIT = 120
NOT_THE_API = "answer is not from the Prometheus query API: check url"

_local = threading.local()


def probe(spec: PrometheusProbe, *, timeout: float) -> ProbeResult:
    """Run ``spec.query`` on ``spec.url`` and judge the answer within ``timeout`` seconds."""
    started = time.perf_counter()
    try:
        deadline = Deadline(timeout)
        response = _send(spec, deadline)
    except Exception as exc:
        return failure(request_error(exc, timeout), started)
    latency = response.elapsed.total_seconds()
    try:
        body, truncated = read_body(response, deadline)
    except Exception as exc:
        return failure(request_error(exc, timeout), started, latency_seconds=latency)
    finally:
        response.close()
    error = judge(spec.expect, response.status_code, body, truncated)
    if error:
        return failure(error, started, latency_seconds=latency)
    return ProbeResult(
        ok=True, duration_seconds=time.perf_counter() - started, latency_seconds=latency
    )


def _session() -> requests.Session:
    """This thread's session: connections to a Prometheus are reused from run to run."""
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=16, pool_maxsize=2, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _local.session = session
    return session


def _send(spec: PrometheusProbe, deadline: Deadline) -> requests.Response:
    """Send the query and return once the headers are in; the body is left to read."""
    left = deadline.remaining()
    options: dict[str, Any] = {
        "params": {"query": spec.query, "timeout": f"{left * SERVER_SHARE:.3f}"},
        "headers": {"User-Agent": USER_AGENT, "Accept": "application/json", **spec.headers},
        "timeout": urllib3.Timeout(total=left),
        "allow_redirects": False,
        "stream": True,
        "verify": spec.ca_file or True,
    }
    url = spec.url.rstrip("/") + API_PATH
    if spec.verify_tls:
        return _session().get(url, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureRequestWarning)
        return _session().get(url, **{**options, "verify": False})


# -- judging the answer (pure) -------------------------------------------------------------
class _Unusable(Exception):
    """The answer cannot be judged; ``str()`` says why."""


def judge(expect: PrometheusExpect, status: int, body: bytes, truncated: bool) -> str | None:
    """Why the answer fails ``expect``, or None when it passes."""
    try:
        samples = list(_samples(_data(status, body, truncated)))
    except _Unusable as exc:
        return str(exc)
    if not samples:
        return None if expect.no_data == "ok" else "no data: the query returned no samples"
    failing = [
        error for labels, value in samples if (error := _sample_error(expect, labels, value))
    ]
    if not failing:
        return None
    more = f" (and {len(failing) - 1} more of {len(samples)})" if len(failing) > 1 else ""
    return failing[0] + more


def _data(status: int, body: bytes, truncated: bool) -> dict:
    """The ``data`` of a successful API answer; raises _Unusable for anything else."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or answer.get("status") not in ("success", "error"):
        if status != 200:
            raise _Unusable(f"status {status} from Prometheus")
        if truncated:
            raise _Unusable(f"answer larger than {BODY_LIMIT >> 20} MiB: return fewer series")
        raise _Unusable(NOT_THE_API)
    if answer["status"] == "error":
        kind, text = answer.get("errorType") or "error", str(answer.get("error") or "")
        raise _Unusable(f"query failed: {kind}{': ' if text else ''}{text}"[:300])
    if status != 200:
        raise _Unusable(f"status {status} from Prometheus")
    data = answer.get("data")
    if not isinstance(data, dict):
        raise _Unusable(NOT_THE_API)
    return data


def _samples(data: dict) -> Iterator[tuple[dict | None, Any]]:
    """(labels, value) for each sample; labels None for a scalar."""
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        yield None, result[1]
    elif kind == "vector" and isinstance(result, list):
        for sample in result:
            labels, value = _get(sample, "metric") or {}, _get(sample, "value")
            if not isinstance(labels, dict):
                raise _Unusable(NOT_THE_API)
            yield labels, value[1] if isinstance(value, list) and len(value) == 2 else None
    elif kind in ("matrix", "string"):
        what = "a range vector" if kind == "matrix" else "a string"
        raise _Unusable(f"the query returned {what}: expected an instant vector or a scalar")
    else:
        raise _Unusable(NOT_THE_API)


def _get(node: Any, key: str) -> Any:
    if not isinstance(node, dict):
        raise _Unusable(NOT_THE_API)
    return node.get(key)


def _sample_error(expect: PrometheusExpect, labels: dict | None, text: Any) -> str | None:
    where = f" for {series(labels)}" if labels is not None else ""
    if text is None:  # a native histogram has no single value
        return f"no single value{where}: expected a number"
    try:
        value = float(text)
    except (TypeError, ValueError):
        return f"value {str(text)[:40]!r} is not a number{where}"
    if not math.isfinite(value):
        return f"value {text} is not a finite number{where}"
    if expect.value.holds(value):
        return None
    return f"value {text} not {expect.value}{where}"


def series(labels: dict) -> str:
    """A series as PromQL writes it, ``up{instance="a", job="b"}``, shortened if long."""
    name = labels.get("__name__", "")
    pairs = ", ".join(
        f"{key}={json.dumps(str(value), ensure_ascii=False)}"
        for key, value in sorted(labels.items())
        if key != "__name__"
    )
    text = f"{name}{{{pairs}}}"
    return text if len(text) <= LABELS_LIMIT else text[: LABELS_LIMIT - 4] + "...}"
