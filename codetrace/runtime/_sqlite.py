"""Adapter for rule ``sqlite3.connect``: the connect span, and a connection traced for its life.

``_codetrace.traced(sqlite3.connect, "sqlite3.connect")(path)`` makes the ``connect`` span the
DB-API adapter makes (``_dbapi``) and, through ``connect``'s documented ``factory=`` parameter,
opens the connection as an instance of a traced subclass (``_construct``) of the factory class:
``sqlite3.Connection``, or the caller's own ``factory=`` class (composed: its methods run,
``isinstance`` holds). The traced connection:

* ``cursor(factory=...)`` returns a traced cursor: a traced subclass of the cursor factory
  class given (``sqlite3.Cursor`` when none is), whose ``execute``/``executemany``/
  ``executescript`` make the spans of the ``sqlite3.query`` adapter. A cursor factory that is
  not a ``Cursor`` subclass (a function) is used as given, untraced. A connection class that
  overrides ``cursor`` itself gets no ``factory=`` added when the caller gave none (its default
  is its own business): those cursors are untraced.
* ``execute``/``executemany``/``executescript`` (the shortcuts, which make a plain cursor in C)
  make the same query spans; ``commit``/``rollback`` the ``sqlite3.transaction`` spans; leaving
  ``with connection:`` makes a ``COMMIT`` or ``ROLLBACK`` span when a transaction was open.
* One span per operation: an operation that runs inside another of the same connection's spans
  (a connection subclass whose ``execute`` goes through ``self.cursor().execute``) adds none,
  and call-site wraps of a traced object's methods call through (``_dbapi``).

Only the real ``connect`` of ``sqlite3`` or ``pysqlite3`` (the same C function, which takes
``factory=``) is given a factory; any other callee (a mock, a wrapper) gets the connect span
alone, called with the caller's arguments.
"""

from __future__ import annotations

import sys

from ._construct import is_class, traced_subclass
from ._dbapi import (
    adapter as dbapi_adapter,
)
from ._dbapi import (
    make_operation_adapter,
    make_query_adapter,
    make_transaction_adapter,
)
from ._log import warn_once
from ._span import current
from ._values import SpanKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

SYSTEM = "sqlite"
MODULES = ("sqlite3", "pysqlite3.dbapi2")
_FACTORY_INDEX = (
    5  # connect(database, timeout, detect_types, isolation_level, check_same_thread, factory, ...)
)
_BuiltinFunction = type(len)

_query = make_query_adapter(SYSTEM, checked=False)
_transaction = make_transaction_adapter(SYSTEM, checked=False)
_exit = {
    True: make_operation_adapter(SYSTEM, "COMMIT"),
    False: make_operation_adapter(SYSTEM, "ROLLBACK"),
}


def _nested() -> bool:
    """Whether a span of this system made here is running: the operation is already traced."""
    parent = current.get()
    return (
        parent is not None
        and parent.kind == SpanKind.CLIENT
        and not parent.end_ns
        and parent.attributes.get("db.system.name") == SYSTEM
    )


def _operation(adapter: Callable[..., Any], method: Any, args: Any, kwargs: Any) -> Any:
    try:
        nested = _nested()
    except Exception:  # pragma: no cover - a span always has these fields
        nested = False
    if nested:
        return method(*args, **kwargs)
    return adapter(method, *args, **kwargs)


def _query_methods(subclass: Callable[[], Any]) -> dict[str, Any]:
    """``execute``/``executemany``/``executescript``, traced: shared by cursors and the
    connection's shortcuts."""

    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _operation(_query, super(subclass(), self).execute, args, kwargs)

    def executemany(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _operation(_query, super(subclass(), self).executemany, args, kwargs)

    def executescript(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _operation(_query, super(subclass(), self).executescript, args, kwargs)

    return {"execute": execute, "executemany": executemany, "executescript": executescript}


def _cursor_namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    return _named(cls, _query_methods(subclass))


def _named(cls: type, methods: dict[str, Any]) -> dict[str, Any]:
    for name, method in methods.items():
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        method.__doc__ = getattr(getattr(cls, name, None), "__doc__", None)
    return methods


def _traced_cursor_factory(factory: object, base: type) -> object:
    """``factory`` as a traced cursor class, or ``factory`` itself if it cannot be one."""
    if is_class(factory) and issubclass(factory, base):  # type: ignore[arg-type]
        traced = traced_subclass(factory, "sqlite3.cursor", _cursor_namespace)  # type: ignore[arg-type]
        if traced is not None:
            return traced
    return factory


def _connection_namespace(
    cursor_base: type, connection_base: type
) -> Callable[..., dict[str, Any]]:
    def namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
        own_cursor = getattr(cls, "cursor", None) is not getattr(connection_base, "cursor", None)

        def cursor(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                if args:
                    args = (_traced_cursor_factory(args[0], cursor_base), *args[1:])
                elif "factory" in kwargs:
                    kwargs = {
                        **kwargs,
                        "factory": _traced_cursor_factory(kwargs["factory"], cursor_base),
                    }
                elif not own_cursor:
                    kwargs = {"factory": _traced_cursor_factory(cursor_base, cursor_base)}
            except Exception as exc:
                warn_once("sqlite-cursor", "codetrace: cursor left untraced", exc=exc)
            return super(subclass(), self).cursor(*args, **kwargs)

        def commit(self: Any, *args: Any, **kwargs: Any) -> Any:
            return _operation(_transaction, super(subclass(), self).commit, args, kwargs)

        def rollback(self: Any, *args: Any, **kwargs: Any) -> Any:
            return _operation(_transaction, super(subclass(), self).rollback, args, kwargs)

        def __exit__(self: Any, *args: Any) -> Any:
            method = super(subclass(), self).__exit__
            try:
                adapter = _exit[args[0] is None] if self.in_transaction else None
            except Exception:
                adapter = None
            if adapter is None:
                return method(*args)
            return _operation(adapter, method, args, {})

        return _named(
            cls,
            {
                "cursor": cursor,
                **_query_methods(subclass),
                "commit": commit,
                "rollback": rollback,
                "__exit__": __exit__,
            },
        )

    return namespace


_namespaces: dict[type, Callable[..., dict[str, Any]]] = {}


def _bases(callee: object) -> tuple[type, type] | None:
    """``(Connection, Cursor)`` of the module whose real ``connect`` ``callee`` is."""
    if type(callee) is not _BuiltinFunction:
        return None
    for name in MODULES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "connect", None) is callee:
            connection, cursor = (
                getattr(module, "Connection", None),
                getattr(module, "Cursor", None),
            )
            if is_class(connection) and is_class(cursor):
                return connection, cursor  # type: ignore[return-value]
    return None


def _with_factory(
    callee: object, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments to connect with: ``factory=`` a traced connection class, if one can be."""
    bases = _bases(callee)
    if bases is None:
        return args, kwargs
    connection_base, cursor_base = bases
    positional = len(args) > _FACTORY_INDEX
    factory = args[_FACTORY_INDEX] if positional else kwargs.get("factory", connection_base)
    if not is_class(factory) or not issubclass(factory, connection_base):
        return args, kwargs  # a factory function: its business
    namespace = _namespaces.get(connection_base)
    if namespace is None:
        namespace = _namespaces[connection_base] = _connection_namespace(
            cursor_base, connection_base
        )
    traced = traced_subclass(factory, "sqlite3.connection", namespace)
    if traced is None:
        return args, kwargs
    if positional:
        return (*args[:_FACTORY_INDEX], traced, *args[_FACTORY_INDEX + 1 :]), kwargs
    return args, {**kwargs, "factory": traced}


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """The connect span around ``callee``, opening a traced connection when it is ``connect``."""
    try:
        args, kwargs = _with_factory(callee, args, kwargs)
    except Exception as exc:
        warn_once("sqlite-factory", "codetrace: sqlite3 connection left untraced", exc=exc)
    return dbapi_adapter(callee, *args, **kwargs)
