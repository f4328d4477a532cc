"""Adapters ``pymysql.connect``, ``pymysql.query`` and ``pymysql.transaction``: PyMySQL.

``_codetrace.traced(pymysql.connect, "pymysql.connect")(host=h, database=d)`` opens the
connection as an instance of a traced subclass of the class called, in a ``connect`` span;
its cursors, ``commit`` and ``rollback`` are traced for the connection's life. The route, the
spans and why are ``_dbapi_mysql``'s; this module is what is PyMySQL's own:

* ``pymysql.connect``, ``pymysql.Connect`` and ``pymysql.Connection`` are one class,
  ``pymysql.connections.Connection`` (in PyMySQL 0.x, one function that builds it): the
  traced subclass of the class called builds the connection (a project subclass stays itself:
  its methods run, ``isinstance`` holds); for 0.x's function, the traced subclass of
  ``pymysql.connections.Connection``, with the same arguments. Any other callee (a mock from
  ``mock.patch("pymysql.connect")``, a wrapper function) is called as it is (a mock without a
  span, anything else in a ``connect`` span).
* Cursors: every class derived from ``pymysql.cursors.Cursor`` (``DictCursor``, ``SSCursor``,
  ``SSDictCursor``, a project's), whichever way it was asked for.
* What a connection says, all kept by PyMySQL from the call and the handshake (no round trip):
  ``server_version`` (``5.5.5-10.11.6-MariaDB`` from MariaDB), ``db`` (bytes once connected),
  ``host``/``port`` (defaults ``localhost``/``3306``), ``unix_socket`` (when set, PyMySQL
  connects through it and ignores the host).
* Errors: ``pymysql.err.*`` with the MySQL error number first in ``args``.

``pymysql`` is never imported here, only looked up in :data:`sys.modules`.
Tested with PyMySQL 0.10.1, 1.0.2, 1.1.0 and 1.2.4.
"""

from __future__ import annotations

import sys

from ._dbapi_mysql import Driver, Endpoint, builder, loaded_class, make_adapter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def connection_base() -> type | None:
    return loaded_class(sys.modules.get("pymysql.connections"), "Connection")


def cursor_base() -> type | None:
    return loaded_class(sys.modules.get("pymysql.cursors"), "Cursor")


def read(connection: Any) -> Endpoint:
    """What the connection keeps: attributes PyMySQL sets in ``__init__`` and the handshake."""
    fields = connection.__dict__
    socket = fields.get("unix_socket")
    return Endpoint(
        fields.get("server_version"),
        fields.get("db"),
        fields.get("host"),
        None if socket else fields.get("port"),
        socket or None,
    )


DRIVER = Driver(
    "pymysql", builder(connection_base, "pymysql"), connection_base, cursor_base, read
)

adapter = make_adapter((DRIVER,))
"""The built-in ``pymysql.connect``, ``pymysql.query`` and ``pymysql.transaction`` adapter."""
