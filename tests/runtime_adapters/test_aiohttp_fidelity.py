"""Fidelity: codetrace's aiohttp spans cover OpenTelemetry's on one realistic program.

``fixtures/fidelity/aiohttp_shop/shop.py`` (a ``web.Application`` built in a factory and a
``ClientSession`` calling it: a route template, 404s, a handler that raises, a redirect, a POST
with a secret in the query, a refused connection) runs twice, each in its own process, all on
127.0.0.1: under OpenTelemetry's aiohttp client and server instrumentors (instrumented before the
program is imported, their best case) with ``OTEL_SEMCONV_STABILITY_OPT_IN=http``, and after
``codetrace apply --out``. Spans are paired in order, CLIENT with CLIENT and SERVER with SERVER,
and compared attribute by attribute on the stable HTTP conventions. The differences are
asserted too (documented in ``_aiohttp_server``/``_aiohttp_client``), so a change on either
side shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fidelity import instrumented_copy, otel_script, run_both

pytestmark = pytest.mark.slow

PROGRAM = Path(__file__).parents[2] / "fixtures" / "fidelity" / "aiohttp_shop"

UNDER_OPENTELEMETRY = otel_script(
    "from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor\n"
    "from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor",
    "AioHttpClientInstrumentor().instrument()\nAioHttpServerInstrumentor().instrument()",
)

# the stable HTTP attributes both sides set, by span kind
CLIENT_SHARED = ("http.request.method", "url.full", "server.address", "server.port")
SERVER_SHARED = ("http.request.method", "url.scheme", "url.path", "url.query", "server.address",
                 "server.port", "network.protocol.version", "user_agent.original")
SECRET = "s3cret"  # the program's api_key: codetrace redacts it, OpenTelemetry does not


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("fidelity")
    out = instrumented_copy(PROGRAM, root / "instrumented")
    return run_both(UNDER_OPENTELEMETRY, PROGRAM / "shop.py", out / "shop.py", [], root,
                    warnings_are_errors=False, stability="http")


def _of_kind(spans: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [s for s in spans if s["kind"] == kind]


def _ports_free(value: object, spans: list[dict[str, Any]]) -> object:
    """``value`` with the run's port numbers replaced (each run serves on its own port), and
    the program's secret as codetrace redacts it."""
    ports = {str(s["attributes"][k]) for s in spans for k in ("server.port",)
             if k in s["attributes"]}
    text = str(value).replace(SECRET, "REDACTED")
    for port in ports:
        text = text.replace(port, "PORT")
    return text


def test_the_program_was_instrumented_at_its_construction_sites(runs: dict[str, Any]) -> None:
    source = runs["source"]
    assert '_codetrace.traced(aiohttp.ClientSession, "aiohttp.client")(' in source
    assert "_codetrace.hooks.aiohttp_app(app)" in source
    assert source.count("_codetrace.") == 2
    otel_output, ours_output = runs["outputs"]
    assert ours_output == otel_output  # same behaviour
    assert "moved 200 1" in ours_output


def test_codetrace_covers_every_opentelemetry_span(runs: dict[str, Any]) -> None:
    theirs, ours = runs["otel"], runs["ours"]
    for kind, shared in (("CLIENT", CLIENT_SHARED), ("SERVER", SERVER_SHARED)):
        mine_all, other_all = _of_kind(ours, kind), _of_kind(theirs, kind)
        assert len(mine_all) == len(other_all) == 7
        for mine, other in zip(mine_all, other_all, strict=True):
            a, b = mine["attributes"], other["attributes"]
            assert mine["name"] == other["name"]
            for key in shared:
                if key in b:
                    assert _ports_free(a.get(key), ours) == _ports_free(b[key], theirs), key
            assert a.get("http.response.status_code") == b.get("http.response.status_code") or (
                kind == "SERVER" and "http.response.status_code" not in b)
            assert a.get("http.route") == (b.get("http.route") or None)
            assert mine["status"]["code"] == other["status"]["code"]
            if "error.type" in b:
                assert str(a["error.type"]).endswith(b["error.type"])
            else:
                assert "error.type" not in a


def test_both_connect_the_client_span_to_the_server_span(runs: dict[str, Any]) -> None:
    for spans in (runs["otel"], runs["ours"]):
        clients = {s["span_id"]: s for s in _of_kind(spans, "CLIENT")}
        servers = _of_kind(spans, "SERVER")
        assert len(servers) == 7
        for server in servers:
            client = clients[server["parent_span_id"]]
            assert client["trace_id"] == server["trace_id"]


def test_the_documented_differences(runs: dict[str, Any]) -> None:
    theirs, ours = runs["otel"], runs["ours"]
    (mine,) = [s for s in _of_kind(ours, "SERVER") if s["name"] == "GET /broken"]
    (other,) = [s for s in _of_kind(theirs, "SERVER") if s["name"] == "GET /broken"]
    # a handler's exception: both name it; codetrace also records the 500 aiohttp answers,
    # and names the class with its module (the conventions' recommendation)
    assert other["attributes"]["error.type"] == "RuntimeError"
    assert mine["attributes"]["error.type"] == "RuntimeError"  # a builtin: no module
    assert mine["attributes"]["http.response.status_code"] == 500
    assert "http.response.status_code" not in other["attributes"]
    (refused,) = [s for s in _of_kind(ours, "CLIENT") if s["status"]["code"] == "ERROR"
                  and "http.response.status_code" not in s["attributes"]]
    assert refused["attributes"]["error.type"] == "aiohttp.client_exceptions.ClientConnectorError"
    # unmatched paths: OpenTelemetry sets an empty http.route, codetrace none
    assert any(s["attributes"].get("http.route") == "" for s in _of_kind(theirs, "SERVER"))
    # a sensitive query parameter: the conventions' list is AWSAccessKeyId, Signature, sig,
    # X-Goog-Signature; codetrace's wider default list (``_redact``) also has api_key
    (posted,) = [s for s in _of_kind(theirs, "CLIENT") if s["name"] == "POST"]
    assert posted["attributes"]["url.full"].endswith("?api_key=" + SECRET)
    (posted,) = [s for s in _of_kind(ours, "CLIENT") if s["name"] == "POST"]
    assert posted["attributes"]["url.full"].endswith("?api_key=REDACTED")
    (received,) = [s for s in _of_kind(ours, "SERVER") if s["name"] == "POST /orders"]
    assert received["attributes"]["url.query"] == "api_key=REDACTED"
    # attributes codetrace adds on the server side
    for key in ("client.address", "network.peer.address", "network.peer.port"):
        assert any(key in s["attributes"] for s in _of_kind(ours, "SERVER")), key
        assert not any(key in s["attributes"] for s in _of_kind(theirs, "SERVER")), key
