"""Adapters ``psycopg2.connect`` and ``psycopg2.pool``: psycopg2 connections traced for their life.

Against a real PostgreSQL server on 127.0.0.1 (``conftest_postgres``): statements, batches,
stored procedures, copies, transactions, errors, the ``psycopg2.extras`` cursor and connection
classes, pools, SQLAlchemy over a traced connection, and what a program may observe (types,
results, exceptions, mocks). The spans' content is ``_dbapi_connection``'s docstring.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from unittest import mock

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
import psycopg2.pool
import pytest
from conftest_postgres import PostgresServer, postgres_server
from psycopg2 import sql
from server_process import free_port
from span_checks import SECRET, nothing_secret, take_spans

import codetrace.runtime as rt
from codetrace.runtime import _psycopg2

__all__ = ["postgres_server"]  # the fixture, imported for this module's tests

CONNECT, POOL = "psycopg2.connect", "psycopg2.pool"


def _connect(*args: Any, **kwargs: Any) -> Any:
    return rt.traced(psycopg2.connect, CONNECT)(*args, **kwargs)


@pytest.fixture
def conn(postgres_server: PostgresServer) -> Iterator[Any]:
    connection = _connect(postgres_server.dsn)
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS items")
        cur.execute("CREATE TABLE items (id integer PRIMARY KEY, name text)")
    connection.commit()
    yield connection
    connection.close()


def _where(server: PostgresServer) -> dict[str, Any]:
    return {"db.namespace": server.database, "server.address": server.host,
            "server.port": server.port}


def test_connect_span_and_a_connection_that_is_still_psycopg2s(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    connection = _connect(postgres_server.dsn + f" password={SECRET}")
    (span,) = take_spans(exporter)
    assert span.name == "connect codetrace" and span.kind == rt.SpanKind.CLIENT
    assert span.attributes == {
        "db.system.name": "postgresql", "db.operation.name": "connect",
        "db.query.summary": "connect codetrace", **_where(postgres_server),
    }
    nothing_secret([span])
    assert isinstance(connection, psycopg2.extensions.connection)
    assert type(connection) is not psycopg2.extensions.connection
    assert type(connection).__name__ == "connection"
    assert SECRET not in connection.dsn  # psycopg2 masks it itself: unchanged
    connection.close()


def test_statements_make_one_span_each(
    conn: Any, postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    take_spans(exporter)
    cur = conn.cursor()
    cur.execute("INSERT INTO items VALUES (1, %s)", (SECRET,))
    cur.execute(f"INSERT INTO items VALUES (2, '{SECRET}')")
    cur.executemany("INSERT INTO items VALUES (%s, %s)", [(3, "a"), (4, SECRET)])
    cur.executemany("INSERT INTO items VALUES (%s, %s)", [(5, "b")])
    cur.execute(sql.SQL("SELECT name FROM {} WHERE id = %s").format(sql.Identifier("items")), (1,))
    assert cur.fetchall() == [(SECRET,)]
    one, two, batch, single, composed = spans = take_spans(exporter)
    where = _where(postgres_server)
    assert one.name == "INSERT items"
    assert one.attributes == {
        "db.system.name": "postgresql", "db.query.text": "INSERT INTO items VALUES (?, %s)",
        "db.query.summary": "INSERT items", **where,
    }
    assert two.attributes["db.query.text"] == "INSERT INTO items VALUES (?, ?)"
    assert batch.name == "BATCH INSERT items"
    assert batch.attributes["db.operation.batch.size"] == 2
    assert single.name == "INSERT items" and "db.operation.batch.size" not in single.attributes
    assert composed.attributes["db.query.text"] == 'SELECT name FROM "items" WHERE id = %s'
    assert all(s.status_code == rt.StatusCode.UNSET for s in spans)
    nothing_secret(spans)


def test_callproc_copies_and_extras_helpers(
    conn: Any, exporter: rt.InMemorySpanExporter
) -> None:
    cur = conn.cursor()
    cur.execute("CREATE OR REPLACE FUNCTION twice(x integer) RETURNS integer "
                "AS 'SELECT x * 2' LANGUAGE SQL")
    take_spans(exporter)
    cur.callproc("twice", (21,))
    assert cur.fetchone() == (42,)
    cur.copy_from(io.StringIO("1\tpen\n2\tink\n"), "items", columns=("id", "name"))
    out = io.StringIO()
    cur.copy_to(out, "items")
    assert out.getvalue() == "1\tpen\n2\tink\n"
    out = io.StringIO()
    cur.copy_expert("COPY (SELECT name FROM items WHERE id > 1) TO STDOUT", out)
    assert out.getvalue() == "ink\n"
    psycopg2.extras.execute_values(cur, "INSERT INTO items VALUES %s", [(3, SECRET), (4, "x")])
    psycopg2.extras.execute_batch(cur, "UPDATE items SET name = %s WHERE id = %s",
                                  [("y", 3), ("z", 4)], page_size=1)
    spans = take_spans(exporter)
    assert [s.name for s in spans] == [
        "CALL twice", "COPY items", "COPY items", "COPY SELECT items", "INSERT items",
        "UPDATE items", "UPDATE items",
    ]
    callproc, copy_from, copy_to, _, values, *_ = spans
    assert callproc.attributes["db.stored_procedure.name"] == "twice"
    assert callproc.attributes["db.operation.name"] == "CALL"
    assert "db.query.text" not in callproc.attributes
    assert copy_from.attributes["db.query.text"] == "COPY items (id, name) FROM STDIN"
    assert copy_to.attributes["db.query.text"] == "COPY items TO STDOUT"
    assert values.attributes["db.query.text"] == "INSERT INTO items VALUES (?,?),(?,?)"
    nothing_secret(spans)


def test_transactions_end_in_spans_only_when_one_is_open(
    conn: Any, exporter: rt.InMemorySpanExporter
) -> None:
    take_spans(exporter)
    conn.commit()  # nothing open: psycopg2 sends nothing
    conn.rollback()
    cur = conn.cursor()
    cur.execute("INSERT INTO items VALUES (1, 'a')")
    conn.commit()
    cur.execute("INSERT INTO items VALUES (2, 'b')")
    conn.rollback()
    with conn:
        cur.execute("INSERT INTO items VALUES (3, 'c')")
    with pytest.raises(ZeroDivisionError), conn:
        cur.execute("INSERT INTO items VALUES (4, 'd')")
        1 / 0  # noqa: B018
    with conn:  # nothing sent inside: nothing to commit
        pass
    spans = take_spans(exporter)
    assert [s.name for s in spans] == [
        "INSERT items", "COMMIT", "INSERT items", "ROLLBACK", "INSERT items", "COMMIT",
        "INSERT items", "ROLLBACK",
    ]
    commit = spans[1]
    assert commit.attributes["db.operation.name"] == commit.attributes["db.query.summary"]
    assert commit.attributes["db.namespace"] == "codetrace"
    cur.execute("SELECT id FROM items ORDER BY id")
    assert cur.fetchall() == [(1,), (3,)]


def test_spans_are_children_of_the_current_span(
    conn: Any, exporter: rt.InMemorySpanExporter
) -> None:
    take_spans(exporter)
    with rt.span("request") as parent:
        conn.cursor().execute("SELECT 1")
        conn.commit()
    select, commit, request = take_spans(exporter)
    assert select.parent_id == commit.parent_id == parent.span_id
    assert select.trace_id == request.trace_id
    assert rt.current_span() is None


def test_errors_are_recorded_scrubbed_and_reraised(
    conn: Any, exporter: rt.InMemorySpanExporter
) -> None:
    cur = conn.cursor()
    cur.execute("INSERT INTO items VALUES (1, %s)", (SECRET,))
    take_spans(exporter)
    with pytest.raises(psycopg2.errors.UniqueViolation) as raised:
        cur.execute("INSERT INTO items VALUES (%s, %s)", (1, SECRET))
    assert raised.value.pgcode == "23505"
    conn.rollback()
    with pytest.raises(psycopg2.errors.UndefinedTable):
        cur.execute(f"SELECT * FROM missing WHERE name = '{SECRET}'")
    conn.rollback()
    spans = take_spans(exporter)
    cur.execute("CREATE OR REPLACE FUNCTION twice(x integer) RETURNS integer "
                "AS 'SELECT x * 2' LANGUAGE SQL")
    take_spans(exporter)
    with pytest.raises(psycopg2.errors.InvalidTextRepresentation, match=SECRET):
        cur.callproc("twice", (SECRET,))  # the driver quotes the value back
    conn.rollback()
    (procedure, _) = take_spans(exporter)
    assert procedure.name == "CALL twice" and procedure.status_code == rt.StatusCode.ERROR
    assert procedure.attributes["db.response.status_code"] == "22P02"
    nothing_secret([procedure])
    unique, _, missing, _ = spans
    assert unique.status_code == missing.status_code == rt.StatusCode.ERROR
    assert unique.attributes["error.type"] == "psycopg2.errors.UniqueViolation"
    assert unique.attributes["db.response.status_code"] == "23505"
    assert missing.attributes["error.type"] == "psycopg2.errors.UndefinedTable"
    assert missing.attributes["db.response.status_code"] == "42P01"
    (event,) = missing.events
    assert "missing" in str(event.attributes["exception.message"])
    nothing_secret(spans)


def test_cursor_factories_keep_working(
    conn: Any, postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    conn.cursor().execute("INSERT INTO items VALUES (1, 'pen')")
    conn.commit()
    take_spans(exporter)
    dict_cursor = conn.cursor(cursor_factory=psycopg2.extras.DictCursor)
    dict_cursor.execute("SELECT id, name FROM items")
    assert dict_cursor.fetchone()["name"] == "pen"
    assert isinstance(dict_cursor, psycopg2.extras.DictCursor)
    named = conn.cursor("named", psycopg2.extras.NamedTupleCursor)  # positional, server-side
    named.execute("SELECT id, name FROM items")
    assert named.fetchone().name == "pen"
    conn.cursor_factory = psycopg2.extras.RealDictCursor  # set by the application later
    real = conn.cursor()
    real.execute("SELECT name FROM items")
    assert real.fetchall() == [{"name": "pen"}]
    assert conn.cursor_factory is psycopg2.extras.RealDictCursor
    by_function = conn.cursor(cursor_factory=lambda *a, **k: psycopg2.extensions.cursor(*a, **k))
    assert type(by_function) is psycopg2.extensions.cursor  # not a class: used as given
    assert [s.name for s in take_spans(exporter)] == ["SELECT items"] * 3
    at_connect = _connect(postgres_server.dsn, cursor_factory=psycopg2.extras.RealDictCursor)
    cur = at_connect.cursor()
    cur.execute("SELECT name FROM items")
    assert cur.fetchall() == [{"name": "pen"}]
    assert [s.name for s in take_spans(exporter)] == ["connect codetrace", "SELECT items"]
    at_connect.close()


def test_connection_factories_are_composed(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    class AppConnection(psycopg2.extensions.connection):
        def one(self) -> Any:
            with self.cursor() as cur:
                cur.execute("SELECT 1")
                return cur.fetchone()[0]

    for factory in (psycopg2.extras.DictConnection, psycopg2.extras.RealDictConnection):
        connection = _connect(postgres_server.dsn, connection_factory=factory)
        assert isinstance(connection, factory) and type(connection).__name__ == factory.__name__
        cur = connection.cursor()  # the class picks its cursor class itself
        cur.execute("SELECT 7 AS n")
        assert cur.fetchone()["n"] == 7
        connection.close()
    positional = _connect(postgres_server.dsn, AppConnection)
    assert isinstance(positional, AppConnection) and positional.one() == 1
    positional.close()
    names = [s.name for s in take_spans(exporter)]
    assert names == ["connect codetrace", "SELECT"] * 3


def test_pools_open_traced_connections(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    threaded = rt.traced(psycopg2.pool.ThreadedConnectionPool, POOL)(1, 2, postgres_server.dsn)
    simple = rt.traced(psycopg2.pool.SimpleConnectionPool, POOL)(
        1, 1, dsn=postgres_server.dsn, connection_factory=psycopg2.extras.DictConnection
    )
    assert type(threaded) is psycopg2.pool.ThreadedConnectionPool
    for pool in (threaded, simple):
        connection = pool.getconn()
        cur = connection.cursor()
        cur.execute("SELECT 1")
        pool.putconn(connection)  # in a transaction: the pool rolls it back
    assert isinstance(simple.getconn(), psycopg2.extras.DictConnection)
    threaded.closeall()
    simple.closeall()
    assert [s.name for s in take_spans(exporter)] == ["SELECT", "ROLLBACK"] * 2


def test_project_pools_with_their_own_arguments_are_left_alone(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    class FixedPool(psycopg2.pool.SimpleConnectionPool):
        def __init__(self, dsn: str) -> None:
            super().__init__(1, 1, dsn)

    pool = rt.traced(FixedPool, POOL)(postgres_server.dsn)
    pool.getconn().cursor().execute("SELECT 1")
    assert take_spans(exporter) == []
    pool.closeall()


def test_a_failed_connect_says_where_it_went(exporter: rt.InMemorySpanExporter) -> None:
    port = free_port()
    with pytest.raises(psycopg2.OperationalError):
        _connect(host="127.0.0.1", port=port, dbname="shop", user="u", password=SECRET,
                 connect_timeout=5)
    (span,) = take_spans(exporter)
    assert span.name == "connect shop" and span.status_code == rt.StatusCode.ERROR
    assert span.attributes["server.address"] == "127.0.0.1"
    assert span.attributes["server.port"] == port
    assert span.attributes["error.type"] == "psycopg2.OperationalError"
    nothing_secret([span])


def test_sqlalchemy_over_a_traced_connection_makes_one_span_per_statement(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = rt.traced(sqlalchemy.create_engine, "sqlalchemy.engine")(
        "postgresql+psycopg2://", creator=lambda: _connect(postgres_server.dsn)
    )
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("DROP TABLE IF EXISTS sa"))
        connection.execute(sqlalchemy.text("CREATE TABLE sa (x integer)"))
        connection.execute(sqlalchemy.text("INSERT INTO sa VALUES (:x)"), [{"x": 1}, {"x": 2}])
        assert connection.execute(sqlalchemy.text("SELECT sum(x) FROM sa")).scalar() == 3
    engine.dispose()
    spans = take_spans(exporter)
    statements = [s for s in spans if "db.query.text" in s.attributes]
    texts = [s.attributes["db.query.text"] for s in statements]
    for text in ("DROP TABLE IF EXISTS sa", "CREATE TABLE sa (x integer)",
                 "SELECT sum(x) FROM sa"):
        assert texts.count(text) == 1, texts  # SQLAlchemy's span, not the driver's too
    assert [s.name for s in spans if s.name in ("connect codetrace", "COMMIT")] == [
        "connect codetrace", "COMMIT"]


def test_mocked_connect_is_called_exactly_as_written(exporter: rt.InMemorySpanExporter) -> None:
    with mock.patch("psycopg2.connect") as patched:
        result = rt.traced(psycopg2.connect, CONNECT)("dbname=x", connect_timeout=3)
        assert result is patched.return_value
    assert patched.mock_calls == [mock.call("dbname=x", connect_timeout=3)]
    with mock.patch("psycopg2.pool.SimpleConnectionPool") as pool:
        rt.traced(psycopg2.pool.SimpleConnectionPool, POOL)(1, 2, "dbname=x")
    assert pool.mock_calls == [mock.call(1, 2, "dbname=x")]
    assert take_spans(exporter) == []


def test_other_connect_functions_are_called_as_written(exporter: rt.InMemorySpanExporter) -> None:
    seen: list[tuple[Any, ...]] = []

    def connect(*args: Any, **kwargs: Any) -> str:
        seen.append((args, kwargs))
        return "connection"

    assert rt.traced(connect, CONNECT)("dbname=x") == "connection"
    assert seen == [(("dbname=x",), {})] and take_spans(exporter) == []


def test_disabled_opens_a_plain_connection(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    rt.reset()
    assert rt.traced(psycopg2.connect, CONNECT) is psycopg2.connect
    connection = rt.traced(psycopg2.connect, CONNECT)(postgres_server.dsn)
    assert type(connection) is psycopg2.extensions.connection
    connection.close()


def test_traced_classes_add_no_state(conn: Any) -> None:
    cur = conn.cursor()
    assert type(cur).__name__ == "cursor" and type(cur) is not psycopg2.extensions.cursor
    assert _psycopg2.traced_connection_class(type(conn)) is type(conn)
    for obj in (conn, cur):
        assert not hasattr(obj, "__dict__")
