"""The hard-cases project instrumented and *run*: real sqlite3, a real HTTP server, real spans.

``fixtures/hardcases`` is instrumented with ``codetrace apply --out``; then a driver script
calls its functions in a subprocess (so the instrumented ``hardapp`` package never meets
anything in this process), with ``sys.path`` pointing at the instrumented tree and spans
written as JSON lines. The same driver runs the un-instrumented tree. Each function is called
inside a marker span named after it, so the spans it produced are the marker's children.

Checked: the results are identical; every instrumented call made exactly one span, with the
name, kind and attributes its adapter promises; every HTTP span's ids reached the server in
``traceparent``; the look-alike calls in ``views.not_a_database`` made none.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from codetrace.cli import app
from codetrace.runtime._otlp._json_records import read_json_lines

SOURCE = Path(__file__).parent.parent / "fixtures" / "hardcases"

DRIVER = textwrap.dedent(
    """
    import json
    import sys

    sys.path.insert(0, sys.argv[1])
    base = sys.argv[2]

    import flask

    import codetrace.runtime as rt
    from hardapp import services, views
    from hardapp.db import Database

    calls = {
        "store": lambda: views.store(Database(":memory:"), [("a", 1), ("b", 2), ("c", 3)]),
        "scratch": lambda: views.scratch(),
        "fetch_status": lambda: views.fetch_status(base + "/anything"),
        "api_status": lambda: views.api_status(base),
        "echo": lambda: views.echo(base),
        "ping": lambda: services.ping(base + "/ping"),
        "version": lambda: services.version(),
        "not_a_database": lambda: views.not_a_database("x"),
    }
    results = {}
    for name, call in calls.items():
        with rt.span(name):
            results[name] = call()
    with flask.Flask(__name__).app_context(), rt.span("request_scoped"):
        results["request_scoped"] = views.request_scoped()
    print(json.dumps(results))
    """
)


RECEIVED: list[str] = []
"""The ``traceparent`` headers the server was sent."""


class Handler(http.server.BaseHTTPRequestHandler):
    """``/status/204``, ``POST /echo`` (the JSON body back), HEAD and GET on any path."""

    def _record(self) -> None:
        header = self.headers.get("traceparent")
        if header:
            RECEIVED.append(header)

    def _send(self, status: int, body: bytes = b"") -> None:
        self.send_response(status)
        if status != 204:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._record()
        if self.path == "/status/204":
            self._send(204)
        else:
            self._send(200, b'{"ok": true}')

    do_HEAD = do_GET

    def do_POST(self) -> None:
        self._record()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/echo":
            self._send(200, json.dumps(json.loads(body)).encode())
        else:
            self._send(404, b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base(serve_http: Callable[[type[http.server.BaseHTTPRequestHandler]], str]) -> str:
    return serve_http(Handler)


def _run(tree: Path, base: str, env: dict[str, str]) -> Any:
    driver = tree.parent / "driver.py"
    driver.write_text(DRIVER)
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "CODETRACE_", "PYTHON"))
    }
    result = subprocess.run(
        [sys.executable, "-W", "error", str(driver), str(tree), base],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tree.parent,
        env={**environment, "PYTHONDONTWRITEBYTECODE": "1", **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def runs(
    base: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, Any, list[dict[str, Any]], list[str]]:
    root = tmp_path_factory.mktemp("hardcases-runtime")
    out = root / "instrumented" / "tree"
    result = CliRunner().invoke(app, ["apply", "--out", str(out), "--no-cache", str(SOURCE)])
    assert result.exit_code == 0, result.output
    assert "_codetrace.traced" in (out / "hardapp" / "views.py").read_text()
    plain_tree = root / "plain" / "tree"
    shutil.copytree(SOURCE, plain_tree)
    jsonl = root / "spans.jsonl"
    RECEIVED.clear()
    instrumented = _run(
        out,
        base,
        {"OTEL_TRACES_EXPORTER": "jsonl", "CODETRACE_JSONL_PATH": str(jsonl)},
    )
    traceparents = list(RECEIVED)
    plain = _run(plain_tree, base, {"OTEL_TRACES_EXPORTER": "none"})
    spans = read_json_lines(jsonl)
    return instrumented, plain, spans, traceparents


def _children(spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Marker name -> the spans started directly under it, in the order they ended."""
    markers = {s["span_id"]: s["name"] for s in spans if s["parent_span_id"] is None}
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in markers.values()}
    for span in spans:
        if span["parent_span_id"] is not None:
            found[markers[span["parent_span_id"]]].append(span)
    return found


def test_results_equal_the_uninstrumented_run(runs: tuple[Any, Any, Any, Any]) -> None:
    instrumented, plain, _, _ = runs
    assert instrumented == plain
    assert plain["store"] == 3
    assert plain["api_status"] == 204
    assert plain["echo"] == {"hello": "world"}
    assert plain["not_a_database"] == "X"


def _db(name: str, **attributes: Any) -> tuple[str, str, dict[str, Any]]:
    return name, "CLIENT", {"db.system.name": "sqlite", **attributes}


CONNECT = _db(
    "connect :memory:",
    **{
        "db.operation.name": "connect",
        "db.namespace": ":memory:",
        "db.query.summary": "connect :memory:",
    },
)


def _query(name: str, text: str) -> tuple[str, str, dict[str, Any]]:
    return _db(name, **{"db.query.text": text, "db.query.summary": name})


def test_database_spans(runs: tuple[Any, Any, list[dict[str, Any]], Any]) -> None:
    children = _children(runs[2])

    def shape(name: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [(s["name"], s["kind"], s["attributes"]) for s in children[name]]

    assert shape("store") == [
        CONNECT,
        _query("CREATE TABLE items", "CREATE TABLE IF NOT EXISTS items (name TEXT, qty INTEGER)"),
        _db(
            "BATCH INSERT items",
            **{
                "db.query.text": "INSERT INTO items VALUES (?, ?)",
                "db.query.summary": "BATCH INSERT items",
                "db.operation.batch.size": 3,
            },
        ),
        _db("COMMIT", **{"db.operation.name": "COMMIT", "db.query.summary": "COMMIT"}),
        _query("SELECT items", "SELECT COUNT(*) FROM items"),
    ]
    assert shape("scratch") == [CONNECT, _query("SELECT", "SELECT ?")]
    assert shape("version") == [CONNECT, _query("SELECT", "SELECT sqlite_version()")]
    assert shape("request_scoped") == [CONNECT, _query("SELECT", "SELECT ?")]


def test_http_spans(runs: tuple[Any, Any, list[dict[str, Any]], list[str]], base: str) -> None:
    children = _children(runs[2])
    port = int(base.rsplit(":", 1)[1])
    expected = {
        "fetch_status": ("GET", "/anything", 200),
        "api_status": ("GET", "/status/204", 204),
        "echo": ("POST", "/echo", 200),
        "ping": ("HEAD", "/ping", 200),
    }
    received = runs[3]
    assert len(received) == len(expected)
    for function, (method, path, status) in expected.items():
        (span,) = children[function]
        assert span["name"] == method
        assert span["kind"] == "CLIENT"
        assert span["attributes"] == {
            "http.request.method": method,
            "url.full": base + path,
            "server.address": "127.0.0.1",
            "server.port": port,
            "http.response.status_code": status,
        }
        assert span["status"]["code"] == "UNSET"
        sent = [h for h in received if h.startswith(f"00-{span['trace_id']}-{span['span_id']}-")]
        assert len(sent) == 1 and int(sent[0][-2:], 16) & 1  # sampled


def test_every_instrumented_call_made_one_span_and_lookalikes_none(
    runs: tuple[Any, Any, list[dict[str, Any]], Any],
) -> None:
    children = _children(runs[2])
    assert children["not_a_database"] == []
    counts = {name: len(found) for name, found in children.items()}
    assert counts == {
        "store": 5,
        "scratch": 2,
        "fetch_status": 1,
        "api_status": 1,
        "echo": 1,
        "ping": 1,
        "version": 2,
        "not_a_database": 0,
        "request_scoped": 2,
    }
    # nothing deeper than one level: adapters never nest spans of their own
    ids = {s["span_id"] for s in runs[2] if s["parent_span_id"] is None}
    assert all(s["parent_span_id"] in ids for s in runs[2] if s["parent_span_id"])
