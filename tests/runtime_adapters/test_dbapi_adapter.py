"""The DB-API adapters (``sqlite3.connect``/``query``/``transaction``) with real sqlite3."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

import codetrace.runtime as rt
from codetrace.runtime._dbapi import make_connect_adapter, make_query_adapter

SECRET = "hunter2-do-not-record"


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE items (name TEXT, qty INTEGER)")
    yield connection
    connection.close()


def _values(span: rt.Span) -> list[object]:
    """Every attribute and event attribute value of ``span``."""
    values: list[object] = list(span.attributes.values())
    for event in span.events:
        values.extend(event.attributes.values())
    return values


def _assert_no_secret(spans: list[rt.Span]) -> None:
    for span in spans:
        assert SECRET not in span.name
        for value in _values(span):
            assert SECRET not in str(value), (span.name, value)


def test_connect_in_memory(exporter: rt.InMemorySpanExporter) -> None:
    connection = rt.traced(sqlite3.connect, "sqlite3.connect")(":memory:")
    assert isinstance(connection, sqlite3.Connection)
    connection.close()
    (span,) = exporter.get_finished_spans()
    assert span.name == "connect :memory:"
    assert span.kind == rt.SpanKind.CLIENT
    assert span.attributes == {
        "db.system.name": "sqlite",
        "db.operation.name": "connect",
        "db.namespace": ":memory:",
        "db.query.summary": "connect :memory:",
    }


def test_connect_to_a_file(tmp_path: Path, exporter: rt.InMemorySpanExporter) -> None:
    path = tmp_path / "app.db"
    rt.traced(sqlite3.connect, "sqlite3.connect")(path).close()
    rt.traced(sqlite3.connect, "sqlite3.connect")(database=str(path), timeout=1).close()
    uri = f"file:{path}?mode=ro"
    rt.traced(sqlite3.connect, "sqlite3.connect")(uri, uri=True).close()
    namespaces = [s.attributes["db.namespace"] for s in exporter.get_finished_spans()]
    assert namespaces == [str(path), str(path), str(path)]  # a URI's query is never recorded


def test_connect_failure(tmp_path: Path, exporter: rt.InMemorySpanExporter) -> None:
    missing = f"file:{tmp_path / 'missing.db'}?mode=ro"
    with pytest.raises(sqlite3.OperationalError):
        rt.traced(sqlite3.connect, "sqlite3.connect")(missing, uri=True)
    (span,) = exporter.get_finished_spans()
    assert span.attributes["error.type"] == "sqlite3.OperationalError"
    assert span.status_code == rt.StatusCode.ERROR


def test_execute_with_parameters(
    conn: sqlite3.Connection, exporter: rt.InMemorySpanExporter
) -> None:
    rt.traced(conn.execute, "sqlite3.query")("INSERT INTO items VALUES (?, ?)", (SECRET, 3))
    rows = rt.traced(conn.execute, "sqlite3.query")(
        "SELECT name, qty FROM items WHERE qty = :qty", {"qty": 3}
    ).fetchall()
    assert rows == [(SECRET, 3)]
    insert, select = exporter.get_finished_spans()
    assert insert.name == "INSERT items"
    assert insert.kind == rt.SpanKind.CLIENT
    assert insert.attributes == {
        "db.system.name": "sqlite",
        "db.query.text": "INSERT INTO items VALUES (?, ?)",
        "db.query.summary": "INSERT items",
    }
    assert select.name == "SELECT items"
    assert select.attributes["db.query.text"] == "SELECT name, qty FROM items WHERE qty = :qty"
    _assert_no_secret([insert, select])


def test_literals_are_sanitized_without_parameters(
    conn: sqlite3.Connection, exporter: rt.InMemorySpanExporter
) -> None:
    sql = f"INSERT INTO items VALUES ('{SECRET}', 42)"
    rt.traced(conn.execute, "sqlite3.query")(sql)
    rt.traced(conn.execute, "sqlite3.query")(f"SELECT * FROM items WHERE name = '{SECRET}'", ())
    insert, select = exporter.get_finished_spans()
    assert insert.attributes["db.query.text"] == "INSERT INTO items VALUES (?, ?)"
    assert select.attributes["db.query.text"] == "SELECT * FROM items WHERE name = ?"
    _assert_no_secret([insert, select])
    assert conn.execute("SELECT name FROM items").fetchall() == [(SECRET,)]


def test_executemany_is_a_batch(
    conn: sqlite3.Connection, exporter: rt.InMemorySpanExporter
) -> None:
    sql = "INSERT INTO items VALUES (?, ?)"
    executemany = rt.traced(conn.executemany, "sqlite3.query")
    executemany(sql, [(SECRET, 1), ("b", 2), ("c", 3)])
    executemany(sql, [("single", 1)])
    executemany(sql, [])
    executemany(sql, ((f"g{i}", i) for i in range(4)))  # a generator: never counted by us
    assert conn.execute("SELECT COUNT(*) FROM items").fetchone() == (8,)
    three, one, empty, generated = exporter.get_finished_spans()
    assert three.name == "BATCH INSERT items"
    assert three.attributes == {
        "db.system.name": "sqlite",
        "db.query.text": sql,
        "db.query.summary": "BATCH INSERT items",
        "db.operation.batch.size": 3,
    }
    assert one.name == "INSERT items"
    assert "db.operation.batch.size" not in one.attributes
    assert empty.attributes["db.operation.batch.size"] == 0
    assert generated.name == "BATCH INSERT items"
    assert "db.operation.batch.size" not in generated.attributes
    _assert_no_secret([three])


def test_executescript(conn: sqlite3.Connection, exporter: rt.InMemorySpanExporter) -> None:
    script = f"""
        CREATE TABLE log (line TEXT);
        INSERT INTO log VALUES ('{SECRET}');
        UPDATE items SET qty = 0;
    """
    cursor = rt.traced(conn.executescript, "sqlite3.query")(script)
    assert isinstance(cursor, sqlite3.Cursor)
    (span,) = exporter.get_finished_spans()
    assert span.name == "CREATE TABLE log INSERT log UPDATE items"
    assert span.attributes["db.query.text"] == script.replace(f"'{SECRET}'", "?").replace(
        "0;", "?;"
    )
    _assert_no_secret([span])
    assert conn.execute("SELECT line FROM log").fetchall() == [(SECRET,)]


def test_cursor_methods_return_the_cursor(
    conn: sqlite3.Connection, exporter: rt.InMemorySpanExporter
) -> None:
    cursor = conn.cursor()
    assert rt.traced(cursor.execute, "sqlite3.query")("SELECT 1") is cursor
    assert cursor.fetchall() == [(1,)]
    batch = rt.traced(cursor.executemany, "sqlite3.query")
    assert batch("INSERT INTO items VALUES (?, ?)", [("a", 1), ("b", 2)]) is cursor
    assert rt.traced(cursor.executescript, "sqlite3.query")("DELETE FROM items;") is cursor
    unbound = rt.traced(sqlite3.Cursor.execute, "sqlite3.query")
    assert unbound(cursor, "SELECT qty FROM items WHERE qty > ?", (0,)) is cursor
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == ["SELECT", "BATCH INSERT items", "DELETE items", "SELECT items"]


def test_commit_and_rollback(conn: sqlite3.Connection, exporter: rt.InMemorySpanExporter) -> None:
    conn.execute("INSERT INTO items VALUES ('kept', 1)")
    assert rt.traced(conn.commit, "sqlite3.transaction")() is None
    conn.execute("INSERT INTO items VALUES ('dropped', 2)")
    rt.traced(conn.rollback, "sqlite3.transaction")()
    assert conn.execute("SELECT name FROM items").fetchall() == [("kept",)]
    commit, rollback = exporter.get_finished_spans()
    assert (commit.name, rollback.name) == ("COMMIT", "ROLLBACK")
    assert commit.attributes == {
        "db.system.name": "sqlite",
        "db.operation.name": "COMMIT",
        "db.query.summary": "COMMIT",
    }
    assert rollback.kind == rt.SpanKind.CLIENT


def test_bad_sql_is_reraised_unchanged_and_recorded(
    conn: sqlite3.Connection, exporter: rt.InMemorySpanExporter
) -> None:
    with pytest.raises(sqlite3.OperationalError) as plain:
        conn.execute("SELECT * FROM missing WHERE x = ?", (SECRET,))
    with rt.span("parent") as parent, pytest.raises(sqlite3.OperationalError) as traced:
        rt.traced(conn.execute, "sqlite3.query")("SELECT * FROM missing WHERE x = ?", (SECRET,))
    assert rt.current_span() is None
    assert str(traced.value) == str(plain.value) == "no such table: missing"
    code = getattr(plain.value, "sqlite_errorcode", None)  # Python 3.11+
    assert getattr(traced.value, "sqlite_errorcode", None) == code
    span, _ = exporter.get_finished_spans()
    assert span.parent_id == parent.span_id
    assert span.name == "SELECT missing"
    assert span.status_code == rt.StatusCode.ERROR
    assert span.attributes["error.type"] == "sqlite3.OperationalError"
    if code is None:
        assert "db.response.status_code" not in span.attributes
    else:
        assert span.attributes["db.response.status_code"] == str(code)
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "sqlite3.OperationalError"
    _assert_no_secret([span])


def test_integrity_error(conn: sqlite3.Connection, exporter: rt.InMemorySpanExporter) -> None:
    conn.execute("CREATE TABLE u (k TEXT UNIQUE)")
    conn.execute("INSERT INTO u VALUES ('a')")
    with pytest.raises(sqlite3.IntegrityError):
        rt.traced(conn.execute, "sqlite3.query")("INSERT INTO u VALUES (?)", ("a",))
    (span,) = exporter.get_finished_spans()
    assert span.attributes["error.type"] == "sqlite3.IntegrityError"


def _workload(traced: bool) -> list[Any]:
    """The same calls, traced or not; returns every result that can be compared."""

    def call(function: Any, rule: str) -> Any:
        return rt.traced(function, rule) if traced else function

    connection = call(sqlite3.connect, "sqlite3.connect")(":memory:")
    results: list[Any] = []
    call(connection.execute, "sqlite3.query")("CREATE TABLE t (a INTEGER, b TEXT)")
    call(connection.executemany, "sqlite3.query")(
        "INSERT INTO t VALUES (?, ?)", [(i, str(i)) for i in range(5)]
    )
    call(connection.commit, "sqlite3.transaction")()
    cursor = call(connection.execute, "sqlite3.query")("SELECT a, b FROM t ORDER BY a DESC")
    results.append(cursor.description)
    results.append(cursor.fetchmany(2))
    results.append(cursor.fetchall())
    results.append(call(connection.execute, "sqlite3.query")("SELECT total_changes()").fetchone())
    results.append(call(connection.execute, "sqlite3.query")("UPDATE t SET b = 'x'").rowcount)
    call(connection.rollback, "sqlite3.transaction")()
    results.append(connection.execute("SELECT b FROM t").fetchall())
    connection.close()
    return results


def test_results_are_unchanged(exporter: rt.InMemorySpanExporter) -> None:
    assert _workload(traced=True) == _workload(traced=False)
    # 9: the connection is traced from construction, so the unwrapped execute too
    assert len(exporter.get_finished_spans()) == 9


def test_unsampled_spans_still_return_results() -> None:
    # default configuration: no exporter, nothing recorded, same results
    assert _workload(traced=True) == _workload(traced=False)


def test_unknown_callee_gets_a_generic_database_span(exporter: rt.InMemorySpanExporter) -> None:
    calls: list[tuple[object, ...]] = []

    def fake(*args: object) -> str:  # a callee of another library (a mock would get no span)
        calls.append(args)
        return "connection"

    assert rt.traced(fake, "sqlite3.connect")(":memory:") == "connection"
    assert calls == [(":memory:",)]
    (span,) = exporter.get_finished_spans()
    assert (span.name, span.kind, span.attributes) == (
        "sqlite",
        rt.SpanKind.CLIENT,
        {"db.system.name": "sqlite"},
    )


def test_odd_query_argument(exporter: rt.InMemorySpanExporter) -> None:
    class Cursor:
        def execute(self, query: object, params: object = None) -> str:
            return "ran"

    assert rt.traced(Cursor().execute, "sqlite3.query")(object()) == "ran"
    assert rt.traced(Cursor().execute, "sqlite3.query")(b"SELECT 1 FROM t") == "ran"
    odd, raw = exporter.get_finished_spans()
    assert odd.name == "sqlite"
    assert "db.query.text" not in odd.attributes
    assert raw.name == "SELECT t"


class FakeCursor:
    """A DB-API cursor of another driver (keyword parameters, ``%s`` placeholders)."""

    def __init__(self) -> None:
        self.calls: list[tuple[object, object]] = []

    def execute(self, query: str, params: object = None) -> FakeCursor:
        self.calls.append((query, params))
        return self


def test_factories_serve_other_systems(exporter: rt.InMemorySpanExporter) -> None:
    rt.register_adapter("test.pg.query", make_query_adapter("postgresql"))
    rt.register_adapter("test.mysql.query", make_query_adapter("mysql"))
    rt.register_adapter(
        "test.pg.connect",
        make_connect_adapter("postgresql", lambda args, kwargs: kwargs.get("dbname")),
    )
    cursor = FakeCursor()
    params = {"name": SECRET}
    assert (
        rt.traced(cursor.execute, "test.pg.query")(
            query="SELECT * FROM users WHERE name = %(name)s", params=params
        )
        is cursor
    )
    assert cursor.calls == [("SELECT * FROM users WHERE name = %(name)s", params)]
    rt.traced(cursor.execute, "test.mysql.query")(
        f"SELECT \"{SECRET}\" FROM `users` WHERE a = 'it\\'s {SECRET}' # note"
    )
    def fake_connect(**kwargs: object) -> str:
        return "conn"

    rt.traced(fake_connect, "test.pg.connect")(dbname="shop", password=SECRET)
    pg, mysql, connect = exporter.get_finished_spans()
    assert pg.attributes["db.system.name"] == "postgresql"
    assert pg.name == "SELECT users"
    assert mysql.attributes["db.system.name"] == "mysql"
    assert mysql.attributes["db.query.text"] == "SELECT ? FROM `users` WHERE a = ?"  # no comment
    assert mysql.name == "SELECT `users`"
    assert connect.attributes["db.namespace"] == "shop"
    _assert_no_secret([pg, mysql, connect])


def test_a_failing_describer_costs_details_never_the_call(
    exporter: rt.InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        raise RuntimeError("namespace parser bug")

    rt.register_adapter("test.broken.connect", make_connect_adapter("postgresql", broken))
    with rt.span("parent") as parent:
        connection = rt.traced(sqlite3.connect, "test.broken.connect")(":memory:")
        assert rt.current_span() is parent  # the adapter's span did not stay current
    connection.close()
    span, _ = exporter.get_finished_spans()
    assert span.parent_id == parent.span_id
    assert span.attributes["db.system.name"] == "postgresql"
    assert "db.namespace" not in span.attributes
    assert "namespace parser bug" in caplog.text


def test_an_exception_with_odd_attributes_is_still_reraised(
    exporter: rt.InMemorySpanExporter,
) -> None:
    class OddError(Exception):
        @property
        def sqlstate(self) -> str:
            raise RuntimeError("property bug")

    def execute(sql: str) -> None:
        raise OddError("the application's error")

    with pytest.raises(OddError, match="the application's error"):
        rt.traced(execute, "sqlite3.query")("SELECT 1")
    (span,) = exporter.get_finished_spans()
    assert span.status_code == rt.StatusCode.ERROR
    assert rt.current_span() is None


def test_a_mocked_cursor_is_no_io(exporter: rt.InMemorySpanExporter) -> None:
    """A test's MagicMock connection: called as it is, recorded as it is, no span."""

    connection = mock.MagicMock()
    rt.traced(connection.execute, "sqlite3.query")("select 1", (2,))
    rt.traced(connection.commit, "sqlite3.transaction")()
    assert connection.mock_calls == [mock.call.execute("select 1", (2,)), mock.call.commit()]
    assert not exporter.get_finished_spans()
