"""What a Redis span says: its name, attributes and error, for a command or a pipeline.

``_redis`` decides *which* calls get a span (the funnels of a client traced at construction);
this module decides *what the span says*, following the stable database conventions for Redis
(semconv ``db/redis.md``). Why each choice:

* Command: span name and ``db.operation.name`` are the command as the client sent it (``GET``,
  ``CLIENT SETNAME``; case kept, as the conventions recommend). ``db.query.text`` is the command
  followed by one ``?`` per argument (``SET ? ? EX ?``): keys, values and options are never
  captured, whatever they are, because a key is user data as often as a value is. Bounded at
  :data:`MAX_TEXT` characters. ``EVALSHA``/``FCALL`` (and their ``_RO`` forms) also get
  ``db.stored_procedure.name``: the script's SHA1 or the function's name.
* Pipeline ``execute()``: one span. ``db.operation.name`` is ``MULTI`` (a transaction) or
  ``PIPELINE``, followed by the command when every queued command is the same one
  (``PIPELINE GET``); ``db.operation.batch.size`` is the number of queued commands (left out
  for one, as the conventions say of a batch of one); ``db.query.text`` is each command's text,
  one per line, or the text once when they are all the same, bounded as above.
* Connection: ``db.namespace`` is the database index the client was configured with, as a
  string (``"0"``): a ``SELECT`` on a pooled connection changes one connection of the pool,
  and reading the current index would cost a round trip; the conventions allow this fallback
  and ask that it be documented. ``server.address``/``server.port`` are the configured host and
  port (defaults ``localhost``/``6379``), or the unix socket path as ``server.address``; a
  Sentinel-managed client has no fixed address, so neither is set.
* Failure: ``error.type`` is the exception's qualified class name
  (``redis.exceptions.ResponseError``), ``db.response.status_code`` the Redis error prefix when
  the server sent one (``ERR``, ``WRONGTYPE``, ``NOSCRIPT``: redis-py 8 keeps it on the
  exception; before, the class it picked says it, or the message starts with it; only a plain
  ``ERR`` cannot be told before redis-py 8), an ``exception`` event and status ``ERROR``. The
  message is scrubbed first (:func:`scrub`), for every exception: Redis echoes argument values
  in some errors (``unknown command 'x', with args beginning with: 'secret'``) and redis-py
  names a failed pipeline command with its arguments (``Command # 2 (LPUSH key value) of
  pipeline caused error: ...``), so the command keeps its name only, the text from ``with args
  beginning with`` or `` near `` on is cut, and every quoted part becomes ``'?'`` (a client-side
  message loses its quoted type name too); the event's stack trace ends with the scrubbed line.
  ``WatchError`` (a ``WATCH``-ed key changed, the transaction was not run: redis-py's
  ``transaction()`` retries on it) is not a failure of the operation: no error is recorded, as
  OpenTelemetry's instrumentation does. Cancellation is recorded like any other exception (the
  span still ends).
"""

from __future__ import annotations

import sys

from ._log import warn_once
from ._span import is_failure
from ._values import StatusCode, qualified_name, safe_str

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._span import Span

SYSTEM = "redis"
MAX_TEXT = 1000
"""Characters of ``db.query.text`` kept (a command's, or a whole pipeline's)."""
MAX_NAME = 64
"""Characters of a command name kept (a name is short; the first argument can be anything)."""
MAX_MESSAGE = 256
_PROCEDURES = frozenset({"EVALSHA", "EVALSHA_RO", "FCALL", "FCALL_RO"})
_PROCEDURES |= {name.lower() for name in _PROCEDURES}
MAX_TEXTS = 1024
_texts: dict[tuple[str, int], str] = {}
"""``(command, arguments)`` -> its text: a program sends few shapes, each many times."""
MAX_DESCRIBED = 256
MAX_KEYED = 64
"""Pipelines of at most this many commands have their description kept (:data:`_described`)."""
_described: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}
"""A pipeline's shape (the prefix, then each queued command's first argument and length) ->
``(span name, attributes)``. Describing a pipeline walks every queued command; a program
runs few shapes many times, so the walk is done once per shape and the shape itself is read with
one comprehension (``benchmarks/runtime_redis.py``: most of what a pipeline span added)."""
_CUT_AT = ("with args beginning with", " near ")
_PIPELINE_ERROR = ") of pipeline caused error: "
#: the exception classes redis-py raises for one error prefix each (it strips the prefix)
_PREFIXES = {
    "NoScriptError": "NOSCRIPT", "ExecAbortError": "EXECABORT", "ReadOnlyError": "READONLY",
    "NoPermissionError": "NOPERM", "OutOfMemoryError": "OOM", "BusyLoadingError": "LOADING",
    "AskError": "ASK", "MovedError": "MOVED", "TryAgainError": "TRYAGAIN",
    "ClusterDownError": "CLUSTERDOWN", "ClusterCrossSlotError": "CROSSSLOT",
    "MasterDownError": "MASTERDOWN",
}


def command_name(args: tuple[Any, ...]) -> str | None:
    """The command of ``execute_command(*args)``: its first argument, as text."""
    if not args:
        return None
    first = args[0]
    if type(first) is str:
        name = first
    elif isinstance(first, (bytes, bytearray)):
        name = bytes(first).decode("utf-8", "replace")
    else:
        name = safe_str(first)
    return name if len(name) <= MAX_NAME else name[:MAX_NAME]


def query_text(name: str, arguments: int) -> str:
    """``SET ? ?``: the command and one ``?`` per argument, at most :data:`MAX_TEXT` long."""
    key = (name, arguments)
    text = _texts.get(key)
    if text is None:
        text = name + " ?" * min(max(arguments, 0), MAX_TEXT // 2)
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 3] + "..."
        if len(_texts) >= MAX_TEXTS:
            _texts.clear()
        _texts[key] = text
    return text


def describe_command(span: Span, client: object, args: tuple[Any, ...], name: str | None) -> None:
    attributes = span.attributes
    attributes["db.system.name"] = SYSTEM
    if name is not None:
        attributes["db.operation.name"] = name
        attributes["db.query.text"] = query_text(name, len(args) - 1)
        if name in _PROCEDURES and len(args) > 1:
            procedure = command_name(args[1:])
            if procedure:
                attributes["db.stored_procedure.name"] = procedure
    describe_connection(attributes, client)


def describe_pipeline(pipeline: Any, prefix: str) -> tuple[str, dict[str, Any]]:
    """The span name and attributes of ``pipeline.execute()``, from its queued commands (the
    connection's attributes are not among them: :func:`describe_connection`). The dict is
    shared by every pipeline of the same shape: copy it, never change it."""
    return describe_stack(pipeline.command_stack, prefix)


def describe_stack(stack: Any, prefix: str) -> tuple[str, dict[str, Any]]:
    """:func:`describe_pipeline` of the queued commands ``stack`` (``(args, ...)`` tuples, or
    objects with ``args``): a cluster pipeline keeps them elsewhere (``_redis_cluster``)."""
    key: tuple[Any, ...] | None = None
    described = None
    if len(stack) <= MAX_KEYED:
        try:  # redis-py's pipelines (sync and asyncio) queue ``(args, options)`` tuples
            key = (prefix, *[(entry[0][0], len(entry[0])) for entry in stack])
            described = _described.get(key)
        except Exception:  # another kind of entry, a first argument that cannot be hashed
            key = None
    if described is None:
        operation, size, text = _describe_stack(stack, prefix)
        attributes: dict[str, Any] = {"db.system.name": SYSTEM, "db.operation.name": operation}
        if size != 1:
            attributes["db.operation.batch.size"] = size
        if text is not None:
            attributes["db.query.text"] = text
        described = (operation, attributes)
        if key is not None:
            if len(_described) >= MAX_DESCRIBED:
                _described.clear()
            _described[key] = described
    return described


def _describe_stack(stack: Any, prefix: str) -> tuple[str, int, str | None]:
    """``(operation, batch size, text)`` of the queued commands ``stack``."""
    shapes: list[tuple[str, int]] = []  # (command, arguments) of each queued command
    for entry in stack:
        args = entry[0] if type(entry) is tuple else getattr(entry, "args", ())
        first = args[0] if args else None
        name = first if type(first) is str and len(first) <= MAX_NAME else command_name(args)
        shapes.append((name or SYSTEM, len(args) - 1))
    names = {name for name, _ in shapes}
    operation = f"{prefix} {shapes[0][0]}" if len(names) == 1 else prefix
    text = None
    if shapes:
        if len(set(shapes)) == 1:
            text = query_text(*shapes[0])
        else:
            texts: list[str] = []
            size = 0
            for shape in shapes:
                texts.append(query_text(*shape))
                size += len(texts[-1]) + 1
                if size > MAX_TEXT:
                    break
            text = "\n".join(texts)
        if len(text) > MAX_TEXT:
            text = text[: MAX_TEXT - 3] + "..."
    return operation, len(shapes), text


def describe_connection(attributes: dict[str, Any], client: object) -> None:
    """``db.namespace`` and the server, from the client's pool configuration (no I/O)."""
    kwargs = getattr(getattr(client, "connection_pool", None), "connection_kwargs", None)
    if type(kwargs) is not dict:
        return
    db = kwargs.get("db")
    attributes["db.namespace"] = "0" if db is None else str(db) if type(db) is int else safe_str(db)
    path = kwargs.get("path")
    if path:
        attributes["server.address"] = path if type(path) is str else safe_str(path)
        return
    host = kwargs.get("host")
    if host is None:
        if "connection_pool" in kwargs:  # a Sentinel pool: the address is found per connection
            return
        host = "localhost"
    attributes["server.address"] = host if type(host) is str else safe_str(host)
    port = kwargs.get("port", 6379)
    if type(port) is str and port.isdigit():
        port = int(port)
    if type(port) is int:
        attributes["server.port"] = port


def end(span: Span, exc: BaseException | None) -> None:
    """End a command's or pipeline's span, recording ``exc`` when it is a failure; never
    raises (the application's exception, if any, is what the caller re-raises)."""
    if exc is not None and span.is_recording():
        try:
            if fails(exc):
                record_failure(span, exc)
        except Exception as error:  # never mask the application's exception
            warn_once("redis-error", "codetrace: odd redis exception", exc=error)
    span.__exit__(None, None, None)


def call(span: Span | None, function: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` inside ``span`` (None: no span), for the clients' and
    pipelines' funnels, sync (``_redis`` and ``_redis_cluster``)."""
    if span is None:
        return function(*args, **kwargs)
    try:
        result = function(*args, **kwargs)
    except BaseException as exc:
        end(span, exc)
        raise
    end(span, None)
    return result


async def await_call(span: Span | None, function: Callable[..., Any], args: Any,
                     kwargs: Any) -> Any:
    """:func:`call` for ``redis.asyncio``: the span ends when the awaited command does."""
    if span is None:
        return await function(*args, **kwargs)
    try:
        result = await function(*args, **kwargs)
    except BaseException as exc:
        end(span, exc)
        raise
    end(span, None)
    return result


def fails(exc: BaseException) -> bool:
    """Whether ``exc`` ends the span as failed (see the module docstring for ``WatchError``)."""
    if not is_failure(exc):
        return False
    exceptions = sys.modules.get("redis.exceptions")
    watch = getattr(exceptions, "WatchError", None) if exceptions is not None else None
    return not (isinstance(watch, type) and isinstance(exc, watch))


def record_failure(span: Span, exc: BaseException) -> None:
    """``error.type``, ``db.response.status_code``, a scrubbed ``exception`` event, ``ERROR``."""
    message = scrub(safe_str(exc))
    kind = qualified_name(type(exc))
    attributes = span.attributes
    attributes["error.type"] = kind
    code = _status_code(exc, message)
    if code is not None:
        attributes["db.response.status_code"] = code
    event: dict[str, object] = {"exception.type": kind, "exception.message": message}
    try:
        import traceback

        lines = ["Traceback (most recent call last):\n"]
        lines.extend(traceback.format_tb(exc.__traceback__))
        lines.append(f"{kind}: {message}\n")
        event["exception.stacktrace"] = "".join(lines)
    except Exception:  # pragma: no cover - a traceback that cannot be formatted
        pass
    span.add_event("exception", event)
    span.set_status(StatusCode.ERROR, f"{type(exc).__name__}: {message}")


def scrub(message: str) -> str:
    """``message`` without the argument values Redis (or a module) may have echoed in it."""
    if message.startswith("Command # "):
        message = _pipeline_error(message)
    for marker in _CUT_AT:
        cut = message.find(marker)
        if cut >= 0:
            message = message[:cut].rstrip(" ,:")
    if "'" in message or '"' in message:
        import re

        message = re.sub(r"'[^']*'|\"[^\"]*\"", "'?'", message)
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."


def _pipeline_error(message: str) -> str:
    """redis-py's pipeline error, ``Command # 2 (LPUSH key value) of pipeline caused error:
    ERROR``, with only the command's name kept (the asyncio pipeline puts the error's
    ``args`` tuple there: its one message is taken out)."""
    end = message.rfind(_PIPELINE_ERROR)
    if end < 0:
        return message
    number, _, command = message[len("Command # ") : end].partition(" (")
    error = message[end + len(_PIPELINE_ERROR) :]
    if error.startswith(("('", '("')) and error.endswith(("',)", '",)')):
        error = error[2:-3]
    return f"Command # {number} ({command.split(' ', 1)[0]} ...{_PIPELINE_ERROR}{error}"


def _status_code(exc: BaseException, message: str) -> str | None:
    """The Redis error prefix: redis-py 8 keeps it as ``status_code``; before, the class it
    chose for the prefix says it; for prefixes it does not map, the message starts with it
    (``WRONGTYPE Operation against a key ...``)."""
    code = getattr(exc, "status_code", None)
    if type(code) is str and code:
        return code
    code = _PREFIXES.get(type(exc).__name__)
    if code is not None and type(exc).__module__.startswith("redis."):
        return code
    exceptions = sys.modules.get("redis.exceptions")
    response_error = getattr(exceptions, "ResponseError", None) if exceptions else None
    if not (isinstance(response_error, type) and isinstance(exc, response_error)):
        return None
    first = message.rpartition(_PIPELINE_ERROR)[2].split(" ", 1)[0]
    return first if first.isalpha() and first.isupper() else None
