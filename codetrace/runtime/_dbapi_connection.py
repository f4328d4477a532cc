"""Spans of a DB-API connection traced for its life: statements, transactions, connect, copy.

The ``_dbapi`` adapters trace one call site at a time and know nothing of the connection
behind it. A driver whose connections are traced from construction (``_psycopg2``,
``_psycopg``) overrides methods of traced subclasses of its connection and cursor classes, and
each override asks a :class:`ConnectionSpans` (one per driver module) for its span; the
overrides both drivers would spell alike (a cursor's statement methods, ``commit``/``rollback``
guarded by the driver's transaction status) are built here (:func:`statement_methods`,
:func:`transaction_methods`, :func:`named`). What it adds to ``_dbapi``'s spans, and why:

* The connection's own attributes on every span: ``db.namespace``, ``server.address``,
  ``server.port``, read by the driver's ``info(connection)`` (never a password: the driver
  reads named fields, not the DSN). They are read once per connection and kept in a
  ``WeakKeyDictionary``, so a span costs a look-up, and a closed connection is forgotten with
  the object; a connection that cannot be weakly referenced is read every time.
* Sync and ``async`` forms of the same span (:meth:`ConnectionSpans.call`,
  :meth:`ConnectionSpans.call_async`): the override of an ``async def`` method stays an
  ``async def`` and its span runs until the awaited call ends (cancellation recorded as a
  failure, as everywhere in codetrace).
* The statement as the driver will send it: a composed query object (psycopg's
  ``sql.SQL``/``sql.Composed``: anything with ``as_string``) is read through its own
  ``as_string(cursor)``, as OpenTelemetry's psycopg instrumentations do, for the text only; the
  driver still gets the object. Its text is then sanitised and summarised as ``_dbapi`` does
  (literals replaced, ``db.query.summary`` as the span name, ``BATCH`` for ``executemany``).
  The common call, ``cursor.execute("...", ...)``, is described once per text and its span
  given a copy (at most :data:`MAX_DESCRIBED` texts a driver): it is most of the adapter's own
  cost otherwise (benchmarks/runtime_postgres.py).
* Transactions: ``COMMIT``/``ROLLBACK`` spans (``db.operation.name``), made only when the
  driver says a transaction is open: a commit with nothing to commit sends nothing (both
  psycopg drivers skip the round trip), so it gets no span, as an empty redis pipeline.
* ``copy`` context managers (psycopg 3's ``cursor.copy(...)``): one span from entering the
  block (the ``COPY`` statement is sent) to leaving it (the copy is finished or aborted). The
  span is not made current for the block: the block is the application's code, not the
  driver's.
* ``callproc(name, parameters)`` sends SQL the driver builds: the span says which procedure
  (``db.stored_procedure.name``) and is named ``CALL name``.
* Failures: ``error.type``, ``db.response.status_code`` (SQLSTATE), status ``ERROR`` and an
  ``exception`` event scrubbed of the statement's literals and the call's parameter values
  (``_dbapi._record_failure``); the exception is re-raised unchanged.
* One span per statement: a call on the cursor a SQLAlchemy statement span covers makes none
  (``_statement_cursor.covered``), nor a call made while another statement or transaction span
  of the same system is running in the same thread or task (a project cursor whose
  ``execute`` calls its own ``executemany``). Statements a project's ``connect`` runs (a
  ``SET``) are children of the connect span.
"""

from __future__ import annotations

from contextlib import suppress
from types import BuiltinMethodType, MethodType
from weakref import WeakKeyDictionary

from ._dbapi import _query_describer, _query_of, _record_failure, _status_code
from ._log import warn_once
from ._span import current
from ._sql import MAX_ANALYSED, MAX_SUMMARY, dialect_for
from ._statement_cursor import covered
from ._tracer import span as start_span
from ._values import SpanKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import Any

    from ._span import Span

    Info = Callable[[Any], dict[str, "str | int"]]
    Args = tuple[Any, ...]
    Kwargs = dict[str, Any]
    Statement = tuple[Callable[..., Any], Args, Kwargs]
    """A call, its SQL readable: the statement is read from it only if the call fails."""

COPY_METHODS = frozenset({"copy", "copy_expert", "copy_from", "copy_to"})


def readable_statement(owner: object, args: Args, kwargs: Kwargs) -> tuple[Args, Kwargs]:
    """``args``/``kwargs`` with a composed query (``as_string``) replaced by its text, for
    reading only. Anything else, or a composition that fails, is left as it is."""
    for index, value in enumerate(args[:1]):
        text = _composed_text(value, owner)
        if text is not None:
            return (*args[:index], text, *args[index + 1 :]), kwargs
    for name in ("query", "sql", "statement", "operation"):
        if name in kwargs:
            text = _composed_text(kwargs[name], owner)
            if text is not None:
                return args, {**kwargs, name: text}
            break
    return args, kwargs


def _composed_text(value: object, owner: object) -> str | None:
    if isinstance(value, (str, bytes)):
        return None
    as_string = getattr(type(value), "as_string", None)
    if as_string is None:
        return None
    try:
        text = as_string(value, owner)
    except Exception:
        return None
    return text if isinstance(text, str) else None


def _describe_procedure(span: Span, args: Args, kwargs: Kwargs) -> None:
    """``callproc(name, parameters)``: no SQL text is given (the driver builds its own), so
    the span is named after the operation and its target, as the conventions say without a
    summary: ``db.stored_procedure.name``, ``db.operation.name`` ``CALL``, ``CALL name``."""
    name = args[0] if args else kwargs.get("procname")
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    if not isinstance(name, str) or not name or len(name) > MAX_SUMMARY:
        return
    attributes = span.attributes
    attributes["db.operation.name"] = "CALL"
    attributes["db.stored_procedure.name"] = name
    attributes["db.query.summary"] = f"CALL {name}"
    span.update_name(f"CALL {name}")


MAX_DESCRIBED = 512
"""Statement texts whose description a driver keeps (:meth:`ConnectionSpans._described_execute`)."""

_BOUND = (MethodType, BuiltinMethodType)
"""Bound methods: a callee whose SQL is its first argument (an unbound ``Cursor.execute`` takes
the cursor first, and goes the general way)."""


class _Probe:
    """What a describer writes to, standing in for a span: a name and attributes."""

    __slots__ = ("attributes", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.attributes: dict[str, str | int] = {}

    def update_name(self, name: str) -> None:
        self.name = name


class ConnectionSpans:
    """The spans of one driver's traced connections and cursors (``system``: ``db.system.name``).

    ``info(connection)`` returns the connection's ``db.namespace``/``server.address``/
    ``server.port``; ``connection_of(owner)`` finds the connection of a cursor (its
    ``connection`` attribute by default; a connection is its own).
    """

    __slots__ = ("_attributes", "_describe", "_described", "_info", "dialect", "system")

    def __init__(self, system: str, info: Info) -> None:
        self.system = system
        self.dialect = dialect_for(system)
        self._info = info
        self._describe = _query_describer(self.dialect)
        self._attributes: WeakKeyDictionary[Any, dict[str, str | int]] = WeakKeyDictionary()
        self._described: dict[str, tuple[str, dict[str, str | int]]] = {}

    # -- attributes --------------------------------------------------------------------------

    def attributes(self, connection: object) -> dict[str, str | int]:
        """What ``connection`` says about itself (cached for its life; ``{}`` if unreadable)."""
        try:
            found = self._attributes.get(connection)
        except TypeError:  # not weakly referenceable, or unhashable: read every time
            return self._read(connection)
        if found is None:
            found = self._read(connection)
            with suppress(TypeError):
                self._attributes[connection] = found
        return found

    def _read(self, connection: object) -> dict[str, str | int]:
        try:
            return self._info(connection)
        except Exception as exc:
            warn_once(f"dbapi-info:{self.system}", "codetrace: connection attributes left out",
                      exc=exc)
            return {}

    # -- starting and ending -----------------------------------------------------------------

    def _nested(self) -> bool:
        parent = current.get()
        return (
            parent is not None
            and parent.kind == SpanKind.CLIENT
            and not parent.end_ns
            and parent.attributes.get("db.system.name") == self.system
            and parent.attributes.get("db.operation.name") != "connect"
        )

    def start_statement(
        self,
        connection: object,
        owner: object,
        callee: Callable[..., Any],
        args: Args,
        kwargs: Kwargs,
        *,
        text: str | None = None,
        active: bool = True,
    ) -> tuple[Span, Statement | None] | None:
        """The span for a statement ``callee(*args, **kwargs)`` on ``owner`` (a cursor or a
        connection), and the call with its SQL readable, for a failure to be scrubbed of its
        literals (``None``: call through untraced).

        ``text``: the statement, where the call does not pass it as SQL (psycopg2's
        ``copy_from(file, table)``); ``active``: made current for the call (not for a
        ``copy`` block)."""
        try:
            if covered(callee) or self._nested():
                return None
            span = start_span(self.system, kind=SpanKind.CLIENT)
            if active:
                span.activate()
        except Exception as exc:
            warn_once(f"dbapi-start:{self.system}", "codetrace: %s statement left untraced",
                      self.system, exc=exc)
            return None
        statement: Statement | None = None
        if span._recording:
            try:
                sql = args[0] if args and text is None else None
                if (
                    type(sql) is str
                    and len(sql) <= MAX_ANALYSED  # a longer text is not kept (see _sql)
                    and type(callee) in _BOUND
                    and getattr(callee, "__name__", None) == "execute"
                ):
                    # the common call, cursor.execute("...", ...): described once per text
                    name, attributes = self._described_execute(sql)
                    span.name = name
                    span.attributes.update(attributes)
                    span.attributes.update(self.attributes(connection))
                    return span, (callee, args, kwargs)
                span.attributes["db.system.name"] = self.system
                if getattr(callee, "__name__", None) == "callproc":
                    statement = (callee, args, kwargs)  # its parameter values, if it fails
                    _describe_procedure(span, args, kwargs)
                else:
                    keywords: Kwargs = {}
                    if text is not None:
                        readable: Args = (text,)
                    else:
                        readable, keywords = readable_statement(owner, args, kwargs)
                    statement = (callee, readable, keywords)
                    self._describe(span, callee, readable, keywords)
                span.attributes.update(self.attributes(connection))
            except Exception as exc:
                warn_once(f"dbapi-describe:{self.system}", "codetrace: odd %s statement",
                          self.system, exc=exc)
        return span, statement

    def _described_execute(self, sql: str) -> tuple[str, dict[str, str | int]]:
        """``(span name, attributes)`` of ``execute(sql, ...)`` as :meth:`start_statement`
        describes any call, kept per text: an application runs a small set of texts again and
        again, and copying a finished dict costs a fraction of building it. At most
        :data:`MAX_DESCRIBED` texts a driver, of at most ``_sql.MAX_ANALYSED`` characters each;
        when full, the set starts again."""
        described = self._described
        found = described.get(sql)
        if found is not None:
            return found
        probe = _Probe(self.system)
        probe.attributes["db.system.name"] = self.system
        self._describe(probe, None, (sql,), {})  # type: ignore[arg-type]
        if len(described) >= MAX_DESCRIBED:
            described.clear()
        found = described[sql] = (probe.name, probe.attributes)
        return found

    def start_operation(self, connection: object, operation: str) -> Span | None:
        """The active span for ``operation`` (``COMMIT``, ``ROLLBACK``) on ``connection``."""
        try:
            if self._nested():
                return None
            span = start_span(operation, kind=SpanKind.CLIENT)
            span.activate()
        except Exception as exc:
            warn_once(f"dbapi-start:{self.system}", "codetrace: %s %s left untraced",
                      self.system, operation, exc=exc)
            return None
        if span.is_recording():
            try:
                attributes = span.attributes
                attributes["db.system.name"] = self.system
                attributes["db.operation.name"] = operation
                attributes["db.query.summary"] = operation
                attributes.update(self.attributes(connection))
            except Exception as exc:
                warn_once(f"dbapi-describe:{self.system}", "codetrace: odd %s %s",
                          self.system, operation, exc=exc)
        return span

    def end(
        self,
        span: Span,
        exc: BaseException | None,
        statement: Statement | None = None,
    ) -> None:
        """End ``span``; a failure is recorded scrubbed of ``statement``'s literals."""
        if exc is not None and span.is_recording():
            recorded = False
            try:
                span.set_attribute("db.response.status_code", _status_code(exc))
                query = _query_of(*statement) if statement is not None else None
                recorded = _record_failure(span, exc, self.dialect, query or ("", None, ""))
            except Exception as error:  # never mask the application's exception
                warn_once(f"dbapi-error:{self.system}", "codetrace: odd exception", exc=error)
            if not recorded:
                span.__exit__(type(exc), exc, exc.__traceback__)
                return
        span.__exit__(None, None, None)

    # -- whole calls -------------------------------------------------------------------------

    def call(
        self, connection: object, owner: object, callee: Callable[..., Any], args: Args,
        kwargs: Kwargs, *, text: str | None = None,
    ) -> Any:
        """``callee(*args, **kwargs)``, a statement on ``owner``, in its span (``text``: see
        :meth:`start_statement`)."""
        started = self.start_statement(connection, owner, callee, args, kwargs, text=text)
        if started is None:
            return callee(*args, **kwargs)
        span, statement = started
        try:
            result = callee(*args, **kwargs)
        except BaseException as exc:
            self.end(span, exc, statement)
            raise
        span.__exit__(None, None, None)
        return result

    async def call_async(
        self, connection: object, owner: object, callee: Callable[..., Any], args: Args,
        kwargs: Kwargs,
    ) -> Any:
        """``await callee(*args, **kwargs)``, a statement on ``owner``, in its span."""
        started = self.start_statement(connection, owner, callee, args, kwargs)
        if started is None:
            return await callee(*args, **kwargs)
        span, statement = started
        try:
            result = await callee(*args, **kwargs)
        except BaseException as exc:
            self.end(span, exc, statement)
            raise
        span.__exit__(None, None, None)
        return result

    def operation(
        self, connection: object, operation: str, callee: Callable[..., Any], args: Args,
        kwargs: Kwargs,
    ) -> Any:
        """``callee(*args, **kwargs)`` (a commit, a rollback) in the span of ``operation``."""
        span = self.start_operation(connection, operation)
        if span is None:
            return callee(*args, **kwargs)
        try:
            result = callee(*args, **kwargs)
        except BaseException as exc:
            self.end(span, exc)
            raise
        span.__exit__(None, None, None)
        return result

    async def operation_async(
        self, connection: object, operation: str, callee: Callable[..., Any], args: Args,
        kwargs: Kwargs,
    ) -> Any:
        """``await callee(*args, **kwargs)`` in the span of ``operation``."""
        span = self.start_operation(connection, operation)
        if span is None:
            return await callee(*args, **kwargs)
        try:
            result = await callee(*args, **kwargs)
        except BaseException as exc:
            self.end(span, exc)
            raise
        span.__exit__(None, None, None)
        return result

    def copy(
        self, connection: object, owner: object, callee: Callable[..., Any], args: Args,
        kwargs: Kwargs,
    ) -> Any:
        """The context manager ``callee(*args, **kwargs)`` returns, timed by a span from
        entering to leaving it (sync ``with`` and ``async with`` alike)."""
        manager = callee(*args, **kwargs)
        try:
            return TracedCopy(self, manager, (connection, owner, callee, args, kwargs))
        except Exception as exc:  # pragma: no cover - a plain object construction
            warn_once(f"dbapi-copy:{self.system}", "codetrace: copy left untraced", exc=exc)
            return manager

    # -- connect -----------------------------------------------------------------------------

    def start_connect(self) -> Span | None:
        """The active span for opening a connection (described when it is open, or failed)."""
        try:
            span = start_span("connect", kind=SpanKind.CLIENT)
            span.activate()
        except Exception as exc:
            warn_once(f"dbapi-connect:{self.system}", "codetrace: %s connect left untraced",
                      self.system, exc=exc)
            return None
        if span.is_recording():
            span.attributes["db.system.name"] = self.system
            span.attributes["db.operation.name"] = "connect"
        return span

    def connected(
        self,
        span: Span,
        connection: object,
        exc: BaseException | None,
        requested: Callable[[], dict[str, str | int]],
    ) -> None:
        """End a connect span: the open ``connection`` says where it is; a failed connect is
        described by what was ``requested()`` (the driver's reading of the arguments)."""
        if span.is_recording():
            try:
                found = self.attributes(connection) if exc is None else requested()
                span.attributes.update(found)
                database = found.get("db.namespace")
                if database:
                    span.attributes["db.query.summary"] = f"connect {database}"
                    span.update_name(f"connect {database}")
            except Exception as error:
                warn_once(f"dbapi-connected:{self.system}", "codetrace: odd connection",
                          exc=error)
        if exc is None:
            span.__exit__(None, None, None)
        else:
            self.end(span, exc)


class TracedCopy:
    """A driver's copy context manager, with a span from ``__enter__`` to ``__exit__``.

    Everything else (the object ``with ... as copy`` binds, what the block raises, whether the
    driver's manager swallows it) is the driver's, unchanged.
    """

    __slots__ = ("_call", "_manager", "_span", "_spans", "_statement")

    def __init__(self, spans: ConnectionSpans, manager: Any, call: tuple[Any, ...]) -> None:
        self._spans = spans
        self._manager = manager
        self._call = call
        self._span: Span | None = None
        self._statement: Statement | None = None

    def _start(self) -> None:
        started = self._spans.start_statement(*self._call, active=False)
        self._call = ()
        if started is not None:
            self._span, self._statement = started

    def _finish(self, exc: BaseException | None) -> None:
        span, self._span = self._span, None
        if span is not None:
            self._spans.end(span, exc, self._statement)

    def __enter__(self) -> Any:
        self._start()
        try:
            return self._manager.__enter__()
        except BaseException as exc:
            self._finish(exc)
            raise

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Any:
        try:
            swallowed = self._manager.__exit__(kind, exc, traceback)
        except BaseException as error:
            self._finish(error)
            raise
        self._finish(None if swallowed else exc)
        return swallowed

    async def __aenter__(self) -> Any:
        self._start()
        try:
            return await self._manager.__aenter__()
        except BaseException as exc:
            self._finish(exc)
            raise

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Any:
        try:
            swallowed = await self._manager.__aexit__(kind, exc, traceback)
        except BaseException as error:
            self._finish(error)
            raise
        self._finish(None if swallowed else exc)
        return swallowed

    def __getattr__(self, name: str) -> Any:
        """Anything else the driver's manager has (``gen``, ``func``...), as it has it."""
        if name in TracedCopy.__slots__:
            raise AttributeError(name)
        return getattr(self._manager, name)


# -- overrides of traced subclasses ------------------------------------------------------------


def named(cls: type, methods: dict[str, Any]) -> dict[str, Any]:
    """``methods``, the overrides of a traced subclass of ``cls``, given the names and
    docstrings of the methods they override: ``help()``, a debugger and a framework reading
    ``__qualname__`` see the driver's method, not a closure of codetrace's."""
    for name, method in methods.items():
        method.__name__ = name
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        method.__doc__ = getattr(getattr(cls, name, None), "__doc__", None)
    return methods


def statement_methods(
    spans: ConnectionSpans, subclass: Callable[[], Any], names: tuple[str, ...]
) -> dict[str, Callable[..., Any]]:
    """Overrides of a traced cursor class's ``names`` (``execute``, ``executemany``...): each
    calls the driver's method in a statement span of the cursor's ``connection``
    (:meth:`ConnectionSpans.call`). The same for every driver whose cursors hold their
    connection, so psycopg and psycopg2 do not each spell it out per method."""

    def override(name: str) -> Callable[..., Any]:
        def traced_statement(self: Any, *args: Any, **kwargs: Any) -> Any:
            call = getattr(super(subclass(), self), name)
            return spans.call(self.connection, self, call, args, kwargs)

        return traced_statement

    return {name: override(name) for name in names}


def transaction_methods(
    spans: ConnectionSpans, subclass: Callable[[], Any], in_transaction: Callable[[Any], bool]
) -> dict[str, Callable[..., Any]]:
    """``commit``/``rollback`` overrides of a traced connection class: a ``COMMIT``/``ROLLBACK``
    span when ``in_transaction(connection)`` (the driver's own status, no round trip) says a
    transaction is open; otherwise the driver's call alone, as the driver sends nothing."""

    def commit(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = super(subclass(), self).commit
        if not in_transaction(self):
            return call(*args, **kwargs)
        return spans.operation(self, "COMMIT", call, args, kwargs)

    def rollback(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = super(subclass(), self).rollback
        if not in_transaction(self):
            return call(*args, **kwargs)
        return spans.operation(self, "ROLLBACK", call, args, kwargs)

    return {"commit": commit, "rollback": rollback}
