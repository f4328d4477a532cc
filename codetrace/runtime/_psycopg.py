"""Adapters ``psycopg.connect`` and ``psycopg.pool``: psycopg 3 connections traced for their life.

``_codetrace.traced(psycopg.connect, "psycopg.connect")(dsn)`` (``psycopg.Connection.connect``,
``psycopg.AsyncConnection.connect``, or ``connect`` of a project subclass of either) makes a
``connect`` span and opens the connection as an instance of a traced subclass (``_construct``)
of the class whose ``connect`` was called: psycopg documents subclassing ``Connection`` and
calling the subclass's ``connect`` as the way to change what connections do, and its
``connect`` builds ``cls``. (OpenTelemetry passes ``cursor_factory=`` instead; but
``cursor_factory`` is a per-connection attribute the application may set itself, and server-side
cursors come from another one, ``server_cursor_factory``.) For ``AsyncConnection.connect`` the
caller gets a traced coroutine (``_awaitable``): the span runs while it is awaited. The traced
connection:

* ``cursor(...)`` returns the cursor psycopg builds (its ``cursor_factory`` or
  ``server_cursor_factory``: ``Cursor``, ``ClientCursor``, ``RawCursor``, ``ServerCursor``, their
  async forms, a project's), made an instance of the traced subclass of its own class, a
  Python class with the same layout, before anyone else sees it: a factory that returns
  something other than a psycopg cursor is left alone. ``conn.execute(...)``, the shortcut,
  goes through ``cursor()``: traced too, one span.
* Cursors: ``execute`` and ``executemany`` make one CLIENT span each (``_dbapi_connection``;
  on async cursors they stay ``async def`` and the span runs until the awaited statement ends),
  for server-side cursors too (``execute`` declares the cursor; fetching is not traced).
  ``copy(...)`` returns its context manager wrapped: one span from entering the block (the
  ``COPY`` statement is sent) to leaving it (``with`` and ``async with``). A query given as
  ``psycopg.sql`` composition is read with its own ``as_string``; the driver still gets the
  object. ``stream()`` is not traced.
* ``commit``/``rollback`` (and so leaving ``with conn:``, which calls them) make ``COMMIT``/
  ``ROLLBACK`` spans when a transaction is open (``pgconn.transaction_status``); psycopg sends
  nothing otherwise. ``with conn.transaction():`` (and ``async with``) makes the same span on
  leaving the outermost block, the one that sent ``BEGIN``; savepoints of nested blocks get
  none. ``BEGIN`` itself, like the implicit one before a first statement, gets no span.
* Pipeline mode (``with conn.pipeline():``): a statement's span ends when psycopg has queued
  it; its result, and its error, come at the pipeline's next sync, outside the span.
* Every span carries the connection's ``db.namespace``, ``server.address`` and ``server.port``
  (``_postgres_info``: read from ``connection.info``, never the conninfo string).

``psycopg.pool``: ``psycopg_pool.ConnectionPool``, ``AsyncConnectionPool`` and the null pools
open their connections with ``connection_class.connect(...)`` in worker threads and tasks,
where no call site of the project is. ``_codetrace.traced(ConnectionPool, "psycopg.pool")(dsn)``
builds the pool with ``connection_class=`` the traced subclass of the class it would use
(its documented parameter), so every connection it opens is traced as above; the pool makes no
span, nor do its connects. A project pool class with its own ``__init__`` is built unchanged.

Deliberate differences from OpenTelemetry's ``PsycopgInstrumentor`` (0.66, held by
tests/runtime_adapters/test_psycopg_fidelity.py): literals sanitised in ``db.query.text``; spans
named by ``db.query.summary`` (it names them by the first word); ``db.operation.batch.size``,
``error.type`` and ``db.response.status_code`` added; ``server.address``/``server.port`` (it
sends ``net.peer.name``/``net.peer.port`` under the ``database`` opt-in); connect, ``COMMIT``/
``ROLLBACK``, ``copy`` and server-side cursor spans, which it does not make.

Anything else (a mock from ``mock.patch("psycopg.connect")``, a wrapper) is called exactly as
written, without a span. ``psycopg`` is never imported here, only looked up in
:data:`sys.modules`.
"""

from __future__ import annotations

import sys
from contextlib import suppress

from ._awaitable import CoroutineType, TracedCoroutine
from ._construct import FUNNEL, is_class, traced_subclass
from ._dbapi_connection import ConnectionSpans, named, statement_methods, transaction_methods
from ._http import is_mock
from ._log import warn_once
from ._postgres_info import connection_attributes, requested_attributes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._span import Span

SYSTEM = "postgresql"
CONNECTION_KIND = "psycopg.connection"
CURSOR_KIND = "psycopg.cursor"
_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open
# ``Connection.connect``'s own keyword parameters: the rest are connection parameters
_CONNECT_OWN = frozenset(
    {"conninfo", "autocommit", "prepare_threshold", "context", "row_factory", "cursor_factory"}
)

spans = ConnectionSpans(SYSTEM, connection_attributes)


def _class(module: str, name: str) -> type | None:
    found = getattr(sys.modules.get(module), name, None)
    return found if is_class(found) else None


# -- cursors -------------------------------------------------------------------------------------


def _copy_method(subclass: Callable[[], Any]) -> Callable[..., Any]:
    def copy(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = super(subclass(), self).copy
        return spans.copy(self.connection, self, call, args, kwargs)

    return copy


def _sync_cursor(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    methods = statement_methods(spans, subclass, ("execute", "executemany"))
    return named(cls, {**methods, "copy": _copy_method(subclass)})


def _async_cursor(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    async def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = super(subclass(), self).execute
        return await spans.call_async(self.connection, self, call, args, kwargs)

    async def executemany(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = super(subclass(), self).executemany
        return await spans.call_async(self.connection, self, call, args, kwargs)

    return named(
        cls, {"execute": execute, "executemany": executemany, "copy": _copy_method(subclass)}
    )


def _traced_cursor_class(cls: type) -> type | None:
    """The traced subclass for cursors of class ``cls`` (None: not a psycopg cursor)."""
    asynchronous = _class("psycopg", "AsyncCursor")
    if asynchronous is not None and issubclass(cls, asynchronous):
        return traced_subclass(cls, CURSOR_KIND, _async_cursor)
    synchronous = _class("psycopg", "Cursor")
    if synchronous is not None and issubclass(cls, synchronous):
        return traced_subclass(cls, CURSOR_KIND, _sync_cursor)
    return None


def as_traced(cursor: Any) -> Any:
    """``cursor`` (just built by a connection), made an instance of its traced class."""
    cls = type(cursor)
    if getattr(cls, FUNNEL, None) is not None:
        return cursor
    traced = _traced_cursor_class(cls)
    if traced is not None and traced is not cls:
        with suppress(TypeError):  # a class laid out differently: its cursors stay untraced
            cursor.__class__ = traced
    return cursor


# -- connections ---------------------------------------------------------------------------------


def _in_transaction(connection: Any) -> bool:
    try:
        return connection.pgconn.transaction_status != _IDLE  # type: ignore[no-any-return]
    except Exception:
        return False


def _cursor_method(subclass: Callable[[], Any]) -> Callable[..., Any]:
    def cursor(self: Any, *args: Any, **kwargs: Any) -> Any:
        made = super(subclass(), self).cursor(*args, **kwargs)
        try:
            return as_traced(made)
        except Exception as exc:
            warn_once("psycopg-cursor", "codetrace: psycopg cursor left untraced", exc=exc)
            return made

    return cursor


class _TracedTransaction:
    """``conn.transaction()``'s context manager, with a ``COMMIT``/``ROLLBACK`` span around
    leaving the outermost block (the one that opened the transaction: psycopg sends
    ``BEGIN`` when no transaction is open on entering, a ``SAVEPOINT`` otherwise; leaving a
    savepoint gets no span, as nested blocks commit nothing). ``ROLLBACK`` when the block
    raised (``psycopg.Rollback`` included) or was opened with ``force_rollback=True``."""

    __slots__ = ("_connection", "_manager", "_outer", "_transaction")

    def __init__(self, connection: Any, manager: Any) -> None:
        self._connection = connection
        self._manager = manager
        self._outer = False
        self._transaction: Any = None

    def _operation(self, kind: object, exc: object) -> str | None:
        if not self._outer:
            return None
        forced = getattr(self._transaction, "force_rollback", False) is True
        return "ROLLBACK" if kind is not None or exc is not None or forced else "COMMIT"

    def __enter__(self) -> Any:
        self._outer = not _in_transaction(self._connection)
        self._transaction = self._manager.__enter__()
        return self._transaction

    def __exit__(self, *exc_info: Any) -> Any:
        operation = self._operation(*exc_info[:2])
        if operation is None:
            return self._manager.__exit__(*exc_info)
        return spans.operation(self._connection, operation, self._manager.__exit__, exc_info, {})

    async def __aenter__(self) -> Any:
        self._outer = not _in_transaction(self._connection)
        self._transaction = await self._manager.__aenter__()
        return self._transaction

    async def __aexit__(self, *exc_info: Any) -> Any:
        operation = self._operation(*exc_info[:2])
        if operation is None:
            return await self._manager.__aexit__(*exc_info)
        return await spans.operation_async(
            self._connection, operation, self._manager.__aexit__, exc_info, {}
        )

    def __getattr__(self, name: str) -> Any:
        """Anything else psycopg's manager has, as it has it."""
        if name in _TracedTransaction.__slots__:
            raise AttributeError(name)
        return getattr(self._manager, name)


def _transaction_method(subclass: Callable[[], Any]) -> Callable[..., Any]:
    def transaction(self: Any, *args: Any, **kwargs: Any) -> Any:
        manager = super(subclass(), self).transaction(*args, **kwargs)
        return _TracedTransaction(self, manager)

    return transaction


def _sync_connection(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    return named(cls, {
        "cursor": _cursor_method(subclass), **transaction_methods(spans, subclass, _in_transaction),
        "transaction": _transaction_method(subclass),
    })


def _async_connection(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    async def commit(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = super(subclass(), self).commit
        if not _in_transaction(self):
            return await call(*args, **kwargs)
        return await spans.operation_async(self, "COMMIT", call, args, kwargs)

    async def rollback(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = super(subclass(), self).rollback
        if not _in_transaction(self):
            return await call(*args, **kwargs)
        return await spans.operation_async(self, "ROLLBACK", call, args, kwargs)

    return named(cls, {
        "cursor": _cursor_method(subclass), "commit": commit, "rollback": rollback,
        "transaction": _transaction_method(subclass),
    })


def traced_connection_class(cls: object) -> type | None:
    """The traced subclass of a psycopg connection class (None: not one, or refused)."""
    if not is_class(cls):
        return None
    asynchronous = _class("psycopg", "AsyncConnection")
    if asynchronous is not None and issubclass(cls, asynchronous):  # type: ignore[arg-type]
        return traced_subclass(cls, CONNECTION_KIND, _async_connection)  # type: ignore[arg-type]
    synchronous = _class("psycopg", "Connection")
    if synchronous is not None and issubclass(cls, synchronous):  # type: ignore[arg-type]
        return traced_subclass(cls, CONNECTION_KIND, _sync_connection)  # type: ignore[arg-type]
    return None


# -- connect -------------------------------------------------------------------------------------


def _requested(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, str | int]:
    """What a failed ``connect`` asked for, read as psycopg reads it."""
    conninfo = sys.modules["psycopg.conninfo"]
    dsn = args[0] if args else kwargs.get("conninfo", "")
    rest = {key: value for key, value in kwargs.items() if key not in _CONNECT_OWN}
    return requested_attributes(conninfo.conninfo_to_dict(dsn or "", **rest))


class _Connecting(TracedCoroutine):
    """``await AsyncConnection.connect(...)``: the connect span, described when it ends."""

    __slots__ = ("_requested",)

    def __init__(
        self, span: Span, coroutine: Any, requested: Callable[[], dict[str, str | int]]
    ) -> None:
        super().__init__(span, coroutine)
        self._requested = requested

    def _returned(self, span: Span, value: object) -> None:
        spans.connected(span, value, None, dict)

    def _end(self, span: Span, exc: BaseException | None) -> None:
        if self._span is not span or exc is None:
            super()._end(span, exc)
            return
        self._span = None
        spans.connected(span, None, exc, self._requested)


def _connect(
    call: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], asynchronous: bool
) -> Any:
    def requested() -> dict[str, str | int]:
        return _requested(args, kwargs)

    span = spans.start_connect()
    if span is None:
        return call(*args, **kwargs)
    try:
        result = call(*args, **kwargs)
    except BaseException as exc:
        spans.connected(span, None, exc, requested)
        raise
    if asynchronous and type(result) is CoroutineType:
        span.deactivate()
        return _Connecting(span, result, requested)
    spans.connected(span, result, None, dict)
    return result


def _connect_plan(callee: object) -> tuple[Callable[..., Any], bool] | None:
    """``(the traced class's connect, async?)`` for a psycopg ``connect``; None otherwise."""
    if is_mock(callee) or getattr(callee, "__name__", None) != "connect":
        return None
    owner = getattr(callee, "__self__", None)
    traced = traced_connection_class(owner)
    if traced is None:
        return None
    asynchronous = _class("psycopg", "AsyncConnection")
    is_async = asynchronous is not None and issubclass(traced, asynchronous)
    return traced.connect, is_async  # type: ignore[attr-defined]


def _pool_arguments(cls: type, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """``kwargs`` with ``connection_class=`` traced, for a psycopg_pool pool class."""
    for name, default in (("ConnectionPool", "Connection"),
                          ("AsyncConnectionPool", "AsyncConnection")):
        base = _class("psycopg_pool", name)
        if base is None or not issubclass(cls, base):
            continue
        init = getattr(getattr(cls, "__init__", None), "__module__", None)
        if not isinstance(init, str) or not init.startswith("psycopg_pool."):
            return None  # the project's own __init__: its arguments are its own
        given = kwargs.get("connection_class", _class("psycopg", default))
        traced = traced_connection_class(given)
        if traced is None or traced is given:
            return None
        return {**kwargs, "connection_class": traced}
    return None


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """A psycopg ``connect`` with a connect span and a traced connection; a pool class built
    so that its connections are traced; anything else called as written."""
    plan = None
    try:
        if is_class(callee):
            arguments = _pool_arguments(callee, kwargs)  # type: ignore[arg-type]
            if arguments is not None:
                kwargs = arguments
        else:
            plan = _connect_plan(callee)
    except Exception as exc:
        warn_once("psycopg", "codetrace: psycopg call left untraced", exc=exc)
    if plan is None:
        return callee(*args, **kwargs)
    call, asynchronous = plan
    return _connect(call, args, kwargs, asynchronous)
