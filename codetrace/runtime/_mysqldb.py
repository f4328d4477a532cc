"""Adapters ``mysqlclient.connect``, ``mysqlclient.query`` and ``mysqlclient.transaction``.

mysqlclient (module ``MySQLdb``, on libmariadb or libmysqlclient):
``_codetrace.traced(MySQLdb.connect, "mysqlclient.connect")(host=h, database=d)`` opens the
connection as an instance of a traced subclass of ``MySQLdb.connections.Connection``, in a
``connect`` span; its cursors, ``commit`` and ``rollback`` are traced for the connection's
life. The route, the spans and why are ``_dbapi_mysql``'s; this module is what is
mysqlclient's own:

* ``MySQLdb.connect``, ``MySQLdb.Connect`` and ``MySQLdb.Connection`` are one function that
  builds ``MySQLdb.connections.Connection(*args, **kwargs)``: for it, the traced subclass of
  that class is built with the same arguments (what the function would do). A callee that is
  ``MySQLdb.connections.Connection`` or a project subclass is built as its traced subclass.
  After ``pymysql.install_as_MySQLdb()``, ``MySQLdb`` is PyMySQL: its classes are PyMySQL's
  and are traced as ``_pymysql`` traces them. Any other callee (a mock, a wrapper) is called
  as it is (a mock without a span, anything else in a ``connect`` span).
* Cursors: every class derived from ``MySQLdb.cursors.BaseCursor`` (``Cursor``,
  ``DictCursor``, ``SSCursor``, ``SSDictCursor``, a project's).
* What a connection says without a round trip: ``get_server_info()`` (the version the server
  sent, ``10.11.6-MariaDB`` from MariaDB), ``get_host_info()`` (``127.0.0.1 via TCP/IP``,
  ``Localhost via UNIX socket``: the host, before mysqlclient kept it), ``port`` from the C
  connection, and the ``host``/``db`` attributes mysqlclient keeps from the call since 2.2.x
  (for OpenTelemetry's instrumentation). It does not keep the socket's path, nor, before
  that, the database: for a connection the project opened, the connect call's ``unix_socket``
  and ``database`` say them; one it did not open names its host (``localhost``) and, on an
  older mysqlclient, no database.
* Errors: ``MySQLdb.*Error`` with the MySQL error number first in ``args``.

``MySQLdb`` is never imported here, only looked up in :data:`sys.modules`; its
``connections`` module, which ``MySQLdb.connect`` imports on its first call, is imported when
that function is traced before it (``_dbapi_mysql.builder``).
Tested with mysqlclient 2.1.1, 2.2.0 and 2.3.2 (built against Debian's libmariadb 10.11).
"""

from __future__ import annotations

import sys

from . import _pymysql
from ._dbapi_mysql import Driver, Endpoint, builder, loaded_class, make_adapter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def connection_base() -> type | None:
    return loaded_class(sys.modules.get("MySQLdb.connections"), "Connection")


def cursor_base() -> type | None:
    return loaded_class(sys.modules.get("MySQLdb.cursors"), "BaseCursor")


def _call(connection: Any, name: str) -> object:
    try:
        return getattr(connection, name)()
    except Exception:  # closed: the C connection says nothing more
        return None


def read(connection: Any) -> Endpoint:
    """What the C connection and mysqlclient's own attributes say (no round trip)."""
    fields = getattr(connection, "__dict__", {})
    info = _call(connection, "get_host_info")
    host_info = info if isinstance(info, str) else ""
    socket = "socket" in host_info.lower()
    host = fields.get("host")
    if not host and not socket and " via " in host_info:  # before 2.2.x: "HOST via TCP/IP"
        host = host_info.partition(" via ")[0]
    return Endpoint(
        _call(connection, "get_server_info"),
        fields.get("db"),
        host,
        None if socket else getattr(connection, "port", None),
        True if socket else None,
    )


DRIVER = Driver(
    "mysqlclient", builder(connection_base, "MySQLdb"), connection_base, cursor_base, read
)

adapter = make_adapter((DRIVER, _pymysql.DRIVER))
"""The built-in ``mysqlclient.connect``, ``mysqlclient.query`` and ``mysqlclient.transaction``
adapter."""
