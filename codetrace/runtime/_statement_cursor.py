"""One span per statement when a library above the driver traces it (SQLAlchemy over sqlite3).

SQLAlchemy runs each statement on a DB-API cursor. When that driver is traced too (a
``sqlite3.connect`` wrapped by codetrace, passed as an engine's ``creator=``), the statement
would get two spans: SQLAlchemy's and the driver's. The library adapter sets
:data:`statement_cursor` to the cursor its span covers, for the time of the statement, and the
driver adapters (``_dbapi``) make no span for a call on that very cursor (:func:`covered`).

Why the cursor, not a plain "inside SQLAlchemy" flag: SQLAlchemy's events that end a statement
are not guaranteed to run (it skips ``handle_error`` listeners on some internal queries and on
an error raised while handling another). A flag left set would silence every later driver span
of the context; a stale cursor silences only calls on that cursor, which SQLAlchemy has closed.
The variable holds at most one cursor per context, so memory stays bounded.
"""

from __future__ import annotations

from contextvars import ContextVar

statement_cursor: ContextVar[object | None] = ContextVar(
    "codetrace_statement_cursor", default=None
)
"""The DB-API cursor whose statement a library-level span is tracing in this context, if any."""


def covered(callee: object) -> bool:
    """Whether ``callee`` is a method of the cursor a library-level statement span covers.

    Under SQLAlchemy's asyncio dialects (psycopg, asyncpg, aiosqlite, aiomysql) the cursor its
    events see is its own adapter around the driver's cursor, which it keeps as ``_cursor``:
    calls on that driver cursor are covered too. (A private attribute, read with a default:
    a SQLAlchemy that renames it gives two spans per statement, never an error.)
    """
    cursor = statement_cursor.get()
    if cursor is None:
        return False
    owner = getattr(callee, "__self__", None)
    return owner is cursor or (owner is not None and owner is getattr(cursor, "_cursor", None))
