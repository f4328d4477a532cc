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

from pathlib import Path
from typing import Any

import fidelity
import pytest
from conftest_mariadb import MariaDBServer, mariadb_server

from codetrace.runtime._sql import analyse

__all__ = ["mariadb_server"]  # the fixture, imported for this module's tests

pytestmark = pytest.mark.slow  # four program runs in fresh interpreters

PROGRAMS = Path(__file__).parents[2] / "fixtures" / "fidelity" / "mysql_shop"
DRIVERS = {
    "pymysql": ("shop_pymysql.py", "pymysql", "PyMySQLInstrumentor"),
    "mysqldb": ("shop_mysqldb.py", "mysqlclient", "MySQLClientInstrumentor"),
}


@pytest.fixture(scope="module")
def instrumented(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fidelity")
    return fidelity.instrumented_copy(PROGRAMS, root / "instrumented")


@pytest.fixture(scope="module", params=sorted(DRIVERS))
def runs(
    request: pytest.FixtureRequest, mariadb_server: MariaDBServer, instrumented: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    program, module, instrumentor = DRIVERS[request.param]
    pytest.importorskip("MySQLdb" if request.param == "mysqldb" else "pymysql")
    root = tmp_path_factory.mktemp(request.param)
    server = [mariadb_server.host, str(mariadb_server.port)]
    script = fidelity.otel_script(
        f"from opentelemetry.instrumentation.{module} import {instrumentor}",
        f"{instrumentor}().instrument()",
    )
    # warnings stay warnings here, as this test has always run them (the other fidelity tests
    # run with -W error; these programs pass with it too, today)
    found = fidelity.run_both(
        script, PROGRAMS / program, instrumented / program, server, root,
        warnings_are_errors=False,
    )
    return {**found, "driver": request.param, "port": mariadb_server.port}


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
