"""Adapters ``asyncpg.connect`` and ``asyncpg.pool``: asyncpg connections traced from construction.

Against a real PostgreSQL server on 127.0.0.1 (``conftest_postgres``): every public method of a
connection, prepared statements, cursors, transactions, COPY, a pool, failures, cancellation,
SQLAlchemy over a traced connection, and what a program may observe (types, coroutine
functions, warnings, mocks). What the spans say is ``_asyncpg_spans``'s docstring.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import io
import warnings
from collections.abc import Awaitable, Callable
from typing import Any
from unittest import mock

import asyncpg
import pytest
from conftest_postgres import PostgresServer, postgres_server
from span_checks import SECRET, nothing_secret, take_spans

import codetrace.runtime as rt
from codetrace.runtime import _asyncpg
from codetrace.runtime._span import current_span

__all__ = ["postgres_server"]  # the fixture, imported for this module's tests

CONNECT, POOL = "asyncpg.connect", "asyncpg.pool"


async def _connect(server: PostgresServer, **kwargs: Any) -> Any:
    arguments = {"host": server.host, "port": server.port, "user": server.user,
                 "database": server.database, **kwargs}
    return await rt.traced(asyncpg.connect, CONNECT)(**arguments)


def _run(server: PostgresServer, body: Callable[[Any], Awaitable[Any]], **kwargs: Any) -> Any:
    """``body(conn)`` on a fresh traced connection with a fresh ``items`` table."""

    async def main() -> Any:
        conn = await _connect(server, **kwargs)
        try:
            await conn.execute(
                "DROP TABLE IF EXISTS items;"
                "CREATE TABLE items (id serial PRIMARY KEY, name text UNIQUE, qty int)"
            )
            return await body(conn)
        finally:
            await conn.close()

    return asyncio.run(main())


def _server(server: PostgresServer) -> dict[str, Any]:
    return {
        "db.system.name": "postgresql",
        "db.namespace": server.database,
        "server.address": server.host,
        "server.port": server.port,
    }


def test_connect_gives_a_traced_connection(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    async def main() -> None:
        conn = await _connect(postgres_server)
        assert isinstance(conn, asyncpg.Connection) and type(conn) is not asyncpg.Connection
        assert type(conn).__name__ == "Connection"
        assert inspect.iscoroutinefunction(conn.fetch)  # frameworks that ask still see one
        assert "query" in inspect.signature(conn.fetch).parameters
        assert await conn.fetchval("SELECT 1") == 1
        await conn.close()

    asyncio.run(main())
    connect, select = take_spans(exporter)
    assert connect.name == "connect codetrace" and connect.kind == rt.SpanKind.CLIENT
    assert connect.attributes == {
        **_server(postgres_server),
        "db.operation.name": "connect",
        "db.query.summary": "connect codetrace",
    }
    assert select.attributes == {
        **_server(postgres_server),
        "db.query.text": "SELECT ?",
        "db.query.summary": "SELECT",
    }


def test_every_statement_method_makes_one_span(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    async def body(conn: Any) -> list[Any]:
        take_spans(exporter)
        insert = "INSERT INTO items (name, qty) VALUES ($1, $2)"
        results = [
            await conn.execute(insert, SECRET, 1),
            await conn.executemany(insert, [("b", 2), ("c", 3)]),
            [tuple(r) for r in await conn.fetch("SELECT name FROM items WHERE qty > $1", 1)],
            tuple(await conn.fetchrow("SELECT name, qty FROM items WHERE name = 'b'")),
            await conn.fetchval("SELECT count(*) FROM items WHERE name <> $1", SECRET),
        ]
        if hasattr(asyncpg.Connection, "fetchmany"):  # asyncpg 0.30+
            rows = await conn.fetchmany("SELECT $1::int + 1", [(1,), (2,), (3,)])
            results.append([r[0] for r in rows])
        return results

    results = _run(postgres_server, body)
    assert results[:5] == ["INSERT 0 1", None, [("b",), ("c",)], ("b", 2), 2]
    spans = take_spans(exporter)
    names = [s.name for s in spans]
    assert names[:5] == [
        "INSERT items", "BATCH INSERT items", "SELECT items", "SELECT items", "SELECT items",
    ]
    insert, batch, fetch, fetchrow, fetchval = spans[:5]
    assert insert.attributes == {
        **_server(postgres_server),
        "db.query.text": "INSERT INTO items (name, qty) VALUES ($1, $2)",
        "db.query.summary": "INSERT items",
    }
    assert batch.attributes["db.operation.batch.size"] == 2
    assert batch.attributes["db.query.summary"] == "BATCH INSERT items"
    assert fetchrow.attributes["db.query.text"] == "SELECT name, qty FROM items WHERE name = ?"
    assert fetch.attributes["db.query.text"] == "SELECT name FROM items WHERE qty > $1"
    assert fetchval.attributes["db.query.text"] == "SELECT count(*) FROM items WHERE name <> $1"
    if len(spans) == 6:
        assert results[5] == [2, 3, 4]
        assert spans[5].name == "BATCH SELECT"
        assert spans[5].attributes["db.operation.batch.size"] == 3
    assert all(s.kind == rt.SpanKind.CLIENT and s.status_code == rt.StatusCode.UNSET
               for s in spans)
    nothing_secret(spans)


def test_spans_are_children_of_the_current_span(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    async def body(conn: Any) -> None:
        take_spans(exporter)
        with rt.span("request"):
            await asyncio.gather(conn.fetchval("SELECT 1"), asyncio.sleep(0))
            assert current_span() is not None and current_span().name == "request"
        assert current_span() is None

    _run(postgres_server, body)
    select, request = take_spans(exporter)
    assert select.parent_id == request.span_id and select.trace_id == request.trace_id


def test_prepared_statements(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    async def body(conn: Any) -> list[Any]:
        await conn.executemany("INSERT INTO items (name, qty) VALUES ($1, $2)",
                               [("a", 1), ("b", 2)])
        take_spans(exporter)
        statement = await conn.prepare("SELECT name FROM items WHERE qty >= $1 ORDER BY qty")
        assert isinstance(statement, asyncpg.prepared_stmt.PreparedStatement)
        insert = await conn.prepare("INSERT INTO items (name, qty) VALUES ($1, $2)")
        results = [
            [r[0] for r in await statement.fetch(1)],
            tuple(await statement.fetchrow(2)),
            await statement.fetchval(1),
            await insert.executemany([(SECRET, 3), ("d", 4), ("e", 5)]),
            (await statement.explain(1))[0]["Plan"]["Node Type"],
        ]
        return results

    assert _run(postgres_server, body) == [["a", "b"], ("b",), "a", None, "Sort"]
    spans = take_spans(exporter)
    assert [s.name for s in spans] == [
        "PREPARE SELECT items", "PREPARE INSERT items", "SELECT items", "SELECT items",
        "SELECT items", "BATCH INSERT items", "EXPLAIN SELECT items",
    ]
    prepare, _, fetch = spans[:3]
    assert prepare.attributes["db.query.summary"] == "PREPARE SELECT items"
    assert prepare.attributes["db.query.text"] == fetch.attributes["db.query.text"] == (
        "SELECT name FROM items WHERE qty >= $1 ORDER BY qty"
    )
    assert spans[5].attributes["db.operation.batch.size"] == 3
    assert spans[6].attributes["db.query.text"] == (
        "EXPLAIN (FORMAT JSON, VERBOSE) SELECT name FROM items WHERE qty >= $1 ORDER BY qty"
    )
    assert all(s.attributes["server.port"] == postgres_server.port for s in spans)
    nothing_secret(spans)


def test_transactions_and_cursors(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    async def body(conn: Any) -> list[Any]:
        await conn.executemany("INSERT INTO items (name, qty) VALUES ($1, $2)",
                               [(f"n{i}", i) for i in range(5)])
        take_spans(exporter)
        async with conn.transaction():
            iterated = [r["qty"] async for r in conn.cursor("SELECT qty FROM items", prefetch=2)]
            cursor = await conn.cursor("SELECT qty FROM items ORDER BY qty")
            fetched = [r[0] for r in await cursor.fetch(2)]
            skipped = await cursor.forward(1)
            row = await cursor.fetchrow()
            statement = await conn.prepare("SELECT name FROM items WHERE qty < $1")
            names = [r[0] async for r in statement.cursor(2)]
        with pytest.raises(LookupError):
            async with conn.transaction():
                await conn.execute("DELETE FROM items")
                async with conn.transaction():  # a savepoint
                    await conn.execute("UPDATE items SET qty = 0")
                raise LookupError
        return [iterated, fetched, skipped, row[0], names, await conn.fetchval(
            "SELECT count(*) FROM items")]

    assert _run(postgres_server, body) == [[0, 1, 2, 3, 4], [0, 1], 1, 3, ["n0", "n1"], 5]
    spans = take_spans(exporter)
    assert [s.name for s in spans] == [
        "BEGIN",
        # the iterator: one span per round trip of `prefetch` rows (2 + 2 + 1), not per row
        "SELECT items", "SELECT items", "SELECT items",
        "SELECT items", "SELECT items", "SELECT items",  # fetch, forward, fetchrow
        "PREPARE SELECT items", "SELECT items",
        "COMMIT",
        "BEGIN", "DELETE items", "SAVEPOINT", "UPDATE items", "RELEASE", "ROLLBACK",
        "SELECT items",
    ]
    assert spans[1].attributes["db.query.text"] == "SELECT qty FROM items"
    assert spans[4].attributes["db.query.text"] == "SELECT qty FROM items ORDER BY qty"
    assert spans[8].attributes["db.query.text"] == "SELECT name FROM items WHERE qty < $1"
    assert all(s.status_code == rt.StatusCode.UNSET for s in spans)


def test_copy(postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter) -> None:
    async def body(conn: Any) -> list[Any]:
        take_spans(exporter)
        source = io.BytesIO(b"a\t1\nb\t2\n")
        out, query_out = io.BytesIO(), io.BytesIO()
        results = [
            await conn.copy_to_table("items", source=source, columns=["name", "qty"]),
            await conn.copy_records_to_table(
                "items", records=[(SECRET, 3)], columns=["name", "qty"], schema_name="public"
            ),
            await conn.copy_from_table("items", output=out, columns=["name"]),
            await conn.copy_from_query(
                "SELECT name FROM items WHERE qty > $1 AND name <> 'x'", 1, output=query_out
            ),
        ]
        return [*results, out.getvalue(), query_out.getvalue()]

    results = _run(postgres_server, body)
    assert results == [
        "COPY 2", "COPY 1", "COPY 3", "COPY 2",
        f"a\nb\n{SECRET}\n".encode(), f"b\n{SECRET}\n".encode(),
    ]
    spans = take_spans(exporter)  # copy_from_query's own queries (it inlines $1) add none
    assert [s.name for s in spans] == [
        "COPY items", "COPY public.items", "COPY items", "COPY SELECT items",
    ]
    to_table = spans[0].attributes
    assert to_table == {
        **_server(postgres_server),
        "db.operation.name": "COPY",
        "db.collection.name": "items",
        "db.query.summary": "COPY items",
    }
    assert spans[3].attributes["db.query.text"] == (
        "SELECT name FROM items WHERE qty > $1 AND name <> ?"
    )
    nothing_secret(spans)


def test_a_pool(postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter) -> None:
    async def main() -> list[Any]:
        pool = rt.traced(asyncpg.create_pool, POOL)(postgres_server.url, min_size=1, max_size=2)
        async with pool:
            take_spans(exporter)
            first = await pool.fetchval("SELECT 41 + $1::int", 1)
            async with pool.acquire() as conn:
                assert isinstance(conn, asyncpg.Connection)  # the pool's proxy
                statement = await conn.prepare("SELECT $1::text")
                second = await statement.fetchval("x")
                async with conn.transaction():
                    await conn.execute("SELECT 1")
            return [first, second]

    assert asyncio.run(main()) == [42, "x"]
    spans = take_spans(exporter)
    assert [s.name for s in spans] == [
        "SELECT", "SELECT",  # the statement, then the reset query of the connection's release
        "PREPARE SELECT", "SELECT", "BEGIN", "SELECT", "COMMIT", "SELECT",
    ]
    assert spans[0].attributes["db.query.text"] == "SELECT ? + $1::int"
    assert spans[1].attributes["db.query.text"].startswith("SELECT pg_advisory_unlock_all();")
    assert all(s.attributes["db.namespace"] == "codetrace" for s in spans)
    assert all(s.attributes["server.port"] == postgres_server.port for s in spans)


def test_failures_are_recorded_without_values(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    async def body(conn: Any) -> list[BaseException]:
        await conn.execute("INSERT INTO items (name, qty) VALUES ($1, 1)", SECRET)
        take_spans(exporter)
        raised = []
        with pytest.raises(asyncpg.UndefinedTableError) as missing:
            await conn.fetch("SELECT * FROM missing WHERE name = 'x'")
        raised.append(missing.value)
        with pytest.raises(asyncpg.UniqueViolationError) as duplicate:
            await conn.execute("INSERT INTO items (name, qty) VALUES ($1, 2)", SECRET)
        raised.append(duplicate.value)
        with pytest.raises(asyncpg.PostgresSyntaxError):
            await conn.execute(f"SELEC '{SECRET}'")
        assert await conn.fetchval("SELECT 1") == 1  # the connection is still usable
        return raised

    missing, duplicate = _run(postgres_server, body)
    assert SECRET in str(duplicate)  # asyncpg puts the server's DETAIL in the message
    undefined, unique, syntax, fine = take_spans(exporter)
    assert undefined.name == "SELECT missing" and undefined.status_code == rt.StatusCode.ERROR
    assert undefined.attributes["error.type"] == "asyncpg.exceptions.UndefinedTableError"
    assert undefined.attributes["db.response.status_code"] == "42P01" == missing.sqlstate
    assert unique.attributes["db.response.status_code"] == "23505"
    (event,) = unique.events
    assert event.name == "exception"
    assert event.attributes["exception.message"] == (
        'duplicate key value violates unique constraint "items_name_key"\n'
        "DETAIL:  Key (name)=(?) already exists."
    )
    assert syntax.attributes["error.type"] == "asyncpg.exceptions.PostgresSyntaxError"
    assert syntax.attributes["db.response.status_code"] == "42601"
    assert fine.status_code == rt.StatusCode.UNSET
    nothing_secret([undefined, unique, syntax, fine])


def test_cancellation_ends_the_span_and_leaks_nothing(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    async def body(conn: Any) -> list[Any]:
        take_spans(exporter)
        task = asyncio.create_task(conn.execute("SELECT pg_sleep(5)"))
        await asyncio.sleep(0.2)  # the query is running on the server
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(asyncio.TimeoutError):
            await conn.fetchval("SELECT pg_sleep(5)", timeout=0.2)  # asyncpg's own timeout
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(conn.fetch("SELECT pg_sleep(5)"), 0.2)
        after = current_span()
        return [after, await conn.fetchval("SELECT 7")]

    assert _run(postgres_server, body) == [None, 7]
    cancelled, timed_out, waited, fine = take_spans(exporter)
    for span in (cancelled, timed_out, waited):
        assert span.end_ns > 0 and span.status_code == rt.StatusCode.ERROR
        assert span.attributes["db.query.text"] == "SELECT pg_sleep(?)"
    assert cancelled.attributes["error.type"] == "asyncio.exceptions.CancelledError"
    assert timed_out.attributes["error.type"] == "TimeoutError"
    assert waited.attributes["error.type"] == "asyncio.exceptions.CancelledError"
    assert fine.status_code == rt.StatusCode.UNSET and not fine.parent_id  # a root span


def test_a_project_subclass_stays_itself(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    class AppConnection(asyncpg.Connection):  # type: ignore[misc]
        async def fetch(self, query: str, *args: Any, **kwargs: Any) -> Any:
            return await super().fetch(f"/* app */ {query}", *args, **kwargs)

        async def names(self) -> list[str]:
            return [r[0] for r in await self.fetch("SELECT name FROM items")]

    async def body(conn: Any) -> list[str]:
        assert isinstance(conn, AppConnection) and type(conn) is not AppConnection
        await conn.execute("INSERT INTO items (name) VALUES ('a')")
        take_spans(exporter)
        names: list[str] = await conn.names()
        return names

    assert _run(postgres_server, body, connection_class=AppConnection) == ["a"]
    (fetch,) = take_spans(exporter)  # the project's fetch goes through the traced one: one span
    assert fetch.attributes["db.query.text"] == "SELECT name FROM items"


def test_a_unix_socket(postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter) -> None:
    async def main() -> None:
        conn = await rt.traced(asyncpg.connect, CONNECT)(
            host=postgres_server.socket_dir, port=postgres_server.port, user="postgres",
            database="postgres",
        )
        await conn.execute("SELECT 1")
        await conn.close()

    asyncio.run(main())
    connect, select = take_spans(exporter)
    assert select.attributes["server.address"].startswith(postgres_server.socket_dir)
    assert "server.port" not in select.attributes
    assert select.attributes["db.namespace"] == "postgres" and connect.name == "connect postgres"


def test_a_failed_connect_is_recorded(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    async def main() -> None:
        with pytest.raises(asyncpg.InvalidCatalogNameError):
            await _connect(postgres_server, database="nowhere")

    asyncio.run(main())
    (span,) = take_spans(exporter)
    assert span.name == "connect" and span.status_code == rt.StatusCode.ERROR
    assert span.attributes["error.type"] == "asyncpg.exceptions.InvalidCatalogNameError"


def test_mocks_are_called_as_they_are(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    async def main() -> None:
        with mock.patch("asyncpg.connect") as fake:
            assert await rt.traced(asyncpg.connect, CONNECT)("postgresql://x") is (
                fake.return_value
            )
            fake.assert_awaited_once_with("postgresql://x")  # no connection_class added
        conn = await _connect(postgres_server)
        with mock.patch.object(asyncpg.Connection, "fetch", return_value=["mocked"]) as fetch:
            assert await conn.fetch("SELECT 1") == ["mocked"]
            fetch.assert_awaited_once_with("SELECT 1")
        await conn.close()

    asyncio.run(main())
    assert [s.name for s in take_spans(exporter)] == ["connect codetrace"]  # no span for mocks


def test_a_pool_with_its_own_connect_function_is_left_alone(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    if "connect" not in inspect.signature(asyncpg.create_pool).parameters:
        pytest.skip("create_pool(connect=...) is asyncpg 0.30+")

    async def main() -> int:
        async def connect(*args: Any, **kwargs: Any) -> Any:
            kwargs.pop("connection_class")  # a function that makes plain connections
            return await asyncpg.connect(*args, **kwargs)

        async with rt.traced(asyncpg.create_pool, POOL)(
            postgres_server.url, connect=connect, min_size=1, max_size=1
        ) as pool:
            value: int = await pool.fetchval("SELECT 3")
            return value

    assert asyncio.run(main()) == 3  # the pool's class check still passes
    assert take_spans(exporter) == []


def test_an_unawaited_call_warns_as_untraced_does(postgres_server: PostgresServer) -> None:
    def warnings_of(conn: Any) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            coroutine = conn.fetch("SELECT 1")
            del coroutine
            gc.collect()
        return [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]

    async def main() -> list[list[str]]:
        plain = await asyncpg.connect(postgres_server.url)
        traced = await _connect(postgres_server)
        try:
            return [warnings_of(traced), warnings_of(plain)]
        finally:
            await plain.close()
            await traced.close()

    traced, plain = asyncio.run(main())
    assert traced == plain == ["coroutine 'Connection.fetch' was never awaited"]


def test_other_callees_are_called_unchanged(exporter: rt.InMemorySpanExporter) -> None:
    def connect(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return args, kwargs

    assert rt.traced(connect, CONNECT)(1, connection_class=int) == ((1,), {"connection_class": int})
    assert _asyncpg.traced_class(int, _asyncpg.CONNECTION_KIND) is None
    assert take_spans(exporter) == []


def test_sqlalchemy_over_a_traced_connection_makes_one_span_per_statement(
    postgres_server: PostgresServer, exporter: rt.InMemorySpanExporter
) -> None:
    sqlalchemy = pytest.importorskip("sqlalchemy")
    from sqlalchemy.ext.asyncio import create_async_engine

    async def creator() -> Any:
        return await _connect(postgres_server)

    async def main() -> list[Any]:
        engine = rt.traced(create_async_engine, "sqlalchemy.engine")(
            "postgresql+asyncpg://", async_creator=creator
        )
        async with engine.begin() as conn:
            await conn.execute(sqlalchemy.text("CREATE TEMP TABLE t (n int)"))
            await conn.execute(sqlalchemy.text("INSERT INTO t VALUES (:n)"), [{"n": 1}, {"n": 2}])
            rows = (await conn.execute(sqlalchemy.text("SELECT n FROM t ORDER BY n"))).all()
        await engine.dispose()
        return [tuple(r) for r in rows]

    assert asyncio.run(main()) == [(1,), (2,)]
    statements = [s for s in take_spans(exporter) if "db.query.text" in s.attributes]
    mine = [
        "CREATE TEMP TABLE t (n int)", "INSERT INTO t VALUES ($1)", "SELECT n FROM t ORDER BY n",
    ]
    # each statement once, SQLAlchemy's span (the driver's prepare and fetch under it: none);
    # the driver's BEGIN/COMMIT are not statements, and the dialect's first-connect queries
    # run outside SQLAlchemy's events (OpenTelemetry's driver instrumentation sees them too)
    assert [(s.name, s.attributes["db.query.text"]) for s in statements
            if s.attributes["db.query.text"] in mine] == [
        ("CREATE TABLE t", mine[0]), ("BATCH INSERT t", mine[1]), ("SELECT t", mine[2]),
    ]
    assert [s.name for s in statements][-4:] == ["CREATE TABLE t", "BATCH INSERT t", "SELECT t",
                                                 "COMMIT"]
