"""Adapter ``pymongo.client``: pymongo clients traced where they are built, by command monitoring.

``_codetrace.traced(pymongo.MongoClient, "pymongo.client")(url)`` (``AsyncMongoClient``, or a
project subclass of either) builds the client the project asked for, of the class it called,
with one more listener in ``event_listeners``: a ``pymongo.monitoring.CommandListener`` that
makes one CLIENT span per command. The caller's own listeners are kept, in their order, in a
copy of what it passed (never the caller's list); a listener of ours already there is not
added twice.

Why this route: command monitoring is pymongo's documented extension point for exactly this
(OpenTelemetry's instrumentation uses it too, but registers its listener globally, for every
client of the process). Every command the client sends is published to its listeners,
whatever API sent it and wherever the call is made: collection methods, cursors' ``getMore``
and ``killCursors``, bulk writes, sessions and transactions, GridFS, change streams,
``db.command(...)``. No subclass is needed, so ``type(client) is MongoClient`` still holds;
what a program can see is one more listener in ``client.options.event_listeners``.
Handshakes and the monitors' heartbeats are not published as commands (pymongo reports them
as heartbeat events, which this listener does not ask for), so they make no span: they are
not the application's operations. An application's own ``client.admin.command("hello")``
is one, and is traced.

What the spans say (semconv ``db/mongodb.md``, every attribute stable):

* Name ``{db.operation.name} {db.collection.name}`` (``find orders``), or
  ``{db.operation.name} {db.namespace}`` for a command on no collection (``ping admin``), as
  the general database span-name rule says. ``db.operation.name`` is the command's name as
  pymongo sent it (``findAndModify``, ``getMore``); ``db.namespace`` the database;
  ``db.collection.name`` the command's collection: the value of its first field when that
  is a string (``{"find": "orders"}``), ``getMore``'s ``collection`` field, never for the
  few commands whose first field is a string but not a collection (``getLog``,
  ``configureFailPoint``, ``usersInfo``...). ``db.operation.batch.size`` is the number of
  statements of an ``update``/``delete`` (or ``bulkWrite``) command that carries two or more
  (a ``bulk_write`` of several updates); the documents of an ``insert`` are one operation's
  operands, as the conventions say of a call with many documents, so an insert is no batch.
* ``server.address``/``server.port``: the one host the client was configured with, as the
  conventions ask (the configured address, not the server a command was sent to): read from
  the client's topology description right after it is built, when it lists the configured
  hosts (pymongo parses URLs, host lists and ``port=`` its own way; this reads the result),
  or a ``mongodb+srv://`` URL's host name, without a port. A client configured with several
  hosts gets neither: no single configured address exists. (A replica set whose members
  the monitor had already discovered in that instant would be read as several hosts: no
  address, never a wrong one.)
* No document, filter, pipeline or value is captured: no ``db.query.text`` (the MongoDB
  conventions do not set it; OpenTelemetry's ``capture_statement`` is off by default too).
* Failure: a command the server answers with ``ok: 0`` (pymongo's ``failed`` event), or a
  write it answers with ``writeErrors``/``writeConcernError`` (``succeeded`` for pymongo, but
  the application gets a ``DuplicateKeyError``/``BulkWriteError``, and the conventions count
  every MongoDB error code as an error). ``db.response.status_code`` is the MongoDB error code
  as a string (``"11000"``); ``error.type`` is that code too (the conventions prefer it to
  a name), or, for a failure pymongo raised itself (a network error: no code), the exception
  class, qualified (``pymongo.errors.AutoReconnect``); status ``ERROR`` with the error's code
  name (``DuplicateKey``) or class as its message. The server's ``errmsg`` is never copied:
  MongoDB echoes values in it (``dup key: { _id: ... }``). No ``exception`` event: the
  listener never sees the Python exception.

Spans start in ``started`` and end in ``succeeded``/``failed``, found again by the command's
``(request_id, connection_id)``; at most :data:`MAX_OPEN` are waiting at once (the oldest is
dropped, unended, past that). A span's parent is the span current where ``started`` runs:
pymongo calls listeners synchronously in the thread (sync) or the task (``AsyncMongoClient``)
that sends the command, so a command's span is a child of the code that ran it. The span is
never made current (nothing runs inside a command). A cursor's ``killCursors`` sent by
pymongo's background thread has no parent.

Left alone (the callee called unchanged): a mock (``mock.patch("pymongo.MongoClient")``),
a class that is not pymongo's client (mongomock's), an ``event_listeners`` that is not a
list or tuple (pymongo raises as it would have), a project subclass whose ``__init__``
takes neither ``event_listeners`` nor ``**kwargs`` (there is no public way in: reported once,
untraced). ``pymongo`` is never imported, only looked up in :data:`sys.modules`.
"""

from __future__ import annotations

import sys

from . import _values
from ._construct import MAX_CLASSES, is_class
from ._http import is_mock
from ._log import warn_once
from ._tracer import span as start_span
from ._values import SpanKind, StatusCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from ._span import Span

SYSTEM = "mongodb"
MAX_OPEN = 1024
"""Commands started and not yet ended, per client, before the oldest is dropped."""
MAX_REASON = 64
_SRV = "mongodb+srv://"
_NOT_COLLECTIONS = frozenset({
    "configureFailPoint", "getLog", "getParameter", "enableSharding", "movePrimary",
    "setFeatureCompatibilityVersion", "usersInfo", "dropUser", "grantRolesToUser",
    "revokeRolesFromUser", "rolesInfo", "createRole", "updateRole", "dropRole",
    "grantRolesToRole", "revokeRolesFromRole", "grantPrivilegesToRole",
    "revokePrivilegesFromRole",
})
"""Commands whose first field may be a string that names no collection (a fail point, a log,
a database, a version, a user or role: a user name is no collection, and not for a span name)."""
_STATEMENTS = {"update": "updates", "delete": "deletes", "bulkWrite": "ops"}
_listener_classes: dict[type, type] = {}
_accepts: dict[type, bool] = {}


class CommandSpans:
    """The listener's work; :func:`listener_class` mixes it into pymongo's ``CommandListener``."""

    def __init__(self) -> None:
        self._open: dict[object, Span] = {}
        self.server_address: str | None = None
        self.server_port: int | None = None

    def started(self, event: Any) -> None:
        try:
            name = event.command_name
            database = event.database_name
            command = event.command
            attributes: dict[str, Any] = {
                "db.system.name": SYSTEM,
                "db.operation.name": name,
            }
            if database:
                attributes["db.namespace"] = database
            collection = collection_of(name, command)
            if collection is not None:
                attributes["db.collection.name"] = collection
            field = _STATEMENTS.get(name)
            if field is not None:
                statements = command.get(field)
                if type(statements) is list and len(statements) > 1:
                    attributes["db.operation.batch.size"] = len(statements)
            if self.server_address is not None:
                attributes["server.address"] = self.server_address
                if self.server_port is not None:
                    attributes["server.port"] = self.server_port
            target = collection or database
            span = start_span(f"{name} {target}" if target else name, kind=SpanKind.CLIENT)
            if span.is_recording():
                # Every value is a plain ``str`` or ``int`` already (pymongo's names checked
                # here): written as they are, without ``start_span``'s cleaning copy, which was
                # the largest single cost of a command (benchmarks/runtime_pymongo.py).
                if (
                    type(name) is str
                    and (type(database) is str or not database)
                    and len(attributes) <= _values.span_attribute_count_limit
                ):
                    span.attributes.update(attributes)
                else:
                    span.set_attributes(attributes)
            key = (event.request_id, event.connection_id)
        except Exception as exc:
            warn_once("pymongo-started", "codetrace: pymongo command left untraced", exc=exc)
            return
        waiting = self._open
        if len(waiting) >= MAX_OPEN:
            try:
                oldest: object = next(iter(waiting))
            except (RuntimeError, StopIteration):  # another thread changed it meanwhile
                oldest = None
            waiting.pop(oldest, None)
        waiting[key] = span

    def succeeded(self, event: Any) -> None:
        try:  # ``_pop`` written out: this runs on every command
            span = self._open.pop((event.request_id, event.connection_id), None)
        except Exception as exc:  # an event without the two fields: nothing of ours
            warn_once("pymongo-event", "codetrace: odd pymongo event", exc=exc)
            return
        if span is None:
            return
        try:
            if span.is_recording():
                reply = event.reply
                errors = reply.get("writeErrors")
                if type(errors) is list and errors:
                    record_failure(span, errors[0])
                else:
                    concern = reply.get("writeConcernError")
                    if concern:
                        record_failure(span, concern)
        except Exception as exc:
            warn_once("pymongo-succeeded", "codetrace: odd pymongo reply", exc=exc)
        span.end()

    def failed(self, event: Any) -> None:
        span = self._pop(event)
        if span is None:
            return
        try:
            if span.is_recording():
                record_failure(span, event.failure)
        except Exception as exc:
            warn_once("pymongo-failed", "codetrace: odd pymongo failure", exc=exc)
        span.end()

    def _pop(self, event: Any) -> Span | None:
        try:
            return self._open.pop((event.request_id, event.connection_id), None)
        except Exception as exc:  # an event without the two fields: nothing of ours
            warn_once("pymongo-event", "codetrace: odd pymongo event", exc=exc)
            return None


def collection_of(name: str, command: Mapping[str, Any]) -> str | None:
    """The collection ``command`` works on, or ``None`` (see the module docstring)."""
    value = command.get("collection") if name == "getMore" else command.get(name)
    if type(value) is not str or not value or name in _NOT_COLLECTIONS:
        return None
    return value


def record_failure(span: Span, failure: Mapping[str, Any]) -> None:
    """``db.response.status_code``, ``error.type`` and status ``ERROR`` from an error document."""
    code = failure.get("code")
    reason = failure.get("codeName")
    if isinstance(code, int) and not isinstance(code, bool):
        status = str(int(code))
        span.set_attribute("db.response.status_code", status)
        span.set_attribute("error.type", status)
        if type(reason) is not str or not reason:
            reason = f"MongoDB error {status}"
    else:
        kind = failure.get("errtype")  # pymongo's own document for an exception it raised
        kind = kind if type(kind) is str and kind else None
        span.set_attribute("error.type", _qualified(kind) if kind else "_OTHER")
        if type(reason) is not str or not reason:
            reason = kind or "MongoDB error"
    span.set_status(StatusCode.ERROR, reason[:MAX_REASON])


def _qualified(kind: str) -> str:
    """``pymongo.errors.AutoReconnect`` for ``AutoReconnect``, when pymongo defines it."""
    errors = sys.modules.get("pymongo.errors")
    found = getattr(errors, kind, None) if errors is not None else None
    return f"pymongo.errors.{kind}" if is_class(found) else kind


# -- construction --------------------------------------------------------------------------------


def client_bases() -> tuple[type, ...]:
    """pymongo's client classes that are loaded (``MongoClient``, ``AsyncMongoClient``)."""
    module = sys.modules.get("pymongo")
    found = (getattr(module, "MongoClient", None), getattr(module, "AsyncMongoClient", None))
    return tuple(cls for cls in found if is_class(cls))  # type: ignore[misc]


def listener_class() -> type | None:
    """Our ``CommandListener`` subclass (pymongo accepts only its own listener classes)."""
    monitoring = sys.modules.get("pymongo.monitoring")
    found = getattr(monitoring, "CommandListener", None)
    if not is_class(found):
        return None
    base: type = found  # type: ignore[assignment]
    made = _listener_classes.get(base)
    if made is None:
        made = type("CodetraceCommandListener", (CommandSpans, base), {"__module__": __name__})
        _listener_classes[base] = made
    return made


def accepts_listeners(cls: type, bases: tuple[type, ...]) -> bool:
    """Whether ``cls(..., event_listeners=...)`` reaches pymongo: its ``__init__`` is pymongo's,
    or takes ``event_listeners`` or ``**kwargs``."""
    known = _accepts.get(cls)
    if known is None:
        init = getattr(cls, "__init__", None)
        if any(init is getattr(base, "__init__", None) for base in bases):
            known = True
        else:
            import inspect

            try:
                parameters = inspect.signature(init).parameters.values()  # type: ignore[arg-type]
                known = any(
                    p.kind is p.VAR_KEYWORD
                    or (p.name == "event_listeners" and p.kind is not p.POSITIONAL_ONLY)
                    for p in parameters
                )
            except (TypeError, ValueError):
                known = False
        if len(_accepts) >= MAX_CLASSES:
            _accepts.clear()
        _accepts[cls] = known
    return known


def _plan(callee: object, kwargs: dict[str, Any]) -> tuple[CommandSpans, dict[str, Any]] | None:
    """The listener and the keyword arguments to build the client with (None: unchanged)."""
    if not is_class(callee) or is_mock(callee):
        return None
    cls: type = callee  # type: ignore[assignment]
    bases = client_bases()
    if not bases or not issubclass(cls, bases):
        return None
    given = kwargs.get("event_listeners", [])
    if type(given) not in (list, tuple):  # None too: pymongo rejects it, and must go on doing so
        return None
    if any(isinstance(listener, CommandSpans) for listener in given):
        return None  # traced already (a project subclass passing ours along)
    if not accepts_listeners(cls, bases):
        warn_once(
            f"pymongo-init:{cls.__qualname__}",
            "codetrace: %s.__init__ takes no event_listeners: its commands are not traced",
            cls.__qualname__,
        )
        return None
    made = listener_class()
    if made is None:
        return None
    listener: CommandSpans = made()
    extended = [*given, listener]
    keywords = {**kwargs, "event_listeners": tuple(extended) if type(given) is tuple else extended}
    return listener, keywords


def configured_server(
    client: object, args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[str, int | None] | None:
    """The one host ``client`` was configured with (see the module docstring), or ``None``."""
    host = kwargs.get("host", args[0] if args else None)
    if type(host) is str and host.startswith(_SRV):
        name = host[len(_SRV):].rpartition("@")[2].split("/", 1)[0].split("?", 1)[0]
        return (name, None) if name and "," not in name else None
    description = getattr(client, "topology_description", None)
    servers = description.server_descriptions() if description is not None else None
    if type(servers) is not dict or len(servers) != 1:
        return None
    (address,) = servers
    if type(address) is not tuple or len(address) != 2 or type(address[0]) is not str:
        return None
    port = address[1]
    return address[0], port if type(port) is int else None


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``callee(*args, **kwargs)``; a pymongo client it builds gets the tracing listener."""
    try:
        plan = _plan(callee, kwargs)
    except Exception as exc:
        warn_once("pymongo-client", "codetrace: pymongo client left untraced", exc=exc)
        plan = None
    if plan is None:
        return callee(*args, **kwargs)
    listener, keywords = plan
    client = callee(*args, **keywords)
    try:
        server = configured_server(client, args, kwargs)
        if server is not None:
            listener.server_address, listener.server_port = server
    except Exception as exc:
        warn_once("pymongo-server", "codetrace: pymongo server address unknown", exc=exc)
    return client
