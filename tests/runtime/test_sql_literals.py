"""SQL text never carries a literal value out of the process.

``db.query.text`` is sanitized per dialect (every literal form of SQLite, PostgreSQL and
MySQL/MariaDB; comments dropped), whether or not the call passed parameters; the exception
message and stack trace of a failing statement are scrubbed of the statement's literals and of
the parameter values drivers quote back; ``db.namespace`` never carries a URI query.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import codetrace.runtime as rt
from codetrace.runtime._dbapi import make_query_adapter

SECRET = "s3cr3tXYZ"
HEX = "73336372337458595A"  # SECRET as a blob literal

COMMON = [
    f"SELECT * FROM t WHERE a = '{SECRET}'",
    f"SELECT * FROM t WHERE a = '{SECRET}",  # unterminated
    f"SELECT * FROM t WHERE a = 'it''s {SECRET}'",
    f"SELECT * FROM t WHERE name = ? AND pw = '{SECRET}'",  # a literal next to a parameter
    f"SELECT * FROM t WHERE name = :name AND pw = '{SECRET}'",
    f"-- password {SECRET}\nSELECT 1",
    f"SELECT 1 -- {SECRET}",
    f"SELECT 1 /* {SECRET} */ FROM t",
    f"SELECT 1 /* {SECRET}",  # unterminated
    f"SELECT * FROM t WHERE pw = \u2018{SECRET}\u2019",
    f"SELECT * FROM t WHERE pw = \u201c{SECRET}\u201d",
    f"SELECT * FROM t WHERE pw = \u00ab{SECRET}\u00bb",
    f"SELECT * FROM t WHERE pw = \uff07{SECRET}\uff07",
    f"SELECT X'{HEX}'",
    f"SELECT x'{HEX}'",
    f"SELECT 0x{HEX}",
    "SELECT * FROM t WHERE pin = 98765432",
    "SELECT * FROM t WHERE pin = 98765.432e1",
    f"SELECT 1{SECRET}",  # a number glued to a word: one bad token, all of it a value
    f"INSERT INTO t VALUES ('{SECRET}', 98765432)",
]
DIALECT_FORMS = {
    "sqlite": [
        f'SELECT * FROM t WHERE a = "{SECRET}"',
        f'INSERT INTO "t" ("a", "b") VALUES ("{SECRET}", 1)',
        f'CREATE TABLE "t" ("a" TEXT DEFAULT "{SECRET}")',
        f'UPDATE "t" SET "a" = "{SECRET}" WHERE "t"."id" = 1',
        f'SELECT "a" AS "x", "{SECRET}" FROM t',
    ],
    "postgresql": [
        f"SELECT E'it\\'s {SECRET}'",
        f"SELECT e'\\\\{SECRET}'",
        f"SELECT $${SECRET}$$",
        f"SELECT $tag${SECRET}$tag$",
        f"SELECT 1 /* outer /* inner */ {SECRET} */ FROM t",
        f"SELECT U&'{SECRET}'",
        f"SELECT B'{'01' * 8}'",
        f"SELECT '{SECRET}'::text",
    ],
    "mysql": [
        f'SELECT * FROM t WHERE a = "{SECRET}"',
        f"SELECT 'it\\'s {SECRET}'",
        f'SELECT "it\\"s {SECRET}"',
        f"SELECT 1 # {SECRET}",
        f"SELECT 1 -- {SECRET}",
        f"SELECT _utf8mb4'{SECRET}'",
        f"SELECT N'{SECRET}'",
        f"SELECT b'{'01' * 8}'",
        f"SELECT 1 /*!50000 {SECRET} */",
    ],
}
DIALECTS = {"sqlite": "sqlite", "postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}
CASES = [
    (system, sql) for system, dialect in DIALECTS.items() for sql in COMMON + DIALECT_FORMS[dialect]
]
LEAKS = (SECRET, HEX, "98765", "0101010101010101")


class Cursor:
    """A DB-API cursor of another driver; ``fail`` makes ``execute`` raise it."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail

    def execute(self, query: str, params: object = None) -> Cursor:
        if self.fail is not None:
            raise self.fail
        return self

    def executemany(self, query: str, params: object) -> Cursor:
        return self.execute(query, params)


def _recorded(span: rt.Span) -> str:
    values = [str(value) for value in span.attributes.values()]
    values += [str(value) for event in span.events for value in event.attributes.values()]
    return "\n".join([span.name, span.status_message, *values])


def _assert_no_leak(span: rt.Span) -> None:
    recorded = _recorded(span)
    for leak in LEAKS:
        assert leak not in recorded, (leak, recorded)


@pytest.mark.parametrize(("system", "sql"), CASES)
@pytest.mark.parametrize("parameters", [None, ("p",)], ids=["plain", "parameterized"])
def test_every_literal_form_is_sanitized(
    system: str, sql: str, parameters: object, exporter: rt.InMemorySpanExporter
) -> None:
    adapter = make_query_adapter(system)
    cursor = Cursor()
    assert adapter(cursor.execute, sql, parameters) is cursor
    (span,) = exporter.get_finished_spans()
    _assert_no_leak(span)
    text = str(span.attributes["db.query.text"])
    assert "?" in text
    assert span.name == span.attributes.get("db.query.summary", system)


@pytest.mark.parametrize(
    ("system", "sql", "text"),
    [
        # placeholders, identifiers and keywords are kept; comments go
        (
            "sqlite",
            "SELECT * FROM t WHERE a = ?1 AND b = :b -- note",
            "SELECT * FROM t WHERE a = ?1 AND b = :b",
        ),
        (
            "sqlite",
            'SELECT "auth_user"."id" FROM "auth_user" WHERE "auth_user"."username" = ? LIMIT 21',
            'SELECT "auth_user"."id" FROM "auth_user" WHERE "auth_user"."username" = ? LIMIT ?',
        ),
        (
            "sqlite",
            'INSERT INTO "auth_user" ("password", "last_login") VALUES (?, ?)',
            'INSERT INTO "auth_user" ("password", "last_login") VALUES (?, ?)',
        ),
        (
            "sqlite",
            'UPDATE "t" SET "a" = ?, "b" = "x" WHERE "t"."id" IN (?)',
            'UPDATE "t" SET "a" = ?, "b" = ? WHERE "t"."id" IN (?)',
        ),
        (
            "sqlite",
            'CREATE TABLE IF NOT EXISTS "m" ("id" integer, "app" varchar(255) DEFAULT "x")',
            'CREATE TABLE IF NOT EXISTS "m" ("id" integer, "app" varchar(?) DEFAULT ?)',
        ),
        (
            "sqlite",
            'SELECT COUNT(*) AS "__count" FROM `t` JOIN [u]',
            'SELECT COUNT(*) AS "__count" FROM `t` JOIN [u]',
        ),
        ("sqlite", "SELECT 'a' /* c */ FROM t", "SELECT ? FROM t"),
        ("sqlite", "SELECT/**/1", "SELECT 1".replace("1", "?")),
        (
            "postgresql",
            'SELECT "a" FROM "t" WHERE x = $1 AND y = %s AND z = %(z)s',
            'SELECT "a" FROM "t" WHERE x = $1 AND y = %s AND z = %(z)s',
        ),
        ("postgresql", "SELECT x::text FROM t WHERE y = 'a'", "SELECT x::text FROM t WHERE y = ?"),
        ("mysql", "SELECT `a` FROM `t` WHERE b = %s -- c", "SELECT `a` FROM `t` WHERE b = %s"),
        ("mysql", "SELECT 1--1", "SELECT ?--?"),  # '--' without a space is not a comment
        ("mysql", "SELECT 'it\\'s' # c\nFROM t", "SELECT ?\nFROM t"),
    ],
)
def test_structure_is_kept(
    system: str, sql: str, text: str, exporter: rt.InMemorySpanExporter
) -> None:
    make_query_adapter(system)(Cursor().execute, sql, ("p",))
    (span,) = exporter.get_finished_spans()
    assert span.attributes["db.query.text"] == text


def test_summaries_keep_quoted_table_names(exporter: rt.InMemorySpanExporter) -> None:
    make_query_adapter("sqlite")(
        Cursor().execute, f'SELECT * FROM "song list" WHERE "a" = "{SECRET}"'
    )
    (span,) = exporter.get_finished_spans()
    assert span.name == span.attributes["db.query.summary"] == 'SELECT "song list"'
    _assert_no_leak(span)


# -- real sqlite3 ------------------------------------------------------------------------------


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = rt.traced(sqlite3.connect, "sqlite3.connect")(":memory:")
    connection.execute("CREATE TABLE items (name TEXT, qty INTEGER)")
    yield connection
    connection.close()


def test_a_literal_beside_parameters_and_comments(
    conn: sqlite3.Connection, exporter: rt.InMemorySpanExporter
) -> None:
    conn.execute(f"SELECT * FROM items WHERE name = ? AND qty = '{SECRET}' -- {SECRET}", ("x",))
    conn.execute(f'/* {SECRET} */ SELECT "{SECRET}" FROM items')
    *_, with_parameter, double_quoted = exporter.get_finished_spans()
    assert (
        with_parameter.attributes["db.query.text"]
        == "SELECT * FROM items WHERE name = ? AND qty = ?"
    )
    assert double_quoted.attributes["db.query.text"] == "SELECT ? FROM items"
    assert double_quoted.name == "SELECT items"
    _assert_no_leak(with_parameter)
    _assert_no_leak(double_quoted)


FAILING = [
    f"SELECT '{SECRET} FROM items",  # unrecognized token: "'s3cr3tXYZ FROM items"
    f"SELECT * FROM items WHERE name = \u2018{SECRET}\u2019",  # no such column: (quoted text)
    f"SELECT * FROM items WHERE name = \u201c{SECRET}\u201d",
    f"INSERT INTO items VALUES ('{SECRET}', 1)x",  # near "x": syntax error
    f"INSERT INTO items VALUES ('{SECRET}' '{SECRET}')",  # near "'s3cr3tXYZ'": syntax error
    f"SELECT 1{SECRET} FROM items",  # unrecognized token: "1s3cr3tXYZ"
    f"SELECT X'{HEX}' FROM nowhere WHERE x = '{SECRET}'",
    f"SELECT * FROM items WHERE name = '{SECRET}' AND",  # incomplete input
    f"SELECT {'9' * 12} FROM items WHERE name = 98765432 +",
]


@pytest.mark.parametrize("sql", FAILING)
@pytest.mark.parametrize("method", ["execute", "executescript", "cursor"])
def test_a_failing_statement_records_no_literal(
    sql: str, method: str, conn: sqlite3.Connection, exporter: rt.InMemorySpanExporter
) -> None:
    call = {
        "execute": conn.execute,
        "executescript": conn.executescript,
        "cursor": conn.cursor().execute,
    }[method]
    with pytest.raises(sqlite3.Error) as raised:
        call(sql)
    plain = sqlite3.connect(":memory:")
    plain.execute("CREATE TABLE items (name TEXT, qty INTEGER)")
    with pytest.raises(sqlite3.Error) as untraced:
        getattr(plain, method if method != "cursor" else "execute")(sql)
    plain.close()
    assert str(raised.value) == str(untraced.value)  # the application sees sqlite's own error
    span = exporter.get_finished_spans()[-1]
    assert span.status_code == rt.StatusCode.ERROR
    assert span.attributes["error.type"].startswith("sqlite3.")
    (event,) = span.events
    assert event.attributes["exception.type"] == span.attributes["error.type"]
    assert "Traceback" in str(event.attributes["exception.stacktrace"])
    _assert_no_leak(span)


@pytest.mark.parametrize(
    ("system", "message", "expected"),
    [
        (
            "postgresql",
            'duplicate key value violates unique constraint "users_email_key"\n'
            f"DETAIL:  Key (email)=({SECRET}@example.com) already exists.",
            'duplicate key value violates unique constraint "users_email_key"\n'
            "DETAIL:  Key (email)=(?) already exists.",
        ),
        (
            "postgresql",
            f'syntax error at or near "x"\nLINE 1: SELECT \'{SECRET} x\n                   ^',
            'syntax error at or near "x"\nLINE 1: SELECT ?\n                   ^',
        ),
        (
            "postgresql",
            f'invalid input syntax for type integer: "{SECRET}"',
            'invalid input syntax for type integer: "?"',
        ),
        (
            "mysql",
            "You have an error in your SQL syntax; check the manual that corresponds to your "
            f"MySQL server version for the right syntax to use near ''{SECRET}' WHERE x' at line 1",
            "You have an error in your SQL syntax; check the manual that corresponds to your "
            "MySQL server version for the right syntax to use near '? WHERE x' at line 1",
        ),
        (
            "mysql",
            f"Duplicate entry '{SECRET}' for key 'users.email'",
            "Duplicate entry '?' for key 'users.email'",
        ),
    ],
)
def test_driver_messages_that_quote_values(
    system: str, message: str, expected: str, exporter: rt.InMemorySpanExporter
) -> None:
    error = RuntimeError(message)
    cursor = Cursor(fail=error)
    with pytest.raises(RuntimeError) as raised:
        make_query_adapter(system)(
            cursor.execute, f"SELECT '{SECRET}' x", (f"{SECRET}@example.com",)
        )
    assert raised.value is error
    (span,) = exporter.get_finished_spans()
    assert span.events[0].attributes["exception.message"] == expected
    assert span.status_message == f"RuntimeError: {expected}"
    _assert_no_leak(span)


def test_parameter_values_quoted_back_are_scrubbed(exporter: rt.InMemorySpanExporter) -> None:
    adapter = make_query_adapter("postgresql")
    calls: list[tuple[str, object, str]] = [
        ("INSERT INTO t VALUES (%s, %s)", (SECRET, 98765432), f"{SECRET!r}: 98765432 rejected"),
        ("INSERT INTO t VALUES (%(a)s)", {"a": SECRET}, f"value {SECRET} too long"),
        ("INSERT INTO t VALUES (%s)", [("a",), (SECRET,)], f"row 2 ({SECRET}) rejected"),
    ]
    for sql, parameters, message in calls:
        method = Cursor(fail=RuntimeError(message)).execute
        if isinstance(parameters, list):
            method = Cursor(fail=RuntimeError(message)).executemany
        with pytest.raises(RuntimeError):
            adapter(method, sql, parameters)
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    for span in spans:
        _assert_no_leak(span)


def test_parameters_from_an_iterator_are_never_consumed(exporter: rt.InMemorySpanExporter) -> None:
    seen: list[Any] = []

    class Failing(Cursor):
        def executemany(self, query: str, params: Any) -> Cursor:
            seen.extend(params)
            raise RuntimeError("boom")

    rows = iter([("a",), ("b",)])
    with pytest.raises(RuntimeError):
        make_query_adapter("postgresql")(Failing().executemany, "INSERT INTO t VALUES (%s)", rows)
    assert seen == [("a",), ("b",)]


# -- db.namespace ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("database", "uri", "namespace"),
    [
        ("file:{path}?key={secret}&mode=rwc", True, "{path}"),
        ("file://{path}?mode=rwc&key={secret}#{secret}", True, "{path}"),
        ("file://localhost{path}?psk={secret}", True, "{path}"),
        ("file:{quoted}?vfs=unix&key={secret}", True, "{path}"),
        ("file::memory:?cache=shared&key={secret}", True, ":memory:"),
        ("file:memdb1?mode=memory&cache=shared&key={secret}", True, "memdb1"),
        ("{path}", False, "{path}"),
    ],
)
def test_namespace_carries_no_uri_query(
    database: str, uri: bool, namespace: str, tmp_path: Path, exporter: rt.InMemorySpanExporter
) -> None:
    path = tmp_path / "my db.sqlite"
    quoted = str(path).replace(" ", "%20")
    values = {"path": str(path), "secret": SECRET, "quoted": quoted}
    connection = rt.traced(sqlite3.connect, "sqlite3.connect")(database.format(**values), uri=uri)
    connection.close()
    (span,) = exporter.get_finished_spans()
    expected = namespace.format(**values)
    assert span.attributes["db.namespace"] == expected
    assert span.name == f"connect {expected}"
    _assert_no_leak(span)
