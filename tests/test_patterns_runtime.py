"""The patterns real code hides its I/O behind (issue 9), instrumented and *run*.

One program, written the way the measured projects write it: a connection cast from an untyped
parameter, lent out by a ``@contextmanager``, handed to a callback registered in a dict; a
client class passed to ``super().__init__`` and called in the base; a mixin whose base is the
library class for type checkers only; callees chosen at run time; ``getattr`` with a computed
name; a project subclass of Flask. It is applied with the CLI and run in a subprocess against a
real HTTP server on 127.0.0.1 and real sqlite3, plain and instrumented. Checked against ground
truth (the requests the server received, the statements SQLite ran): every operation made
exactly one CLIENT span — whether its object was traced where it was built or its call site
was wrapped, or both — the results are identical, and strip gives the program back.
"""

from __future__ import annotations

import http.server
import json
import os
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

PROGRAM = textwrap.dedent(
    '''
    """Real-code patterns, each doing real I/O."""
    import contextlib
    import sqlite3
    import typing
    from collections.abc import Iterator
    from typing import TYPE_CHECKING, Literal

    import flask
    import httpx
    import requests

    Base = requests.Session if TYPE_CHECKING else object


    class RetryMixin(Base):
        def send(self, request, **kwargs):
            return super().send(request, **kwargs)


    class Session(RetryMixin, requests.Session):
        pass


    class Store:
        def __init__(self, conn):
            self.conn = typing.cast(sqlite3.Connection, conn)

        def rows(self):
            return self.conn.execute("select count(*) from items").fetchone()[0]

        @contextlib.contextmanager
        def connection(self) -> Iterator[sqlite3.Connection]:
            yield self.conn

        def add(self, name):
            with self.connection() as con:
                con.execute("insert into items values (?)", (name,))


    def count_items(conn):
        return conn.execute("select count(*) from items").fetchone()[0]


    HANDLERS = {"count": count_items}


    class BaseClient:
        def __init__(self, client_class, base_url):
            self._client = client_class(base_url=base_url)

        def _request(self, method, path):
            return self._client.request(method, path).status_code


    class SyncClient(BaseClient):
        def __init__(self, base_url):
            super().__init__(httpx.Client, base_url)

        def health(self):
            return self._request("GET", "/health")


    class ShopApp(flask.Flask):
        pass


    def submit(base: str, method: str) -> int:
        fn = requests.post if method == "POST" else requests.put
        return fn(base + "/items", json={"x": 1}).status_code


    def verb(session: requests.Session, base: str, name: Literal["get", "head"]) -> int:
        return getattr(session, name)(base + "/v").status_code


    def run(base):
        results = {}
        connection = sqlite3.connect(":memory:")
        executed = []  # ground truth: every statement SQLite runs
        connection.set_trace_callback(executed.append)
        connection.execute("create table items (name)")
        store = Store(connection)
        store.add("a")
        store.add("b")
        results["rows"] = store.rows()
        results["callback"] = HANDLERS["count"](connection)
        results["health"] = SyncClient(base).health()
        session = Session()
        results["mixin"] = session.get(base + "/mixin").status_code
        results["computed"] = getattr(session, "ge" + "t")(base + "/computed").status_code
        results["submit"] = submit(base, "POST") + submit(base, "PUT")
        results["verb"] = verb(session, base, "get") + verb(session, base, "head")
        app = ShopApp(__name__)
        app.add_url_rule("/", "index", lambda: "ok")
        results["server"] = app.test_client().get("/").status_code
        # sqlite3's own implicit BEGIN is not an operation of the program
        results["statements"] = [s for s in executed if s != "BEGIN "]
        return results
    '''
)

DRIVER = textwrap.dedent(
    """
    import json
    import sys

    sys.path.insert(0, sys.argv[1])
    import patterns

    print(json.dumps({"results": patterns.run(sys.argv[2])}))
    """
)

RECEIVED: list[str | None] = []


class Handler(http.server.BaseHTTPRequestHandler):
    def _answer(self) -> None:
        RECEIVED.append(self.headers.get("traceparent"))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"{}")

    do_GET = do_POST = do_PUT = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def base(serve_http: Callable[[type[http.server.BaseHTTPRequestHandler]], str]) -> str:
    return serve_http(Handler)


def _run(tree: Path, base: str, spans: Path | None) -> dict[str, Any]:
    driver = tree.parent / f"driver-{tree.name}.py"
    driver.write_text(DRIVER)
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("OTEL_", "CODETRACE_", "PYTHON"))}
    if spans is not None:
        environment.update({"OTEL_TRACES_EXPORTER": "jsonl", "CODETRACE_JSONL_PATH": str(spans),
                            "CODETRACE_BACKEND": "codetrace"})
    RECEIVED.clear()
    result = subprocess.run(
        [sys.executable, "-W", "error", str(driver), str(tree), base],
        capture_output=True, text=True, timeout=120, check=False,
        env={**environment, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    document["received"] = list(RECEIVED)
    return document


def test_every_pattern_makes_one_span_per_operation(tmp_path: Path, base: str) -> None:
    plain_tree = tmp_path / "plain"
    plain_tree.mkdir()
    (plain_tree / "patterns.py").write_text(PROGRAM)
    instrumented = tmp_path / "instrumented"
    result = CliRunner().invoke(app, ["apply", "--out", str(instrumented), str(plain_tree)])
    assert result.exit_code == 0, result.output
    source = (instrumented / "patterns.py").read_text()
    assert source.count("_codetrace.") >= 10  # construction sites and call sites

    plain = _run(plain_tree, base, None)
    spans_file = tmp_path / "spans.jsonl"
    traced = _run(instrumented, base, spans_file)
    assert traced["results"] == plain["results"]
    assert len(traced["received"]) == len(plain["received"]) == 7

    spans = read_json_lines(spans_file)
    kinds = [(s.get("kind"), s.get("attributes", {})) for s in spans]
    http = [a for k, a in kinds if k in ("CLIENT", 3) and "http.request.method" in a]
    sql = [a for k, a in kinds if k in ("CLIENT", 3) and a.get("db.system.name") == "sqlite"]
    servers = [a for k, a in kinds if k in ("SERVER", 2)]
    # ground truth: one CLIENT span per request the server received, per statement SQLite ran
    assert len(http) == len(plain["received"])
    statements = [a for a in sql if "db.query.text" in a]
    truth = plain["results"]["statements"]
    assert len(truth) == 5
    assert len(statements) == len(truth), statements
    assert len(servers) == 1 and servers[0].get("http.route") == "/"
    # every request carried the trace context of its span
    assert all(header is not None for header in traced["received"])

    stripped = CliRunner().invoke(app, ["strip", str(instrumented)])
    assert stripped.exit_code == 0
    assert (instrumented / "patterns.py").read_text() == PROGRAM
