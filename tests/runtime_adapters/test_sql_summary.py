"""``db.query.summary`` and ``db.query.text`` sanitization, on their own (no database)."""

from __future__ import annotations

import pytest

from codetrace.runtime import _sql
from codetrace.runtime._sql import MAX_ANALYSED, MAX_SUMMARY, analyse

SUMMARIES = [
    ("SELECT 1", "SELECT"),
    ("select * from items where name = ?", "select items"),
    ("CREATE TABLE IF NOT EXISTS items (name TEXT, qty INTEGER)", "CREATE TABLE items"),
    ("create temp table if not exists t as select * from u", "create table t select u"),
    ("CREATE UNIQUE INDEX IF NOT EXISTS ix ON items(name)", "CREATE INDEX ix"),
    ("DROP TABLE IF EXISTS main.items", "DROP TABLE main.items"),
    ("ALTER TABLE items ADD COLUMN price REAL", "ALTER TABLE items"),
    ("INSERT INTO items VALUES (?, ?)", "INSERT items"),
    ("INSERT OR REPLACE INTO main.items(a, b) VALUES (:a, :b)", "INSERT main.items"),
    ("REPLACE INTO items VALUES (?)", "REPLACE items"),
    ("UPDATE OR IGNORE items SET qty = qty + 1 WHERE name = ?", "UPDATE items"),
    ("DELETE FROM items WHERE x = ?", "DELETE items"),
    ("SELECT COUNT(*) FROM items", "SELECT items"),
    ("SELECT sqlite_version()", "SELECT"),
    # the examples of the semantic conventions
    (
        "INSERT INTO shipping_details (order_id, address) SELECT order_id, address "
        "FROM orders WHERE order_id = ?",
        "INSERT shipping_details SELECT orders",
    ),
    ("SELECT * FROM songs, artists WHERE songs.artist_id == artists.id", "SELECT songs artists"),
    (
        "SELECT order_date FROM (SELECT * FROM orders o JOIN customers c "
        "ON o.customer_id = c.customer_id)",
        "SELECT SELECT orders customers",
    ),
    ("SELECT * FROM \"song list\", 'artists'", "SELECT \"song list\" 'artists'"),
    # aliases, joins, and FROM that names no table
    ("SELECT a FROM t AS x, u y LEFT JOIN v ON x.id = v.id", "SELECT t u v"),
    ("SELECT a FROM t WHERE a IS DISTINCT FROM b", "SELECT t"),
    ("SELECT extract(year FROM d) FROM t", "SELECT t"),
    ("SELECT * FROM json_each(?)", "SELECT"),
    (
        "WITH x AS (SELECT * FROM a) DELETE FROM b WHERE id IN (SELECT id FROM x)",
        "SELECT a DELETE b SELECT x",
    ),
    # keywords that are not operations here
    (
        "CREATE TABLE c (id INTEGER REFERENCES p(id) ON DELETE CASCADE ON UPDATE CASCADE)",
        "CREATE TABLE c",
    ),
    (
        "CREATE TRIGGER trg AFTER UPDATE OF qty ON items BEGIN INSERT INTO log VALUES (1); END",
        "CREATE TRIGGER trg INSERT log",
    ),
    ("INSERT INTO t VALUES (1) ON CONFLICT(x) DO UPDATE SET y = 'z'", "INSERT t"),
    ("SELECT replace(name, 'a', 'b') FROM items", "SELECT items"),
    ("PRAGMA foreign_keys = ON", "PRAGMA"),
    ("BEGIN; COMMIT;", "BEGIN COMMIT"),
    ("explain query plan select * from t", "explain select t"),
    ("", ""),
    ("  -- only a comment", ""),
    ("VALUES (1)", ""),
]


@pytest.mark.parametrize(("sql", "summary"), SUMMARIES)
def test_summary(sql: str, summary: str) -> None:
    assert analyse(sql)[1] == summary


SANITIZED = [
    ("SELECT 1", "SELECT ?"),
    (
        "SELECT * FROM t WHERE name = 'bob' AND qty > 3.5e2",
        "SELECT * FROM t WHERE name = ? AND qty > ?",
    ),
    ("SELECT X'DEADBEEF', 0x1F, true, FALSE, 'it''s', -5", "SELECT ?, ?, ?, ?, ?, -?"),
    (
        "SELECT * FROM t1 WHERE c2 = ?1 AND c3 = :name",
        "SELECT * FROM t1 WHERE c2 = ?1 AND c3 = :name",
    ),
    ("SELECT * FROM t WHERE a = 'unterminated secret", "SELECT * FROM t WHERE a = ?"),
    ("SELECT 'x' /* drop 'comments' */ -- and these\n", "SELECT ?"),
    ('SELECT "column" FROM "table"', 'SELECT ? FROM "table"'),  # SQLite: "column" may be a string
    ('SELECT "t"."column" FROM "table"', 'SELECT "t"."column" FROM "table"'),
    ("SELECT $$dollar secret$$, $1, $tag$x$tag$ FROM t", "SELECT ?, $1, ? FROM t"),
    ("SELECT 'C:\\' FROM t", "SELECT ? FROM t"),  # standard SQL: no backslash escapes
]


@pytest.mark.parametrize(("sql", "sanitized"), SANITIZED)
def test_sanitized(sql: str, sanitized: str) -> None:
    assert analyse(sql)[0] == sanitized


def test_mysql_strings_and_comments() -> None:
    sql = "SELECT \"secret\" FROM `t` WHERE a = 'x\\' OR 1=1 -- ' # tail 'y'"
    assert analyse(sql, "mysql") == ("SELECT ? FROM `t` WHERE a = ?", "SELECT `t`")


def test_summary_is_truncated_between_parts() -> None:
    sql = "; ".join(f"DELETE FROM table_number_{i}" for i in range(40))
    summary = analyse(sql)[1]
    assert len(summary) <= MAX_SUMMARY
    assert summary.startswith("DELETE table_number_0 DELETE table_number_1")
    full = " ".join(f"DELETE table_number_{i}" for i in range(40))
    assert full.startswith(summary + " ")  # cut between parts, never inside a name


def test_long_text_is_bounded_and_not_cached() -> None:
    sql = "SELECT * FROM t WHERE x IN (" + ", ".join(["'v'"] * 5000) + ")"
    assert len(sql) > MAX_ANALYSED
    text, summary = analyse(sql)
    assert summary == "SELECT t"
    assert len(text) <= MAX_ANALYSED and "'v'" not in text
    assert all(len(key[0]) <= MAX_ANALYSED for key in _sql._analysed)


def test_cache_is_bounded() -> None:
    for i in range(_sql._MAX_CACHED + 10):
        analyse(f"SELECT {i}")
    assert len(_sql._analysed) <= _sql._MAX_CACHED
