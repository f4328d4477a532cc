"""Construction adapter ``sqlite3.connect``: a connection traced through ``factory=``.

Real sqlite3, in memory and on disk. Spans are held to the call-site adapters'
(``sqlite3.query``, ``sqlite3.transaction``) for the same operation on a plain connection.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

import codetrace.runtime as rt

CONNECT = "sqlite3.connect"


def _connect(*args: Any, **kwargs: Any) -> Any:
    return rt.traced(sqlite3.connect, CONNECT)(*args, **kwargs)


def _shape(span: rt.Span) -> tuple[Any, ...]:
    return (span.name, span.kind, span.attributes, span.status_code)


@pytest.fixture(params=["memory", "file"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return ":memory:" if request.param == "memory" else str(tmp_path / "db.sqlite")


def test_operations_match_the_call_site_adapters(
    database: str, exporter: rt.InMemorySpanExporter
) -> None:
    traced = _connect(database)
    plain = sqlite3.connect(":memory:" if database == ":memory:" else database + "2")
    (connect,) = exporter.get_finished_spans()
    assert connect.name == f"connect {database}"
    assert isinstance(traced, sqlite3.Connection) and type(traced) is not sqlite3.Connection
    operations: list[tuple[str, str, tuple[Any, ...]]] = [
        ("execute", "sqlite3.query", ("CREATE TABLE items (id INTEGER, name TEXT)",)),
        ("execute", "sqlite3.query", ("INSERT INTO items VALUES (1, 'secret')",)),
        ("executemany", "sqlite3.query", ("INSERT INTO items VALUES (?, ?)", [(2, "a"), (3, "b")])),
        ("commit", "sqlite3.transaction", ()),
        ("executescript", "sqlite3.query", ("DELETE FROM items WHERE id = 3; SELECT 1;",)),
        ("execute", "sqlite3.query", ("SELECT name FROM items WHERE id = ?", (1,))),
        ("rollback", "sqlite3.transaction", ()),
    ]
    for method, rule, args in operations:
        exporter.clear()
        getattr(traced, method)(*args)
        rt.traced(getattr(plain, method), rule)(*args)
        mine, theirs = exporter.get_finished_spans()
        assert _shape(mine) == _shape(theirs), method
    assert mine.name == "ROLLBACK"
    exporter.clear()
    cursor = traced.cursor()
    cursor.execute("SELECT name FROM items WHERE id = 1")
    assert cursor.fetchall() == [("secret",)]
    plain_cursor = plain.cursor()
    rt.traced(plain_cursor.execute, "sqlite3.query")("SELECT name FROM items WHERE id = 1")
    mine, theirs = exporter.get_finished_spans()
    assert _shape(mine) == _shape(theirs)
    assert mine.attributes["db.query.text"] == "SELECT name FROM items WHERE id = ?"
    assert mine.name == "SELECT items"
    traced.close()
    plain.close()


def test_with_block_commits_and_rolls_back_in_spans(exporter: rt.InMemorySpanExporter) -> None:
    connection = _connect(":memory:")
    connection.execute("CREATE TABLE t (x)")
    with connection:
        connection.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(ZeroDivisionError), connection:
        connection.execute("INSERT INTO t VALUES (2)")
        1 / 0  # noqa: B018
    with connection:  # no transaction open: nothing sent, no span
        pass
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == [
        "connect :memory:",
        "CREATE TABLE t",
        "INSERT t",
        "COMMIT",
        "INSERT t",
        "ROLLBACK",
    ]
    assert connection.execute("SELECT x FROM t").fetchall() == [(1,)]


def test_call_site_wraps_on_traced_objects_give_one_span(
    exporter: rt.InMemorySpanExporter,
) -> None:
    connection = _connect(":memory:")
    exporter.clear()
    rt.traced(connection.execute, "sqlite3.query")("SELECT 1")
    cursor = rt.traced(connection.cursor, "sqlite3.cursor")()  # any rule: a generic span
    rt.traced(cursor.execute, "sqlite3.query")("SELECT 2")
    rt.traced(sqlite3.Cursor.execute, "sqlite3.query")(cursor, "SELECT 3")
    rt.traced(connection.commit, "sqlite3.transaction")()
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == ["SELECT", "sqlite3.cursor", "SELECT", "SELECT", "COMMIT"]


def test_user_factories_are_composed(exporter: rt.InMemorySpanExporter) -> None:
    class MyCursor(sqlite3.Cursor):
        def first(self) -> Any:
            return self.fetchone()

    class MyConnection(sqlite3.Connection):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.opened = True

        def names(self) -> list[str]:
            return [row[0] for row in self.execute("SELECT name FROM sqlite_master")]

    connection = _connect(":memory:", factory=MyConnection)
    assert isinstance(connection, MyConnection) and connection.opened
    assert type(connection).__name__ == "MyConnection"
    connection.execute("CREATE TABLE a (x)")
    assert connection.names() == ["a"]
    cursor = connection.cursor(MyCursor)
    assert isinstance(cursor, MyCursor) and type(cursor) is not MyCursor
    cursor.execute("SELECT 5")
    assert cursor.first() == (5,)
    cursor = connection.cursor(factory=MyCursor)
    cursor.execute("SELECT 6")
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == [
        "connect :memory:",
        "CREATE TABLE a",
        "SELECT sqlite_master",
        "SELECT",
        "SELECT",
    ]
    positional = _connect(":memory:", 5.0, 0, "", True, MyConnection)
    assert isinstance(positional, MyConnection) and type(positional) is type(connection)


def test_factories_that_are_not_classes_are_used_as_given(
    exporter: rt.InMemorySpanExporter,
) -> None:
    made: list[Any] = []

    def factory(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        made.append(sqlite3.Connection(*args, **kwargs))
        return made[-1]

    connection = _connect(":memory:", factory=factory)
    assert connection is made[0] and type(connection) is sqlite3.Connection
    traced = _connect(":memory:")
    cursor = traced.cursor(lambda c: sqlite3.Cursor(c))
    assert type(cursor) is sqlite3.Cursor


def test_one_span_when_a_subclass_goes_through_its_own_cursor(
    exporter: rt.InMemorySpanExporter,
) -> None:
    class ViaCursor(sqlite3.Connection):
        def execute(self, sql: str, parameters: Any = ()) -> Any:  # type: ignore[override]
            cursor = self.cursor()
            cursor.execute(sql, parameters)
            return cursor

    connection = _connect(":memory:", factory=ViaCursor)
    exporter.clear()
    assert connection.execute("SELECT ?", (1,)).fetchone() == (1,)
    (span,) = exporter.get_finished_spans()
    assert span.name == "SELECT"


def test_errors_are_recorded_and_reraised(exporter: rt.InMemorySpanExporter) -> None:
    connection = _connect(":memory:")
    exporter.clear()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        connection.execute("SELECT * FROM missing")
    with pytest.raises(sqlite3.OperationalError):
        connection.cursor().executemany("INSERT INTO missing VALUES (?)", [(1,)])
    first, second = exporter.get_finished_spans()
    for span in (first, second):
        assert span.status_code == rt.StatusCode.ERROR
        assert span.attributes["error.type"] == "sqlite3.OperationalError"
        assert span.attributes["db.response.status_code"] == "1"
    assert rt.current_span() is None


def test_mocked_connect_is_called_exactly_as_written() -> None:
    rt.configure(exporter=rt.InMemorySpanExporter())
    with mock.patch("sqlite3.connect") as patched:
        result = rt.traced(sqlite3.connect, CONNECT)("x.db", timeout=3)
        assert result is patched.return_value
    assert patched.mock_calls == [mock.call("x.db", timeout=3)]


def test_other_connect_functions_get_no_factory(exporter: rt.InMemorySpanExporter) -> None:
    seen: list[dict[str, Any]] = []

    def connect(database: str, **kwargs: Any) -> sqlite3.Connection:
        seen.append(kwargs)
        return sqlite3.connect(database)

    connection = rt.traced(connect, CONNECT)(":memory:")
    assert seen == [{}] and type(connection) is sqlite3.Connection
    (span,) = exporter.get_finished_spans()
    assert span.name == "connect :memory:"


def test_disabled_opens_a_plain_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    rt.reset()
    assert rt.traced(sqlite3.connect, CONNECT) is sqlite3.connect
    assert type(rt.traced(sqlite3.connect, CONNECT)(":memory:")) is sqlite3.Connection


def test_traced_objects_keep_their_shape() -> None:
    rt.configure(exporter=rt.InMemorySpanExporter())
    connection = _connect(":memory:")
    cursor = connection.cursor()
    for obj, original in ((connection, sqlite3.Connection), (cursor, sqlite3.Cursor)):
        assert type(obj).__module__ == original.__module__
        assert type(obj).__qualname__ == original.__qualname__
        assert not hasattr(obj, "__dict__")  # __slots__ = (): nothing added
    with pytest.raises(TypeError, match="cannot pickle"):
        import pickle

        pickle.dumps(connection)
