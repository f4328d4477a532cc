"""DB-API 2.0 adapters: CLIENT spans for connect, queries and commit/rollback, any database.

The three kinds of call every Python database driver shares (PEP 249) are traced the same way
whatever the driver; only ``db.system.name`` differs. ``make_connect_adapter``,
``make_query_adapter`` and ``make_transaction_adapter`` build them for a system;
``make_dbapi_adapter`` combines them for a driver module whose rules all point at one adapter
(it picks by the callee's name, see below). This module's ``adapter`` serves the built-in
``sqlite3.*`` rules (``db.system.name`` = ``sqlite``); a psycopg or pymysql module is one line
on top of the factories.

Stable database semantic conventions, and why each choice:

* Queries (``execute``, ``executemany``, ``executescript``): ``db.query.text`` is the SQL as
  given when the call passed parameters (parameterized text is collected verbatim; parameter
  values are never captured). Text run *without* parameters may hold literal values, so it is
  sanitized first: every string, number, blob, boolean literal becomes ``?``.
* The SQL conventions say ``db.operation.name`` and ``db.collection.name`` SHOULD NOT be
  extracted from query text (one statement can touch several tables and do several things);
  instrumentations that parse SHOULD set ``db.query.summary`` instead and name the span after
  it. The summary lists operations and their targets in order: ``SELECT items``,
  ``INSERT shipping SELECT orders``, ``CREATE TABLE items``, truncated to 255 characters; the
  parse is deliberately small and leaves out what it cannot place (a subquery in ``FROM``, a
  table-valued function). A query with no recognisable operation is named ``db.system.name``.
* ``executemany`` with N parameter sets is a batch when N is 0 or at least 2: the summary and
  span name get the ``BATCH `` prefix and ``db.operation.batch.size`` is N. One parameter set is
  a single operation. When the sets come from an iterator, counting them would consume it, so
  the call is named as a batch without a size.
* ``executescript`` text may hold several statements: the conventions call that query text with
  several operations, not a batch, so its summary lists them all (truncated) and its text is
  sanitized (scripts take no parameters).
* ``commit``/``rollback``: ``db.operation.name`` and the span name are ``COMMIT``/``ROLLBACK``
  (the command the driver sends; these APIs name one operation, so the attribute is allowed).
* ``connect``: ``db.operation.name`` is ``connect`` and ``db.namespace`` the database the
  connection was opened on, when the system's ``namespace`` function can tell it without
  reading secrets (for SQLite: the path or URI as given, ``:memory:`` included). Span name:
  ``connect {db.namespace}``. Query spans carry no ``db.namespace``: a DB-API connection does
  not say which database it is on, and ``sqlite3.Connection`` cannot be weakly referenced to
  remember it.
* Failures: ``error.type`` is the exception's qualified class name (``sqlite3.OperationalError``),
  ``db.response.status_code`` the driver's code when it exposes one (``sqlite_errorcode``,
  ``sqlstate``, ``pgcode``), an ``exception`` event, status ``ERROR``; the exception is
  re-raised unchanged. ``db.response.returned_rows`` is not recorded: counting rows would mean
  reading the cursor the application is about to read.

The callee's result comes back as is (``conn.execute(sql).fetchall()`` keeps working) and its
arguments are never touched. Attributes and the summary are computed only for recording spans,
and the analysis of a query string is cached (applications repeat a small set of strings);
texts longer than ``MAX_ANALYSED`` characters are analysed and sanitized on their first
``MAX_ANALYSED`` characters only, so a huge script costs bounded time and memory.
"""

from __future__ import annotations

import re

from ._log import warn_once
from ._span import Span, SpanKind
from ._tracer import span as start_span

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Adapter = Callable[..., Any]
    Describer = Callable[[Span, object, tuple[Any, ...], dict[str, Any]], None]
    Namespace = Callable[[tuple[Any, ...], dict[str, Any]], "str | None"]

MAX_SUMMARY = 255
MAX_ANALYSED = 8192
_MAX_CACHED = 512
_STATUS_CODE_FIELDS = ("sqlite_errorcode", "sqlstate", "pgcode")
_QUERY_KEYWORDS = ("sql", "query", "operation", "statement", "sql_script")
_PARAMETER_KEYWORDS = (
    "parameters",
    "params",
    "args",
    "vars",
    "seq_of_parameters",
    "params_seq",
    "vars_list",
)
_MYSQL_LIKE = frozenset(("mysql", "mariadb"))

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


# -- the adapters ---------------------------------------------------------------------------------


def _argument(
    args: tuple[Any, ...], kwargs: dict[str, Any], index: int, names: tuple[str, ...]
) -> Any:
    if len(args) > index:
        return args[index]
    for name in names:
        if name in kwargs:
            return kwargs[name]
    return None


def _parameterized(parameters: object) -> bool:
    if parameters is None:
        return False
    if type(parameters) in (tuple, list, dict):
        return bool(parameters)
    return True


def _batch_size(parameters: object) -> int | None:
    """How many parameter sets ``executemany`` got, if that can be known without iterating."""
    kind = type(parameters)
    if kind in (list, tuple) or (hasattr(kind, "__len__") and not hasattr(kind, "__next__")):
        try:
            return len(parameters)  # type: ignore[arg-type]
        except Exception:
            return None
    return None


def _status_code(exc: BaseException) -> str | None:
    for field in _STATUS_CODE_FIELDS:
        value = getattr(exc, field, None)
        if type(value) is int or (type(value) is str and value):
            return str(value)
    return None


def _query_describer(mysql: bool) -> Describer:
    def describe_query(
        span: Span, callee: object, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        # An unbound method (``sqlite3.Cursor.execute(cursor, sql)``) gets its object first.
        offset = 1 if getattr(callee, "__objclass__", None) is not None else 0
        sql = _argument(args, kwargs, offset, _QUERY_KEYWORDS)
        if isinstance(sql, bytes):
            sql = sql.decode("utf-8", "replace")
        if not isinstance(sql, str):
            return
        method = getattr(callee, "__name__", None)
        parameters = None
        if method != "executescript":
            parameters = _argument(args, kwargs, offset + 1, _PARAMETER_KEYWORDS)
        sanitized = not _parameterized(parameters)
        text, summary = analyse(str(sql), sanitized=sanitized, mysql=mysql)
        attributes = span.attributes
        attributes["db.query.text"] = text
        if method == "executemany":
            size = _batch_size(parameters)
            if size != 1:
                summary = f"BATCH {summary}" if summary else "BATCH"
                if size is not None:
                    attributes["db.operation.batch.size"] = size
        if summary:
            attributes["db.query.summary"] = summary
            span.update_name(summary)

    return describe_query


def _describe_transaction(
    span: Span, callee: object, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    method = getattr(callee, "__name__", None)
    if method in ("commit", "rollback"):
        operation = str(method).upper()
        span.attributes["db.operation.name"] = operation
        span.attributes["db.query.summary"] = operation
        span.update_name(operation)


def _connect_describer(namespace: Namespace | None) -> Describer:
    def describe_connect(
        span: Span, callee: object, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        span.attributes["db.operation.name"] = "connect"
        span.update_name("connect")
        database = namespace(args, kwargs) if namespace is not None else None
        if database:
            span.attributes["db.namespace"] = database
            span.attributes["db.query.summary"] = f"connect {database}"
            span.update_name(f"connect {database}")

    return describe_connect


def _make_adapter(
    system: str, describers: dict[str, Describer], default: Describer | None
) -> Adapter:
    """An adapter: a CLIENT span named ``system`` until the describer names it better.

    The describer (``describers[callee.__name__]``, else ``default``) runs only for spans that
    record, and a describer that fails costs the span its details, never the call.
    """

    def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        try:
            span = start_span(system, kind=SpanKind.CLIENT)
            span.activate()
        except Exception as exc:
            warn_once(f"dbapi:{system}", "codetrace: %s call left untraced", system, exc=exc)
            return callee(*args, **kwargs)
        if span.is_recording():
            try:
                span.attributes["db.system.name"] = system
                name = getattr(callee, "__name__", None)
                describe = describers.get(name, default) if type(name) is str else default
                if describe is not None:
                    describe(span, callee, args, kwargs)
            except Exception as exc:
                warn_once(f"dbapi-describe:{system}", "codetrace: odd %s call", system, exc=exc)
        try:
            result = callee(*args, **kwargs)
        except BaseException as exc:
            if span.is_recording():
                try:
                    span.set_attribute("db.response.status_code", _status_code(exc))
                except Exception as error:  # never mask the application's exception
                    warn_once(f"dbapi-error:{system}", "codetrace: odd exception", exc=error)
            span.__exit__(type(exc), exc, exc.__traceback__)
            raise
        span.__exit__(None, None, None)
        return result

    adapter.__qualname__ = adapter.__name__ = f"{system}_adapter"
    return adapter


def make_query_adapter(system: str) -> Adapter:
    """The adapter for ``execute``/``executemany``/``executescript`` on ``system``."""
    return _make_adapter(system, {}, _query_describer(system in _MYSQL_LIKE))


def make_transaction_adapter(system: str) -> Adapter:
    """The adapter for ``commit``/``rollback`` on ``system``."""
    return _make_adapter(system, {}, _describe_transaction)


def make_connect_adapter(system: str, namespace: Namespace | None = None) -> Adapter:
    """The adapter for ``connect``; ``namespace(args, kwargs)`` names the database, or ``None``.

    ``namespace`` must not return credentials: parse a DSN for its database name, never
    record it whole.
    """
    return _make_adapter(system, {}, _connect_describer(namespace))


def make_dbapi_adapter(system: str, namespace: Namespace | None = None) -> Adapter:
    """One adapter for all of a driver's calls, chosen by the callee's name.

    Built-in adapters are found per rule id as a module's ``adapter`` attribute, so a driver
    whose connect, query and transaction rules share a module shares this one adapter; the
    callee's ``__name__`` (which the rules matched on) says which kind of call it is. Any other
    name (a mock without a spec, say) gets a CLIENT span named by the system.
    """
    query = _query_describer(system in _MYSQL_LIKE)
    describers = {
        "connect": _connect_describer(namespace),
        "execute": query,
        "executemany": query,
        "executescript": query,
        "commit": _describe_transaction,
        "rollback": _describe_transaction,
    }
    return _make_adapter(system, describers, None)


def sqlite_namespace(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The database given to ``sqlite3.connect``: a path, a ``file:`` URI or ``:memory:``."""
    database = _argument(args, kwargs, 0, ("database",))
    if isinstance(database, bytes):
        return database.decode("utf-8", "replace")
    if isinstance(database, str):
        return database
    fspath = getattr(type(database), "__fspath__", None)
    if fspath is not None:
        path = fspath(database)
        return path.decode("utf-8", "replace") if isinstance(path, bytes) else str(path)
    return None


adapter = make_dbapi_adapter("sqlite", sqlite_namespace)
"""The built-in ``sqlite3.connect``, ``sqlite3.query`` and ``sqlite3.transaction`` adapter."""
