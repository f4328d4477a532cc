"""Reading SQL text: sanitizing literals away and summarizing what a statement does.

For the database semantic conventions (see ``_dbapi`` for why each attribute is what it is):

* :func:`sanitize`: the text with every string, number, blob and boolean literal replaced by
  ``?`` (placeholders kept), for ``db.query.text`` of a query run without parameters.
* :func:`summarize`: ``db.query.summary``, the operations and their targets in order, as
  written (``SELECT items``, ``INSERT shipping SELECT orders``, ``CREATE TABLE items``),
  truncated to ``MAX_SUMMARY`` characters. The parse is deliberately small and leaves out what
  it cannot place (a subquery in ``FROM``, a table-valued function).
* :func:`analyse`: both at once, cached (applications repeat a small set of strings); texts
  longer than ``MAX_ANALYSED`` characters are analysed and sanitized on their first
  ``MAX_ANALYSED`` characters only, so a huge script costs bounded time and memory.

Two dialects of literals: standard SQL (SQLite, PostgreSQL: ``''`` escapes a quote, ``"..."`` is
an identifier) and MySQL/MariaDB (``#`` comments, backslash escapes, ``"..."`` is a string).
:mod:`re` is imported with this module, i.e. on the first traced query, not at start-up.
"""

from __future__ import annotations

import re

MAX_SUMMARY = 255
MAX_ANALYSED = 8192
_MAX_CACHED = 512

# -- reading SQL ----------------------------------------------------------------------------------

_LITERAL_KINDS = frozenset(("string", "number", "dollar"))
_TOKEN_PATTERN = r"""
  (?P<space>\s+)
| (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z){hash_comment})
| (?P<string>{string})
| (?P<quoted>{double_quoted}`(?:[^`]|``)*`?|\[[^\]]*\]?)
| (?P<dollar>\$(?P<tag>(?:[A-Za-z_]\w*)?)\$.*?\$(?P=tag)\$)
| (?P<placeholder>\?\d*|[:@$][A-Za-z_][\w$]*|\$\d+|%\([^)]*\)s|%s)
| (?P<number>0[xX][0-9A-Fa-f]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
| (?P<word>[A-Za-z_][\w$]*)
| (?P<other>.)
"""
_PREFIX = "[xXbBnNeE]?"  # blob X'..', bit B'..', national N'..', escape E'..' literals
# Standard SQL (SQLite, PostgreSQL): '' escapes a quote, "..." is an identifier. MySQL: '#'
# comments, backslash escapes, and "..." is a string, so it is sanitized like one. An
# unterminated literal or comment runs to the end of the text (sanitized away, never leaked).
_STANDARD = {
    "hash_comment": "",
    "string": _PREFIX + "'(?:[^']|'')*'?",
    "double_quoted": '"(?:[^"]|"")*"?|',
}
_MYSQL = {
    "hash_comment": r"|\#[^\n]*",
    "string": _PREFIX + r"""(?:'(?:[^'\\]|''|\\.)*'?|"(?:[^"\\]|""|\\.)*"?)""",
    "double_quoted": "",
}


def _compile(mysql: bool) -> re.Pattern[str]:
    return re.compile(_TOKEN_PATTERN.format(**(_MYSQL if mysql else _STANDARD)), re.S | re.X)


_tokenizers: dict[bool, re.Pattern[str]] = {}

# Operations that start a statement, and those that may also follow a '(' or ')' (subqueries,
# CTEs, INSERT ... SELECT) or a trigger's BEGIN. SELECT counts anywhere; the others not after
# ON / OF / DO / OR (``ON DELETE CASCADE``, ``AFTER UPDATE OF``, ``DO UPDATE SET``,
# ``INSERT OR REPLACE``) nor as functions (``replace(x, 'a', 'b')``).
# fmt: off
_STATEMENT_OPS = frozenset((
    "ALTER", "ANALYZE", "ATTACH", "BEGIN", "CALL", "COMMIT", "COPY", "CREATE", "DETACH", "DROP",
    "EXEC", "EXECUTE", "EXPLAIN", "GRANT", "LOCK", "PRAGMA", "REINDEX", "RELEASE", "REVOKE",
    "ROLLBACK", "SAVEPOINT", "SET", "SHOW", "TRUNCATE", "USE", "VACUUM",
))
_DML_OPS = frozenset(("DELETE", "INSERT", "MERGE", "REPLACE", "UPDATE"))
_DML_AFTER = frozenset((None, ";", "(", ")", "AS", "BEGIN", "EXPLAIN", "PLAN"))
_OBJECT_OPS = frozenset(("ALTER", "CREATE", "DROP"))
_OBJECT_MODIFIERS = frozenset((
    "GLOBAL", "LOCAL", "MATERIALIZED", "OR", "REPLACE", "TEMP", "TEMPORARY", "UNIQUE",
    "UNLOGGED", "VIRTUAL",
))
_NOT_NAMES = frozenset((
    "AS", "CROSS", "DEFAULT", "EXCEPT", "FULL", "GROUP", "HAVING", "INDEXED", "INNER",
    "INTERSECT", "JOIN", "LEFT", "LIMIT", "NATURAL", "NOT", "OFFSET", "ON", "ORDER", "OUTER",
    "RETURNING", "RIGHT", "SELECT", "SET", "UNION", "USING", "VALUES", "WHERE", "WINDOW",
)) | _STATEMENT_OPS | _DML_OPS
# fmt: on
_BOOLEANS = frozenset(("TRUE", "FALSE"))

Token = tuple[str, str]
"""``(kind, text)``: kind is the name of the pattern group that matched."""


def _tokens(sql: str, mysql: bool) -> list[Token]:
    """The tokens of ``sql``; their texts joined spell ``sql`` exactly."""
    tokenizer = _tokenizers.get(mysql)
    if tokenizer is None:
        tokenizer = _tokenizers[mysql] = _compile(mysql)
    return [(match.lastgroup or "other", match.group()) for match in tokenizer.finditer(sql)]


def sanitize(tokens: list[Token]) -> str:
    """The text of ``tokens`` with every literal replaced by ``?`` (placeholders kept)."""
    return "".join(
        "?" if kind in _LITERAL_KINDS or (kind == "word" and text.upper() in _BOOLEANS) else text
        for kind, text in tokens
    )


def _name_at(words: list[Token], i: int) -> tuple[str | None, int]:
    """A (possibly qualified) object name starting at ``words[i]``, and the index after it."""
    parts: list[str] = []
    while i < len(words):
        kind, text = words[i]
        if kind not in ("word", "quoted", "string") or (
            kind == "word" and text.upper() in _NOT_NAMES
        ):
            break
        parts.append(text)
        i += 1
        if i + 1 < len(words) and words[i][1] == ".":
            i += 1
            continue
        break
    return (".".join(parts) if parts else None), i


def _tables(words: list[Token], i: int, parts: list[str], *, listed: bool) -> int:
    """Read the table(s) at ``words[i]`` into ``parts``; return the index after them.

    ``listed``: after FROM, where ``a AS x, b y`` names two tables. A name followed by ``(``
    there is a table-valued function, and a ``(`` is a subquery: neither is named.
    """
    while True:
        name, after = _name_at(words, i)
        if name is None or (listed and after < len(words) and words[after][1] == "("):
            return i
        parts.append(name)
        i = after
        if not listed:
            return i
        if i < len(words) and words[i][1].upper() == "AS":
            i += 2
        elif (
            i < len(words)
            and words[i][0] in ("word", "quoted")
            and (words[i][1].upper() not in _NOT_NAMES)
        ):
            i += 1
        if i >= len(words) or words[i][1] != ",":
            return i
        i += 1


def summarize(tokens: list[Token]) -> str:
    """``db.query.summary``: operations and their targets, in order, as written.

    ``FROM`` names tables only at the depth of the SELECT or DELETE it belongs to, so
    ``extract(year FROM d)`` and ``IS DISTINCT FROM`` name nothing.
    """
    words = [token for token in tokens if token[0] not in ("space", "comment")]
    parts: list[str] = []
    previous: str | None = None
    depth = 0
    op_depths: list[int] = []  # depths of the SELECT/DELETE whose FROM is still to come
    i = 0
    while i < len(words):
        kind, text = words[i]
        upper = text.upper()
        i += 1
        if kind not in ("word", "other"):
            previous = upper
            continue
        if upper == "(":
            depth += 1
        elif upper == ")":
            depth -= 1
            while op_depths and op_depths[-1] > depth:
                op_depths.pop()
        elif upper in _OBJECT_OPS and previous in (None, ";"):
            while i < len(words) and words[i][1].upper() in _OBJECT_MODIFIERS:
                i += 1
            if i < len(words) and words[i][0] == "word":
                parts.append(f"{text} {words[i][1]}")
                i += 1
                while i < len(words) and words[i][1].upper() in ("IF", "NOT", "EXISTS"):
                    i += 1
                i = _tables(words, i, parts, listed=False)
            else:
                parts.append(text)
        elif (
            upper == "SELECT"
            or (upper in _DML_OPS and previous in _DML_AFTER)
            or (upper in _STATEMENT_OPS and previous in (None, ";"))
        ):
            parts.append(text)
            if upper in ("SELECT", "DELETE"):
                op_depths.append(depth)
            elif upper == "UPDATE":
                if i + 1 < len(words) and words[i][1].upper() == "OR":
                    i += 2  # UPDATE OR IGNORE t
                i = _tables(words, i, parts, listed=False)
        elif upper == "FROM" and op_depths and op_depths[-1] == depth and previous != "DISTINCT":
            i = _tables(words, i, parts, listed=True)
        elif upper == "JOIN" or upper == "INTO":
            i = _tables(words, i, parts, listed=False)
        previous = upper
    summary = ""
    for part in parts:
        if len(summary) + len(part) + 1 > MAX_SUMMARY:
            break
        summary = f"{summary} {part}" if summary else part
    return summary


_analysed: dict[tuple[str, bool, bool], tuple[str, str]] = {}


def analyse(sql: str, *, sanitized: bool, mysql: bool = False) -> tuple[str, str]:
    """``(db.query.text, db.query.summary)`` for ``sql`` (cached; see the module docstring)."""
    key = (sql, sanitized, mysql)
    cached = _analysed.get(key)
    if cached is not None:
        return cached
    head = sql[:MAX_ANALYSED]
    tokens = _tokens(head, mysql)
    result = (sanitize(tokens) if sanitized else sql), summarize(tokens)
    if len(sql) <= MAX_ANALYSED:
        if len(_analysed) >= _MAX_CACHED:
            _analysed.clear()
        _analysed[key] = result
    return result
