"""Adapter for rule ``sqlalchemy.engine``: a SQLAlchemy engine traced from construction.

``_codetrace.traced(create_engine, "sqlalchemy.engine")(url)`` (or ``engine_from_config``,
``create_async_engine``, ``async_engine_from_config``) calls the factory and registers three
listeners on the engine it returns (an ``AsyncEngine``: on its ``sync_engine``, which runs the
statements) through SQLAlchemy's public event API: ``before_cursor_execute``,
``after_cursor_execute`` and ``handle_error``, with ``retval=False`` (statement and parameters are
never touched). Every statement the engine runs then makes one CLIENT span, wherever the
session or connection that runs it was made: ORM ``Session``, Core ``Connection.execute``,
``text()``, ``exec_driver_sql``, Flask-SQLAlchemy's ``db.session`` (``_flask_sqlalchemy``).

* Once per engine: an engine that already has the listeners (wrapped twice, or reached by two
  construction sites) gets no second set; and since an engine made by ``execution_options()``
  hears its parent's events as well as its own, a second listener set for the same statement
  finds the first one's span on the execution context and adds nothing.
* The span starts in ``before_cursor_execute`` and ends in ``after_cursor_execute`` or
  ``handle_error``; its state lives on SQLAlchemy's execution context for that statement (no
  global), so concurrent statements on other threads and tasks never mix; what the engine's URL
  says is read on its first statement and kept on its dialect object. The span is not made
  current: as with OpenTelemetry's instrumentation, nothing the driver does while the
  statement runs becomes its child, and a statement whose end event never comes (SQLAlchemy
  skips ``handle_error`` in a few internal cases) cannot leave a span current behind it.
* One span per statement: while it runs, the driver adapters make no span for calls on the
  cursor it runs on (``_statement_cursor``), so a traced ``sqlite3`` connection under the engine
  (``creator=``) adds nothing; its connect and commit spans stay (they are not statements).
* Listeners never raise into SQLAlchemy (an exception in a listener would be the application's).

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
from ._sql import analyse, dialect_for
from ._statement_cursor import statement_cursor
from ._tracer import span as start_span
from ._values import SpanKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from contextvars import Token
    from typing import Any

    from ._span import Span

    State = tuple[Span, Token[object | None], object, object, object, bool]

STATE = "_codetrace_statement"
"""The execution context's attribute that holds a running statement's state: its span, the
``statement_cursor`` token, the cursor, the statement and parameters (read only if it fails:
the driver may quote them back) and whether it is a batch."""

DATABASE = "_codetrace_database"
"""A dialect's attribute that keeps what its engine's URL says (:func:`_database`)."""

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
    """Register the statement listeners on ``engine`` (an Engine or AsyncEngine), once.

    Anything that is not a real SQLAlchemy engine (a mock, a factory's other result) is left
    alone: only ``type()`` of it is read. Never raises.
    """
    try:
        target = _sync_engine(engine)
        if target is None:
            return
        from sqlalchemy import event

        if event.contains(target, "before_cursor_execute", _before):
            return
        event.listen(target, "before_cursor_execute", _before)
        event.listen(target, "after_cursor_execute", _after)
        event.listen(target, "handle_error", _error)
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


def _before(
    conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: bool
) -> None:
    if context is None:
        return  # SQLAlchemy always passes one; without it there is nowhere to keep the span
    try:
        state = getattr(context, STATE, None)
        if state is not None and state[2] is cursor:
            return  # a second listener set (an execution_options() engine): already traced
        dialect = conn.dialect
        _url, system, attributes = _database(dialect, conn.engine.url)
        if system is None:
            system = _system(dialect)
        batch = False
        if executemany:
            # "insertmanyvalues" (2.0+): one multi-row INSERT per call, flagged executemany
            style = getattr(getattr(context, "execute_style", None), "name", None)
            batch = style != "INSERTMANYVALUES"
        span = start_span(system, kind=SpanKind.CLIENT)
        if span.is_recording():
            try:
                _describe(span, system, attributes, statement, parameters, batch)
            except Exception as exc:
                warn_once("sqlalchemy-describe", "codetrace: odd SQLAlchemy statement", exc=exc)
        token = statement_cursor.set(cursor)
        setattr(context, STATE, (span, token, cursor, statement, parameters, batch))
    except Exception as exc:
        warn_once("sqlalchemy-before", "codetrace: SQLAlchemy statement untraced", exc=exc)


def _after(
    conn: Any, cursor: Any, statement: Any, parameters: Any, context: Any, executemany: bool
) -> None:
    try:
        _finish(context, None)
    except Exception as exc:
        warn_once("sqlalchemy-after", "codetrace: SQLAlchemy statement span lost", exc=exc)


def _error(exception_context: Any) -> None:
    try:
        context = getattr(exception_context, "execution_context", None)
        _finish(context, exception_context.original_exception)
    except Exception as exc:
        warn_once("sqlalchemy-error", "codetrace: SQLAlchemy error not recorded", exc=exc)


def _finish(context: Any, exception: BaseException | None) -> None:
    state: State | None = getattr(context, STATE, None) if context is not None else None
    if state is None:
        return
    setattr(context, STATE, None)
    span, token, _cursor, statement, parameters, batch = state
    with suppress(ValueError, RuntimeError):  # another context's token: leave this one's value
        statement_cursor.reset(token)
    if exception is not None and span.is_recording():
        try:
            span.set_attribute("db.response.status_code", _status_code(exception))
            if isinstance(statement, str):
                method = "executemany" if batch else "execute"
                dialect = dialect_for(str(span.attributes.get("db.system.name")))
                _record_failure(span, exception, dialect, (statement, parameters, method))
        except Exception as exc:
            warn_once("sqlalchemy-fail", "codetrace: SQLAlchemy error not recorded", exc=exc)
    span.end()


# -- attributes ------------------------------------------------------------------------------------


def _system(dialect: Any) -> str:
    """``db.system.name`` for a dialect (its ``name``; see the module docstring)."""
    name = dialect.name
    if name == "mysql" and getattr(dialect, "is_mariadb", False) is True:
        return "mariadb"
    return _SYSTEMS.get(name, name) if type(name) is str and name else "other_sql"


def _database(dialect: Any, url: Any) -> tuple[Any, str | None, dict[str, str | int]]:
    """``(url, db.system.name, the URL's attributes)`` of an engine, kept on its dialect.

    Every engine has its own dialect object (engines made by ``execution_options()`` share their
    parent's, and its URL), so the URL is read once per engine, not per statement, without a
    cache of our own to bound. ``db.system.name`` is ``None`` for a ``mysql`` dialect: it learns
    that the server is MariaDB on its first connection, which runs statements too.
    """
    info = getattr(dialect, DATABASE, None)
    if type(info) is tuple and info[0] is url:
        return info
    system = _system(dialect)
    info = (url, None if dialect.name == "mysql" else system, connection_attributes(system, url))
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


def _describe(
    span: Span,
    system: str,
    database: dict[str, str | int],
    statement: Any,
    parameters: Any,
    batch: bool,
) -> None:
    attributes = span.attributes
    attributes["db.system.name"] = system
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
        span.update_name(summary)
    elif "db.namespace" in attributes:
        span.update_name(str(attributes["db.namespace"]))
