"""What an asyncpg span says: its name, attributes and error, for a statement, a COPY, a connect.

``_asyncpg`` decides *which* calls get a span (the public methods of connections, prepared
statements and cursors traced from construction); this module decides *what the span says*,
following the stable database conventions for PostgreSQL. Why each choice:

* ``db.system.name`` is ``postgresql``. ``db.namespace`` is the database the connection is on,
  ``server.address``/``server.port`` the address it is connected to (a unix socket: its path as
  ``server.address``, no port). asyncpg has no public accessor for either (its public
  ``get_settings()`` holds the server's parameter statuses, which name no database), so they
  are read from the connection's ``_params.database`` and ``_addr``, the fields asyncpg fills
  once connected and OpenTelemetry's instrumentation reads too. Parsing the ``connect()``
  arguments instead would disagree with asyncpg whenever it chooses: several hosts in a DSN, the
  ``PG*`` variables, a service file, the default unix socket, the user name as the default
  database. A field that is missing or of another type (another asyncpg) is left out, never
  guessed; the user name and password are never read.
* Statements (``execute``, ``fetch``, ``fetchrow``, ``fetchval``, ``prepare``, a prepared
  statement's and a cursor's fetches): ``db.query.text`` is the SQL with every literal replaced
  by ``?`` (``_sql``, PostgreSQL dialect: ``$$..$$``, ``E'..'`` included); asyncpg always sends
  parameters separately (``$1``), so parameterised text reads as written. Parameter values are
  never captured. ``db.query.summary`` and the span name come from the text (``SELECT items``,
  ``INSERT orders``); a ``prepare()`` is ``PREPARE {summary}`` (the statement is parsed and
  described, not run). Without a summary the span is named ``db.namespace``, else
  ``postgresql``.
* Batches: ``executemany`` and ``fetchmany`` (of a connection or of a prepared statement) with
  N argument sets are a batch when N is 0 or at least 2: ``BATCH `` before the summary and
  ``db.operation.batch.size`` N (as ``_dbapi``); an iterator is never consumed to count it.
* COPY: ``copy_from_table``/``copy_to_table``/``copy_records_to_table`` name a table, not SQL:
  ``db.operation.name`` ``COPY``, ``db.collection.name`` the table (``schema.table`` when a
  schema is given), summary and name ``COPY {table}``; no query text (asyncpg writes the
  statement). ``copy_from_query`` records its query like a statement, summary ``COPY {summary}``.
* ``connect()``: ``db.operation.name`` ``connect``, summary and name ``connect {db.namespace}``.
* Failures: ``error.type`` is the exception's qualified class name
  (``asyncpg.exceptions.UndefinedTableError``), ``db.response.status_code`` the SQLSTATE
  (``exc.sqlstate``, ``42P01``), an ``exception`` event and status ``ERROR``. asyncpg puts the
  server's DETAIL in the message (``Key (name)=(alice) already exists``), so the message and
  stack trace are scrubbed of the statement's literals, the call's argument values and the
  values PostgreSQL quotes (``_dbapi._record_failure``, ``_sql.scrub_error``). Cancellation
  (``CancelledError``) is recorded like any other exception, as codetrace does for every span.
"""

from __future__ import annotations

from ._dbapi import _batch_size, _record_failure, _status_code
from ._sql import MAX_ANALYSED, analyse, dialect_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._span import Span

SYSTEM = "postgresql"
DIALECT = dialect_for(SYSTEM)


class Statement:
    """What one traced call sends: its SQL (or COPY table), its arguments and how to name it."""

    __slots__ = ("batch", "parameters", "prefix", "sql", "table")

    def __init__(
        self,
        sql: str | None,
        parameters: object = None,
        *,
        batch: bool = False,
        prefix: str = "",
        table: str | None = None,
    ) -> None:
        self.sql = sql
        self.parameters = parameters
        self.batch = batch  # executemany/fetchmany: N argument sets
        self.prefix = prefix  # "PREPARE", "COPY"
        self.table = table  # a COPY of a table

    def method(self) -> str:
        """How ``_dbapi`` reads :attr:`parameters` for scrubbing (sets, or one set)."""
        return "executemany" if self.batch else "execute"


def describe_connection(attributes: dict[str, Any], connection: object) -> None:
    """``db.namespace`` and ``server.*`` from the connection (see the module docstring)."""
    database = getattr(getattr(connection, "_params", None), "database", None)
    if type(database) is str and database:
        attributes["db.namespace"] = database
    address = getattr(connection, "_addr", None)
    if type(address) is tuple and len(address) >= 2:
        host, port = address[0], address[1]
        if type(host) is str and host:
            attributes["server.address"] = host
        if type(port) is int:
            attributes["server.port"] = port
    elif type(address) is str and address:
        attributes["server.address"] = address


MAX_DESCRIBED = 512
"""Statements (text and connection address) whose description is kept (:func:`describe`)."""

_described: dict[tuple[str, object, object], tuple[str, dict[str, Any]]] = {}


def describe(span: Span, connection: object, statement: Statement) -> None:
    """Name and describe the span of ``statement`` run on ``connection``.

    A plain statement (no batch, ``PREPARE`` or ``COPY``) is described once per text and
    connection address, and its span given a copy: an application runs a small set of texts
    again and again, on few servers, and copying a finished dict costs a fraction of building
    it. At most :data:`MAX_DESCRIBED` of them, of at most ``_sql.MAX_ANALYSED`` characters each;
    when full, the set starts again.
    """
    sql = statement.sql
    if (
        sql is None
        or len(sql) > MAX_ANALYSED  # a longer text is not kept (see _sql)
        or statement.batch
        or statement.prefix
        or statement.table is not None
    ):
        _describe(span, connection, statement)
        return
    database = getattr(getattr(connection, "_params", None), "database", None)
    key = (sql, database, getattr(connection, "_addr", None))
    try:
        found = _described.get(key)
    except TypeError:  # an address of another type (another asyncpg): described each time
        _describe(span, connection, statement)
        return
    if found is None:
        probe = _Probe(SYSTEM)  # not the span: what processors' on_start wrote is not kept
        _describe(probe, connection, statement)
        if len(_described) >= MAX_DESCRIBED:
            _described.clear()
        found = _described[key] = (probe.name, probe.attributes)
    span.name = found[0]
    span.attributes.update(found[1])


class _Probe:
    """What :func:`_describe` writes to, standing in for a span: a name and attributes."""

    __slots__ = ("attributes", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.attributes: dict[str, Any] = {}

    def update_name(self, name: str) -> None:
        self.name = name


def _describe(span: Span | _Probe, connection: object, statement: Statement) -> None:
    attributes = span.attributes
    attributes["db.system.name"] = SYSTEM
    describe_connection(attributes, connection)
    summary = ""
    if statement.table is not None:
        attributes["db.operation.name"] = "COPY"
        attributes["db.collection.name"] = statement.table
        summary = f"COPY {statement.table}"
    elif statement.sql is not None:
        text, summary = analyse(statement.sql, DIALECT)
        attributes["db.query.text"] = text
        if statement.batch:
            size = _batch_size(statement.parameters)
            if size != 1:
                summary = f"BATCH {summary}" if summary else "BATCH"
                if size is not None:
                    attributes["db.operation.batch.size"] = size
        if statement.prefix:
            summary = f"{statement.prefix} {summary}" if summary else statement.prefix
    if summary:
        attributes["db.query.summary"] = summary
        span.update_name(summary)
    else:
        span.update_name(str(attributes.get("db.namespace") or SYSTEM))


def describe_connect(span: Span, connection: object) -> None:
    """The ``connect`` span, once the connection is made."""
    attributes = span.attributes
    attributes["db.system.name"] = SYSTEM
    attributes["db.operation.name"] = "connect"
    describe_connection(attributes, connection)
    database = attributes.get("db.namespace")
    name = f"connect {database}" if database else "connect"
    attributes["db.query.summary"] = name
    span.update_name(name)


def record_failure(span: Span, exc: BaseException, statement: Statement) -> bool:
    """Record ``exc`` on the span of ``statement``, scrubbed; False when it is no failure."""
    span.set_attribute("db.response.status_code", _status_code(exc))
    query = (statement.sql or "", statement.parameters, statement.method())
    return _record_failure(span, exc, DIALECT, query)
