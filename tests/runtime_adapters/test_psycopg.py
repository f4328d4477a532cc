"""Adapters ``psycopg.connect`` and ``psycopg.pool``: psycopg 3 connections traced for their life.

Against a real PostgreSQL server on 127.0.0.1 (``conftest_postgres``): the ``conn.execute``
shortcut, cursors of every kind (client- and server-side, ``ClientCursor``, row factories),
batches, ``copy``, transactions, errors, ``AsyncConnection``, ``psycopg_pool`` pools, SQLAlchemy
over a traced connection, and what a program may observe (types, results, exceptions, mocks,
coroutines). The spans' content is ``_dbapi_connection``'s docstring.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from typing import Any
from unittest import mock

import psycopg
import psycopg.errors
import psycopg_pool
import pytest
from conftest_postgres import PostgresServer, postgres_server
from psycopg import sql
from psycopg.rows import dict_row
from server_process import free_port
from span_checks import SECRET, nothing_secret, take_spans

import codetrace.runtime as rt

__all__ = ["postgres_server"]  # the fixture, imported for this module's tests

CONNECT, POOL = "psycopg.connect", "psycopg.pool"


@pytest.fixture
def conn(postgres_server: PostgresServer) -> Iterator[Any]:
    connection = rt.traced(psycopg.connect, CONNECT)(postgres_server.dsn)
    connection.execute("DROP TABLE IF EXISTS items")
    connection.execute("CREATE TABLE items (id integer PRIMARY KEY, name text)")
    connection.commit()
    yield connection
    connection.close()


def test_connect_span_and_a_connection_that_is_still_psycopgs(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    connection = rt.traced(psycopg.connect, CONNECT)(
        postgres_server.dsn, password=SECRET, row_factory=dict_row
    )
    (span,) = take_spans(exporter)
    assert span.name == "connect codetrace" and span.kind == rt.SpanKind.CLIENT
    assert span.attributes == {
        "db.system.name": "postgresql", "db.operation.name": "connect",
        "db.query.summary": "connect codetrace", "db.namespace": "codetrace",
        "server.address": postgres_server.host, "server.port": postgres_server.port,
    }
    assert isinstance(connection, psycopg.Connection)
    assert type(connection) is not psycopg.Connection and type(connection).__name__ == "Connection"
    assert connection.execute("SELECT 1 AS n").fetchone() == {"n": 1}
    assert connection.cursor_factory is psycopg.Cursor  # the application's view is unchanged
    nothing_secret(take_spans(exporter))
    connection.close()


def test_shortcuts_and_cursors_make_one_span_each(
    conn: Any, postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    take_spans(exporter)
    conn.execute("INSERT INTO items VALUES (1, %s)", (SECRET,))
    with conn.cursor() as cur:
        cur.execute(f"INSERT INTO items VALUES (2, '{SECRET}')")
        cur.executemany("INSERT INTO items VALUES (%s, %s)", [(3, "a"), (4, SECRET)])
        query = sql.SQL("SELECT name FROM {} WHERE id = %s").format(sql.Identifier("items"))
        assert cur.execute(query, (1,)).fetchall() == [(SECRET,)]
        assert isinstance(cur, psycopg.Cursor)
    shortcut, literal, batch, composed = spans = take_spans(exporter)
    assert shortcut.name == "INSERT items"
    assert shortcut.attributes == {
        "db.system.name": "postgresql", "db.query.text": "INSERT INTO items VALUES (?, %s)",
        "db.query.summary": "INSERT items", "db.namespace": "codetrace",
        "server.address": postgres_server.host, "server.port": postgres_server.port,
    }
    assert literal.attributes["db.query.text"] == "INSERT INTO items VALUES (?, ?)"
    assert batch.name == "BATCH INSERT items"
    assert batch.attributes["db.operation.batch.size"] == 2
    assert composed.attributes["db.query.text"] == 'SELECT name FROM "items" WHERE id = %s'
    nothing_secret(spans)


def test_every_kind_of_cursor_is_traced(conn: Any, exporter: rt.InMemorySpanExporter) -> None:
    conn.execute("INSERT INTO items VALUES (1, 'pen'), (2, 'ink')")
    take_spans(exporter)
    with conn.cursor(name="by_name") as server_side:  # DECLARE: a server-side cursor
        server_side.execute("SELECT name FROM items ORDER BY id")
        assert [row[0] for row in server_side] == ["pen", "ink"]
        assert isinstance(server_side, psycopg.ServerCursor)
    with conn.cursor(row_factory=dict_row) as cur:
        assert cur.execute("SELECT name FROM items WHERE id = 1").fetchone() == {"name": "pen"}
    conn.cursor_factory = psycopg.ClientCursor  # set by the application later
    with conn.cursor() as client_side:
        client_side.execute("SELECT %s::text", ("x",))
        assert isinstance(client_side, psycopg.ClientCursor)
    raw = psycopg.Cursor(conn)  # built by hand, not by the connection: not traced
    raw.execute("SELECT 1")
    assert [s.name for s in take_spans(exporter)] == ["SELECT items", "SELECT items", "SELECT"]


def test_copy_blocks_are_one_span(conn: Any, exporter: rt.InMemorySpanExporter) -> None:
    take_spans(exporter)
    with conn.cursor() as cur:
        with cur.copy("COPY items (id, name) FROM STDIN") as copy:
            copy.write_row((1, SECRET))
            copy.write_row((2, "ink"))
        with cur.copy("COPY (SELECT name FROM items ORDER BY id) TO STDOUT") as copy:
            assert [bytes(row) for row in copy] == [f"{SECRET}\n".encode(), b"ink\n"]
        # psycopg 3.1 raises QueryCanceled from the block's error, later versions the error
        expected = (ValueError, psycopg.errors.QueryCanceled)
        with pytest.raises(expected) as raised, cur.copy("COPY items FROM STDIN"):
            raise ValueError("the application's own error")
    conn.rollback()
    into, out, aborted, _ = spans = take_spans(exporter)
    assert into.name == "COPY items" and out.name == "COPY SELECT items"
    assert into.attributes["db.query.text"] == "COPY items (id, name) FROM STDIN"
    assert aborted.status_code == rt.StatusCode.ERROR
    assert aborted.attributes["error.type"] == (
        "ValueError" if type(raised.value) is ValueError else "psycopg.errors.QueryCanceled")
    nothing_secret(spans)


def test_transactions_end_in_spans_only_when_one_is_open(
    conn: Any, exporter: rt.InMemorySpanExporter
) -> None:
    take_spans(exporter)
    conn.commit()  # nothing open: psycopg sends nothing
    conn.execute("INSERT INTO items VALUES (1, 'a')")
    conn.commit()
    conn.execute("INSERT INTO items VALUES (2, 'b')")
    conn.rollback()
    assert [s.name for s in take_spans(exporter)] == ["INSERT items", "COMMIT", "INSERT items",
                                                  "ROLLBACK"]

    with conn.transaction():  # BEGIN ... COMMIT
        conn.execute("INSERT INTO items VALUES (3, 'c')")
        with conn.transaction() as savepoint:  # a savepoint: nothing to commit yet
            conn.execute("INSERT INTO items VALUES (4, 'd')")
            raise psycopg.Rollback(savepoint)
    with pytest.raises(ZeroDivisionError), conn.transaction():
        conn.execute("INSERT INTO items VALUES (5, 'e')")
        1 / 0  # noqa: B018
    with conn.transaction(force_rollback=True):
        conn.execute("INSERT INTO items VALUES (6, 'f')")
    assert [s.name for s in take_spans(exporter)] == [
        "INSERT items", "INSERT items", "COMMIT", "INSERT items", "ROLLBACK", "INSERT items",
        "ROLLBACK",
    ]
    assert conn.execute("SELECT id FROM items ORDER BY id").fetchall() == [(1,), (3,)]


def test_leaving_with_commits_or_rolls_back_in_a_span(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    connect = rt.traced(psycopg.connect, CONNECT)
    with connect(postgres_server.dsn) as connection:
        connection.execute("CREATE TEMP TABLE t (x integer)")
    with pytest.raises(ZeroDivisionError), connect(postgres_server.dsn) as connection:
        connection.execute("SELECT 1")
        1 / 0  # noqa: B018
    assert connection.closed
    names = [s.name for s in take_spans(exporter)]
    assert names == ["connect codetrace", "CREATE TABLE t", "COMMIT",
                     "connect codetrace", "SELECT", "ROLLBACK"]


def test_errors_are_recorded_scrubbed_and_reraised(
    conn: Any, exporter: rt.InMemorySpanExporter
) -> None:
    conn.execute("INSERT INTO items VALUES (1, %s)", (SECRET,))
    take_spans(exporter)
    with pytest.raises(psycopg.errors.UniqueViolation) as raised:
        conn.execute("INSERT INTO items VALUES (%s, %s)", (1, SECRET))
    assert raised.value.sqlstate == "23505"
    conn.rollback()
    with pytest.raises(psycopg.errors.UndefinedTable):
        conn.execute(f"SELECT * FROM missing WHERE name = '{SECRET}'")
    conn.rollback()
    unique, _, missing, _ = spans = take_spans(exporter)
    assert unique.attributes["error.type"] == "psycopg.errors.UniqueViolation"
    assert unique.attributes["db.response.status_code"] == "23505"
    assert missing.attributes["error.type"] == "psycopg.errors.UndefinedTable"
    assert missing.attributes["db.response.status_code"] == "42P01"
    assert missing.status_code == rt.StatusCode.ERROR
    nothing_secret(spans)


def test_project_subclasses_are_traced_and_keep_their_methods(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    class Shop(psycopg.Connection):
        @classmethod
        def connect(cls, *args: Any, **kwargs: Any) -> Any:
            connection = super().connect(*args, **kwargs)
            connection.execute("SET application_name = 'shop'")
            return connection

        def one(self) -> Any:
            return self.execute("SELECT 1").fetchone()[0]

    connection = rt.traced(Shop.connect, CONNECT)(postgres_server.dsn, autocommit=True)
    assert isinstance(connection, Shop) and type(connection).__name__ == "Shop"
    assert connection.one() == 1
    connection.close()
    names = [s.name for s in take_spans(exporter)]
    assert names == ["SET", "connect codetrace", "SELECT"]  # SET runs inside connect's span


def test_async_connections(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    async def main() -> Any:
        connecting = rt.traced(psycopg.AsyncConnection.connect, CONNECT)(postgres_server.dsn)
        assert inspect.iscoroutine(connecting) and asyncio.iscoroutine(connecting)
        async with await connecting as connection:
            assert isinstance(connection, psycopg.AsyncConnection)
            await connection.execute("CREATE TEMP TABLE t (x integer, y text)")
            async with connection.cursor() as cur:
                await cur.executemany("INSERT INTO t VALUES (%s, %s)", [(1, SECRET), (2, "b")])
                async with cur.copy("COPY t TO STDOUT") as copy:
                    rows = [bytes(row) async for row in copy]
                await cur.execute("SELECT sum(x) FROM t")
                total = await cur.fetchone()
            async with connection.cursor(name="server_side") as server_side:
                await server_side.execute("SELECT y FROM t ORDER BY x")
                names = await server_side.fetchall()
            with pytest.raises(psycopg.errors.UndefinedTable):
                await connection.execute("SELECT * FROM missing")
            await connection.rollback()
            async with connection.transaction():  # the temporary table was rolled back
                await connection.execute("SELECT 1")
        return total, rows, names

    total, rows, names = asyncio.run(main())
    assert total == (3,) and rows == [f"1\t{SECRET}\n".encode(), b"2\tb\n"]
    assert names == [(SECRET,), ("b",)]
    spans = take_spans(exporter)
    assert [s.name for s in spans] == [
        "connect codetrace", "CREATE TABLE t", "BATCH INSERT t", "COPY t", "SELECT t", "SELECT t",
        "SELECT missing", "ROLLBACK", "SELECT", "COMMIT",
    ]
    assert spans[-4].attributes["error.type"] == "psycopg.errors.UndefinedTable"
    assert len({s.trace_id for s in spans}) == len(spans)  # no span left current behind
    nothing_secret(spans)


def test_async_spans_are_children_of_the_awaiting_task(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    async def main() -> None:
        with rt.span("request"):
            connection = await rt.traced(psycopg.AsyncConnection.connect, CONNECT)(
                postgres_server.dsn
            )
            await connection.execute("SELECT 1")
            await connection.commit()
            await connection.close()
        assert rt.current_span() is None

    asyncio.run(main())
    connect, select, commit, request = take_spans(exporter)
    assert connect.parent_id == select.parent_id == commit.parent_id == request.span_id


def test_pools_open_traced_connections(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    pool = rt.traced(psycopg_pool.ConnectionPool, POOL)(
        postgres_server.dsn, min_size=1, max_size=1, open=True
    )
    with pool, pool.connection() as connection:
        connection.execute("SELECT 1")
    null = rt.traced(psycopg_pool.NullConnectionPool, POOL)(
        postgres_server.dsn, connection_class=psycopg.Connection, open=True
    )
    with null, null.connection() as connection:
        assert type(connection) is not psycopg.Connection
        connection.execute("SELECT 2")

    async def use_async_pool() -> None:
        apool = rt.traced(psycopg_pool.AsyncConnectionPool, POOL)(
            postgres_server.dsn, min_size=1, open=False
        )
        async with apool, apool.connection() as connection:
            await connection.execute("SELECT 3")

    asyncio.run(use_async_pool())
    names = [s.name for s in take_spans(exporter)]
    assert names == ["SELECT", "COMMIT"] * 3  # no connect spans: the pool's, not the app's


def test_project_pools_with_their_own_arguments_are_left_alone(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    class FixedPool(psycopg_pool.ConnectionPool):
        def __init__(self, dsn: str) -> None:
            super().__init__(dsn, min_size=1, open=True)

    with rt.traced(FixedPool, POOL)(postgres_server.dsn) as pool, pool.connection() as connection:
        assert type(connection) is psycopg.Connection
    assert take_spans(exporter) == []


def test_a_failed_connect_says_where_it_went(exporter: rt.InMemorySpanExporter) -> None:
    port = free_port()
    with pytest.raises(psycopg.OperationalError):
        rt.traced(psycopg.connect, CONNECT)(
            f"host=127.0.0.1 port={port} dbname=shop user=u password={SECRET} connect_timeout=5"
        )

    async def main() -> None:
        with pytest.raises(psycopg.OperationalError):
            await rt.traced(psycopg.AsyncConnection.connect, CONNECT)(
                host="127.0.0.1", port=port, dbname="shop", connect_timeout=5
            )

    asyncio.run(main())
    for span in take_spans(exporter):
        assert span.name == "connect shop" and span.status_code == rt.StatusCode.ERROR
        assert span.attributes["server.address"] == "127.0.0.1"
        assert span.attributes["server.port"] == port
        assert span.attributes["error.type"] == "psycopg.OperationalError"
        nothing_secret([span])


def test_sqlalchemy_over_a_traced_connection_makes_one_span_per_statement(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = rt.traced(sqlalchemy.create_engine, "sqlalchemy.engine")(
        "postgresql+psycopg://",
        creator=lambda: rt.traced(psycopg.connect, CONNECT)(postgres_server.dsn),
    )
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("CREATE TEMP TABLE sa (x integer)"))
        connection.execute(sqlalchemy.text("INSERT INTO sa VALUES (:x)"), [{"x": 1}, {"x": 2}])
        assert connection.execute(sqlalchemy.text("SELECT sum(x) FROM sa")).scalar() == 3
    engine.dispose()
    spans = take_spans(exporter)
    texts = [s.attributes.get("db.query.text") for s in spans]
    for text in ("CREATE TEMP TABLE sa (x integer)", "SELECT sum(x) FROM sa"):
        assert texts.count(text) == 1, texts  # SQLAlchemy's span, not the driver's too
    assert [s.name for s in spans if s.name in ("connect codetrace", "COMMIT")] == [
        "connect codetrace", "COMMIT"]


def test_async_sqlalchemy_over_a_traced_async_connection_makes_one_span_per_statement(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    """SQLAlchemy's asyncio dialect runs statements on its own adapter of the driver's cursor:
    the driver span for the cursor under it is suppressed all the same."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    from sqlalchemy.ext.asyncio import create_async_engine

    async def creator() -> Any:
        return await rt.traced(psycopg.AsyncConnection.connect, CONNECT)(postgres_server.dsn)

    async def main() -> int:
        engine = rt.traced(create_async_engine, "sqlalchemy.engine")(
            "postgresql+psycopg://", async_creator=creator)
        async with engine.begin() as connection:
            await connection.execute(sqlalchemy.text("CREATE TEMP TABLE asa (x integer)"))
            await connection.execute(sqlalchemy.text("INSERT INTO asa VALUES (:x)"),
                                     [{"x": 1}, {"x": 2}])
            total = (await connection.execute(sqlalchemy.text("SELECT sum(x) FROM asa"))).scalar()
        await engine.dispose()
        return int(total)

    assert asyncio.run(main()) == 3
    texts = [s.attributes.get("db.query.text") for s in take_spans(exporter)]
    for text in ("CREATE TEMP TABLE asa (x integer)", "SELECT sum(x) FROM asa"):
        assert texts.count(text) == 1, texts  # SQLAlchemy's span, not the driver's too


def test_mocks_are_called_exactly_as_written(exporter: rt.InMemorySpanExporter) -> None:
    with mock.patch("psycopg.connect") as patched:
        assert rt.traced(psycopg.connect, CONNECT)("dbname=x") is patched.return_value
    assert patched.mock_calls == [mock.call("dbname=x")]
    with mock.patch.object(psycopg.Connection, "connect") as method:
        rt.traced(psycopg.Connection.connect, CONNECT)("dbname=y", autocommit=True)
    assert method.mock_calls == [mock.call("dbname=y", autocommit=True)]
    with mock.patch("psycopg_pool.ConnectionPool") as pool:
        rt.traced(psycopg_pool.ConnectionPool, POOL)("dbname=z")
    assert pool.mock_calls == [mock.call("dbname=z")]
    assert take_spans(exporter) == []


def test_disabled_opens_a_plain_connection(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    rt.reset()
    connection = rt.traced(psycopg.connect, CONNECT)(postgres_server.dsn)
    assert type(connection) is psycopg.Connection
    connection.close()
