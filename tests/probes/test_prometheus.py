"""The Prometheus probe against a loopback server giving answers recorded from Prometheus
2.42 (tests/probes/servers.py); tests/test_prometheus_integration.py asks a real one."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from probes import prometheus
from status.config import PrometheusProbe
from tests.probes.servers import HttpServer, SilentServer, closed_port, make_cert

SHORT = 0.5  # the timeout where a test waits for it
TS = 1796286123.799


def vector(*samples: tuple[dict, str]) -> dict:
    result = [{"metric": labels, "value": [TS, value]} for labels, value in samples]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def scalar(value: str) -> dict:
    return {"status": "success", "data": {"resultType": "scalar", "result": [TS, value]}}


def error(kind: str, text: str) -> dict:
    return {"status": "error", "errorType": kind, "error": text}


UP_A = {"__name__": "up", "instance": "a", "job": "api"}
ANSWERS: dict[str, tuple[int, dict | str]] = {
    "ok": (200, vector(({"instance": "a"}, "0.01"), ({"instance": "b"}, "0.049"))),
    "above": (200, vector(({"instance": "a"}, "0.12"), ({"instance": "b"}, "0.01"))),
    "all-above": (200, vector(*[({"instance": f"i{n}"}, "0.5") for n in range(3)])),
    "named": (200, vector((UP_A, "0"))),
    "empty": (200, vector()),
    "nan": (200, vector(({"instance": "a"}, "NaN"))),
    "inf": (200, vector(({"instance": "a"}, "+Inf"))),
    "scalar": (200, scalar("0.01")),
    "scalar-nan": (200, scalar("NaN")),
    "matrix": (200, {"status": "success", "data": {"resultType": "matrix", "result": []}}),
    "string": (200, {"status": "success", "data": {"resultType": "string", "result": [TS, "a"]}}),
    "bad-query": (
        400,
        error("bad_data", 'invalid parameter "query": 1:4: parse error: unexpected end of input'),
    ),
    "too-slow": (503, error("timeout", "query timed out in expression evaluation")),
    "too-big": (
        422,
        error("execution", "query processing would load too many samples into memory"),
    ),
    "crash": (500, "internal server error"),
    "not-prometheus": (200, "<html>Grafana</html>"),
    "histogram": (200, vector(({"instance": "a"}, None))),
}


@pytest.fixture(scope="module")
def server():
    with HttpServer() as server:
        for name, (status, answer) in ANSWERS.items():
            path = f"/{name}{prometheus.API_PATH}"
            if isinstance(answer, dict):
                server.reply(path, status=status, json_body=answer)
            else:
                server.reply(path, status=status, body=answer)
        yield server


def spec(url: str, value="< 0.05", **fields) -> PrometheusProbe:
    expect = {"value": value, **fields.pop("expect", {})}
    return PrometheusProbe.model_validate(
        {"type": "prometheus", "url": url, "query": "up", "expect": expect, **fields}
    )


def run(url: str, timeout: float = 5.0, **fields):
    return prometheus.probe(spec(url, **fields), timeout=timeout)


@pytest.mark.parametrize(
    ("case", "fields", "error"),
    [
        ("ok", {}, None),
        ("above", {}, 'value 0.12 not < 0.05 for {instance="a"}'),
        ("all-above", {}, 'value 0.5 not < 0.05 for {instance="i0"} (and 2 more of 3)'),
        ("named", {"value": "== 1"}, 'value 0 not == 1 for up{instance="a", job="api"}'),
        ("named", {"value": 0}, None),
        ("named", {"value": "!= 0"}, 'value 0 not != 0 for up{instance="a", job="api"}'),
        ("ok", {"value": ">= 0.01"}, None),
        ("ok", {"value": "> 0.01"}, 'value 0.01 not > 0.01 for {instance="a"}'),
        ("ok", {"value": "< 0.049"}, 'value 0.049 not < 0.049 for {instance="b"}'),
        ("ok", {"value": "<= 0.049"}, None),
        ("empty", {}, "no data: the query returned no samples"),
        ("empty", {"expect": {"no_data": "ok"}}, None),
        ("nan", {}, 'value NaN is not a finite number for {instance="a"}'),
        ("nan", {"value": "!= 1"}, 'value NaN is not a finite number for {instance="a"}'),
        ("inf", {"value": "> 0"}, 'value +Inf is not a finite number for {instance="a"}'),
        ("scalar", {}, None),
        ("scalar", {"value": "> 1"}, "value 0.01 not > 1"),
        ("scalar-nan", {}, "value NaN is not a finite number"),
        ("matrix", {}, "the query returned a range vector: expected an instant vector or a scalar"),
        ("string", {}, "the query returned a string: expected an instant vector or a scalar"),
        (
            "bad-query",
            {},
            'query failed: bad_data: invalid parameter "query": 1:4: parse error: '
            "unexpected end of input",
        ),
        ("too-slow", {}, "query failed: timeout: query timed out in expression evaluation"),
        (
            "too-big",
            {},
            "query failed: execution: query processing would load too many samples into memory",
        ),
        ("crash", {}, "status 500 from Prometheus"),
        ("nowhere", {}, "status 404 from Prometheus"),
        ("not-prometheus", {}, "answer is not from the Prometheus query API: check url"),
        ("histogram", {}, 'no single value for {instance="a"}: expected a number'),
    ],
)
def test_it_judges_every_sample(server, case, fields, error):
    result = run(f"{server.url}/{case}", **fields)
    assert (result.ok, result.error) == (error is None, error)
    assert 0 < result.latency_seconds <= result.duration_seconds < 1
    assert result.http_status_code is None  # it is not an HTTP check: no probe_http_* series


def test_it_asks_the_query_api_with_the_query_a_deadline_and_the_headers(server):
    fields = {"headers": {"Authorization": "Bearer s3cret"}}
    query = 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(x[5m]))'
    probe = spec(f"{server.url}/ok/", **fields).model_copy(update={"query": query})
    assert prometheus.probe(probe, timeout=2.0).ok
    request = server.requests_to(f"/ok{prometheus.API_PATH}")[-1]
    params = parse_qs(urlsplit(request.path).query)
    assert params["query"] == [query]
    assert 1.5 < float(params["timeout"][0]) < 2.0  # Prometheus gives up before we do
    assert "time" not in params  # the server's now
    assert request.method == "GET"
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert request.headers["Accept"] == "application/json"


def test_it_fails_on_a_timeout_within_the_deadline():
    with SilentServer() as silent:
        started = time.perf_counter()
        result = run(f"http://127.0.0.1:{silent.port}", timeout=SHORT)
    assert (result.ok, result.error) == (False, f"timed out after {SHORT:g}s")
    assert SHORT <= time.perf_counter() - started < SHORT + 0.5


def test_it_fails_on_a_refused_connection():
    result = run(f"http://127.0.0.1:{closed_port()}")
    assert (result.ok, result.error) == (False, "connection refused")


def test_it_verifies_tls_and_trusts_a_given_ca(tmp_path):
    cert = make_cert(tmp_path)
    with HttpServer(tls=cert) as https:
        https.reply(f"/ok{prometheus.API_PATH}", json_body=ANSWERS["ok"][1])
        url = f"{https.url}/ok"
        refused = run(url)
        trusted = run(url, ca_file=str(cert.ca_file))
        unverified = run(url, verify_tls=False)
    assert not refused.ok and refused.error.startswith("TLS certificate verify failed")
    assert (trusted.ok, trusted.error) == (True, None)
    assert (unverified.ok, unverified.error) == (True, None)


def test_it_shortens_long_label_sets():
    labels = {"__name__": "up", **{f"label_{n}": "x" * 20 for n in range(10)}}
    text = prometheus.series(labels)
    assert len(text) == prometheus.LABELS_LIMIT and text.endswith("...}")
    assert prometheus.series({"a": 'say "hi"'}) == '{a="say \\"hi\\""}'


NOT_THE_API = "answer is not from the Prometheus query API: check url"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"status": "success"}, NOT_THE_API),
        ({"status": "success", "data": []}, NOT_THE_API),
        ({"status": "success", "data": {"resultType": "vector", "result": [1]}}, NOT_THE_API),
        ({"status": "success", "data": {"resultType": "vector", "result": {}}}, NOT_THE_API),
        ({"status": "success", "data": {"resultType": "scalar", "result": "1"}}, NOT_THE_API),
        ({"status": "success", "data": {"resultType": "other", "result": []}}, NOT_THE_API),
        (
            {"status": "success", "data": {"resultType": "vector", "result": [{"metric": 1}]}},
            NOT_THE_API,
        ),
        (vector(({"a": 1}, [])), "value '[]' is not a number for {a=\"1\"}"),
        (vector(({}, "one")), "value 'one' is not a number for {}"),
        ({"status": "error"}, "query failed: error"),
        ([1, 2], NOT_THE_API),
        ("not json", NOT_THE_API),
    ],
)
def test_it_names_answers_it_cannot_judge_and_never_raises(body, error):
    text = body if isinstance(body, str) else json.dumps(body)
    expect = spec("http://p").expect
    assert prometheus.judge(expect, 200, text.encode(), truncated=False) == error


def test_a_cut_off_answer_is_too_big_not_broken():
    expect = spec("http://p").expect
    error = prometheus.judge(expect, 200, b'{"status": "success", "da', truncated=True)
    assert error == "answer larger than 1 MiB: return fewer series"
