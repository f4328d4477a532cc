"""DB-API 2.0 adapters: CLIENT spans for connect, queries and commit/rollback, any database.

The three kinds of call every Python database driver shares (PEP 249) are traced the same way
whatever the driver; only ``db.system.name`` differs. ``make_connect_adapter``,
``make_query_adapter`` and ``make_transaction_adapter`` build them for a system;
``make_dbapi_adapter`` combines them for a driver module whose rules all point at one adapter
(it picks by the callee's name, see below). This module's ``adapter`` serves the built-in
``sqlite3.*`` rules (``db.system.name`` = ``sqlite``); a psycopg or pymysql module is one line
on top of the factories.

Stable database semantic conventions, and why each choice:

* Queries (``execute``, ``executemany``, ``executescript``): ``db.query.text`` is the SQL with
  every literal replaced by ``?`` and comments dropped, read in the system's dialect
  (``_sql``), whether or not the call passed parameters: the conventions leave parameterized
  text verbatim, but ``name = ? AND pw = 'X'`` holds a literal all the same. Parameter values
  are never captured.
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
  reading secrets (for SQLite: the path, ``:memory:`` included, or a ``file:`` URI's path
  without its query, which may hold a key). Span name:
  ``connect {db.namespace}``. Query spans carry no ``db.namespace``: a DB-API connection does
  not say which database it is on, and ``sqlite3.Connection`` cannot be weakly referenced to
  remember it.
* Failures: ``error.type`` is the exception's qualified class name (``sqlite3.OperationalError``),
  ``db.response.status_code`` the driver's code when it exposes one (``sqlite_errorcode``,
  ``sqlstate``, ``pgcode``), an ``exception`` event, status ``ERROR``; the exception is
  re-raised unchanged. The event's message and stack trace and the status message of a failed
  query lose the statement's literals and comments, the call's parameter values and the SQL
  drivers quote (``_sql.scrub_error``), and credentials (``_redact``): the exception is
  recorded here, not by the span, which cannot know the statement (docs/runtime-privacy.md).
  ``db.response.returned_rows`` is not recorded: counting rows would mean
  reading the cursor the application is about to read.

The callee's result comes back as is (``conn.execute(sql).fetchall()`` keeps working) and its
arguments are never touched. Attributes and the summary are computed only for recording spans;
reading the SQL text (sanitizing, summarizing, its cache and bounds) is ``_sql``'s job.
"""

from __future__ import annotations

from ._construct import built_traced
from ._http import is_mock
from ._log import warn_once
from ._redact import MAX_SCRUBBED, scrub_text
from ._span import is_failure
from ._sql import analyse, dialect_for, scrub_error
from ._statement_cursor import covered
from ._tracer import span as start_span
from ._values import SpanKind, StatusCode, qualified_name, safe_str

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._span import Span

    Adapter = Callable[..., Any]
    Describer = Callable[[Span, object, tuple[Any, ...], dict[str, Any]], None]
    Namespace = Callable[[tuple[Any, ...], dict[str, Any]], "str | None"]

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


def _argument(
    args: tuple[Any, ...], kwargs: dict[str, Any], index: int, names: tuple[str, ...]
) -> Any:
    if len(args) > index:
        return args[index]
    for name in names:
        if name in kwargs:
            return kwargs[name]
    return None


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


def _query_of(
    callee: object, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[str, object, object] | None:
    """``(sql, parameters, method name)`` of a query call, or ``None`` without SQL text."""
    # An unbound method (``sqlite3.Cursor.execute(cursor, sql)``) gets its object first.
    offset = 1 if getattr(callee, "__objclass__", None) is not None else 0
    sql = _argument(args, kwargs, offset, _QUERY_KEYWORDS)
    if isinstance(sql, bytes):
        sql = sql.decode("utf-8", "replace")
    if not isinstance(sql, str):
        return None
    method = getattr(callee, "__name__", None)
    parameters = None
    if method != "executescript":
        parameters = _argument(args, kwargs, offset + 1, _PARAMETER_KEYWORDS)
    return str(sql), parameters, method


def _parameter_values(parameters: object, method: object) -> list[object]:
    """Parameter values a driver may quote back in an error, as far as they can be read
    without side effects: lists, tuples and dicts only (an iterator is never consumed), the
    first 16 sets of a batch, 64 values a set."""
    sets: list[object] = [parameters]
    if method == "executemany":
        sets = list(parameters[:16]) if type(parameters) in (list, tuple) else []  # type: ignore[index]
    values: list[object] = []
    for one in sets:
        if type(one) is dict:
            values.extend(list(one.values())[:64])
        elif type(one) in (list, tuple):
            values.extend(one[:64])  # type: ignore[index]
    return values


def _record_failure(
    span: Span, exc: BaseException, dialect: str, query: tuple[str, object, object]
) -> bool:
    """Record a failed query as ``Span.fail`` would, its exception text scrubbed of the
    statement's literals and the call's parameter values (``_sql.scrub_error``) as well as of
    credentials (``_redact``). False when ``exc`` is no failure (nothing recorded)."""
    if not is_failure(exc):
        return False
    sql, parameters, method = query
    values = _parameter_values(parameters, method)

    def scrubbed(text: str) -> str:
        return scrub_text(scrub_error(text[: 4 * MAX_SCRUBBED], sql, dialect, values))

    try:
        import traceback

        message = scrubbed(safe_str(exc))
        stack = scrubbed("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    except Exception as error:  # what cannot be scrubbed is not recorded
        warn_once("dbapi-scrub", "codetrace: exception text left out", exc=error)
        message = stack = ""
    span.record_exception(exc, {"exception.message": message, "exception.stacktrace": stack})
    if "error.type" not in span.attributes:
        span.set_attribute("error.type", qualified_name(type(exc)))
    span.set_status(StatusCode.ERROR, f"{type(exc).__name__}: {message}")
    return True


def _query_describer(dialect: str) -> Describer:
    def describe_query(
        span: Span, callee: object, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        query = _query_of(callee, args, kwargs)
        if query is None:
            return
        sql, parameters, method = query
        text, summary = analyse(sql, dialect)  # sanitized, parameters or not (see ``_sql``)
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
    system: str,
    describers: dict[str, Describer],
    default: Describer | None,
    checked: bool = True,
    query: Describer | None = None,
) -> Adapter:
    """An adapter: a CLIENT span named ``system`` until the describer names it better.

    The describer (``describers[callee.__name__]``, else ``default``) runs only for spans that
    record, and a describer that fails costs the span its details, never the call. A
    ``checked`` adapter (a call site's) calls a method of a connection or cursor traced at
    construction through without a span: the object makes it (``_sqlite``). A call described
    by ``query`` that fails records its exception scrubbed of its SQL's literals.
    """
    dialect = dialect_for(system)

    def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        try:
            # Bound methods only: ``sqlite3.Cursor.execute(cursor, sql)`` skips the override.
            # A mocked callee is no I/O: called through, no span. Nor a call on the cursor a
            # SQLAlchemy statement span covers (``_statement_cursor``).
            if (checked and (is_mock(callee) or built_traced(callee, ()))) or covered(callee):
                span = None
            else:
                span = start_span(system, kind=SpanKind.CLIENT)
                span.activate()
        except Exception as exc:
            warn_once(f"dbapi:{system}", "codetrace: %s call left untraced", system, exc=exc)
            return callee(*args, **kwargs)
        if span is None:
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
            recorded = False
            if span.is_recording():
                try:
                    span.set_attribute("db.response.status_code", _status_code(exc))
                    name = getattr(callee, "__name__", None)
                    chosen = describers.get(name, default) if type(name) is str else default
                    statement = _query_of(callee, args, kwargs) if chosen is query else None
                    if query is not None and statement is not None:
                        recorded = _record_failure(span, exc, dialect, statement)
                except Exception as error:  # never mask the application's exception
                    warn_once(f"dbapi-error:{system}", "codetrace: odd exception", exc=error)
            if recorded:
                span.__exit__(None, None, None)
            else:
                span.__exit__(type(exc), exc, exc.__traceback__)
            raise
        span.__exit__(None, None, None)
        return result

    adapter.__qualname__ = adapter.__name__ = f"{system}_adapter"
    return adapter


def make_query_adapter(system: str, *, checked: bool = True) -> Adapter:
    """The adapter for ``execute``/``executemany``/``executescript`` on ``system``.

    ``checked=False``: for the traced objects themselves (no check for one).
    """
    query = _query_describer(dialect_for(system))
    return _make_adapter(system, {}, query, checked, query)


def make_transaction_adapter(system: str, *, checked: bool = True) -> Adapter:
    """The adapter for ``commit``/``rollback`` on ``system``."""
    return _make_adapter(system, {}, _describe_transaction, checked)


def make_operation_adapter(system: str, operation: str) -> Adapter:
    """A span for ``operation`` (``COMMIT``) whatever the callee's name (``__exit__``)."""

    def describe(span: Span, callee: object, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        span.attributes["db.operation.name"] = operation
        span.attributes["db.query.summary"] = operation
        span.update_name(operation)

    return _make_adapter(system, {}, describe, checked=False)


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
    query = _query_describer(dialect_for(system))
    describers = {
        "connect": _connect_describer(namespace),
        "execute": query,
        "executemany": query,
        "executescript": query,
        "commit": _describe_transaction,
        "rollback": _describe_transaction,
    }
    return _make_adapter(system, describers, None, query=query)


def _sqlite_path(database: str) -> str | None:
    """The database a ``file:`` URI names (its path, percent-decoded; ``:memory:``), without
    the query and fragment: those hold options, and keys (SQLCipher's ``?key=``, ``?hexkey=``).
    Any other name is the path itself."""
    if database[:5].lower() != "file:":
        return database
    path = database[5:]
    for mark in "?#":
        path = path.partition(mark)[0]
    if path.startswith("//"):  # an authority: empty or localhost
        slash = path.find("/", 2)
        path = path[slash:] if slash >= 0 else ""
    if "%" in path:
        from urllib.parse import unquote

        path = unquote(path)
    return path or None


def sqlite_namespace(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The database given to ``sqlite3.connect``: a path, ``:memory:``, or the path of a
    ``file:`` URI (never its query: see ``_sqlite_path``)."""
    database = _argument(args, kwargs, 0, ("database",))
    if isinstance(database, bytes):
        return _sqlite_path(database.decode("utf-8", "replace"))
    if isinstance(database, str):
        return _sqlite_path(database)
    fspath = getattr(type(database), "__fspath__", None)
    if fspath is not None:
        path = fspath(database)
        return path.decode("utf-8", "replace") if isinstance(path, bytes) else str(path)
    return None


adapter = make_dbapi_adapter("sqlite", sqlite_namespace)
"""The built-in ``sqlite3.connect``, ``sqlite3.query`` and ``sqlite3.transaction`` adapter."""
