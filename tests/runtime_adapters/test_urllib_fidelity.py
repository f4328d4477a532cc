"""Fidelity: codetrace's urllib3 and urllib spans cover OpenTelemetry's on one realistic program.

``fixtures/fidelity/urllib_clients/client.py`` (a module-level ``PoolManager``, a project
subclass, a pool for one host, ``urllib3.request``, ``urlopen`` with a string and a
``Request``, an opener from ``build_opener``; a 404, a 500, a redirect, a refused connection)
runs twice against the same real HTTP server on 127.0.0.1, each in its own process: under
OpenTelemetry's ``URLLib3Instrumentor`` and ``URLLibInstrumentor`` (instrumented before the
program is imported, their best case) with ``OTEL_SEMCONV_STABILITY_OPT_IN=http``, and after
``codetrace apply --out``. Every OpenTelemetry span has a codetrace span with the same kind,
name, method, URL, status code and status; the documented differences (one span per redirect
hop where OpenTelemetry has one per call, and the other way round: ``_urllib3_request``,
``_urllib_opener``; ``error.type`` and the server attributes) are asserted too. The server
records the ``traceparent`` of every request: each codetrace CLIENT span is the parent the
server was told about.
"""

from __future__ import annotations

import http.server
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fidelity import instrumented_copy, otel_script, run_both

pytestmark = pytest.mark.slow

PROGRAM = Path(__file__).parents[2] / "fixtures" / "fidelity" / "urllib_clients"

UNDER_OPENTELEMETRY = otel_script(
    "from opentelemetry.instrumentation.urllib import URLLibInstrumentor\n"
    "from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor",
    "URLLib3Instrumentor().instrument()\nURLLibInstrumentor().instrument()",
)

_REDIRECTING = ("hop", "module", "opener")
received: list[tuple[str, str]] = []
"""``(path, traceparent)`` of every request the server answered."""


class InventoryHandler(http.server.BaseHTTPRequestHandler):
    """``/hop/N`` redirects to ``/hop/N-1`` (``/module/N``, ``/opener/N`` too), ``/status/C``
    answers C, anything else 200 JSON."""

    protocol_version = "HTTP/1.1"

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        received.append((self.path, self.headers.get("traceparent", "")))
        parts = self.path.split("?")[0].split("/")
        if len(parts) == 3 and parts[1] in _REDIRECTING and parts[2] != "0":
            self.send_response(302)
            self.send_header("Location", f"/{parts[1]}/{int(parts[2]) - 1}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = int(parts[2]) if len(parts) == 3 and parts[1] == "status" else 200
        payload = json.dumps({"path": self.path}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _reply

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def runs(
    serve_http: Callable[[type[http.server.BaseHTTPRequestHandler]], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    base = serve_http(InventoryHandler)
    refused = _refused_url()
    root = tmp_path_factory.mktemp("fidelity")
    out = instrumented_copy(PROGRAM, root / "instrumented")
    before: list[list[tuple[str, str]]] = []

    def keep_and_clear_received() -> None:
        before.append(list(received))
        received.clear()

    result = run_both(UNDER_OPENTELEMETRY, PROGRAM / "client.py", out / "client.py",
                      [base, refused], root, before_each=keep_and_clear_received,
                      stability="http")
    _, otel_received = before  # what the server saw before each run: nothing, then OTel's run
    return {
        **result,
        "base": base,
        "refused": refused,
        "received": (otel_received, list(received)),
    }


def _refused_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing"


def _key(span: dict[str, Any]) -> tuple[Any, ...]:
    attributes = span["attributes"]
    return (
        span["kind"], span["name"], attributes.get("http.request.method"),
        attributes.get("url.full"), attributes.get("http.response.status_code"),
        span["status"]["code"],
    )


def test_the_program_was_instrumented_at_its_construction_sites(runs: dict[str, Any]) -> None:
    source = runs["source"]
    assert '_codetrace.traced(urllib3.PoolManager, "urllib3.pool")(' in source
    assert '_codetrace.traced(Inventory, "urllib3.pool")(' in source
    assert '_codetrace.traced(build_opener, "urllib.opener")(' in source
    assert "http.request(" in source  # calls on built objects are not wrapped
    otel_output, ours_output = runs["outputs"]
    assert ours_output == otel_output  # same behaviour
    assert "redirected: 200" in ours_output
    assert "refused: NewConnectionError" in ours_output


def test_codetrace_covers_every_opentelemetry_span(runs: dict[str, Any]) -> None:
    base = runs["base"]
    theirs, ours = runs["otel"], runs["ours"]
    assert len(theirs) >= 18
    assert all(span["kind"] == "CLIENT" for span in ours)
    only_theirs = Counter(map(_key, theirs)) - Counter(map(_key, ours))
    only_ours = Counter(map(_key, ours)) - Counter(map(_key, theirs))

    def hops(path: str, *statuses: int) -> Counter[tuple[Any, ...]]:
        return Counter(
            ("CLIENT", "GET", "GET", f"{base}/{path}/{len(statuses) - 1 - n}", status, "UNSET")
            for n, status in enumerate(statuses)
        )

    # Everything else is the same span on both sides. The documented differences:
    # ``urllib3.request`` follows redirects inside one call: one span of codetrace's where
    # OpenTelemetry (patching the pools) has one per hop; an opener from ``build_opener``: one
    # span per hop of codetrace's (its handlers send each), one per ``open`` of OpenTelemetry's.
    assert only_theirs == hops("module", 302, 302, 200) + Counter(
        [("CLIENT", "GET", "GET", f"{base}/opener/2", 200, "UNSET")]
    )
    assert only_ours == hops("opener", 302, 302, 200) + Counter(
        [("CLIENT", "GET", "GET", f"{base}/module/2", 200, "UNSET")]
    )


def test_the_documented_differences(runs: dict[str, Any]) -> None:
    base, refused = runs["base"], runs["refused"]
    theirs, ours = runs["otel"], runs["ours"]

    def failed(spans: list[dict[str, Any]]) -> list[tuple[str, Any]]:
        return [(s["attributes"]["url.full"], s["attributes"].get("error.type"))
                for s in spans if s["status"]["code"] == "ERROR"]

    # error.type: a 4xx/5xx is its code for codetrace, where OpenTelemetry's urllib says
    # ``HTTPError``; an exception is its class with its module for codetrace, its bare name for
    # OpenTelemetry's urllib, nothing for its urllib3
    assert failed(ours) == [
        (base + "/status/404", "404"),
        (refused, "urllib3.exceptions.MaxRetryError"),
        (base + "/status/500", "500"),
        (refused, "urllib.error.URLError"),
    ]
    assert failed(theirs) == [
        (base + "/status/404", "404"),
        (refused, None),
        (base + "/status/500", "HTTPError"),
        (refused, "URLError"),
    ]
    # server.address/port: codetrace sets them on every span, OpenTelemetry on none
    assert all("server.address" in s["attributes"] for s in ours)
    assert all("server.address" not in s["attributes"] for s in theirs)


def test_every_client_span_is_its_servers_parent(runs: dict[str, Any]) -> None:
    _, ours_received = runs["received"]
    parents = {traceparent.split("-")[2] for _, traceparent in ours_received if traceparent}
    answered = [s for s in runs["ours"] if s["attributes"].get("http.response.status_code")]
    assert answered
    for span in answered:
        assert span["span_id"] in parents, span["name"]
    assert all(traceparent for _, traceparent in ours_received)  # every request carried one
