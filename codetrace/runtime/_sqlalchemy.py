"""Adapter for rule ``sqlalchemy.engine``: a SQLAlchemy engine traced from construction.

``_codetrace.traced(create_engine, "sqlalchemy.engine")(url)`` (or ``engine_from_config``,
``create_async_engine``, ``async_engine_from_config``) calls the factory and registers three
listeners on the dialect of the engine it returns (an ``AsyncEngine``: of its ``sync_engine``,
which runs the statements) through SQLAlchemy's public event API: ``do_execute``,
``do_executemany`` and ``do_execute_no_params``, the events SQLAlchemy offers for running the
statement on the DB-API cursor itself. Every statement the engine runs then makes one CLIENT
span, wherever the session or connection that runs it was made: ORM ``Session``, Core
``Connection.execute``, ``text()``, ``exec_driver_sql``, Flask-SQLAlchemy's ``db.session``
(``_flask_sqlalchemy``).

Why those events and not ``before_cursor_execute``/``after_cursor_execute``/``handle_error``
(OpenTelemetry's choice, and this adapter's until 2026-12-02): a listener on any connection
event makes SQLAlchemy run its whole connection-event machinery on every statement (the
``before_execute``/``after_execute`` dispatch and their parameter shaping) - +5 to +6 µs a
statement with listeners that do nothing, more than codetrace's own work on it; a dialect
listener costs SQLAlchemy one call (+0.6 to +1 µs, benchmarks/runtime_sqlalchemy.py). One
listener runs the statement, so the span is one Python frame around the driver call: no state
kept between two events, no end event that might not come.

* The listener runs the statement as SQLAlchemy would have: it is registered first
  (``insert=True``), and calls the listeners registered after it for the same event, in
  SQLAlchemy's order, inside the span, then, unless one of them ran the statement (returned
  True), the dialect's own ``do_execute``/``do_executemany``/``do_execute_no_params``; it
  returns True, so SQLAlchemy does not run it again. A driver error leaves the listener
  unchanged, SQLAlchemy wraps it as always. Listeners on the ``Dialect`` class run before it
  (SQLAlchemy calls them first); one of those that runs the statement leaves it untraced.
* Once per engine: a dialect that already has the listener (an engine wrapped twice, reached by
  two construction sites, or made by ``execution_options()``, which shares its parent's
  dialect) gets no second one.
* Statements of SQLAlchemy's first-connect checks (a ``Connection`` it builds with its events
  off, e.g. ``SELECT pg_catalog.version()``) get no span, as with connection events: the
  listener leaves them to SQLAlchemy. What the engine's URL says is read on its first
  statement and kept on its dialect object, with each statement text's name and attributes
  (at most :data:`MAX_DESCRIBED` texts an engine).
* The span is not made current: as with OpenTelemetry's instrumentation, nothing the driver
  does while the statement runs becomes its child.
* One span per statement: while it runs, the driver adapters make no span for calls on the
  cursor it runs on (``_statement_cursor``), so a traced ``sqlite3`` connection under the engine
  (``creator=``) adds nothing; its connect and commit spans stay (they are not statements).
* The listener never raises into SQLAlchemy anything but the statement's own exception: a
  failure of codetrace's leaves the statement to SQLAlchemy, untraced.

Stable database semantic conventions, as ``_dbapi`` records them for a driver call:

* ``db.system.name`` from the dialect: ``sqlite``, ``postgresql``, ``mysql``, ``mariadb`` (a
  ``mysql`` dialect connected to MariaDB says so), ``microsoft.sql_server`` (``mssql``),
  ``oracle.db`` (``oracle``); any other dialect by its own name.
* ``db.namespace``: the URL's database (for SQLite the file path, any ``?query`` stripped);
  ``server.address``/``server.port`` from the URL's host and port when it has them. Nothing else
  is read from the URL: never the user name or password, never its query string.
* ``db.query.text``: the statement as SQLAlchemy sends it to the driver, sanitised as ``_dbapi``
  does (``_sql``: every literal becomes ``?``, parameterised text included; the ORM's and
  Core's statements carry their values as parameters, so they read as written). Parameter
  values are never recorded.
* ``db.query.summary`` and the span name: ``SELECT users``, ``INSERT users``, ``BATCH INSERT
  items`` (as ``_dbapi``). An ``executemany`` with N parameter sets (N != 1) is a batch with
  ``db.operation.batch.size`` N; SQLAlchemy's "insertmanyvalues" (one multi-row ``INSERT ...
  VALUES ... RETURNING`` per batch of ORM objects) is one statement, not a batch. Without a
  summary the span is named by ``db.namespace``, else ``db.system.name``.
* Failure: ``error.type`` is the driver's exception class (``sqlite3.OperationalError``; the
  application sees SQLAlchemy's wrapper of it, whose message would carry the statement and its
  parameters), ``db.response.status_code`` when the driver gives one, status ERROR and an
  ``exception`` event whose message and stack trace are scrubbed of the statement's literals and
  the parameter values, as ``_dbapi`` records a failing driver call.

Deliberate differences from OpenTelemetry's instrumentation (0.66, tested in
tests/runtime_adapters/test_sqlalchemy_fidelity.py): it names spans ``{first word} {database}``
(``SELECT /srv/app.db``) and puts the same string in ``db.operation.name``; it records
``db.query.text`` unsanitised; it records no ``error.type`` and no exception event; it wraps
``Engine.connect`` for a ``connect`` span per pool checkout (most make no database round trip:
codetrace makes no span for them). It also instruments nothing at all on a SQLAlchemy newer than
the range it declares (0.66 stops before 2.1), where this adapter keeps working.
"""

from __future__ import annotations

import sys
from contextlib import suppress

from ._dbapi import _record_failure, _status_code
from ._log import warn_once
from ._sql import MAX_ANALYSED, analyse, dialect_for
from ._statement_cursor import statement_cursor
from ._tracer import span as start_span
from ._values import SpanKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._span import Span

    Attributes = dict[str, str | int]
    Database = tuple[Any, str | None, Attributes, dict[str, tuple[str, str | None, Attributes]]]
    """An engine's URL, ``db.system.name``, URL attributes, described statements."""

DATABASE = "_codetrace_database"
"""A dialect's attribute that keeps what its engine's URL says (:func:`_database`)."""

MAX_DESCRIBED = 256
"""Statement texts whose description an engine keeps (:func:`_described`)."""

_SYSTEMS = {
    "mssql": "microsoft.sql_server",
    "oracle": "oracle.db",
}


# -- the adapter: an engine factory, and the engine it returns -------------------------------------


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``callee(*args, **kwargs)``; the engine it returns is traced (anything else is untouched)."""
    engine = callee(*args, **kwargs)
    instrument(engine)
    return engine


def instrument(engine: object) -> None:
    """Register the statement listeners on ``engine``'s dialect (an Engine or AsyncEngine), once.

    Anything that is not a real SQLAlchemy engine (a mock, a factory's other result) is left
    alone: only ``type()`` of it is read. Never raises.
    """
    try:
        target = _sync_engine(engine)
        if target is None:
            return
        from sqlalchemy import event

        # the dialect's listeners, not event.contains(): an engine made by execution_options()
        # shares its parent's dialect, and event.contains() answers for the engine given only
        if any(listener is _execute for listener in target.dialect.dispatch.do_execute):  # type: ignore[attr-defined]
            return
        # first in line: the listeners registered after ours run inside the span (_run_others)
        for name, listener in _LISTENERS:
            event.listen(target, name, listener, insert=True)
    except Exception as exc:
        warn_once("sqlalchemy-engine", "codetrace: SQLAlchemy engine left untraced", exc=exc)


def _sync_engine(engine: object) -> object | None:
    """The ``Engine`` whose events carry ``engine``'s statements, or ``None``."""
    base = sys.modules.get("sqlalchemy.engine.base")
    engine_class = getattr(base, "Engine", None) if base is not None else None
    if engine_class is None:
        return None
    if issubclass(type(engine), engine_class):
        return engine
    asynchronous = sys.modules.get("sqlalchemy.ext.asyncio.engine")
    async_class = getattr(asynchronous, "AsyncEngine", None) if asynchronous is not None else None
    if async_class is not None and issubclass(type(engine), async_class):
        sync = getattr(engine, "sync_engine", None)
        if issubclass(type(sync), engine_class):
            return sync
    return None


# -- the listeners ---------------------------------------------------------------------------------


def _execute(cursor: Any, statement: Any, parameters: Any, context: Any) -> bool:
    return _statement(cursor, statement, parameters, context, _DO_EXECUTE)


def _executemany(cursor: Any, statement: Any, parameters: Any, context: Any) -> bool:
    return _statement(cursor, statement, parameters, context, _DO_EXECUTEMANY)


def _execute_no_params(cursor: Any, statement: Any, context: Any) -> bool:
    return _statement(cursor, statement, _NO_PARAMETERS, context, _DO_EXECUTE_NO_PARAMS)


_DO_EXECUTE = 0
_DO_EXECUTEMANY = 1
_DO_EXECUTE_NO_PARAMS = 2
_LISTENERS: tuple[tuple[str, Callable[..., bool]], ...] = (
    ("do_execute", _execute),
    ("do_executemany", _executemany),
    ("do_execute_no_params", _execute_no_params),
)
_NO_PARAMETERS: Any = ()
"""What ``do_execute_no_params`` runs with: no parameters (``()`` as ``_dbapi`` reads them)."""


def _statement(cursor: Any, statement: Any, parameters: Any, context: Any, which: int) -> bool:
    """Run the statement in a span, as SQLAlchemy would have: the listeners after ours, then the
    dialect's own method; True (handled). False, untraced, where SQLAlchemy must run it itself."""
    if context is None:
        return False  # SQLAlchemy always passes one; without it there is no engine to read
    try:
        connection = context.root_connection
        # the Connection of the first-connect checks: the only one SQLAlchemy (2.0 and 2.1)
        # builds with ``_allow_autobegin=False``. Not ``_has_events``: 2.0 sets it False on
        # every Connection of an engine without connection events (most engines, now that
        # codetrace listens on the dialect), 2.1 leaves it unset
        if connection.__dict__.get("_allow_autobegin") is False:
            return False
        dialect = context.dialect
        info = getattr(dialect, DATABASE, None)
        url = connection.engine.url
        if type(info) is not tuple or info[0] is not url:
            info = _database(dialect, url)
        system = info[1]
        if system is None:
            system = _system(dialect)
        listeners = getattr(dialect.dispatch, _EVENTS[which])
        others = len(listeners) > 1
        span = start_span(system, kind=SpanKind.CLIENT)
        if span._recording:
            try:
                if which == _DO_EXECUTE and type(statement) is str and (
                    len(statement) <= MAX_ANALYSED  # a longer text is not kept (see _sql)
                ):
                    _described(span, info, system, statement)
                else:
                    batch = which == _DO_EXECUTEMANY
                    _describe(span, system, info[2], statement, parameters, batch)
            except Exception as exc:
                warn_once("sqlalchemy-describe", "codetrace: odd SQLAlchemy statement", exc=exc)
    except Exception as exc:
        warn_once("sqlalchemy-before", "codetrace: SQLAlchemy statement untraced", exc=exc)
        return False
    token = statement_cursor.set(cursor)
    try:
        if not (others and _run_others(listeners, which, cursor, statement, parameters, context)):
            if which == _DO_EXECUTE:
                dialect.do_execute(cursor, statement, parameters, context)
            elif which == _DO_EXECUTEMANY:
                dialect.do_executemany(cursor, statement, parameters, context)
            else:
                dialect.do_execute_no_params(cursor, statement, context)
    except BaseException as exception:
        _failed(span, exception, system, statement, parameters, which)
        raise
    finally:
        # not contextlib.suppress: its object and two calls cost more than the reset itself
        try:  # noqa: SIM105
            statement_cursor.reset(token)
        except (ValueError, RuntimeError):  # another context's token: leave its value
            pass
        span.end()
    return True


_EVENTS = ("do_execute", "do_executemany", "do_execute_no_params")


def _run_others(
    listeners: Any, which: int, cursor: Any, statement: Any, parameters: Any, context: Any
) -> bool:
    """The listeners SQLAlchemy would have called after ours, in its order; True if one of
    them ran the statement (SQLAlchemy then does not: neither do we)."""
    ours = _LISTENERS[which][1]
    after = False
    for listener in listeners:
        if listener is ours:  # ours again (listened on the class too) is not run twice
            after = True
        elif after:
            handled = (
                listener(cursor, statement, context)
                if which == _DO_EXECUTE_NO_PARAMS
                else listener(cursor, statement, parameters, context)
            )
            if handled:
                return True
    return False


def _failed(
    span: Span, exception: BaseException, system: str, statement: Any, parameters: Any, which: int
) -> None:
    """Record the driver's exception (the application sees SQLAlchemy's wrapper of it)."""
    if not span._recording:
        return
    try:
        span.set_attribute("db.response.status_code", _status_code(exception))
        if isinstance(statement, str):
            method = "executemany" if which == _DO_EXECUTEMANY else "execute"
            _record_failure(span, exception, dialect_for(system), (statement, parameters, method))
    except Exception as exc:
        warn_once("sqlalchemy-fail", "codetrace: SQLAlchemy error not recorded", exc=exc)


# -- attributes ------------------------------------------------------------------------------------


def _system(dialect: Any) -> str:
    """``db.system.name`` for a dialect (its ``name``; see the module docstring)."""
    name = dialect.name
    if name == "mysql" and getattr(dialect, "is_mariadb", False) is True:
        return "mariadb"
    return _SYSTEMS.get(name, name) if type(name) is str and name else "other_sql"


def _database(dialect: Any, url: Any) -> Database:
    """``(url, db.system.name, the URL's attributes, described statements)`` of an engine, kept
    on its dialect.

    Every engine has its own dialect object (engines made by ``execution_options()`` share their
    parent's, and its URL), so the URL is read once per engine, not per statement, without a
    cache of our own to bound. ``db.system.name`` is ``None`` for a ``mysql`` dialect: it learns
    that the server is MariaDB on its first connection, which runs statements too. The last
    item is :func:`_described`'s.
    """
    info = getattr(dialect, DATABASE, None)
    if type(info) is tuple and info[0] is url:
        return info
    system = _system(dialect)
    database = connection_attributes(system, url)
    info = (url, None if dialect.name == "mysql" else system, database, {})
    with suppress(Exception):  # a dialect that takes no attribute: read the URL each time
        setattr(dialect, DATABASE, info)
    return info


def connection_attributes(system: str, url: Any) -> dict[str, str | int]:
    """``db.namespace``, ``server.address``, ``server.port`` from an engine URL (no secrets)."""
    attributes: dict[str, str | int] = {}
    database = url.database
    if type(database) is str:
        if system == "sqlite":
            database = database.partition("?")[0]
        if database:
            attributes["db.namespace"] = database
    host = url.host
    if type(host) is str and host:
        attributes["server.address"] = host
        port = url.port
        if type(port) is int:
            attributes["server.port"] = port
    return attributes


def _described(span: Span, info: Database, system: str, statement: str) -> None:
    """Name and attributes of a single statement, as :func:`_describe` gives them, built once
    per engine and statement text: an application runs a small set of texts again and again,
    and copying a finished dict costs a fraction of building it. At most
    :data:`MAX_DESCRIBED` texts an engine, of at most ``_sql.MAX_ANALYSED`` characters each;
    when full, the set starts again."""
    described = info[3]
    entry = described.get(statement)
    if entry is None or entry[0] != system:
        name, attributes = _attributes(system, info[2], statement, None, False)
        if len(described) >= MAX_DESCRIBED:
            described.clear()
        entry = described[statement] = (system, name, attributes)
    span.attributes.update(entry[2])
    if entry[1] is not None:
        span.name = entry[1]


def _describe(
    span: Span,
    system: str,
    database: dict[str, str | int],
    statement: Any,
    parameters: Any,
    batch: bool,
) -> None:
    name, attributes = _attributes(system, database, statement, parameters, batch)
    span.attributes.update(attributes)
    if name is not None:
        span.update_name(name)


def _attributes(
    system: str,
    database: dict[str, str | int],
    statement: Any,
    parameters: Any,
    batch: bool,
) -> tuple[str | None, dict[str, str | int]]:
    """``(span name or None to keep it, attributes)`` of one statement."""
    attributes: dict[str, str | int] = {"db.system.name": system}
    attributes.update(database)
    summary = ""
    if isinstance(statement, str):
        text, summary = analyse(statement, dialect_for(system))
        attributes["db.query.text"] = text
        if batch:
            size = len(parameters) if type(parameters) in (list, tuple) else None
            if size != 1:
                summary = f"BATCH {summary}" if summary else "BATCH"
                if size is not None:
                    attributes["db.operation.batch.size"] = size
    if summary:
        attributes["db.query.summary"] = summary
        return summary, attributes
    if "db.namespace" in attributes:
        return str(attributes["db.namespace"]), attributes
    return None, attributes
