"""Adapters ``mysqlclient.connect``/``query``/``transaction``: mysqlclient (``MySQLdb``).

Against a real MariaDB server on 127.0.0.1 (``conftest_mariadb``), mysqlclient built on
Debian's libmariadb: the connect span, cursors of every class, ``execute``/``executemany``/
``callproc``, ``commit``/``rollback``, errors with the server's error number, a unix socket,
the call-site adapters, mocks, a project subclass, and PyMySQL standing in as ``MySQLdb``
(``pymysql.install_as_MySQLdb()``). The shared behaviour is tested at length with PyMySQL
(test_pymysql.py); the spans are ``_dbapi_mysql``'s docstring.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from conftest_mariadb import MariaDBServer, mariadb_server
from span_checks import SECRET, nothing_secret, take_spans

import codetrace.runtime as rt

pytest.importorskip("MySQLdb")  # mysqlclient builds against libmariadb-dev (see .ci/run)
import MySQLdb
import MySQLdb.connections
import MySQLdb.cursors

__all__ = ["mariadb_server"]  # the fixture, imported for this module's tests

CONNECT, QUERY, TRANSACTION = "mysqlclient.connect", "mysqlclient.query", "mysqlclient.transaction"


def _connect(server: MariaDBServer, callee: Any = None, **kwargs: Any) -> Any:
    options = {"host": server.host, "port": server.port, "user": server.user,
               "database": server.database, **kwargs}
    return rt.traced(callee or MySQLdb.connect, CONNECT)(**options)


@pytest.fixture
def conn(mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter) -> Iterator[Any]:
    connection = _connect(mariadb_server)
    cursor = connection.cursor()
    cursor.execute("DROP TABLE IF EXISTS items")
    cursor.execute("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), qty INT)")
    exporter.clear()
    yield connection
    connection.close()


def test_connect_and_operations(
    mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    connection = _connect(mariadb_server, cursorclass=MySQLdb.cursors.DictCursor)
    assert isinstance(connection, MySQLdb.connections.Connection)
    assert type(connection) is not MySQLdb.connections.Connection
    assert connection.cursorclass is MySQLdb.cursors.DictCursor
    cursor = connection.cursor()
    assert isinstance(cursor, MySQLdb.cursors.DictCursor)
    cursor.execute("DROP TABLE IF EXISTS stock")
    cursor.execute("CREATE TABLE stock (id INT PRIMARY KEY, name VARCHAR(40))")
    cursor.execute("INSERT INTO stock VALUES (%s, %s)", (1, SECRET))
    cursor.executemany("INSERT INTO stock VALUES (%s, %s)", [(2, "a"), (3, "b")])
    connection.commit()
    cursor.execute(f"SELECT id FROM stock WHERE name = '{SECRET}'")
    assert cursor.fetchall() == ({"id": 1},)
    with connection.cursor(MySQLdb.cursors.SSCursor) as streaming:
        streaming.execute("SELECT id FROM stock ORDER BY id")
        assert list(streaming) == [(1,), (2,), (3,)]
    connection.rollback()
    spans = take_spans(exporter)
    assert [s.name for s in spans] == [
        "connect codetrace", "DROP TABLE stock", "CREATE TABLE stock", "INSERT stock",
        "BATCH INSERT stock", "COMMIT", "SELECT stock", "SELECT stock", "ROLLBACK",
    ]
    assert spans[0].attributes == {
        "db.system.name": "mariadb", "db.operation.name": "connect",
        "db.namespace": "codetrace", "db.query.summary": "connect codetrace",
        "server.address": "127.0.0.1", "server.port": mariadb_server.port,
    }
    assert spans[4].attributes["db.operation.batch.size"] == 2
    assert spans[6].attributes["db.query.text"] == "SELECT id FROM stock WHERE name = ?"
    for span in spans:
        assert span.kind == rt.SpanKind.CLIENT
        assert span.attributes["db.system.name"] == "mariadb"
        assert span.attributes["db.namespace"] == "codetrace"
        assert span.attributes["server.port"] == mariadb_server.port
    nothing_secret(spans)
    connection.close()


def test_callproc_and_errors(conn: Any, exporter: rt.InMemorySpanExporter) -> None:
    cursor = conn.cursor()
    cursor.execute("DROP PROCEDURE IF EXISTS add_points")
    cursor.execute("CREATE PROCEDURE add_points(IN n INT) UPDATE items SET qty = qty + n")
    cursor.execute("INSERT INTO items VALUES (1, 'x', 1)")
    exporter.clear()
    cursor.callproc("add_points", (5,))
    with pytest.raises(MySQLdb.ProgrammingError) as syntax:
        cursor.execute(f"SELEC name FROM items WHERE name = '{SECRET}'")
    with pytest.raises(MySQLdb.IntegrityError):
        cursor.execute("INSERT INTO items VALUES (%s, %s, %s)", (1, SECRET, 1))
    assert SECRET in str(syntax.value)  # the application's exception, as it was
    call, failed, duplicate = take_spans(exporter)
    assert call.name == "CALL add_points"
    assert call.attributes["db.stored_procedure.name"] == "add_points"
    assert failed.attributes["db.response.status_code"] == "1064"
    assert failed.attributes["error.type"] == "MySQLdb.ProgrammingError"
    assert duplicate.attributes["db.response.status_code"] == "1062"
    assert duplicate.attributes["error.type"] == "MySQLdb.IntegrityError"
    for span in (failed, duplicate):
        assert span.status_code == rt.StatusCode.ERROR
        assert [event.name for event in span.events] == ["exception"]
    nothing_secret([call, failed, duplicate])


def test_unix_socket_is_the_server_address(
    mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    connection = rt.traced(MySQLdb.connect, CONNECT)(
        unix_socket=mariadb_server.unix_socket, user=mariadb_server.user, database="codetrace"
    )
    connection.cursor().execute("SELECT 1")
    spans = take_spans(exporter)
    assert [s.name for s in spans] == ["connect codetrace", "SELECT"]
    for span in spans:
        assert span.attributes["server.address"] == mariadb_server.unix_socket
        assert "server.port" not in span.attributes
    connection.close()


def test_every_spelling_of_connect_is_traced(
    mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    for callee in (MySQLdb.connect, MySQLdb.Connect, MySQLdb.Connection,
                   MySQLdb.connections.Connection):
        connection = _connect(mariadb_server, callee)
        assert isinstance(connection, MySQLdb.connections.Connection)
        connection.cursor().execute("SELECT 1")
        connection.close()
    assert [s.name for s in take_spans(exporter)] == ["connect codetrace", "SELECT"] * 4


def test_call_sites_and_a_connection_from_elsewhere(
    conn: Any, mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    rt.traced(conn.cursor().execute, QUERY)("SELECT 1")  # the traced object's span only
    rt.traced(conn.commit, TRANSACTION)()
    assert [s.name for s in take_spans(exporter)] == ["SELECT", "COMMIT"]
    plain = MySQLdb.connect(host=mariadb_server.host, port=mariadb_server.port,
                            user=mariadb_server.user, database="codetrace")
    rt.traced(plain.cursor().execute, QUERY)("SELECT 2")
    rt.traced(plain.rollback, TRANSACTION)()
    spans = take_spans(exporter)
    assert [s.name for s in spans] == ["SELECT", "ROLLBACK"]
    for span in spans:
        assert span.attributes["db.system.name"] == "mariadb"
        assert span.attributes["server.address"] == "127.0.0.1"
        assert span.attributes["server.port"] == mariadb_server.port
        if hasattr(plain, "db"):  # kept by mysqlclient since 2.2.x; no round trip before
            assert span.attributes["db.namespace"] == "codetrace"
    plain.close()


def test_mocks_and_project_subclasses(
    mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    with mock.patch("MySQLdb.connect") as patched:
        assert rt.traced(MySQLdb.connect, CONNECT)(host="db", passwd=SECRET) is (
            patched.return_value
        )
    assert patched.mock_calls == [mock.call(host="db", passwd=SECRET)]

    class AppConnection(MySQLdb.connections.Connection):  # type: ignore[misc, name-defined]
        def tables(self) -> int:
            cursor = self.cursor()
            cursor.execute("SELECT COUNT(*) FROM information_schema.tables")
            return int(cursor.fetchone()[0])

    connection = _connect(mariadb_server, AppConnection)
    assert type(connection).__name__ == "AppConnection" and connection.tables() > 0
    assert [s.name for s in take_spans(exporter)] == [
        "connect codetrace", "SELECT information_schema.tables",
    ]
    connection.close()


def test_pymysql_installed_as_mysqldb_is_traced_as_pymysql(
    mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    pymysql = pytest.importorskip("pymysql")
    # after `pymysql.install_as_MySQLdb()`, `MySQLdb.connect` is PyMySQL's connection class
    connection = _connect(mariadb_server, pymysql.connect)
    assert isinstance(connection, pymysql.connections.Connection)
    connection.cursor().execute("SELECT 1")
    connection.close()
    assert [s.name for s in take_spans(exporter)] == ["connect codetrace", "SELECT"]
