"""Adapters ``pymysql.connect``/``query``/``transaction``: PyMySQL traced from construction.

Against a real MariaDB server on 127.0.0.1 (``conftest_mariadb``): the connect span, cursors of
every class (``cursorclass=``, ``cursor(DictCursor)``, ``SSCursor``), ``execute``/
``executemany``/``callproc``, ``commit``/``rollback``, errors with the server's error number,
the call-site adapters, a unix socket, mocks, a project subclass, and SQLAlchemy over a traced
connection (one span per statement). What the spans say is ``_dbapi_mysql``'s docstring.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pymysql
import pymysql.cursors
import pytest
from conftest_mariadb import MariaDBServer, mariadb_server
from span_checks import SECRET, nothing_secret, take_spans

import codetrace.runtime as rt

__all__ = ["mariadb_server"]  # the fixture, imported for this module's tests

CONNECT, QUERY, TRANSACTION = "pymysql.connect", "pymysql.query", "pymysql.transaction"


def _connect(server: MariaDBServer, callee: Any = None, **kwargs: Any) -> Any:
    options = {"host": server.host, "port": server.port, "user": server.user,
               "password": server.password, "database": server.database, **kwargs}
    return rt.traced(callee or pymysql.connect, CONNECT)(**options)


@pytest.fixture
def conn(mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter) -> Iterator[Any]:
    connection = _connect(mariadb_server)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS items")
        cursor.execute("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40), qty INT)")
    exporter.clear()
    yield connection
    connection.close()


def test_connect_makes_a_client_span_and_a_traced_connection(
    mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    connection = _connect(mariadb_server)
    (span,) = take_spans(exporter)
    assert span.name == "connect codetrace"
    assert span.kind == rt.SpanKind.CLIENT
    assert span.status_code == rt.StatusCode.UNSET
    assert span.attributes == {
        "db.system.name": "mariadb",  # the server said so in its handshake
        "db.operation.name": "connect",
        "db.namespace": "codetrace",
        "db.query.summary": "connect codetrace",
        "server.address": "127.0.0.1",
        "server.port": mariadb_server.port,
    }
    assert isinstance(connection, pymysql.connections.Connection)
    assert type(connection) is not pymysql.connections.Connection
    assert type(connection).__qualname__ == "Connection" and type(connection).__slots__ == ()
    assert connection.cursorclass is pymysql.cursors.Cursor  # the caller's, untouched
    connection.close()


def test_each_operation_is_one_span_with_the_connection_attributes(
    conn: Any, mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    cursor = conn.cursor()
    assert cursor.execute("INSERT INTO items VALUES (%s, %s, %s)", (1, SECRET, 3)) == 1
    cursor.executemany("INSERT INTO items VALUES (%s, %s, %s)", [(2, "a", 1), (3, "b", 2)])
    conn.commit()
    cursor.execute(f"SELECT name FROM items WHERE name = '{SECRET}' AND qty > 2")
    assert cursor.fetchall() == ((SECRET,),)
    cursor.execute("UPDATE items SET qty = %(qty)s WHERE id = %(id)s", {"qty": 9, "id": 2})
    conn.rollback()
    spans = take_spans(exporter)
    assert [s.name for s in spans] == [
        "INSERT items", "BATCH INSERT items", "COMMIT", "SELECT items", "UPDATE items",
        "ROLLBACK",
    ]
    texts = [s.attributes.get("db.query.text") for s in spans]
    assert texts == [
        "INSERT INTO items VALUES (%s, %s, %s)",  # parameterised: as written
        "INSERT INTO items VALUES (%s, %s, %s)",
        None,
        "SELECT name FROM items WHERE name = ? AND qty > ?",  # literals replaced
        "UPDATE items SET qty = %(qty)s WHERE id = %(id)s",
        None,
    ]
    assert spans[1].attributes["db.operation.batch.size"] == 2
    assert spans[2].attributes["db.operation.name"] == "COMMIT"
    for span in spans:
        assert span.kind == rt.SpanKind.CLIENT
        assert span.attributes["db.system.name"] == "mariadb"
        assert span.attributes["db.namespace"] == "codetrace"
        assert span.attributes["server.address"] == "127.0.0.1"
        assert span.attributes["server.port"] == mariadb_server.port
    nothing_secret(spans)


def test_every_cursor_class_keeps_working(
    mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    connection = _connect(mariadb_server, cursorclass=pymysql.cursors.DictCursor)
    assert connection.cursorclass is pymysql.cursors.DictCursor
    exporter.clear()
    dict_cursor = connection.cursor()
    dict_cursor.execute("SELECT 1 AS one")
    assert dict_cursor.fetchall() == [{"one": 1}]
    assert isinstance(dict_cursor, pymysql.cursors.DictCursor)
    for cls in (pymysql.cursors.SSCursor, pymysql.cursors.SSDictCursor, pymysql.cursors.Cursor):
        with connection.cursor(cls) as cursor:
            assert isinstance(cursor, cls) and type(cursor).__name__ == cls.__name__
            cursor.execute("SELECT 2 AS two")
            assert list(cursor) in ([(2,)], [{"two": 2}])
    with connection.cursor(cursor=pymysql.cursors.SSCursor) as cursor:
        cursor.execute("SELECT 3")
        assert cursor.fetchone() == (3,)
    assert [s.name for s in take_spans(exporter)] == ["SELECT"] * 5
    connection.close()


def test_callproc_names_the_procedure(conn: Any, exporter: rt.InMemorySpanExporter) -> None:
    cursor = conn.cursor()
    cursor.execute("DROP PROCEDURE IF EXISTS add_points")
    cursor.execute("CREATE PROCEDURE add_points(IN n INT) UPDATE items SET qty = qty + n")
    exporter.clear()
    assert cursor.callproc("add_points", (5,)) == (5,)
    (span,) = take_spans(exporter)
    assert span.name == "CALL add_points"
    assert span.attributes["db.stored_procedure.name"] == "add_points"
    assert span.attributes["db.operation.name"] == "CALL"
    assert span.attributes["db.query.summary"] == "CALL add_points"
    assert "db.query.text" not in span.attributes


def test_errors_are_recorded_with_the_error_number(
    conn: Any, exporter: rt.InMemorySpanExporter
) -> None:
    cursor = conn.cursor()
    cursor.execute("INSERT INTO items VALUES (1, 'x', 1)")
    exporter.clear()
    with pytest.raises(pymysql.err.ProgrammingError) as syntax:
        cursor.execute(f"SELEC name FROM items WHERE name = '{SECRET}'")
    assert syntax.value.args[0] == 1064
    with pytest.raises(pymysql.err.IntegrityError) as duplicate:
        cursor.execute("INSERT INTO items VALUES (%s, %s, %s)", (1, SECRET, 1))
    with pytest.raises(pymysql.err.ProgrammingError):
        cursor.executemany("INSERT INTO missing VALUES (%s)", [(1,), (2,)])
    assert SECRET in str(syntax.value) and "1062" in str(duplicate.value)  # the app's, as is
    spans = take_spans(exporter)
    assert [s.attributes["db.response.status_code"] for s in spans] == ["1064", "1062", "1146"]
    assert [s.attributes["error.type"] for s in spans] == [
        "pymysql.err.ProgrammingError", "pymysql.err.IntegrityError",
        "pymysql.err.ProgrammingError",
    ]
    for span in spans:
        assert span.status_code == rt.StatusCode.ERROR
        assert [event.name for event in span.events] == ["exception"]
    assert spans[0].attributes["db.query.text"] == "SELEC name FROM items WHERE name = ?"
    nothing_secret(spans)
    assert rt.current_span() is None


def test_a_failed_connect_is_recorded(
    mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(pymysql.err.OperationalError):
        _connect(mariadb_server, port=port, connect_timeout=2)
    with pytest.raises(pymysql.err.OperationalError):
        _connect(mariadb_server, password=SECRET)
    refused, denied = take_spans(exporter)
    assert refused.attributes["db.response.status_code"] == "2003"
    assert refused.attributes["server.port"] == port
    assert refused.attributes["db.system.name"] == "mysql"  # no handshake: the driver's system
    assert denied.attributes["db.response.status_code"] == "1045"
    for span in (refused, denied):
        assert span.name == "connect codetrace"
        assert span.attributes["error.type"] == "pymysql.err.OperationalError"
        assert span.status_code == rt.StatusCode.ERROR
    nothing_secret([refused, denied])


def test_unix_socket_is_the_server_address(
    mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    connection = rt.traced(pymysql.connect, CONNECT)(
        unix_socket=mariadb_server.unix_socket, user=mariadb_server.user, database="codetrace"
    )
    connection.cursor().execute("SELECT 1")
    for span in take_spans(exporter):
        assert span.attributes["server.address"] == mariadb_server.unix_socket
        assert "server.port" not in span.attributes
    connection.close()


def test_every_spelling_of_connect_is_traced(
    mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    for callee in (pymysql.connect, pymysql.Connect, pymysql.Connection,
                   pymysql.connections.Connection):
        connection = _connect(mariadb_server, callee)
        connection.cursor().execute("SELECT 1")
        connection.close()
    assert [s.name for s in take_spans(exporter)] == ["connect codetrace", "SELECT"] * 4


def test_call_site_wraps_give_one_span(
    conn: Any, mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    cursor = conn.cursor()
    rt.traced(cursor.execute, QUERY)("SELECT 1")  # traced object: the object makes the span
    rt.traced(conn.commit, TRANSACTION)()
    rt.traced(pymysql.cursors.Cursor.execute, QUERY)(cursor, "SELECT 2")  # skips the override
    assert [s.name for s in take_spans(exporter)] == ["SELECT", "COMMIT", "SELECT"]
    plain = pymysql.connect(host=mariadb_server.host, port=mariadb_server.port,
                            user=mariadb_server.user, database="codetrace")  # not the project's
    plain_cursor = plain.cursor()
    rt.traced(plain_cursor.execute, QUERY)("SELECT 3")
    rt.traced(plain_cursor.executemany, QUERY)("SELECT %s", [(1,), (2,)])
    with pytest.raises(pymysql.err.OperationalError):  # recorded, re-raised
        rt.traced(plain_cursor.callproc, QUERY)("no_such_procedure")
    rt.traced(plain.rollback, TRANSACTION)()
    spans = take_spans(exporter)
    assert [s.name for s in spans] == ["SELECT", "BATCH SELECT", "CALL no_such_procedure",
                                       "ROLLBACK"]
    for span in spans:  # read from the connection the call was made on
        assert span.attributes["db.system.name"] == "mariadb"
        assert span.attributes["db.namespace"] == "codetrace"
        assert span.attributes["server.port"] == mariadb_server.port
    assert spans[2].attributes["db.response.status_code"] == "1305"
    plain.close()


def test_mocks_are_called_as_written(mariadb_server: MariaDBServer) -> None:
    memory = rt.InMemorySpanExporter()
    rt.configure(exporter=memory)
    with mock.patch("pymysql.connect") as patched:
        result = rt.traced(pymysql.connect, CONNECT)(host="db", user="app", password=SECRET)
        assert result is patched.return_value
    assert patched.mock_calls == [mock.call(host="db", user="app", password=SECRET)]
    connection = _connect(mariadb_server)
    with mock.patch.object(pymysql.cursors.Cursor, "execute", return_value=7) as execute:
        assert connection.cursor().execute("SELECT 1") == 7
    assert execute.mock_calls == [mock.call("SELECT 1")]
    assert [s.name for s in memory.get_finished_spans()] == ["connect codetrace"]
    connection.close()


def test_a_project_subclass_stays_itself(
    mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    class AppConnection(pymysql.connections.Connection):
        def cursor(self, cursor: Any = None) -> Any:  # its own default cursor class
            return super().cursor(cursor or pymysql.cursors.DictCursor)

        def count(self) -> int:
            with self.cursor() as cursor:
                cursor.execute("SELECT COUNT(*) AS n FROM information_schema.tables")
                return int(cursor.fetchone()["n"])

    connection = _connect(mariadb_server, AppConnection)
    assert isinstance(connection, AppConnection) and type(connection).__name__ == "AppConnection"
    assert connection.count() > 0
    assert [s.name for s in take_spans(exporter)] == [
        "connect codetrace", "SELECT information_schema.tables",
    ]
    connection.close()


def test_ping_and_other_housekeeping_make_no_span(
    conn: Any, exporter: rt.InMemorySpanExporter
) -> None:
    conn.ping()
    conn.select_db("codetrace")
    conn.autocommit(False)
    assert take_spans(exporter) == []


def test_disabled_connects_plainly(
    mariadb_server: MariaDBServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    rt.reset()
    assert rt.traced(pymysql.connect, CONNECT) is pymysql.connect
    connection = _connect(mariadb_server)
    assert type(connection) is pymysql.connections.Connection
    connection.close()


def test_sqlalchemy_over_a_traced_connection_makes_one_span_per_statement(
    mariadb_server: MariaDBServer, exporter: rt.InMemorySpanExporter
) -> None:
    sa = pytest.importorskip("sqlalchemy")
    server = mariadb_server
    url = f"mysql+pymysql://{server.user}@{server.host}:{server.port}/{server.database}"
    engine = rt.traced(sa.create_engine, "sqlalchemy.engine")(
        url, creator=lambda: _connect(server)
    )
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS sa_items"))
        connection.execute(sa.text("CREATE TABLE sa_items (x INT)"))
        connection.execute(sa.text("INSERT INTO sa_items VALUES (:x)"), [{"x": 1}, {"x": 2}])
        rows = connection.execute(sa.text("SELECT x FROM sa_items ORDER BY x")).all()
    assert rows == [(1,), (2,)]
    with engine.connect() as connection, pytest.raises(sa.exc.ProgrammingError):
        connection.execute(sa.text("SELECT * FROM missing"))
    engine.dispose()
    spans = exporter.get_finished_spans()
    for statement in ("CREATE TABLE sa_items (x INT)", "INSERT INTO sa_items VALUES (%(x)s)",
                      "SELECT x FROM sa_items ORDER BY x", "SELECT * FROM missing"):
        (span,) = [s for s in spans if s.attributes.get("db.query.text") == statement]
        assert span.attributes["db.system.name"] == "mariadb"
    failed = next(s for s in spans if s.attributes.get("db.query.text") == "SELECT * FROM missing")
    assert failed.attributes["error.type"] == "pymysql.err.ProgrammingError"
    names = [s.name for s in spans]
    assert names[0] == "connect codetrace" and "COMMIT" in names
