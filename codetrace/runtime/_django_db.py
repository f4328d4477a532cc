"""One CLIENT span per SQL statement Django runs: an ``execute_wrapper`` on every connection.

``connection.execute_wrapper()`` is Django's public way to see every statement its cursors run
(ORM, ``raw()``, ``connection.cursor().execute``). Its context manager scopes a wrapper to a
block; codetrace wants it for the connection's life, so :func:`install` adds :func:`wrapper` to
the list that context manager pushes onto (``connection.execute_wrappers``), once, and the
``django`` hook calls it for each connection alive then and, through Django's public
``connection_created`` signal, for every connection opened later, on any thread (Django keeps
one connection object per thread). Wrapping per request instead (``connections.all()`` in the
middleware) would miss the statements of management commands, migrations and tasks, and cost
every request a look at every configured database.

The wrapper is appended, so it runs innermost, closest to the driver: other wrappers (query
loggers, Django's own ``CaptureQueriesContext``) do not count in the statement's duration.

Stable database semantic conventions, as ``_sqlalchemy`` records them:

* ``db.system.name`` from ``connection.vendor``: ``sqlite``, ``postgresql``, ``mysql``
  (``mariadb`` once Django has learnt it from the server), ``oracle.db``; another backend by
  its vendor.
* ``db.namespace`` from the ``NAME`` setting (for SQLite the file path), ``server.address`` and
  ``server.port`` from ``HOST`` and ``PORT`` when set. Never the user or the password.
* ``db.query.text`` sanitised (``_sql``: literals become ``?``; Django passes values as
  parameters, which are never recorded), ``db.query.summary`` and the span name
  (``SELECT app_user``), ``db.operation.batch.size`` for an ``executemany`` of N != 1 sets
  (``BATCH INSERT ...``).
* A failure: ``error.type`` is the driver's exception class (Django re-raises it as its own
  ``django.db.utils`` class, ``from`` the driver's), an ``exception`` event scrubbed of the
  statement's literals and parameter values (as ``_dbapi``), status ERROR. The application sees
  the exception it always saw.

The span is not made current (nothing the driver does is its child). While it runs, the
driver's cursor is the one :mod:`_statement_cursor` covers, so a driver traced by codetrace under
Django adds no second span for the same statement.
"""

from __future__ import annotations

from contextlib import suppress

from ._dbapi import _batch_size, _record_failure
from ._log import warn_once
from ._sql import analyse, dialect_for
from ._state import settings
from ._statement_cursor import statement_cursor
from ._tracer import span as start_span
from ._values import SpanKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_SYSTEMS = {"oracle": "oracle.db", "microsoft": "microsoft.sql_server"}

DATABASE = "_codetrace_database"
"""A connection's attribute keeping what its settings say (:func:`_database`)."""


def install(connection: Any) -> None:
    """Add :func:`wrapper` to ``connection``'s execute wrappers, once. Never raises."""
    try:
        wrappers = connection.execute_wrappers
        if wrapper not in wrappers:
            wrappers.append(wrapper)
    except Exception as exc:
        warn_once("django-db-install", "codetrace: Django connection left untraced", exc=exc)


def on_connection_created(sender: object, connection: Any = None, **kwargs: object) -> None:
    """The ``connection_created`` receiver: trace the new connection's statements."""
    if connection is not None:
        install(connection)


def _database(connection: Any) -> tuple[str, dict[str, str | int]]:
    """``(db.system.name, connection attributes)``, kept on the connection object.

    Kept with the settings they were read from, and read again when those change (Django's
    test runner renames ``NAME`` to the test database's). MariaDB is told apart only once Django
    has asked the server (``mysql_is_mariadb`` cached on the connection): asking from here would
    run a statement inside a statement's wrapper.
    """
    config = getattr(connection, "settings_dict", None) or {}
    known = getattr(connection, "__dict__", {})
    mariadb = known.get("mysql_is_mariadb") is True
    key = (config.get("NAME"), config.get("HOST"), config.get("PORT"), mariadb)
    info = getattr(connection, DATABASE, None)
    if type(info) is tuple and info[0] == key:
        return info[1], info[2]
    vendor = str(getattr(connection, "vendor", "") or "other_sql")
    system = "mariadb" if mariadb else _SYSTEMS.get(vendor, vendor)
    attributes: dict[str, str | int] = {}
    name = config.get("NAME")
    if name:
        attributes["db.namespace"] = str(name)
    host = config.get("HOST")
    if isinstance(host, str) and host:
        attributes["server.address"] = host
        port = config.get("PORT")
        if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
            attributes["server.port"] = int(port)
    with suppress(Exception):  # a connection that takes no attribute: read it each time
        setattr(connection, DATABASE, (key, system, attributes))
    return system, attributes


def _describe(span: Any, connection: Any, sql: Any, params: Any, many: bool) -> str:
    system, database = _database(connection)
    attributes = span.attributes
    attributes["db.system.name"] = system
    attributes.update(database)
    summary = ""
    if isinstance(sql, str):
        text, summary = analyse(sql, dialect_for(system))
        attributes["db.query.text"] = text
        if many:
            size = _batch_size(params)
            if size != 1:
                summary = f"BATCH {summary}" if summary else "BATCH"
                if size is not None:
                    attributes["db.operation.batch.size"] = size
    if summary:
        span.update_name(summary)
        attributes["db.query.summary"] = summary
    elif "db.namespace" in attributes:
        span.update_name(str(attributes["db.namespace"]))
    return system


def wrapper(
    execute: Callable[[Any, Any, bool, dict[str, Any]], Any],
    sql: Any,
    params: Any,
    many: bool,
    context: dict[str, Any],
) -> Any:
    """Django's execute-wrapper signature: run the statement in a CLIENT span."""
    if settings.disabled:
        return execute(sql, params, many, context)
    try:
        connection = context.get("connection")
        span = start_span("sql", kind=SpanKind.CLIENT)
        system = "other_sql"
        if span.is_recording():
            system = _describe(span, connection, sql, params, many)
        token = statement_cursor.set(getattr(context.get("cursor"), "cursor", None))
    except Exception as exc:
        warn_once("django-db-start", "codetrace: Django statement untraced", exc=exc)
        return execute(sql, params, many, context)
    try:
        return execute(sql, params, many, context)
    except BaseException as exc:
        try:
            cause = exc.__cause__
            wrapped = cause is not None and type(exc).__module__ == "django.db.utils"
            driver = cause if wrapped and cause is not None else exc
            if span.is_recording() and isinstance(sql, str):
                method = "executemany" if many else "execute"
                _record_failure(span, driver, dialect_for(system), (sql, params, method))
        except Exception as error:
            warn_once("django-db-fail", "codetrace: Django SQL error not recorded", exc=error)
        raise
    finally:
        with suppress(ValueError, RuntimeError):
            statement_cursor.reset(token)
        span.end()
