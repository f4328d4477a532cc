"""Fidelity: codetrace's Falcon (``wsgi`` hook) and Flask server spans, and the headers they
capture, cover OpenTelemetry's on one program.

``fixtures/fidelity/wsgi_shop/shop.py`` (a Falcon API and a Flask shop on wsgiref, 127.0.0.1,
called with a repeated and a secret header) runs twice, each in its own process, with the same
``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*`` variables and ``OTEL_PYTHON_EXCLUDED_URLS=health``:
under OpenTelemetry's ``FalconInstrumentor`` and ``FlaskInstrumentor`` (instrumented before the
program is imported) with ``OTEL_SEMCONV_STABILITY_OPT_IN=http``, and after ``codetrace apply
--out``. SERVER spans are paired by framework and path and compared attribute by attribute;
the documented differences are asserted too, so a change on either side shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fidelity import instrumented_copy, otel_script, run_both

pytestmark = pytest.mark.slow

PROGRAM = Path(__file__).parents[2] / "fixtures" / "fidelity" / "wsgi_shop"

UNDER_OPENTELEMETRY = otel_script(
    "from opentelemetry.instrumentation.falcon import FalconInstrumentor\n"
    "from opentelemetry.instrumentation.flask import FlaskInstrumentor",
    "FalconInstrumentor().instrument()\nFlaskInstrumentor().instrument()",
)
CAPTURE = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_"
ENV = {
    "OTEL_PYTHON_EXCLUDED_URLS": "health",
    CAPTURE + "SERVER_REQUEST": "x-caller,X-SECRET-.*,x-absent",
    CAPTURE + "SERVER_RESPONSE": "x-resp-.*,content-type",
    CAPTURE + "SANITIZE_FIELDS": "secret",
}

STABLE = (
    "http.request.method", "url.scheme", "url.path", "url.query", "http.route",
    "network.protocol.version", "user_agent.original", "client.address",
    "http.response.status_code",
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("fidelity")
    out = instrumented_copy(PROGRAM, root / "instrumented")
    return run_both(UNDER_OPENTELEMETRY, PROGRAM / "shop.py", out / "shop.py", [], root,
                    warnings_are_errors=False, stability="http", env=ENV)


def _servers(spans: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """SERVER spans by (app, status code): each app has its own port (Falcon's served first),
    and within an app every request of the program answers a different status."""
    servers = [s for s in spans if s["kind"] == "SERVER"]
    ports = list(dict.fromkeys(s["attributes"]["server.port"] for s in servers))
    assert len(ports) == 2
    apps = dict(zip(ports, ("falcon", "flask"), strict=True))
    return {(apps[s["attributes"]["server.port"]], s["attributes"]["http.response.status_code"]): s
            for s in servers}


def _headers(attributes: dict[str, Any]) -> dict[str, Any]:
    """Captured headers, named as the current conventions write them (OpenTelemetry Python
    writes ``x_caller`` for ``x-caller``)."""
    return {key.replace("_", "-"): value for key, value in attributes.items()
            if key.startswith(("http.request.header.", "http.response.header."))}


def test_the_program_was_instrumented_where_the_apps_are_built(runs: dict[str, Any]) -> None:
    source = runs["source"]
    assert "api = falcon.App()\n_codetrace.hooks.wsgi(api)\n" in source
    assert 'shop = Flask("shop")\n_codetrace.hooks.flask(shop)\n' in source
    assert source.count("_codetrace.hooks.") == 2
    otel_output, ours_output = runs["outputs"]
    assert ours_output == otel_output  # same behaviour
    assert "falcon GET /boom 500" in ours_output


def test_codetrace_covers_every_opentelemetry_server_span(runs: dict[str, Any]) -> None:
    theirs, ours = _servers(runs["otel"]), _servers(runs["ours"])
    assert len(theirs) == 7  # 9 requests, the two health checks excluded by both
    assert ours.keys() == theirs.keys()
    for key, other in theirs.items():
        mine = ours[key]
        if key != ("flask", 404):  # see test_the_documented_differences
            assert mine["name"] == other["name"], key
        assert mine["status"]["code"] == other["status"]["code"], key
        a, b = mine["attributes"], other["attributes"]
        for name in (*STABLE, "error.type"):
            if name in b:
                assert a.get(name) == b[name], (key, name)
        assert _headers(a) == _headers(b), key


def test_the_headers_were_captured(runs: dict[str, Any]) -> None:
    item = _servers(runs["ours"])["flask", 200]["attributes"]
    assert _headers(item) == {
        "http.request.header.x-caller": ["c1,c2"],  # wsgiref joins the repeated header
        "http.request.header.x-secret-key": ["[REDACTED]"],
        "http.response.header.content-type": ["text/html; charset=utf-8"],
        "http.response.header.x-resp-id": ["item-7"],
    }


def test_the_documented_differences(runs: dict[str, Any]) -> None:
    theirs, ours = _servers(runs["otel"]), _servers(runs["ours"])
    # a request no route matched is named by its method alone (OpenTelemetry's Flask
    # instrumentation puts the path in the name)
    assert ours["flask", 404]["name"] == "GET"
    assert theirs["flask", 404]["name"] == "GET /nowhere"
    for key, mine in ours.items():
        a, b = mine["attributes"], theirs[key]["attributes"]
        # server.address without the port (OpenTelemetry copies the Host header)
        assert a["server.address"] == "127.0.0.1"
        assert b["server.address"] == f"127.0.0.1:{b['server.port']}"
        # url.path and the peer are recorded (OpenTelemetry's WSGI spans have neither here)
        assert "url.path" in a and "url.path" not in b
        assert a["network.peer.address"] == "127.0.0.1"
        # header attribute names keep their dashes
        assert all("_" not in k.rsplit(".", 1)[1] for k in a if ".header." in k)
        assert any("_" in k.rsplit(".", 1)[1] for k in b if ".header." in k)
