"""Adapters ``psycopg2.connect`` and ``psycopg2.pool``: psycopg2 connections traced for their life.

``_codetrace.traced(psycopg2.connect, "psycopg2.connect")(dsn)`` makes a ``connect`` span and
opens the connection through ``connect``'s documented ``connection_factory=`` parameter as an
instance of a traced subclass (``_construct``) of the factory class: ``psycopg2.extensions.
connection``, or the caller's own (``psycopg2.extras.DictConnection``, ``LoggingConnection``, a
project subclass: composed, its methods run, ``isinstance`` holds). Why that route: it is the
one psycopg2 documents for changing what a connection does, it leaves the module alone, and
the cursor factory (the route OpenTelemetry takes) is a per-connection attribute the
application may set itself (``conn.cursor_factory = RealDictCursor``), which would replace it.
The traced connection:

* ``cursor(...)`` returns a traced cursor: a traced subclass of the cursor factory psycopg2
  would use (the ``cursor_factory`` argument, else the connection's ``cursor_factory``, else
  ``psycopg2.extensions.cursor``), passed as ``cursor_factory``. ``DictCursor``,
  ``RealDictCursor``, ``NamedTupleCursor`` and project cursor classes keep working: their
  methods run inside the traced ones. A connection class that overrides ``cursor()``
  (``DictConnection`` picks ``DictCursor`` itself) is given no factory it did not ask for: the
  cursor it returns is made an instance of the traced subclass of its own class (it is a
  Python class; the C base cursor cannot be, and stays untraced). A factory that is not a
  cursor class (a function) is used as given, untraced.
* Cursors: ``execute``, ``executemany``, ``callproc``, ``copy_expert``, ``copy_from`` and
  ``copy_to`` make one CLIENT span each (``_dbapi_connection``): ``db.query.text`` sanitised,
  ``db.query.summary`` the span name, ``db.operation.batch.size`` for ``executemany``; for
  ``copy_from``/``copy_to``, which take a table name rather than SQL, the statement psycopg2
  sends is spelt ``COPY table (columns) FROM STDIN`` (``TO STDOUT``) without its delimiter
  and null options. ``psycopg2.extras.execute_batch``/``execute_values`` call ``execute``:
  one span per page they send.
* ``commit``/``rollback`` make ``COMMIT``/``ROLLBACK`` spans, and leaving ``with conn:`` one of
  them, when a transaction is open (``connection.status``): otherwise psycopg2 sends nothing.
* Every span carries the connection's ``db.namespace``, ``server.address`` and ``server.port``
  (``_postgres_info``: read from ``connection.info``, never the DSN).

``psycopg2.pool``: ``SimpleConnectionPool``, ``ThreadedConnectionPool`` and
``PersistentConnectionPool`` open their connections with ``psycopg2.connect`` inside psycopg2,
where no call site of the project is. ``_codetrace.traced(ThreadedConnectionPool,
"psycopg2.pool")(1, 5, dsn)`` builds the pool with ``connection_factory=`` the traced
connection class (the pool hands its arguments to ``connect``), so every connection it opens,
now or later, is traced as above; the pool itself makes no span, nor its connects (they run
in the pool's constructor and in ``getconn``, not as the application's operations). A project
pool class that overrides ``__init__`` or ``_connect`` is built unchanged: where its
arguments go is its business.

Deliberate differences from OpenTelemetry's ``Psycopg2Instrumentor`` (0.66, held by
tests/runtime_adapters/test_psycopg_fidelity.py): literals sanitised in ``db.query.text``; spans
named by ``db.query.summary`` (it names them by the first word); ``db.operation.batch.size``,
``error.type`` and ``db.response.status_code`` added; ``server.address``/``server.port`` (it
sends ``net.peer.name``/``net.peer.port`` under the ``database`` opt-in); connect and
``COMMIT``/``ROLLBACK`` spans, which it does not make. It replaces the connection's cursor
factory, so a cursor opened with an explicit ``cursor_factory=`` is untraced there (and with
``DictConnection``, the application's rows stop being dicts); here it is traced.

Only psycopg2's own ``connect`` (found by its module globals) and pool classes are changed;
anything else (a mock from ``mock.patch("psycopg2.connect")``, a wrapper) is called exactly as
written, without a span. ``psycopg2`` is never imported here, only looked up in
:data:`sys.modules`.
"""

from __future__ import annotations

import sys
from contextlib import suppress

from ._construct import FUNNEL, is_class, traced_subclass
from ._dbapi_connection import ConnectionSpans, named, statement_methods, transaction_methods
from ._log import warn_once
from ._postgres_info import connection_attributes, requested_attributes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

SYSTEM = "postgresql"
CONNECTION_KIND = "psycopg2.connection"
CURSOR_KIND = "psycopg2.cursor"
_CONNECT_FACTORY = 1  # connect(dsn, connection_factory, cursor_factory, **kwargs)
_POOL_FACTORY = 3  # SimpleConnectionPool(minconn, maxconn, dsn, connection_factory, ...)
_CURSOR_FACTORY = 1  # connection.cursor(name, cursor_factory, withhold, scrollable)
_STATUS_BEGIN = 2  # psycopg2.extensions.STATUS_BEGIN: a transaction is open
_CONNECT_OWN = frozenset({"dsn", "connection_factory", "cursor_factory", "async", "async_"})

spans = ConnectionSpans(SYSTEM, connection_attributes)


def _bases() -> tuple[type, type] | None:
    """``(connection, cursor)`` of psycopg2, when it is loaded."""
    extensions = sys.modules.get("psycopg2.extensions")
    connection = getattr(extensions, "connection", None)
    cursor = getattr(extensions, "cursor", None)
    if is_class(connection) and is_class(cursor):
        return connection, cursor  # type: ignore[return-value]
    return None


# -- cursors -------------------------------------------------------------------------------------


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _copy_text(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The statement ``copy_from``/``copy_to`` sends, without its options (see the docstring)."""
    table = _argument(args, kwargs, 1, "table")
    if not isinstance(table, str):
        return None
    columns = _argument(args, kwargs, 5 if method == "copy_from" else 4, "columns")
    listed = ""
    if type(columns) in (list, tuple) and all(isinstance(c, str) for c in columns):
        listed = f" ({', '.join(columns)})"
    direction = "FROM STDIN" if method == "copy_from" else "TO STDOUT"
    return f"COPY {table}{listed} {direction}"


def _cursor_namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    methods = statement_methods(
        spans, subclass, ("execute", "executemany", "callproc", "copy_expert")
    )

    def copy_from(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = super(subclass(), self).copy_from
        return spans.call(self.connection, self, call, args, kwargs,
                          text=_copy_text("copy_from", args, kwargs))

    def copy_to(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = super(subclass(), self).copy_to
        return spans.call(self.connection, self, call, args, kwargs,
                          text=_copy_text("copy_to", args, kwargs))

    return named(cls, {**methods, "copy_from": copy_from, "copy_to": copy_to})


def traced_cursor_class(factory: object, base: type) -> object:
    """``factory`` as a traced cursor class, or ``factory`` itself if it cannot be one."""
    if is_class(factory) and issubclass(factory, base):  # type: ignore[arg-type]
        traced = traced_subclass(factory, CURSOR_KIND, _cursor_namespace)  # type: ignore[arg-type]
        if traced is not None:
            return traced
    return factory


def _as_traced(cursor: Any, base: type) -> Any:
    """``cursor`` (just made by a connection class's own ``cursor()``), made an instance of the
    traced subclass of its class when that class is a Python subclass of psycopg2's cursor."""
    cls = type(cursor)
    if cls is base or getattr(cls, FUNNEL, None) is not None or not issubclass(cls, base):
        return cursor
    traced = traced_cursor_class(cls, base)
    if traced is not cls:
        with suppress(TypeError):  # a class laid out differently: its cursors stay untraced
            cursor.__class__ = traced
    return cursor


# -- connections ---------------------------------------------------------------------------------


def _in_transaction(connection: Any) -> bool:
    try:
        return connection.status == _STATUS_BEGIN  # type: ignore[no-any-return]
    except Exception:
        return False


def _connection_namespace(cursor_base: type, connection_base: type) -> Callable[..., Any]:
    def namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
        own_cursor = getattr(cls, "cursor", None) is not getattr(connection_base, "cursor", None)

        def cursor(self: Any, *args: Any, **kwargs: Any) -> Any:
            adopt = False
            try:
                given = _argument(args, kwargs, _CURSOR_FACTORY, "cursor_factory")
                if given is None and not own_cursor:
                    given = self.cursor_factory or cursor_base
                if given is None:
                    adopt = True  # the class picks its cursor: adopt what it returns
                elif len(args) > _CURSOR_FACTORY:
                    traced = traced_cursor_class(given, cursor_base)
                    args = (*args[:_CURSOR_FACTORY], traced, *args[_CURSOR_FACTORY + 1 :])
                else:
                    kwargs = {**kwargs, "cursor_factory": traced_cursor_class(given, cursor_base)}
            except Exception as exc:
                warn_once("psycopg2-cursor", "codetrace: psycopg2 cursor left untraced", exc=exc)
            made = super(subclass(), self).cursor(*args, **kwargs)
            if adopt:
                try:
                    made = _as_traced(made, cursor_base)
                except Exception as exc:
                    warn_once("psycopg2-adopt", "codetrace: psycopg2 cursor left untraced",
                              exc=exc)
            return made

        def __exit__(self: Any, *args: Any) -> Any:
            call = super(subclass(), self).__exit__
            if not _in_transaction(self):
                return call(*args)
            operation = "COMMIT" if not args or args[0] is None else "ROLLBACK"
            return spans.operation(self, operation, call, args, {})

        return named(cls, {
            "cursor": cursor, **transaction_methods(spans, subclass, _in_transaction),
            "__exit__": __exit__,
        })

    return namespace


_namespaces: dict[type, Callable[..., Any]] = {}


def traced_connection_class(factory: object) -> object:
    """``factory`` as a traced connection class, or itself (not a psycopg2 connection class)."""
    bases = _bases()
    if bases is None or not is_class(factory):
        return factory
    connection_base, cursor_base = bases
    if not issubclass(factory, connection_base):  # type: ignore[arg-type]
        return factory
    namespace = _namespaces.get(connection_base)
    if namespace is None:
        namespace = _namespaces[connection_base] = _connection_namespace(
            cursor_base, connection_base
        )
    traced = traced_subclass(factory, CONNECTION_KIND, namespace)  # type: ignore[arg-type]
    return factory if traced is None else traced


def _with_factory(
    args: tuple[Any, ...], kwargs: dict[str, Any], index: int
) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """The arguments with ``connection_factory`` (at ``index``) traced; None: leave them."""
    bases = _bases()
    if bases is None:
        return None
    factory = _argument(args, kwargs, index, "connection_factory")
    traced = traced_connection_class(bases[0] if factory is None else factory)
    if traced is factory or not is_class(traced):
        return None  # a factory function, a class that cannot be traced: as given
    if len(args) > index:
        return (*args[:index], traced, *args[index + 1 :]), kwargs
    return args, {**kwargs, "connection_factory": traced}


# -- the adapter ---------------------------------------------------------------------------------


def _is_connect(callee: object) -> bool:
    module = sys.modules.get("psycopg2")
    return (
        module is not None
        and getattr(callee, "__globals__", None) is vars(module)
        and getattr(callee, "__name__", None) == "connect"
    )


def _pool_arguments(
    cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    module = sys.modules.get("psycopg2.pool")
    base = getattr(module, "AbstractConnectionPool", None)
    if not is_class(base) or not issubclass(cls, base):  # type: ignore[arg-type]
        return None
    init = getattr(getattr(cls, "__init__", None), "__module__", None)
    connect = getattr(getattr(cls, "_connect", None), "__module__", None)
    if init != "psycopg2.pool" or connect != "psycopg2.pool":
        return None  # the project's own __init__ or _connect: its arguments are its own
    return _with_factory(args, kwargs, _POOL_FACTORY)


def _requested(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, str | int]:
    """What a failed ``connect`` asked for, read as psycopg2 reads it."""
    extensions = sys.modules["psycopg2.extensions"]
    dsn = _argument(args, kwargs, 0, "dsn")
    rest = {key: value for key, value in kwargs.items() if key not in _CONNECT_OWN}
    return requested_attributes(extensions.parse_dsn(extensions.make_dsn(dsn, **rest)))


def _connect(callee: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    arguments = None
    try:
        arguments = _with_factory(args, kwargs, _CONNECT_FACTORY)
    except Exception as exc:
        warn_once("psycopg2-factory", "codetrace: psycopg2 connection left untraced", exc=exc)
    call_args, call_kwargs = arguments if arguments is not None else (args, kwargs)
    span = spans.start_connect()
    if span is None:
        return callee(*call_args, **call_kwargs)
    try:
        connection = callee(*call_args, **call_kwargs)
    except BaseException as exc:
        spans.connected(span, None, exc, lambda: _requested(args, kwargs))
        raise
    spans.connected(span, connection, None, dict)
    return connection


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``psycopg2.connect`` with a connect span and a traced connection; a pool class built
    so that its connections are traced; anything else called as written."""
    connect = False
    try:
        if _is_connect(callee):
            connect = True
        elif is_class(callee):
            arguments = _pool_arguments(callee, args, kwargs)  # type: ignore[arg-type]
            if arguments is not None:
                args, kwargs = arguments
    except Exception as exc:
        warn_once("psycopg2", "codetrace: psycopg2 call left untraced", exc=exc)
    if connect:
        return _connect(callee, args, kwargs)
    return callee(*args, **kwargs)
