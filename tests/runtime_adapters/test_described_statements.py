"""Statement descriptions kept per text (``_dbapi_connection``, ``_asyncpg_spans``).

The psycopg drivers and asyncpg describe a plain statement once per text and reuse a copy of
its name and attributes. These tests hold what that must not change: the span says exactly
what the general path says, per connection (its own ``db.namespace`` and address), nothing a
span processor wrote to one span reaches another, and the kept descriptions are bounded.
No database is needed: the describing runs before the driver is called.
"""

from __future__ import annotations

from typing import Any

import codetrace.runtime as rt
from codetrace.runtime import _asyncpg_spans, _dbapi_connection
from codetrace.runtime._asyncpg_spans import Statement
from codetrace.runtime._dbapi_connection import ConnectionSpans


class Cursor:
    """A DB-API cursor that runs nothing."""

    def execute(self, query: str, params: Any = None) -> str:
        return "ran"


class Connection:
    def __init__(self, database: str) -> None:
        self.database = database


def _info(connection: Any) -> dict[str, str | int]:
    return {"db.namespace": connection.database, "server.address": "db.local"}


class Stamp:
    """A span processor that writes an attribute of its own when a span starts, and keeps the
    spans that end."""

    def __init__(self, exporter: rt.InMemorySpanExporter) -> None:
        self.count = 0
        self.then = rt.SimpleSpanProcessor(exporter)  # type: ignore[arg-type]

    def on_start(self, span: Any) -> None:
        self.count += 1
        span.attributes["stamp"] = self.count

    def on_end(self, span: Any) -> None:
        self.then.on_end(span)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_s: float = 5.0) -> bool:
        return True


def test_a_kept_description_says_what_the_general_path_says(
    exporter: rt.InMemorySpanExporter,
) -> None:
    spans = ConnectionSpans("postgresql", _info)
    shop, audit = Connection("shop"), Connection("audit")
    cursor = Cursor()
    sql = "SELECT name FROM items WHERE id = %s AND kind = 'pen'"
    assert spans.call(shop, cursor, cursor.execute, (sql, (1,)), {}) == "ran"
    spans.call(shop, cursor, cursor.execute, (sql, (2,)), {})
    spans.call(audit, cursor, cursor.execute, (sql,), {})
    # the general path: the statement given by keyword
    spans.call(shop, cursor, cursor.execute, (), {"query": sql, "params": (1,)})
    first, second, other, general = exporter.get_finished_spans()
    assert first.name == second.name == other.name == general.name == "SELECT items"
    assert first.attributes == second.attributes == general.attributes == {
        "db.system.name": "postgresql",
        "db.query.text": "SELECT name FROM items WHERE id = %s AND kind = ?",
        "db.query.summary": "SELECT items",
        "db.namespace": "shop",
        "server.address": "db.local",
    }
    assert other.attributes == {**first.attributes, "db.namespace": "audit"}


def test_dbapi_descriptions_are_bounded_and_keep_no_processor_attribute() -> None:
    memory = rt.InMemorySpanExporter()
    rt.configure(processor=rt.SimpleSpanProcessor(memory))  # type: ignore[arg-type]
    spans = ConnectionSpans("postgresql", _info)
    connection, cursor = Connection("shop"), Cursor()
    count = _dbapi_connection.MAX_DESCRIBED + 30
    for n in range(count):
        spans.call(connection, cursor, cursor.execute, (f"SELECT c{n} FROM t{n}",), {})
    spans.call(connection, cursor, cursor.execute, ("SELECT c1 FROM t1",), {})
    assert 0 < len(spans._described) <= _dbapi_connection.MAX_DESCRIBED
    finished = memory.get_finished_spans()
    assert [s.name for s in finished[-2:]] == [f"SELECT t{count - 1}", "SELECT t1"]
    assert finished[-1].attributes == finished[1].attributes
    huge = "SELECT x FROM t WHERE x IN (" + "1, " * 5000 + "1)"  # longer than _sql analyses
    spans._described.clear()
    spans.call(connection, cursor, cursor.execute, (huge,), {})
    assert not spans._described
    assert memory.get_finished_spans()[-1].name == "SELECT t"

    rt.configure(processor=Stamp(memory))  # type: ignore[arg-type]
    memory.clear()
    spans = ConnectionSpans("postgresql", _info)
    for _ in range(3):
        spans.call(connection, cursor, cursor.execute, ("SELECT 1",), {})
    assert [s.attributes["stamp"] for s in memory.get_finished_spans()] == [1, 2, 3]


def test_asyncpg_descriptions_are_per_address_bounded_and_keep_no_processor_attribute() -> None:
    class Params:
        def __init__(self, database: str) -> None:
            self.database = database

    class AsyncpgConnection:
        def __init__(self, database: str, address: Any) -> None:
            self._params = Params(database)
            self._addr = address

    memory = rt.InMemorySpanExporter()
    rt.configure(processor=Stamp(memory))  # type: ignore[arg-type]
    here = AsyncpgConnection("shop", ("10.0.0.1", 5432))
    there = AsyncpgConnection("shop", ("10.0.0.2", 5433))
    socket = AsyncpgConnection("audit", "/run/postgresql/.s.PGSQL.5432")
    sql = "SELECT id FROM items WHERE id = $1 AND kind = 'pen'"
    for connection in (here, here, there, socket):
        with rt.span("statement") as span:
            _asyncpg_spans.describe(span, connection, Statement(sql, (1,)))
    one, two, three, four = memory.get_finished_spans()
    assert one.name == two.name == three.name == four.name == "SELECT items"
    assert one.attributes == {
        "stamp": 1,
        "db.system.name": "postgresql",
        "db.namespace": "shop",
        "server.address": "10.0.0.1",
        "server.port": 5432,
        "db.query.text": "SELECT id FROM items WHERE id = $1 AND kind = ?",
        "db.query.summary": "SELECT items",
    }
    assert two.attributes == {**one.attributes, "stamp": 2}
    assert three.attributes == {
        **one.attributes, "stamp": 3, "server.address": "10.0.0.2", "server.port": 5433,
    }
    assert four.attributes["server.address"] == "/run/postgresql/.s.PGSQL.5432"
    assert "server.port" not in four.attributes and four.attributes["db.namespace"] == "audit"

    count = _asyncpg_spans.MAX_DESCRIBED + 30
    for n in range(count):
        with rt.span("statement") as span:
            _asyncpg_spans.describe(span, here, Statement(f"SELECT c{n} FROM t{n}"))
    assert 0 < len(_asyncpg_spans._described) <= _asyncpg_spans.MAX_DESCRIBED
    assert memory.get_finished_spans()[-1].name == f"SELECT t{count - 1}"
    huge = "SELECT x FROM t WHERE x IN (" + "1, " * 5000 + "1)"  # longer than _sql analyses
    with rt.span("statement") as span:
        _asyncpg_spans.describe(span, here, Statement(huge))
    assert all(key[0] != huge for key in _asyncpg_spans._described)
    assert memory.get_finished_spans()[-1].name == "SELECT t"
