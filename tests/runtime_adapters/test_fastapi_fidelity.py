"""Fidelity: codetrace's FastAPI server spans cover OpenTelemetry's on one realistic program.

``fixtures/fidelity/fastapi_shop/shop.py`` (uvicorn on 127.0.0.1 in a thread; an httpx client
calling routes with path parameters, an included router, a 404, a 405, a failing handler, a
503, a background task, a streamed response, a health check; a WebSocket) runs twice, each in
its own process, with ``OTEL_PYTHON_EXCLUDED_URLS=health``: under OpenTelemetry's
``FastAPIInstrumentor`` (instrumented before the program is imported, its best case) with
``OTEL_SEMCONV_STABILITY_OPT_IN=http``, and after ``codetrace apply --out``. SERVER spans are
paired by method and path and compared: name, route, status code, status, the request's
attributes. The documented differences (``_asgi``'s docstring, docs/runtime-contract.md) are
asserted too, so a change on either side shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fidelity import instrumented_copy, otel_script, run_both

pytestmark = pytest.mark.slow

PROGRAM = Path(__file__).parents[2] / "fixtures" / "fidelity" / "fastapi_shop"

UNDER_OPENTELEMETRY = otel_script(
    "from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor",
    "FastAPIInstrumentor().instrument()",
)

STABLE = (
    "http.request.method", "url.scheme", "url.path", "url.query", "http.route",
    "network.protocol.version", "user_agent.original", "client.address", "client.port",
    "server.port",
)


def _key(span: dict[str, Any]) -> tuple[str, str]:
    attributes = span["attributes"]
    return attributes.get("http.request.method", "-"), attributes["url.path"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("fidelity")
    out = instrumented_copy(PROGRAM, root / "instrumented")
    return run_both(UNDER_OPENTELEMETRY, PROGRAM / "shop.py", out / "shop.py", [], root,
                    warnings_are_errors=False, stability="http",
                    env={"OTEL_PYTHON_EXCLUDED_URLS": "health"})


def test_the_program_was_instrumented_where_the_app_is_built(runs: dict[str, Any]) -> None:
    source = runs["source"]
    assert 'app = FastAPI(title="shop")\n_codetrace.hooks.starlette(app)\n' in source
    assert source.count("_codetrace.hooks.") == 1
    otel_output, ours_output = runs["outputs"]
    assert ours_output == otel_output  # same behaviour
    assert "GET /boom 500 Internal Server Error" in ours_output
    assert "ws: lobby:hi" in ours_output


def test_codetrace_covers_every_opentelemetry_server_span(runs: dict[str, Any]) -> None:
    theirs = {_key(s): s for s in runs["otel"] if s["kind"] == "SERVER"}
    ours = {_key(s): s for s in runs["ours"] if s["kind"] == "SERVER"}
    assert len(theirs) == 9  # the health check excluded by both
    assert ours.keys() == theirs.keys()
    assert ("GET", "/health") not in ours
    for key, other in theirs.items():
        mine = ours[key]
        assert mine["name"] == other["name"], key
        assert mine["status"]["code"] == other["status"]["code"], key
        a, b = mine["attributes"], other["attributes"]
        for name in STABLE:
            if name in ("client.port", "server.port"):  # each run has its own ports
                assert (name in a) == (name in b), (key, name)
            else:
                assert a.get(name) == b.get(name), (key, name)
        if key[0] != "-":
            assert a["http.response.status_code"] == b["http.response.status_code"]
        assert [e["name"] for e in mine["events"]] == other["events"]


def test_one_connected_trace_per_request(runs: dict[str, Any]) -> None:
    spans = runs["ours"]
    by_id = {s["span_id"]: s for s in spans}
    servers = [s for s in spans if s["kind"] == "SERVER" and _key(s)[0] != "-"]
    for server in servers:  # the httpx client of the program is traced at construction
        client = by_id[server["parent_span_id"]]
        assert client["kind"] == "CLIENT"
        assert client["trace_id"] == server["trace_id"]


def test_the_documented_differences(runs: dict[str, Any]) -> None:
    theirs, ours = runs["otel"], runs["ours"]
    # no span per ASGI send/receive event, and none per background task
    assert sum(s["kind"] == "INTERNAL" for s in theirs) >= 20
    assert [s for s in ours if s["kind"] == "INTERNAL"] == []
    assert any(s["name"] == "BackgroundTask set" for s in theirs)
    them = {_key(s): s["attributes"] for s in theirs if s["kind"] == "SERVER"}
    us = {_key(s): s["attributes"] for s in ours if s["kind"] == "SERVER"}
    # server.address without the port (OpenTelemetry copies the Host header, port included)
    (address,) = {a["server.address"] for a in us.values()}
    assert address == "127.0.0.1"
    assert all(a["server.address"] == f"127.0.0.1:{a['server.port']}" for a in them.values())
    # an exception names its class, where OpenTelemetry says "500"
    assert us["GET", "/boom"]["error.type"] == "ValueError"
    assert them["GET", "/boom"]["error.type"] == "500"
    # a WebSocket has no HTTP status: OpenTelemetry writes 200 for its accept
    assert "http.response.status_code" not in us["-", "/ws/lobby"]
    assert them["-", "/ws/lobby"]["http.response.status_code"] == 200
    # codetrace adds the peer (network.peer.*), as its Flask hook does
    assert all("network.peer.address" in a for a in us.values())
