"""Fidelity: codetrace's PyMySQL and mysqlclient spans cover OpenTelemetry's on one program each.

``fixtures/fidelity/mysql_shop/shop_pymysql.py`` and ``shop_mysqldb.py`` (a connection held on
the project's object with ``cursorclass=DictCursor``, DDL and a stored procedure, inserts with
parameters and in a batch, a literal in a query, ``callproc``, a duplicate key and a rollback,
then a report whose connection is built through the class and streams with an ``SSCursor``)
run against the same real MariaDB server, each in its own process: under OpenTelemetry's
``PyMySQLInstrumentor``/``MySQLClientInstrumentor`` (instrumented before the program is
imported, their best case) with ``OTEL_SEMCONV_STABILITY_OPT_IN=database``, and after
``codetrace apply --out``. The program's output must not change. OpenTelemetry's spans are
paired in order with codetrace's statement spans and compared: kind, name, namespace, server,
query text, status, events. The documented differences (``_dbapi_mysql``'s docstring) are
asserted too, so a change on either side shows:

* ``db.system.name``: codetrace says ``mariadb`` (the server said so in its handshake, and the
  conventions give MariaDB its own value); OpenTelemetry says ``mysql`` whatever the server.
* Span names: codetrace uses ``db.query.summary`` (``SELECT items``, ``BATCH INSERT items``,
  ``CALL restock``), OpenTelemetry the statement's first word (``SELECT``) or, for
  ``callproc``, the procedure's name.
* ``db.query.text``: codetrace replaces literals (``sku = ?``); OpenTelemetry records the text
  as written. For ``callproc`` OpenTelemetry records the procedure's name as the text;
  codetrace records ``db.stored_procedure.name`` and no text.
* Server: under ``database`` alone OpenTelemetry still sends the old ``net.peer.name``/
  ``net.peer.port``; codetrace sends ``server.address``/``server.port``.
* codetrace adds ``db.query.summary``, ``db.operation.batch.size``, ``error.type``,
  ``db.response.status_code`` (the MySQL error number), and spans OpenTelemetry does not make:
  ``connect``, ``COMMIT``/``ROLLBACK``, and everything on a connection built through the class
  (``pymysql.connections.Connection(...)``, ``MySQLdb.connections.Connection(...)``), which
  OpenTelemetry's instrumentation, replacing the module's ``connect`` attribute, never sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest_mariadb import MariaDBServer, mariadb_server
from typer.testing import CliRunner

from codetrace.cli import app
from codetrace.runtime._otlp._json_records import read_json_lines
from codetrace.runtime._sql import analyse

__all__ = ["mariadb_server"]  # the fixture, imported for this module's tests

pytestmark = pytest.mark.slow  # four program runs in fresh interpreters

PROGRAMS = Path(__file__).parents[2] / "fixtures" / "fidelity" / "mysql_shop"
DRIVERS = {
    "pymysql": ("shop_pymysql.py", "pymysql", "PyMySQLInstrumentor"),
    "mysqldb": ("shop_mysqldb.py", "mysqlclient", "MySQLClientInstrumentor"),
}

UNDER_OPENTELEMETRY = """
import importlib, json, runpy, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

memory = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(provider)
module, instrumentor, program, host, port, out = sys.argv[1:]
package = importlib.import_module(f"opentelemetry.instrumentation.{module}")
getattr(package, instrumentor)().instrument()
sys.argv = [program, host, port]
runpy.run_path(program, run_name="__main__")
with open(out, "w") as file:
    for span in memory.get_finished_spans():
        file.write(json.dumps({
            "name": span.name, "kind": span.kind.name, "attributes": dict(span.attributes),
            "status": {"code": span.status.status_code.name},
            "events": [event.name for event in span.events],
        }) + "\\n")
"""


def _run(arguments: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, *arguments], capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _spans(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def instrumented(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fidelity") / "instrumented"
    result = CliRunner().invoke(app, ["apply", "--out", str(out), "--no-cache", str(PROGRAMS)])
    assert result.exit_code == 0, result.stderr
    return out


@pytest.fixture(scope="module", params=sorted(DRIVERS))
def runs(
    request: pytest.FixtureRequest, mariadb_server: MariaDBServer, instrumented: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    program, module, instrumentor = DRIVERS[request.param]
    pytest.importorskip("MySQLdb" if request.param == "mysqldb" else "pymysql")
    root = tmp_path_factory.mktemp(request.param)
    server = [mariadb_server.host, str(mariadb_server.port)]
    otel_output = _run(
        ["-c", UNDER_OPENTELEMETRY, module, instrumentor, str(PROGRAMS / program), *server,
         str(root / "otel.jsonl")],
        {"OTEL_SEMCONV_STABILITY_OPT_IN": "database"},
    )
    ours_output = _run(
        [str(instrumented / program), *server],
        {"OTEL_TRACES_EXPORTER": "jsonl", "CODETRACE_JSONL_PATH": str(root / "ours.jsonl")},
    )
    return {
        "driver": request.param,
        "source": (instrumented / program).read_text(),
        "outputs": (otel_output, ours_output),
        "otel": _spans(root / "otel.jsonl"),
        "ours": read_json_lines(root / "ours.jsonl"),
        "port": mariadb_server.port,
    }


def _statements(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """codetrace's spans of cursor calls (not connect, COMMIT, ROLLBACK)."""
    return [s for s in spans if s["attributes"].get("db.operation.name") not in
            ("connect", "COMMIT", "ROLLBACK")]


def test_the_program_behaves_the_same(runs: dict[str, Any]) -> None:
    otel_output, ours_output = runs["outputs"]
    assert ours_output == otel_output
    assert "ink: Ink bottle" in ours_output and "again: refused: 1062" in ours_output
    assert "('pen', 13)" in ours_output  # the procedure ran
    source = runs["source"]
    assert source.count('"pymysql.connect")(' if runs["driver"] == "pymysql"
                        else '"mysqlclient.connect")(') == 2


def test_codetrace_covers_every_opentelemetry_span(runs: dict[str, Any]) -> None:
    theirs, ours = runs["otel"], _statements(runs["ours"])
    assert len(theirs) == 9
    assert len(ours) == len(theirs) + 1  # the report's SELECT, which OpenTelemetry misses
    for mine, other in zip(ours, theirs, strict=False):
        a, b = mine["attributes"], other["attributes"]
        assert mine["kind"] == other["kind"] == "CLIENT"
        assert a["db.namespace"] == b["db.namespace"] == "codetrace"
        assert a["server.address"] == b["net.peer.name"] == "127.0.0.1"
        assert a["server.port"] == b["net.peer.port"] == runs["port"]
        assert mine["status"]["code"] == other["status"]["code"]
        assert [event["name"] for event in mine["events"]] == other["events"]
        if "db.stored_procedure.name" in a:  # callproc
            assert a["db.stored_procedure.name"] == b["db.query.text"] == other["name"]
            continue
        assert mine["name"].removeprefix("BATCH ").split()[0] == other["name"]
        assert a["db.query.text"] == analyse(b["db.query.text"], "mysql")[0]  # sanitised
    extra = ours[len(theirs)]
    assert extra["attributes"]["db.query.text"] == "SELECT sku, qty FROM items ORDER BY sku"


def test_the_documented_differences(runs: dict[str, Any]) -> None:
    theirs, every = runs["otel"], runs["ours"]
    ours = _statements(every)
    assert all(s["attributes"]["db.system.name"] == "mysql" for s in theirs)
    assert all(s["attributes"]["db.system.name"] == "mariadb" for s in every)
    assert [s["name"] for s in ours] == [
        "DROP TABLE items", "CREATE TABLE items", "DROP PROCEDURE restock",
        "CREATE PROCEDURE restock UPDATE items", "INSERT items", "BATCH INSERT items",
        "SELECT items", "CALL restock", "INSERT items",
        "SELECT items",  # the report, on a connection built through the class
    ]
    assert [s["name"] for s in theirs] == [
        "DROP", "CREATE", "DROP", "CREATE", "INSERT", "INSERT", "SELECT", "restock", "INSERT",
    ]
    texts = {s["attributes"]["db.query.text"] for s in theirs}
    assert "SELECT name FROM items WHERE sku = 'ink'" in texts  # the literal, as written
    assert "restock" in texts  # callproc: the procedure's name as the text
    assert all("net.peer.name" in s["attributes"] and "server.address" not in s["attributes"]
               for s in theirs)
    by_name = {s["name"]: s for s in ours}
    assert by_name["BATCH INSERT items"]["attributes"]["db.operation.batch.size"] == 2
    (failed,) = [s for s in ours if s["status"]["code"] == "ERROR"]
    assert failed["attributes"]["db.response.status_code"] == "1062"
    assert failed["attributes"]["error.type"] in ("pymysql.err.IntegrityError",
                                                  "MySQLdb.IntegrityError")
    assert all("error.type" not in s["attributes"] for s in theirs)
    operations = [s["name"] for s in every if s not in ours]
    assert operations == [
        "connect codetrace", "COMMIT", "COMMIT", "COMMIT", "ROLLBACK", "connect codetrace",
    ]
