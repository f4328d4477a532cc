"""Adapters ``asyncpg.connect`` and ``asyncpg.pool``: asyncpg connections traced from construction.

asyncpg is not a DB-API driver: its connections run SQL through their own coroutine methods,
and it documents one way to extend them: a subclass of ``asyncpg.Connection`` passed as
``connection_class=`` to ``asyncpg.connect()`` or ``asyncpg.create_pool()`` (it checks the
subclass and builds every connection of that class). So
``_codetrace.traced(asyncpg.connect, "asyncpg.connect")(dsn)`` calls ``connect`` with
``connection_class=`` a traced subclass (``_construct``) of the class the caller chose
(``asyncpg.Connection``, or the project's own subclass: composed, its methods run, ``isinstance``
holds), and makes a ``connect`` span; ``create_pool`` (adapter ``asyncpg.pool``) gets the same
class for every connection of the pool, and no span of its own (the pool connects in the
background; its statements are traced through the connections, which the pool's proxies call).

The traced connection overrides asyncpg's public methods; each call makes one CLIENT span (what
it says is ``_asyncpg_spans``'s business), current while the statement runs, ended when it ends
(an exception, cancellation included, is recorded and re-raised unchanged):

* ``execute``, ``executemany``, ``fetch``, ``fetchrow``, ``fetchval``, ``fetchmany`` (0.30+);
* ``copy_from_table``, ``copy_from_query``, ``copy_to_table``, ``copy_records_to_table``;
* ``prepare`` (a round trip: the server parses and describes the statement) returns a prepared
  statement of a traced subclass whose ``fetch``, ``fetchrow``, ``fetchval``, ``fetchmany`` and
  ``executemany`` make spans; ``explain`` runs through the connection's ``fetchval`` (traced);
* ``cursor()`` (of a connection or a prepared statement) returns a cursor factory of a traced
  subclass: the cursor it opens (``await``) makes a span per ``fetch``/``fetchrow``/``forward``,
  and its iterator (``async for``) one per round trip that fetches the next ``prefetch`` rows
  (not one per row: rows already fetched are handed out without a span).
* Transactions: ``async with conn.transaction()`` sends ``BEGIN``, ``COMMIT``/``ROLLBACK`` (and
  ``SAVEPOINT``s) through the connection's ``execute``, so each is a span, as OpenTelemetry's
  instrumentation makes them; so is the reset query a pool sends when a connection is
  released (a real round trip the application waits for).

One span per operation: a call asyncpg makes inside a traced call of the same connection
(``copy_from_query`` with arguments prepares and runs a query to inline them) adds none. Under
SQLAlchemy (an engine given a traced connection by ``async_creator=``), SQLAlchemy's statement
span covers the statement: while it runs, calls on the asyncpg connection its cursor runs on make
no span (``_statement_cursor``; SQLAlchemy's asyncio cursor keeps that connection as
``_connection``). Its ``BEGIN``/``COMMIT`` stay (they are not statements).

The objects asyncpg builds are given their traced class by assigning ``__class__`` (one object,
the one just built; nothing global changes). A traced prepared statement or cursor reads the
connection and query asyncpg keeps on it (``_connection``, ``_query``, as OpenTelemetry does):
asyncpg gives no public accessor to a cursor's query.

Anything else is called unchanged: a mock from ``mock.patch("asyncpg.connect")`` (called with
the caller's own arguments, so ``assert_awaited_with`` holds), a ``create_pool(connect=...)``
(the project's own connect function builds the connections, and the pool checks their class:
those made by a traced ``asyncpg.connect`` inside it are traced), a connection class asyncpg would
refuse or ``_construct`` cannot subclass. A mocked method (``mock.patch.object(asyncpg.Connection,
"fetch")``) is called without a span. ``asyncpg`` is never imported, only looked up in
:data:`sys.modules`.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar
from types import MethodType

from . import _asyncpg_spans as spans
from ._asyncpg_spans import Statement
from ._awaitable import CoroutineType, TracedCoroutine
from ._construct import FUNNEL, is_class, traced_subclass
from ._http import is_mock
from ._log import warn_once
from ._span import is_failure
from ._statement_cursor import statement_cursor
from ._tracer import span as start_span
from ._values import SpanKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Generator
    from contextvars import Token
    from typing import Any

    from ._span import Span

    Describe = Callable[[Any, tuple[Any, ...], dict[str, Any]], Statement]
    Namespace = Callable[[type, Callable[[], Any]], dict[str, Any]]

CONNECTION_KIND = "asyncpg.connection"
PREPARED_KIND = "asyncpg.prepared_statement"
FACTORY_KIND = "asyncpg.cursor_factory"
CURSOR_KIND = "asyncpg.cursor"
ITERATOR_KIND = "asyncpg.cursor_iterator"

_running: ContextVar[object | None] = ContextVar("codetrace_asyncpg_running", default=None)
"""The connection whose traced call is running in this context (a nested call adds no span)."""


# -- which arguments say what ------------------------------------------------------------------


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _text(value: object) -> str | None:
    return value if type(value) is str else None


def _query(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Statement:
    """``execute``/``fetch``/``fetchrow``/``fetchval(query, *args)``."""
    sql = args[0] if args else kwargs.get("query")  # _argument and _text, on every statement
    return Statement(sql if type(sql) is str else None, args[1:])


def _batch(name: str) -> Describe:
    """``executemany(command, args)``/``fetchmany(query, args)``: N argument sets."""

    def describe(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Statement:
        sql = _text(_argument(args, kwargs, 0, name))
        return Statement(sql, _argument(args, kwargs, 1, "args"), batch=True)

    return describe


def _prepare(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Statement:
    return Statement(_text(_argument(args, kwargs, 0, "query")), prefix="PREPARE")


def _copy_query(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Statement:
    return Statement(_text(_argument(args, kwargs, 0, "query")), args[1:], prefix="COPY")


def _copy_table(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Statement:
    table = _text(_argument(args, kwargs, 0, "table_name"))
    schema = _text(kwargs.get("schema_name"))
    if table is not None and schema:
        table = f"{schema}.{table}"
    # records (copy_records_to_table) are read for scrubbing only, as a batch's argument sets
    return Statement(None, kwargs.get("records"), batch=True, table=table or None)


def _prepared_query(statement: Any) -> str | None:
    try:
        return _text(statement.get_query())
    except Exception:  # a statement of a released connection: asyncpg says so in a moment
        return None


def _prepared(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Statement:
    """A prepared statement's ``fetch``/``fetchrow``/``fetchval(*args)``."""
    return Statement(_prepared_query(owner), args)


def _prepared_batch(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Statement:
    """A prepared statement's ``executemany(args)``/``fetchmany(args)``."""
    return Statement(_prepared_query(owner), _argument(args, kwargs, 0, "args"), batch=True)


def _cursor(owner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Statement:
    """A cursor's fetch: the query (and arguments, for scrubbing) asyncpg keeps on it."""
    return Statement(_text(getattr(owner, "_query", None)), getattr(owner, "_args", None))


def _self(owner: Any) -> object:
    return owner


def _resource_connection(owner: Any) -> object:
    """The connection of a prepared statement or cursor (asyncpg's ``ConnectionResource``)."""
    return getattr(owner, "_connection", None)


# -- one traced call -----------------------------------------------------------------------------


def _covered(connection: object) -> bool:
    """Whether a SQLAlchemy statement span covers calls on ``connection`` right now."""
    cursor = statement_cursor.get()
    return cursor is not None and getattr(cursor, "_connection", None) is connection


def _start(
    connection: object, call: object, owner: Any, describe: Describe, args: Any, kwargs: Any
) -> tuple[Span, Statement] | None:
    """The active span for one call and what it sends, or None to call through."""
    try:
        if type(call) is not MethodType and is_mock(call):
            return None
        if _running.get() is connection or _covered(connection):
            return None
        statement = describe(owner, args, kwargs)
        span = start_span(spans.SYSTEM, kind=SpanKind.CLIENT)
        span.activate()
    except Exception as exc:
        warn_once("asyncpg", "codetrace: asyncpg call left untraced", exc=exc)
        return None
    if span._recording:
        try:
            spans.describe(span, connection, statement)
        except Exception as exc:
            warn_once("asyncpg-describe", "codetrace: odd asyncpg call", exc=exc)
    return span, statement


def _end(span: Span, statement: Statement, exc: BaseException | None) -> None:
    """End the span; ``exc`` recorded scrubbed (``StopAsyncIteration``: a cursor's end, no
    failure)."""
    if exc is None or isinstance(exc, StopAsyncIteration):
        span.__exit__(None, None, None)
        return
    recorded = False
    if span.is_recording() and is_failure(exc):
        try:
            recorded = spans.record_failure(span, exc, statement)
        except Exception as error:  # never mask the application's exception
            warn_once("asyncpg-error", "codetrace: odd asyncpg exception", exc=error)
    if recorded:
        span.__exit__(None, None, None)
    else:
        span.__exit__(type(exc), exc, exc.__traceback__)


def _leave(token: Token[object | None]) -> None:
    # not contextlib.suppress: its object and two calls cost more than the reset itself
    try:  # noqa: SIM105
        _running.reset(token)
    except (ValueError, RuntimeError):  # closed from another context (garbage collection)
        pass


def _traced(
    name: str, describe: Describe, connection_of: Callable[[Any], object], cls: type,
    subclass: Callable[[], Any],
) -> Any:
    """The override of coroutine method ``name``: one span around the awaited call."""

    async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = getattr(super(subclass(), self), name)
        connection = connection_of(self)
        started = _start(connection, call, self, describe, args, kwargs)
        if started is None:
            return await call(*args, **kwargs)
        span, statement = started
        token = _running.set(connection)
        try:
            result = await call(*args, **kwargs)
        except BaseException as exc:
            _leave(token)
            _end(span, statement, exc)
            raise
        _leave(token)
        span.__exit__(None, None, None)
        return result

    return _named(method, cls, name)


def _named(function: Any, cls: type, name: str) -> Any:
    """``function`` introduced as ``cls.name`` (``inspect.signature`` finds the original's)."""
    original = getattr(cls, name, None)
    function.__name__ = name
    function.__qualname__ = f"{cls.__qualname__}.{name}"
    function.__doc__ = getattr(original, "__doc__", None)
    if original is not None:
        function.__wrapped__ = original
    return function


# -- the traced classes --------------------------------------------------------------------------

_CONNECTION_METHODS: dict[str, Describe] = {
    "execute": _query,
    "executemany": _batch("command"),
    "fetch": _query,
    "fetchval": _query,
    "fetchrow": _query,
    "fetchmany": _batch("query"),
    "copy_from_table": _copy_table,
    "copy_from_query": _copy_query,
    "copy_to_table": _copy_table,
    "copy_records_to_table": _copy_table,
}
_PREPARED_METHODS: dict[str, Describe] = {
    "fetch": _prepared,
    "fetchval": _prepared,
    "fetchrow": _prepared,
    "fetchmany": _prepared_batch,
    "executemany": _prepared_batch,
}
_CURSOR_METHODS: dict[str, Describe] = {"fetch": _cursor, "fetchrow": _cursor, "forward": _cursor}


def _methods(
    cls: type, subclass: Callable[[], Any], table: dict[str, Describe],
    connection_of: Callable[[Any], object],
) -> dict[str, Any]:
    """Overrides for the methods of ``table`` that ``cls`` has (older asyncpg lacks some)."""
    return {
        name: _traced(name, describe, connection_of, cls, subclass)
        for name, describe in table.items()
        if callable(getattr(cls, name, None))
    }


def _connection_namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    body = _methods(cls, subclass, _CONNECTION_METHODS, _self)
    prepare = _traced("prepare", _prepare, _self, cls, subclass)

    async def prepare_traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        return retyped(await prepare(self, *args, **kwargs), PREPARED_KIND)

    def cursor(self: Any, *args: Any, **kwargs: Any) -> Any:
        return retyped(super(subclass(), self).cursor(*args, **kwargs), FACTORY_KIND)

    body["prepare"] = _named(prepare_traced, cls, "prepare")
    body["cursor"] = _named(cursor, cls, "cursor")
    return body


def _prepared_namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    body = _methods(cls, subclass, _PREPARED_METHODS, _resource_connection)

    def cursor(self: Any, *args: Any, **kwargs: Any) -> Any:
        return retyped(super(subclass(), self).cursor(*args, **kwargs), FACTORY_KIND)

    body["cursor"] = _named(cursor, cls, "cursor")
    return body


def _opened(awaitable: Any) -> Generator[Any, Any, Any]:
    """``await factory``: asyncpg's own await, then the cursor it opened given its traced class."""
    cursor = yield from awaitable
    return retyped(cursor, CURSOR_KIND)


def _factory_namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    def __aiter__(self: Any) -> Any:
        return retyped(super(subclass(), self).__aiter__(), ITERATOR_KIND)

    def __await__(self: Any) -> Any:
        return _opened(super(subclass(), self).__await__())

    return {"__aiter__": _named(__aiter__, cls, "__aiter__"),
            "__await__": _named(__await__, cls, "__await__")}


def _cursor_namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    return _methods(cls, subclass, _CURSOR_METHODS, _resource_connection)


def _iterator_namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    fetch = _traced("__anext__", _cursor, _resource_connection, cls, subclass)

    async def __anext__(self: Any) -> Any:
        # rows fetched already are handed out as asyncpg does, without a span: one span per
        # round trip (the next ``prefetch`` rows), not one per row
        if getattr(self, "_buffer", None) or getattr(self, "_exhausted", False) is True:
            return await super(subclass(), self).__anext__()
        return await fetch(self)

    return {"__anext__": _named(__anext__, cls, "__anext__")}


_KINDS: dict[str, tuple[str, str, Namespace]] = {
    CONNECTION_KIND: ("asyncpg.connection", "Connection", _connection_namespace),
    PREPARED_KIND: ("asyncpg.prepared_stmt", "PreparedStatement", _prepared_namespace),
    FACTORY_KIND: ("asyncpg.cursor", "CursorFactory", _factory_namespace),
    CURSOR_KIND: ("asyncpg.cursor", "Cursor", _cursor_namespace),
    ITERATOR_KIND: ("asyncpg.cursor", "CursorIterator", _iterator_namespace),
}


def traced_class(cls: object, kind: str) -> type | None:
    """The traced subclass of ``cls`` for ``kind`` (a subclass of asyncpg's class for it), or
    ``None`` to leave it alone."""
    module, name, namespace = _KINDS[kind]
    base = getattr(sys.modules.get(module), name, None)
    if not is_class(cls) or not is_class(base) or not issubclass(cls, base):  # type: ignore[arg-type]
        return None
    return traced_subclass(cls, kind, namespace)  # type: ignore[arg-type]


def retyped(obj: Any, kind: str) -> Any:
    """``obj`` (just built by asyncpg), its class made the traced subclass of its own class."""
    try:
        cls = type(obj)
        if getattr(cls, FUNNEL, None) is None:
            traced = traced_class(cls, kind)
            if traced is not None and traced is not cls:
                obj.__class__ = traced
    except Exception as exc:
        warn_once(f"asyncpg-class:{kind}", "codetrace: asyncpg object left untraced", exc=exc)
    return obj


# -- the adapter ---------------------------------------------------------------------------------


class _Connecting(TracedCoroutine):
    """``asyncpg.connect(...)``'s coroutine: the span is described by the connection made."""

    __slots__ = ()

    def _returned(self, span: Span, value: object) -> None:
        if span.is_recording():
            try:
                spans.describe_connect(span, value)
            except Exception as exc:
                warn_once("asyncpg-connect", "codetrace: odd asyncpg connection", exc=exc)
        span.end()


def _plan(callee: object, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``("connect" | "pool", the keyword arguments to call with)``, or None: call unchanged."""
    if is_mock(callee):
        return None
    connection_module = sys.modules.get("asyncpg.connection")
    if connection_module is None:
        return None
    if callee is getattr(connection_module, "connect", None):
        kind = "connect"
    elif callee is getattr(sys.modules.get("asyncpg.pool"), "create_pool", None):
        if kwargs.get("connect") is not None:
            return None  # the project's connect function builds the pool's connections
        kind = "pool"
    else:
        return None
    chosen = kwargs.get("connection_class", getattr(connection_module, "Connection", None))
    traced = traced_class(chosen, CONNECTION_KIND)
    if traced is None:
        return kind, kwargs  # asyncpg says what is wrong with the class, or it stays untraced
    return kind, {**kwargs, "connection_class": traced}


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``callee(*args, **kwargs)``: with a traced connection class when it is asyncpg's
    ``connect`` (with a ``connect`` span) or ``create_pool``."""
    try:
        plan = _plan(callee, kwargs)
    except Exception as exc:
        warn_once("asyncpg-plan", "codetrace: asyncpg connection left untraced", exc=exc)
        plan = None
    if plan is None:
        return callee(*args, **kwargs)
    kind, keywords = plan
    if kind == "pool":
        return callee(*args, **keywords)
    try:
        span = start_span("connect", kind=SpanKind.CLIENT)
        if span.is_recording():
            span.attributes["db.system.name"] = spans.SYSTEM
            span.attributes["db.operation.name"] = "connect"
        span.activate()
    except Exception as exc:
        warn_once("asyncpg-connect-span", "codetrace: asyncpg connect untraced", exc=exc)
        return callee(*args, **keywords)
    try:
        result = callee(*args, **keywords)
    except BaseException as exc:
        span.__exit__(type(exc), exc, exc.__traceback__)
        raise
    span.deactivate()
    if type(result) is CoroutineType:
        return _Connecting(span, result)
    span.end()  # pragma: no cover - asyncpg's connect is a coroutine function
    return result
