"""The MySQL-protocol DB-API drivers (PyMySQL, mysqlclient) traced from construction.

What the two drivers share; ``_pymysql`` and ``_mysqldb`` say what differs (which callee
builds which connection class, how a connection tells its server and database). Each of them
describes itself as a :class:`Driver`, and :func:`make_adapter` gives its ``adapter``.

The route: a traced subclass of the connection class (``_construct``). The project's
``connect(...)`` call is wrapped; the adapter builds the connection as an instance of a traced
subclass of the class the driver would build (``pymysql.connections.Connection``,
``MySQLdb.connections.Connection``, or the project's subclass of either), in a ``connect`` span.
The subclass overrides three public methods:

* ``cursor()``: the cursor the driver built (whatever class was asked for: the connection's
  ``cursorclass=``, ``cursor(DictCursor)``, ``SSCursor``, a project subclass's own default) is
  given the class of a traced subclass of its own class: one object, the one just made, nothing
  global. ``cursorclass=`` alone would not do: it is the class of ``cursor()`` without an
  argument only, a project subclass's ``cursor()`` may pick another, and it would leave the
  traced class in ``connection.cursorclass`` for the application to see. Passing a traced
  class to ``cursor()`` would need each driver's argument name and fail on a project override
  with another signature. ``isinstance(cursor, DictCursor)`` holds; ``type(cursor) is
  DictCursor`` does not. (The driver's own ``cursor()`` without an argument builds
  ``cursorclass(self)``: when that is one of the driver's classes, the traced subclass is
  built directly, which keeps CPython's fast attribute access on the cursor:
  :func:`_own_cursor_class`.)
* ``commit()``/``rollback()``: a ``COMMIT``/``ROLLBACK`` span, as ``_dbapi`` makes for sqlite3.

The traced cursor overrides ``execute``, ``executemany`` and ``callproc``: one CLIENT span each.
Nothing else is traced: ``ping()`` (noise: pools call it before every checkout), ``begin()``,
``select_db()``, ``autocommit()``, ``nextset()``, the connection's low-level ``query()`` that
the cursors run on, and fetching (a buffered cursor reads a result already received; an
``SSCursor``'s span ends when the statement's first reply is in, and the rows it streams
after are read by the application's own loop, outside any span, as OpenTelemetry's are).

Call sites (``pymysql.query``, ``mysqlclient.transaction``...) are for connections the project
did not build (handed in by a framework, typed by an annotation): on an object traced at
construction they call through (the object makes the span), on any other they make the same
span, reading the same facts from the connection the call is made on.

One span per operation: ``executemany`` runs ``execute`` once per row (or per multi-row
``INSERT``) and a project subclass's ``commit`` may go through a cursor; an operation that
runs inside another traced operation of the same connection makes no span (:data:`_running`).
A statement SQLAlchemy's span covers makes none (``_statement_cursor``): an engine over a
traced connection (``creator=``) gives one span per statement. A mocked method
(``mock.patch.object(Cursor, "execute")``) is called without a span.

Stable database semantic conventions, and why each choice:

* ``db.system.name``: ``mariadb`` when the server's handshake said it is MariaDB (its version
  string, which both drivers keep without a round trip), else ``mysql``. The conventions give
  MariaDB its own value (``db/mariadb.md``: spans of calls to MariaDB MUST say ``mariadb``) and
  define the attribute as the product "as identified by the client instrumentation", which
  here knows it; codetrace's SQLAlchemy adapter says ``mariadb`` for the same server, so a
  trace does not name one server two ways. OpenTelemetry's PyMySQL and mysqlclient
  instrumentations say ``mysql`` whatever the server (a documented difference). A connect that
  fails before the handshake says ``mysql``.
* ``db.namespace``: the database the connection was opened on (the driver's ``db``); not one
  chosen later with ``USE`` or ``select_db()`` (knowing it would cost a round trip: the
  conventions allow this fallback). ``server.address``/``server.port``: the host and port the
  connection uses, or the unix socket's path as ``server.address`` and no port. Never the
  user, the password, or any other connection option.
* ``execute``/``executemany``: ``db.query.text``, ``db.query.summary``, the span name and
  ``db.operation.batch.size`` as ``_dbapi`` makes them, in the MySQL dialect of ``_sql``
  (backquoted names, ``#`` comments, backslash escapes, ``X'..'``/``_utf8mb4'..'``): every
  literal becomes ``?``, placeholders (``%s``, ``%(name)s``) stay, parameters are never read.
* ``callproc(name, args)``: ``db.stored_procedure.name`` (the name as given),
  ``db.operation.name`` ``CALL``, summary and span name ``CALL name``; no ``db.query.text``
  (the application wrote none; the driver's ``SET @_name_0=...`` carries the values).
* ``commit``/``rollback``: ``db.operation.name``, summary and span name ``COMMIT``/``ROLLBACK``.
* ``connect``: ``db.operation.name`` ``connect``, span name and summary ``connect {database}``;
  the address and database from the call's own arguments until the connection can say them.
* Failure: ``error.type`` the exception's qualified class (``pymysql.err.ProgrammingError``),
  ``db.response.status_code`` the MySQL error number the driver raised (``1064``, ``2003``;
  the conventions' "MySQL error number recorded as a string"), an ``exception`` event whose
  message and stack trace lose the statement's literals and the call's parameter values
  (``_dbapi``: MySQL quotes them back, ``near 'x' at line 1``, ``Duplicate entry 'x'``),
  status ``ERROR``; the exception is re-raised unchanged.

What a connection says is read once (:func:`facts_of`) and kept while the connection lives
(:data:`_known`: nothing is added to the object). A statement's attributes and span name
depend only on that and its text, so a plain ``execute`` of a text the connection already ran
(the common case: an application runs the same few statements again and again) costs a
look-up, not a new description (``Facts.statements``). Per-statement cost is what this module
is measured on (``benchmarks/runtime_mysql.py``, against OpenTelemetry's instrumentation):
that common case is written out in the cursor's ``execute`` override, with no function
between it and the driver's method but the span's own; :func:`run` does everything else.
"""

from __future__ import annotations

import importlib
import sys
import weakref
from contextlib import suppress
from contextvars import ContextVar
from types import FunctionType, MethodType

from ._construct import FUNNEL, built_traced, is_class, named_like, traced_subclass
from ._dbapi import _query_describer, _query_of, _record_failure
from ._http import is_mock
from ._log import warn_once
from ._sql import MAX_ANALYSED
from ._statement_cursor import covered, statement_cursor
from ._tracer import span as start_span
from ._values import SpanKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._span import Span

    Adapter = Callable[..., Any]

MYSQL, MARIADB = "mysql", "mariadb"
DIALECT = "mysql"  # ``_sql``'s tokenizer for both
DEFAULT_PORT = 3306
QUERY, CALLPROC, TRANSACTION = "query", "callproc", "transaction"
EXECUTE = "execute"
"""A query whose description is a function of its text alone (``execute``, not ``executemany``)."""
_KINDS = {
    "execute": EXECUTE,
    "executemany": QUERY,
    "callproc": CALLPROC,
    "commit": TRANSACTION,
    "rollback": TRANSACTION,
}
_DRIVER_MODULES = frozenset(("pymysql", "MySQLdb"))
_CONNECT_NAMES = ("connect", "Connect", "Connection")
_describe_statement = _query_describer(DIALECT)

_running: ContextVar[object | None] = ContextVar("codetrace_mysql_running", default=None)
"""The connection (or cursor, when it has none) whose traced operation runs in this context."""


class Endpoint:
    """What a connection (or a connect call's arguments) says about where it is connected.

    ``socket``: the unix socket's path, ``True`` when connected through one whose path the
    connection does not keep, or ``None`` (TCP).
    """

    __slots__ = ("host", "namespace", "port", "socket", "version")

    def __init__(
        self, version: object, namespace: object, host: object, port: object, socket: object
    ) -> None:
        self.version = version
        self.namespace = namespace
        self.host = host
        self.port = port
        self.socket = socket


class Facts:
    """What every span of one connection says: its system and its attributes.

    ``statements``: ``(span name, attributes)`` of an ``execute`` by its text, for this
    connection (:func:`_statement`)."""

    __slots__ = ("attributes", "statements", "system")

    def __init__(self, system: str, attributes: dict[str, str | int]) -> None:
        self.system = system
        self.attributes = attributes
        self.statements: dict[str, tuple[str, dict[str, str | int]]] = {}


_UNKNOWN = Facts(MYSQL, {})


class Driver:
    """One driver, as the shared code needs it.

    * ``name``: the prefix of its traced classes' kinds (``pymysql.cursor``).
    * ``builds(callee)``: the connection class to build a traced subclass of when ``callee``
      builds this driver's connections (the class itself, or the one its connect function
      builds), else ``None``.
    * ``connection_base()``/``cursor_base()``: its connection and cursor base classes, when its
      modules are loaded (never imported here).
    * ``read(connection)``: the connection's :class:`Endpoint`, without a round trip.
    """

    __slots__ = ("builds", "connection_base", "cursor_base", "name", "namespaces", "read")

    def __init__(
        self,
        name: str,
        builds: Callable[[object], type | None],
        connection_base: Callable[[], type | None],
        cursor_base: Callable[[], type | None],
        read: Callable[[Any], Endpoint],
    ) -> None:
        self.name = name
        self.builds = builds
        self.connection_base = connection_base
        self.cursor_base = cursor_base
        self.read = read
        self.namespaces = (_connection_namespace(self), _cursor_namespace(self))

    def owns(self, connection: object) -> bool:
        base = self.connection_base()
        return base is not None and isinstance(connection, base)


def builder(
    connection_base: Callable[[], type | None], module: str
) -> Callable[[object], type | None]:
    """A driver's ``builds``: a callee that is its connection class or a subclass builds
    itself; ``module``'s ``connect``/``Connect``/``Connection`` function (mysqlclient's, PyMySQL
    0.x's, which build the base class with the arguments they get) builds the base class.

    mysqlclient's ``connect`` imports ``MySQLdb.connections`` only when first called: before
    the first connection of the process that module is not loaded, and the connect function
    is recognised by its module alone; the connections module is then imported here (what
    the function is about to do itself), else the first connection, often an application's
    only one, would go untraced."""

    def builds(callee: object) -> type | None:
        if is_class(callee):
            base = connection_base()
            if base is None:
                return None
            return callee if issubclass(callee, base) else None  # type: ignore[arg-type,return-value]
        found = sys.modules.get(module)
        if found is None or type(callee) is not FunctionType or not any(
            getattr(found, name, None) is callee for name in _CONNECT_NAMES
        ):
            return None
        base = connection_base()
        if base is None:
            with suppress(ImportError):
                importlib.import_module(f"{module}.connections")
            base = connection_base()
        return base

    return builds


def loaded_class(module: object, name: str) -> type | None:
    """``module.name`` when ``module`` is loaded and that is a class (not a mock)."""
    found = getattr(module, name, None)
    return found if is_class(found) else None


# -- what a connection says ----------------------------------------------------------------------


def _text(value: object) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, bytes):  # PyMySQL keeps the database name encoded
        return value.decode("utf-8", "replace") or None
    return None


def _port(value: object) -> int | None:
    return value if type(value) is int and 0 < value < 65536 else None


def _facts(endpoint: Endpoint, given: Endpoint | None) -> Facts:
    """The facts of ``endpoint``, gaps filled from ``given`` (the connect call's arguments)."""
    version = _text(endpoint.version)
    system = MARIADB if version is not None and "mariadb" in version.lower() else MYSQL
    attributes: dict[str, str | int] = {}
    namespace = _text(endpoint.namespace) or (_text(given.namespace) if given else None)
    if namespace:
        attributes["db.namespace"] = namespace
    port: int | None = None
    address: str | None
    if endpoint.socket:
        path = endpoint.socket if isinstance(endpoint.socket, str) else None
        if path is None and given is not None and isinstance(given.socket, str):
            path = given.socket
        address = path or _text(endpoint.host) or "localhost"
    else:
        address = _text(endpoint.host) or (_text(given.host) if given else None)
        port = _port(endpoint.port) or (_port(given.port) if given else None)
    if address:
        attributes["server.address"] = address
    if port:
        attributes["server.port"] = port
    return Facts(system, attributes)


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, *names: str) -> Any:
    for name in names:
        if name in kwargs:
            return kwargs[name]
    return args[index] if len(args) > index else None


def connect_endpoint(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Endpoint:
    """Where a connect call goes, from its arguments. Both drivers (and PyMySQL before 1.0,
    whose arguments were positional) take ``host, user, password, database, port,
    unix_socket`` in this order; the password and user are never read."""
    socket = _text(_argument(args, kwargs, 5, "unix_socket"))
    port = _port(_argument(args, kwargs, 4, "port")) or DEFAULT_PORT
    return Endpoint(
        None,
        _argument(args, kwargs, 3, "database", "db"),
        _text(_argument(args, kwargs, 0, "host")) or "localhost",
        None if socket else port,
        socket,
    )


_known: dict[int, tuple[weakref.ref[Any], Facts]] = {}
"""Facts of live connections by ``id``, each with a weak reference to its connection: a
look-up (:func:`known_facts`) allocates nothing, where a ``WeakKeyDictionary.get`` makes a
weak reference and runs Python code. An entry goes when its connection does (the reference's
callback runs before the ``id`` can be reused); the reference is checked all the same."""
_ref = weakref.ref


def known_facts(connection: object) -> Facts | None:
    """The facts kept for ``connection``, if any."""
    entry = _known.get(id(connection))
    return entry[1] if entry is not None and entry[0]() is connection else None


def _keep(connection: object, facts: Facts) -> None:
    key = id(connection)

    def forget(_: object) -> None:
        _known.pop(key, None)

    with suppress(TypeError):  # not weakly referenceable: read again next time
        _known[key] = (_ref(connection, forget), facts)


def remember(connection: object, driver: Driver, given: Endpoint | None) -> Facts:
    """Read ``connection``'s facts; keep them once its server is known (a PyMySQL connection
    made with ``defer_connect=True`` does not know it yet)."""
    endpoint = driver.read(connection)
    facts = _facts(endpoint, given)
    if _text(endpoint.version) is not None:
        _keep(connection, facts)
    return facts


def facts_of(connection: object, driver: Driver | None) -> Facts:
    """The facts of ``connection`` (known, or read now); nothing for a mock or a stranger."""
    if connection is None or driver is None or is_mock(connection):
        return _UNKNOWN
    found = known_facts(connection)
    if found is not None:
        return found
    try:
        return remember(connection, driver, None) if driver.owns(connection) else _UNKNOWN
    except Exception as exc:  # an odd connection: its spans go without what it would say
        warn_once(f"{driver.name}-facts", "codetrace: connection attributes left out", exc=exc)
        return _UNKNOWN


def status_code(exc: BaseException) -> str | None:
    """The MySQL error number a driver raised (``pymysql.err.OperationalError(2003, ...)``)."""
    module = getattr(type(exc), "__module__", "") or ""
    if module.partition(".")[0] not in _DRIVER_MODULES:
        return None
    args = getattr(exc, "args", None)
    if type(args) is tuple and args and type(args[0]) is int and args[0] > 0:
        return str(args[0])
    return None


_MAX_STATEMENTS = 256
"""Texts whose description a connection keeps (``Facts.statements``): cleared when full, and a
text longer than ``_sql`` analyses is not kept, so memory stays bounded per connection."""


def _statement(facts: Facts, sql: str) -> tuple[str, dict[str, str | int]]:
    """What :func:`_describe` writes for ``execute(sql, ...)`` on a connection with ``facts``
    (the text sanitised and summarised by ``_dbapi``'s describer), kept in ``facts``."""
    described = _Described(facts.system)
    _describe(EXECUTE, described, facts, None, (sql,), {})  # type: ignore[arg-type]
    found = described.name, described.attributes
    if len(sql) <= MAX_ANALYSED:
        kept = facts.statements
        if len(kept) >= _MAX_STATEMENTS:
            kept.clear()
        kept[sql] = found
    return found


class _Described:
    """What :func:`_describe` writes on a span, kept to be written on the next ones."""

    __slots__ = ("attributes", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.attributes: dict[str, str | int] = {}

    def update_name(self, name: str) -> None:
        self.name = name


# -- spans ---------------------------------------------------------------------------------------


def _procedure(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    return _text(_argument(args, kwargs, 0, "procname"))


def _describe(
    kind: str, span: Span, facts: Facts, method: object, args: Any, kwargs: Any
) -> None:
    attributes = span.attributes
    attributes["db.system.name"] = facts.system
    attributes.update(facts.attributes)
    if kind in (QUERY, EXECUTE):
        _describe_statement(span, method, args, kwargs)
        return
    if kind == CALLPROC:
        name = _procedure(args, kwargs)
        operation = "CALL"
        if name:
            attributes["db.stored_procedure.name"] = name
    else:
        operation = str(getattr(method, "__name__", "")).upper()
        name = None
    attributes["db.operation.name"] = operation
    summary = f"{operation} {name}" if name else operation
    attributes["db.query.summary"] = summary
    span.update_name(summary)


def _end_failed(
    kind: str, span: Span, exc: BaseException, method: object, args: Any, kwargs: Any
) -> None:
    recorded = False
    if span.is_recording():
        try:
            span.set_attribute("db.response.status_code", status_code(exc))
            statement: tuple[str, object, object] | None = None
            if kind in (QUERY, EXECUTE):
                statement = _query_of(method, args, kwargs)
            elif kind == CALLPROC:
                name = _procedure(args, kwargs)
                parameters = _argument(args, kwargs, 1, "args")
                statement = (f"CALL {name or ''}", parameters, CALLPROC)
            if statement is not None:
                recorded = _record_failure(span, exc, DIALECT, statement)
        except Exception as error:  # never mask the application's exception
            warn_once("mysql-error", "codetrace: odd MySQL exception", exc=error)
    if recorded:
        span.__exit__(None, None, None)
    else:
        span.__exit__(type(exc), exc, exc.__traceback__)


def run(
    kind: str,
    method: Callable[..., Any],
    owner: object,
    connection: object,
    driver: Driver | None,
    args: Any,
    kwargs: Any,
) -> Any:
    """``method(*args, **kwargs)`` (an operation of ``kind`` on ``owner``, a cursor or
    ``connection``) in a CLIENT span, unless one already covers it.

    Written flat (``covered``, ``facts_of`` and the description of a known ``execute`` inlined
    on their common path): this runs on every statement."""
    key = connection if connection is not None else owner
    if (
        _running.get() is key
        or (statement_cursor.get() is not None and covered(method))
        or (type(method) is not MethodType and is_mock(method))
    ):
        return method(*args, **kwargs)
    try:
        facts = known_facts(connection) or facts_of(connection, driver)
        span = start_span(facts.system, kind=SpanKind.CLIENT)
        span.activate()
    except Exception as exc:
        warn_once("mysql", "codetrace: MySQL call left untraced", exc=exc)
        return method(*args, **kwargs)
    if span.is_recording():
        try:
            sql = args[0] if args and kind is EXECUTE and type(method) is MethodType else None
            if type(sql) is str and type(method.__func__) is FunctionType:  # type: ignore[attr-defined]
                described = facts.statements.get(sql) or _statement(facts, sql)
                span.attributes.update(described[1])
                span.update_name(described[0])
            else:
                _describe(kind, span, facts, method, args, kwargs)
        except Exception as exc:
            warn_once("mysql-describe", "codetrace: odd MySQL call", exc=exc)
    token = _running.set(key)
    try:
        result = method(*args, **kwargs)
    except BaseException as exc:
        _running.reset(token)
        _end_failed(kind, span, exc, method, args, kwargs)
        raise
    _running.reset(token)
    span.__exit__(None, None, None)
    return result


def connect(
    drivers: tuple[Driver, ...], callee: Callable[..., Any], args: Any, kwargs: Any
) -> Any:
    """The connect span around ``callee``; the connection of a traced class when it is one of
    ``drivers``' connect functions or connection classes (anything else: as it is)."""
    build: Callable[..., Any] = callee
    driver: Driver | None = None
    try:
        for candidate in drivers:
            cls = candidate.builds(callee)
            if cls is not None:
                driver = candidate
                traced = traced_subclass(cls, f"{candidate.name}.connection",
                                         candidate.namespaces[0])
                if traced is not None:
                    build = traced
                break
        given = connect_endpoint(args, kwargs)
        span = start_span(MYSQL, kind=SpanKind.CLIENT)
        span.activate()
    except Exception as exc:
        warn_once("mysql-connect", "codetrace: MySQL connection left untraced", exc=exc)
        return callee(*args, **kwargs)
    if span.is_recording():
        try:
            _describe_connect(span, _facts(given, None))
        except Exception as exc:
            warn_once("mysql-describe-connect", "codetrace: odd MySQL connect", exc=exc)
    try:
        connection = build(*args, **kwargs)
    except BaseException as exc:
        if span.is_recording():
            span.set_attribute("db.response.status_code", status_code(exc))
        span.__exit__(type(exc), exc, exc.__traceback__)
        raise
    if span.is_recording():
        try:
            owner = driver or next((d for d in drivers if d.owns(connection)), None)
            if owner is not None and not is_mock(connection):
                _describe_connect(span, remember(connection, owner, given))
        except Exception as exc:
            warn_once("mysql-describe-connect", "codetrace: odd MySQL connect", exc=exc)
    span.__exit__(None, None, None)
    return connection


def _describe_connect(span: Span, facts: Facts) -> None:
    attributes = span.attributes
    attributes["db.system.name"] = facts.system
    attributes["db.operation.name"] = "connect"
    attributes.update(facts.attributes)
    namespace = facts.attributes.get("db.namespace")
    name = f"connect {namespace}" if namespace else "connect"
    if namespace:
        attributes["db.query.summary"] = name
    span.update_name(name)


# -- the traced classes --------------------------------------------------------------------------


def _named(cls: type, methods: dict[str, Any]) -> dict[str, Any]:
    return {name: named_like(method, cls, name) for name, method in methods.items()}


def traced_cursor(cursor: Any, driver: Driver) -> Any:
    """``cursor``, its class made the traced subclass of its own (when a cursor of ``driver``)."""
    try:
        cls = type(cursor)
        base = driver.cursor_base()
        if getattr(cls, FUNNEL, None) is None and base is not None and issubclass(cls, base):
            traced = traced_subclass(cls, f"{driver.name}.cursor", driver.namespaces[1])
            if traced is not None:
                cursor.__class__ = traced
    except Exception as exc:
        warn_once(f"{driver.name}-cursor", "codetrace: cursor left untraced", exc=exc)
    return cursor


def _own_cursor_class(cls: type, connection: Any, driver: Driver) -> type | None:
    """The traced class of the cursor ``connection.cursor()`` builds, when that is the
    driver's own ``cursor()`` (both build ``self.cursorclass(self)``) and ``cursorclass`` one
    of the driver's cursor classes; else ``None`` (the driver's ``cursor()`` then runs and its
    cursor is re-classed by :func:`traced_cursor`).

    Why build it as the traced class: an object whose class is changed after it was made
    keeps a slower attribute access for its life (CPython gives it its own attribute
    dictionary), about 1 µs per PyMySQL statement, which reads and writes the cursor's
    attributes many times. A project's cursor class is still made by its own ``__init__``
    and re-classed after, so that statements that ``__init__`` runs stay untraced as before;
    a ``cursor()`` that is not the driver's own (a project's override, a mock, a function
    patched in) is called as it is.
    """
    try:
        base, cursor_base = driver.connection_base(), driver.cursor_base()
        if base is None or cursor_base is None:
            return None
        own = getattr(cls, "cursor", None)
        if (
            own is not getattr(base, "cursor", None)  # a project's ``cursor()``
            or type(own) is not FunctionType  # a mock
            or own.__module__ != base.__module__  # a function patched in
            or own.__qualname__ != f"{base.__qualname__}.cursor"
        ):
            return None
        wanted: Any = getattr(connection, "cursorclass", None)
        if (
            not is_class(wanted)
            or wanted.__module__ != cursor_base.__module__
            or not issubclass(wanted, cursor_base)
        ):
            return None
        return traced_subclass(wanted, f"{driver.name}.cursor", driver.namespaces[1])
    except Exception as exc:
        warn_once(f"{driver.name}-cursor", "codetrace: cursor left untraced", exc=exc)
        return None


def _cursor_namespace(driver: Driver) -> Callable[[type, Callable[[], Any]], dict[str, Any]]:
    def namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
        def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
            method = super(subclass(), self).execute
            connection = getattr(self, "connection", None)
            # ``run``'s common case written out: a text this connection already ran, on a
            # connection whose facts are known, in no other operation of it, under no
            # SQLAlchemy span, the driver's method a plain one. Anything else goes to ``run``.
            facts = known_facts(connection) if connection is not None else None
            if (
                facts is not None
                and args
                and type(args[0]) is str
                and type(method) is MethodType
                and type(method.__func__) is FunctionType
                and _running.get() is not connection
                and statement_cursor.get() is None
            ):
                described = facts.statements.get(args[0])
                if described is not None:
                    try:
                        span = start_span(facts.system, kind=SpanKind.CLIENT)
                        span.activate()
                    except Exception as exc:
                        warn_once("mysql", "codetrace: MySQL call left untraced", exc=exc)
                        return method(*args, **kwargs)
                    if span.is_recording():
                        span.attributes.update(described[1])
                        span.update_name(described[0])
                    token = _running.set(connection)
                    try:
                        result = method(*args, **kwargs)
                    except BaseException as exc:
                        _running.reset(token)
                        _end_failed(EXECUTE, span, exc, method, args, kwargs)
                        raise
                    _running.reset(token)
                    span.__exit__(None, None, None)
                    return result
            return run(EXECUTE, method, self, connection, driver, args, kwargs)

        def executemany(self: Any, *args: Any, **kwargs: Any) -> Any:
            method = super(subclass(), self).executemany
            return run(QUERY, method, self, getattr(self, "connection", None), driver, args,
                       kwargs)

        def callproc(self: Any, *args: Any, **kwargs: Any) -> Any:
            method = super(subclass(), self).callproc
            return run(CALLPROC, method, self, getattr(self, "connection", None), driver, args,
                       kwargs)

        return _named(cls, {"execute": execute, "executemany": executemany,
                            "callproc": callproc})

    return namespace


def _connection_namespace(
    driver: Driver,
) -> Callable[[type, Callable[[], Any]], dict[str, Any]]:
    def namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
        def cursor(self: Any, *args: Any, **kwargs: Any) -> Any:
            if not args and not kwargs:
                traced = _own_cursor_class(cls, self, driver)
                if traced is not None:
                    return traced(self)
            return traced_cursor(super(subclass(), self).cursor(*args, **kwargs), driver)

        def commit(self: Any, *args: Any, **kwargs: Any) -> Any:
            method = super(subclass(), self).commit
            return run(TRANSACTION, method, self, self, driver, args, kwargs)

        def rollback(self: Any, *args: Any, **kwargs: Any) -> Any:
            method = super(subclass(), self).rollback
            return run(TRANSACTION, method, self, self, driver, args, kwargs)

        return _named(cls, {"cursor": cursor, "commit": commit, "rollback": rollback})

    return namespace


# -- the adapter ---------------------------------------------------------------------------------


def _operation(
    drivers: tuple[Driver, ...], kind: str, callee: Any, args: tuple[Any, ...]
) -> tuple[Any, ...] | None:
    """``(kind, method, owner, connection, driver, arguments)`` of a call-site operation."""
    method, owner, arguments = callee, getattr(callee, "__self__", None), args
    if owner is None and args and type(callee) is FunctionType:  # ``Cursor.execute(cursor, q)``
        owner = args[0]
        method, arguments = MethodType(callee, owner), args[1:]
    if owner is None:
        return None
    connection = owner if kind == TRANSACTION else getattr(owner, "connection", None)
    driver = next((d for d in drivers if d.owns(connection)), None)
    return kind, method, owner, connection, driver, arguments


def make_adapter(drivers: tuple[Driver, ...]) -> Adapter:
    """The adapter of a driver's rules (connect, query, transaction), told apart by the
    callee's name: ``execute``/``executemany``/``callproc``/``commit``/``rollback`` are
    operations on the object they are bound to (or, called unbound, on their first argument);
    anything else is a connect call. ``drivers``: the driver first, then any other whose
    objects its rules may meet (``pymysql.install_as_MySQLdb()``)."""

    def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        plan: tuple[Any, ...] | None = None
        connecting = False
        try:
            if not (is_mock(callee) or built_traced(callee, ())):
                kind = _KINDS.get(getattr(callee, "__name__", None))  # type: ignore[arg-type]
                if kind is None:
                    connecting = True
                else:
                    plan = _operation(drivers, kind, callee, args)
        except Exception as exc:
            warn_once("mysql-adapter", "codetrace: MySQL call left untraced", exc=exc)
            plan, connecting = None, False
        if connecting:
            return connect(drivers, callee, args, kwargs)
        if plan is None:
            return callee(*args, **kwargs)
        kind, method, owner, connection, driver, arguments = plan
        return run(kind, method, owner, connection, driver, arguments, kwargs)

    return adapter
