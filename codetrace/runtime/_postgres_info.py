"""Where a PostgreSQL connection is: ``db.namespace``, ``server.address``, ``server.port``.

Both psycopg drivers wrap libpq, and both expose what libpq says about an open connection as
``connection.info`` (psycopg2 2.8+, psycopg 3): ``dbname``, ``host``, ``port``. Those are what
the connection actually uses, defaults and environment variables (``PGHOST``...) applied, so
they are read from the open connection rather than from the arguments. The names are the
conventions': ``server.address`` is libpq's ``host`` as it reports it (a socket directory for
a Unix-domain connection, as OpenTelemetry's instrumentations record it too); the user name
and the password are never read.

A connect that failed has no connection to ask: :func:`requested_attributes` reads the same
three fields from the connection parameters the driver parsed (``dbname``, ``host``, ``port``
of its conninfo dictionary); a multi-host list names no single server and is left out.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def connection_attributes(connection: object) -> dict[str, str | int]:
    """The attributes of an open psycopg/psycopg2 connection, from its ``info``."""
    info = connection.info  # type: ignore[attr-defined]
    attributes: dict[str, str | int] = {}
    database = info.dbname
    if type(database) is str and database:
        attributes["db.namespace"] = database
    host = info.host
    if type(host) is str and host:
        attributes["server.address"] = host
        port = info.port
        if type(port) is int and port > 0:
            attributes["server.port"] = port
    return attributes


def requested_attributes(parameters: Mapping[str, object]) -> dict[str, str | int]:
    """The same attributes from parsed connection parameters (a libpq conninfo dictionary)."""
    attributes: dict[str, str | int] = {}
    database = parameters.get("dbname")
    if type(database) is str and database:
        attributes["db.namespace"] = database
    host = parameters.get("host")
    if type(host) is str and host and "," not in host:
        attributes["server.address"] = host
        port = parameters.get("port")
        if type(port) is int:
            attributes["server.port"] = port
        elif type(port) is str and port.isdigit():
            attributes["server.port"] = int(port)
    return attributes
