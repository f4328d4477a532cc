"""How a traced MySQL-protocol connection and its cursors are built (``_dbapi_mysql``).

Against the real MariaDB server of ``conftest_mariadb``:

* the first mysqlclient connection of a process is traced like the next ones.
  ``MySQLdb.connect`` imports ``MySQLdb.connections`` on its first call only; a traced
  ``MySQLdb.connect(...)`` made before that (an application that does ``import MySQLdb`` and
  opens its one connection) used to find no connection class to subclass, and the
  connection's statements went untraced. That runs in a fresh interpreter: any test module
  that imports ``MySQLdb.connections`` (test_mysqldb.py does) hides the case for the session.
* ``connection.cursor()`` builds the traced cursor class directly when the connection's
  ``cursor()`` is the driver's own and its ``cursorclass`` one of the driver's classes (for
  speed: ``benchmarks/runtime_mysql.py``); whatever else stands there is still called as it
  is: a mock, a function patched in, a project's override, a project's cursor class.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pymysql
import pymysql.connections
import pymysql.cursors
import pytest
from conftest_mariadb import MariaDBServer, mariadb_server
from span_checks import take_spans

import codetrace.runtime as rt

__all__ = ["mariadb_server"]  # the fixture, imported for this module's tests

FIRST_CONNECTION = textwrap.dedent(
    """
    import json, sys
    import MySQLdb
    import codetrace.runtime as rt

    loaded = "MySQLdb.connections" in sys.modules
    memory = rt.InMemorySpanExporter()
    rt.configure(exporter=memory)
    connection = rt.traced(MySQLdb.connect, "mysqlclient.connect")(
        host=sys.argv[1], port=int(sys.argv[2]), user=sys.argv[3], database=sys.argv[4])
    cursor = connection.cursor()
    cursor.execute("SELECT 1")
    connection.close()
    print(json.dumps({"loaded_before": loaded,
                      "spans": [span.name for span in memory.get_finished_spans()]}))
    """
)


def test_first_mysqlclient_connection_of_the_process_is_traced(
    mariadb_server: MariaDBServer,
) -> None:
    pytest.importorskip("MySQLdb")  # mysqlclient builds against libmariadb-dev (see .ci/run)
    server = mariadb_server
    done = subprocess.run(
        [sys.executable, "-c", FIRST_CONNECTION, server.host, str(server.port), server.user,
         server.database],
        capture_output=True, text=True, timeout=60, check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    found = json.loads(done.stdout)
    assert found["loaded_before"] is False  # the case under test: nothing loaded it yet
    assert found["spans"] == [f"connect {server.database}", "SELECT"]


@pytest.fixture
def conn(mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter) -> Iterator[Any]:
    connection = rt.traced(pymysql.connect, "pymysql.connect")(
        host=mariadb_server.host, port=mariadb_server.port, user=mariadb_server.user,
        database=mariadb_server.database,
    )
    exporter.clear()
    yield connection
    connection.close()


def test_the_drivers_own_cursor_is_traced(
    conn: Any, exporter: rt.InMemorySpanExporter
) -> None:
    for cursor_class in (pymysql.cursors.Cursor, pymysql.cursors.DictCursor):
        conn.cursorclass = cursor_class
        cursor = conn.cursor()
        assert isinstance(cursor, cursor_class)
        assert type(cursor) is not cursor_class
        cursor.execute("SELECT 1 AS one")
        assert cursor.fetchone() in ((1,), {"one": 1})
    assert [span.name for span in take_spans(exporter)] == ["SELECT", "SELECT"]


def test_a_mocked_cursor_method_is_called(conn: Any) -> None:
    with mock.patch.object(pymysql.connections.Connection, "cursor") as cursor:
        assert conn.cursor() is cursor.return_value
    assert cursor.mock_calls[0] == mock.call()


def test_a_function_patched_in_is_called(conn: Any) -> None:
    def patched(self: Any) -> str:
        return "patched"

    with mock.patch.object(pymysql.connections.Connection, "cursor", patched):
        assert conn.cursor() == "patched"


def test_a_projects_cursor_method_and_class_run_as_written(
    mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    made: list[str] = []

    class AuditedCursor(pymysql.cursors.Cursor):
        def __init__(self, connection: Any) -> None:
            super().__init__(connection)
            self.execute("SET @audited = 1")  # before the cursor is traced: no span

    class AppConnection(pymysql.connections.Connection):  # type: ignore[misc]
        def cursor(self, cursor: Any = None) -> Any:
            made.append("app")
            return super().cursor(cursor)

    connection = rt.traced(AppConnection, "pymysql.connect")(
        host=mariadb_server.host, port=mariadb_server.port, user=mariadb_server.user,
        database=mariadb_server.database, cursorclass=AuditedCursor,
    )
    try:
        exporter.clear()
        cursor = connection.cursor()
        assert made == ["app"]
        assert isinstance(cursor, AuditedCursor)
        cursor.execute("SELECT @audited")
        assert cursor.fetchone() == (1,)
        assert [span.name for span in take_spans(exporter)] == ["SELECT"]
    finally:
        connection.close()
