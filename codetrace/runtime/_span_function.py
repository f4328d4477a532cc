"""``span_function(name)``: the decorator ``codetrace apply`` puts above a project's own function.

The engine's ``span-function`` advice (and ``# codetrace: span`` on a ``def``) writes one line,
``@_codetrace.span_function("myapp.orders.create")``, directly above the ``def``: below
``@classmethod``/``@staticmethod``/``@property`` and any other decorator, so it always receives
the plain function. Everything else happens here, once, at decoration time (the user's module
import): the kind of function is read from its code flags, the attributes are built and
cleaned, and a wrapper of the same kind is returned, so the per-call path does no lookup.

What the wrapper keeps (why: frameworks such as FastAPI, pytest, click and dependency
injectors inspect the handlers they are given):

* Its kind: a plain function for a plain function, an ``async def`` for a coroutine function,
  a generator function for a generator function, an async generator function for an async
  generator function, so ``inspect.iscoroutinefunction``, ``isgeneratorfunction`` and
  ``isasyncgenfunction`` answer as before.
* ``__module__``, ``__name__``, ``__qualname__``, ``__doc__``, ``__annotations__``,
  ``__type_params__`` (3.12+), the function's ``__dict__``, and ``__wrapped__``, so
  ``inspect.signature`` shows the user's parameters. Copied by hand, as ``functools.wraps``
  would, without importing :mod:`functools` into a process that may not have it yet.

What the span is:

* Named ``name``, of ``kind`` (``internal``, ``server``, ``client``, ``producer``,
  ``consumer``; any other value logs once and gives ``internal``: the decorator runs at the
  user's import, and the runtime never raises into the application). Attributes
  ``code.function.name`` (``module.QualName``), ``code.file.path`` (``co_filename``) and
  ``code.line.number``, the line of the ``def`` keyword itself (``co_firstlineno`` is the
  first decorator's line; the ``def`` line is found by reading the source file once, and
  ``co_firstlineno`` is used when there is no source), then the static ``attributes`` (which
  win over the ``code.*`` ones on a shared key). A mapping that cannot be read or cleaned is
  logged once and left out.
* Current while the function's code runs, so library spans made inside are its children.
  A coroutine function's span covers the ``await``. A generator's (sync or async) starts at
  its first step and covers the iteration: it is made current for each step the generator
  body runs (every ``next``/``send``/``throw``/``asend``/``athrow``) and given back before
  the value reaches the consumer, and it ends when the generator is exhausted, raises, or is
  closed (``close()``, ``aclose()``, garbage collection). ``send``, ``throw`` and ``yield
  from`` delegation are forwarded as PEP 380 specifies; a generator's return value
  (``StopIteration.value``) comes back unchanged.
* Exceptions: an ``Exception`` leaving the function is recorded (``exception`` event,
  ``error.type`` = the exception's qualified class name, status ``ERROR``) and re-raised, the
  same object. As OpenTelemetry's ``start_as_current_span`` decorator does (``use_span``
  records ``Exception`` only, opentelemetry-python#4494), ``BaseException``s that are not
  ``Exception``s are how Python ends things, not failures: ``GeneratorExit``,
  ``KeyboardInterrupt``, ``SystemExit`` and ``asyncio.CancelledError`` end the span without
  an error; so do ``StopIteration`` and ``StopAsyncIteration`` leaving a function (a
  ``__next__``/``__anext__`` method saying it is done). This differs from ``span()`` and the
  adapters (``_span.is_failure``, which records cancellation): a business function that is
  cancelled did not fail.
* ``min_duration_ms``: adaptive, as Logfire's auto-tracing ``min_duration``. Calls are timed
  with ``time.perf_counter_ns`` and no span until one takes at least that long; every later
  call gets a real span. The flag is one closure cell, flipped without a lock (setting it twice
  is harmless) and read without one on the hot path. A generator is timed from its first step
  to its end, as its span would be.

Decided at decoration time, so at the import of the user's module: with tracing disabled
(``OTEL_SDK_DISABLED=true``) the decorator returns the function itself (nothing at all is
paid per call; enabling tracing later does not reach functions decorated meanwhile). If tracing
is disabled later, the wrapper's span is the shared no-op span.

One difference a user can observe, and the price of keeping ``iscoroutinefunction`` and
friends true: a coroutine or generator function called with arguments that do not fit its
signature raises the ``TypeError`` when first awaited or iterated, not at the call (the
wrapper's body is what calls the function). Cost: ``benchmarks/runtime_span_function.py``.
"""

from __future__ import annotations

from contextvars import Token
from time import perf_counter_ns

from . import _values
from ._log import warn_once
from ._scope import make_current, restore_current
from ._span import Span, current, reset_current
from ._state import settings
from ._tracer import span as start_span
from ._values import SpanKind, clean_attributes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable, Generator, Mapping
    from typing import Any, ParamSpec, TypeVar

    from ._values import AttributeValue

    P = ParamSpec("P")
    R = TypeVar("R")

KINDS = {
    "internal": SpanKind.INTERNAL,
    "server": SpanKind.SERVER,
    "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER,
    "consumer": SpanKind.CONSUMER,
}
"""The ``kind`` strings ``span_function`` accepts (case-insensitive), and their OTLP numbers."""

# Code flags (``inspect.CO_*``), read without importing :mod:`inspect` (~10 ms).
CO_GENERATOR = 0x20
CO_COROUTINE = 0x80
CO_ITERABLE_COROUTINE = 0x100
CO_ASYNC_GENERATOR = 0x200

DEF_SCAN_LINES = 200
"""How far below ``co_firstlineno`` (the first decorator) the ``def`` line is looked for."""


# -- the decorator -----------------------------------------------------------------------------


def span_function(
    name: str,
    /,
    *,
    kind: str = "internal",
    attributes: Mapping[str, str | int | float | bool] | None = None,
    min_duration_ms: float | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Trace every call of the decorated function in a span named ``name``.

    See the module docstring for what the span holds and how each kind of function is
    covered. Never raises: a problem with the arguments is logged once and the function is
    traced with defaults, or returned untraced.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        if settings.disabled:
            return func
        try:
            wrapper: Callable[P, R] = _decorate(func, name, kind, attributes, min_duration_ms)
            return wrapper
        except Exception as exc:
            warn_once(
                f"span_function:{name!r}",
                "codetrace: cannot trace function %r; left untraced",
                name,
                exc=exc,
            )
            return func

    return decorate


def _decorate(
    func: Any,
    name: object,
    kind: object,
    attributes: object,
    min_duration_ms: object,
) -> Any:
    # Put under a descriptor by mistake (the engine never does): trace the function inside.
    if isinstance(func, (classmethod, staticmethod)):
        inner = _decorate(func.__func__, name, kind, attributes, min_duration_ms)
        return type(func)(inner)
    if isinstance(func, property) or not callable(func):
        warn_once(
            f"span_function-target:{name!r}",
            "codetrace: span_function(%r) must be placed directly above a def; left untraced",
            name,
        )
        return func
    span_name = name if type(name) is str else _values.safe_str(name)
    span_kind = _kind(kind, span_name)
    static = _attributes(func, span_name, attributes)
    threshold = _threshold(min_duration_ms, span_name)
    code = getattr(func, "__code__", None)
    flags = getattr(code, "co_flags", 0) if code is not None else 0
    if type(flags) is not int:
        flags = 0
    if flags & CO_ASYNC_GENERATOR:
        wrapper = _async_generator(func, span_name, span_kind, static, threshold)
    elif flags & CO_COROUTINE:
        wrapper = _coroutine(func, span_name, span_kind, static, threshold)
    elif flags & CO_GENERATOR:
        wrapper = _generator(func, span_name, span_kind, static, threshold)
        if flags & CO_ITERABLE_COROUTINE:  # ``@types.coroutine``: keep it awaitable
            wrapper.__code__ = wrapper.__code__.replace(
                co_flags=wrapper.__code__.co_flags | CO_ITERABLE_COROUTINE
            )
    elif threshold is None:
        wrapper = _function(func, span_name, span_kind, static)
    else:
        wrapper = _adaptive_function(func, span_name, span_kind, static, threshold)
    _copy_metadata(wrapper, func)
    return wrapper


# -- decoration-time facts ---------------------------------------------------------------------


def _kind(kind: object, name: str) -> int:
    if type(kind) is str:
        number = KINDS.get(kind.lower())
        if number is not None:
            return number
    elif type(kind) is int and kind in KINDS.values():
        return kind
    warn_once(
        f"span_function-kind:{kind!r}",
        "codetrace: span_function(%r): unknown kind %r (one of %s); using internal",
        name,
        kind,
        ", ".join(KINDS),
    )
    return SpanKind.INTERNAL


def _threshold(min_duration_ms: object, name: str) -> int | None:
    """``min_duration_ms`` in nanoseconds, or ``None`` to trace every call."""
    if min_duration_ms is None:
        return None
    if type(min_duration_ms) in (int, float) and min_duration_ms >= 0:  # type: ignore[operator]
        return int(min_duration_ms * 1_000_000)  # type: ignore[operator]
    warn_once(
        f"span_function-min:{name!r}",
        "codetrace: span_function(%r): min_duration_ms=%r is not a number >= 0; tracing every call",
        name,
        min_duration_ms,
    )
    return None


def _attributes(func: Any, name: str, attributes: object) -> dict[str, AttributeValue]:
    """The span's attributes, cleaned once: ``code.*`` and then the static ones."""
    static: dict[str, AttributeValue] = {}
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
    if type(qualname) is str:
        static["code.function.name"] = f"{module}.{qualname}" if type(module) is str else qualname
    code = getattr(func, "__code__", None)
    filename = getattr(code, "co_filename", None)
    first_line = getattr(code, "co_firstlineno", None)
    if type(filename) is str:
        static["code.file.path"] = filename
    if type(first_line) is int:
        static["code.line.number"] = def_line(filename, first_line)
    if attributes:
        try:
            cleaned, _ = clean_attributes(attributes)  # type: ignore[arg-type]
            if len(cleaned) != len(attributes):  # type: ignore[arg-type]
                raise ValueError("keys must be str and values str, int, float or bool")
        except Exception as exc:
            warn_once(
                f"span_function-attributes:{name!r}",
                "codetrace: span_function(%r): attributes left out (%s)",
                name,
                _values.safe_str(exc),
            )
        else:
            static.update(cleaned)
    return static


_source_cache: tuple[str, list[bytes]] | None = None
"""The lines of the last source file read: functions of one module are decorated one after
the other at its import, so one file at a time is enough, and memory stays bounded."""


def def_line(filename: object, first_line: int) -> int:
    """The line of the ``def`` that ``first_line`` (its first decorator, or itself) starts.

    Found in the source file (first line at or below ``first_line`` that starts with ``def``
    or ``async def``); ``first_line`` itself when there is no readable source.
    """
    global _source_cache
    if type(filename) is not str:
        return first_line
    try:
        if _source_cache is not None and _source_cache[0] == filename:
            lines = _source_cache[1]
        else:
            with open(filename, "rb") as source:
                lines = source.read().splitlines()
            _source_cache = (filename, lines)
        for number in range(first_line, min(first_line + DEF_SCAN_LINES, len(lines) + 1)):
            words = lines[number - 1].split(None, 2)
            if words and (words[0] == b"def" or (words[0] == b"async" and words[1:2] == [b"def"])):
                return number
            if words and words[0].startswith((b"def(", b"def\\")):  # pragma: no cover - odd
                return number
    except Exception:  # no file (zip import, interactive), unreadable: keep the first line
        pass
    return first_line


def _copy_metadata(wrapper: Any, func: Any) -> None:
    """What ``functools.update_wrapper`` copies, done here without importing functools."""
    for attribute in ("__module__", "__name__", "__qualname__", "__doc__", "__annotations__"):
        try:
            value = getattr(func, attribute)
        except AttributeError:
            continue
        try:  # noqa: SIM105 - no contextlib import for this
            setattr(wrapper, attribute, value)
        except (AttributeError, TypeError):
            pass
    type_params = getattr(func, "__type_params__", None)
    if type_params is not None:
        try:  # noqa: SIM105 - no contextlib import for this
            wrapper.__type_params__ = type_params
        except (AttributeError, TypeError):  # pragma: no cover - before 3.12
            pass
    try:  # noqa: SIM105
        wrapper.__dict__.update(getattr(func, "__dict__", {}))
    except Exception:  # pragma: no cover - an exotic callable's __dict__
        pass
    wrapper.__wrapped__ = func


# -- starting and ending -----------------------------------------------------------------------


def _start(name: str, kind: int, static: dict[str, AttributeValue]) -> Span:
    """A started span with the static attributes (written without a cleaning copy: cleaned at
    decoration time). Never raises into the caller's path: the caller guards it."""
    span = start_span(name, kind=kind)
    if span._recording:
        if len(static) <= _values.span_attribute_count_limit:
            span.attributes.update(static)
        else:
            span.set_attributes(static)
    return span


def is_error(exc: BaseException) -> bool:
    """Whether ``exc`` leaving a traced function marks its span failed (module docstring)."""
    return isinstance(exc, Exception) and not isinstance(exc, (StopIteration, StopAsyncIteration))


def _finish(span: Span, exc: BaseException | None) -> None:
    """End ``span``: failed with ``exc`` if it is an error, else without an error."""
    try:
        if exc is not None and is_error(exc):
            span.__exit__(type(exc), exc, exc.__traceback__)
        else:
            span.__exit__(None, None, None)
    except Exception as error:  # pragma: no cover - never mask the user's outcome
        warn_once("span_function-end", "codetrace: a function span failed to end", exc=error)


def _untraced(name: str, exc: Exception) -> None:
    warn_once(f"span_function-start:{name}", "codetrace: cannot trace %s", name, exc=exc)


# -- plain functions ---------------------------------------------------------------------------


def _function(
    func: Callable[..., Any], name: str, kind: int, static: dict[str, AttributeValue]
) -> Callable[..., Any]:
    def traced_function(*args: Any, **kwargs: Any) -> Any:
        try:
            span = start_span(name, kind=kind)
            if span._recording:
                if len(static) <= _values.span_attribute_count_limit:
                    span.attributes.update(static)
                else:
                    span.set_attributes(static)
            if type(span) is Span:  # ``activate()`` inline: one Python call less per call
                span._token = current.set(span)
            else:  # bridged, or the no-op span
                span.activate()
        except Exception as exc:
            _untraced(name, exc)
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            _finish(span, exc)
            raise
        span.__exit__(None, None, None)
        return result

    return traced_function


def _adaptive_function(
    func: Callable[..., Any],
    name: str,
    kind: int,
    static: dict[str, AttributeValue],
    threshold: int,
) -> Callable[..., Any]:
    traced = _function(func, name, kind, static)
    slow = False

    def timed_function(*args: Any, **kwargs: Any) -> Any:
        nonlocal slow
        if slow:
            return traced(*args, **kwargs)
        start = perf_counter_ns()
        try:
            return func(*args, **kwargs)
        finally:
            if perf_counter_ns() - start >= threshold:
                slow = True

    return timed_function


# -- coroutine functions -----------------------------------------------------------------------


def _coroutine(
    func: Callable[..., Any],
    name: str,
    kind: int,
    static: dict[str, AttributeValue],
    threshold: int | None,
) -> Callable[..., Any]:
    slow = threshold is None

    async def traced_coroutine(*args: Any, **kwargs: Any) -> Any:
        nonlocal slow
        if not slow:
            start = perf_counter_ns()
            try:
                return await func(*args, **kwargs)
            finally:
                if perf_counter_ns() - start >= threshold:  # type: ignore[operator]
                    slow = True
        try:
            span = _start(name, kind, static)
            span.activate()  # the task's context: nothing else runs in it during the await
        except Exception as exc:
            _untraced(name, exc)
            return await func(*args, **kwargs)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            _finish(span, exc)
            raise
        span.__exit__(None, None, None)
        return result

    return traced_coroutine


# -- generators --------------------------------------------------------------------------------


def _enter(span: Span) -> Any:
    """Make ``span`` current for one step of a generator body (bridged: OpenTelemetry's too)."""
    return current.set(span) if type(span) is Span else make_current(span)


def _leave(token: Any) -> None:
    """Undo :func:`_enter` (a token from another context is tolerated, as ``reset_current``)."""
    if type(token) is Token:
        reset_current(token)
    else:
        restore_current(token)


def _generator(
    func: Callable[..., Any],
    name: str,
    kind: int,
    static: dict[str, AttributeValue],
    threshold: int | None,
) -> Callable[..., Any]:
    slow = threshold is None

    def traced_generator(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        nonlocal slow
        generator = func(*args, **kwargs)
        if not slow:
            start = perf_counter_ns()
            try:
                return (yield from generator)
            finally:
                if perf_counter_ns() - start >= threshold:  # type: ignore[operator]
                    slow = True
        try:
            span = _start(name, kind, static)
        except Exception as exc:
            _untraced(name, exc)
            return (yield from generator)
        # PEP 380's expansion of ``yield from``, with the span current around each step.
        try:
            token = _enter(span)
            try:
                value = generator.send(None)
            finally:
                _leave(token)
            while True:
                try:
                    sent = yield value
                except GeneratorExit:
                    token = _enter(span)
                    try:
                        generator.close()
                    finally:
                        _leave(token)
                    raise
                except BaseException as thrown:
                    token = _enter(span)
                    try:
                        value = generator.throw(thrown)
                    finally:
                        _leave(token)
                else:
                    token = _enter(span)
                    try:
                        value = generator.send(sent)
                    finally:
                        _leave(token)
        except StopIteration as stop:
            _finish(span, None)
            return stop.value
        except BaseException as exc:
            _finish(span, exc)
            raise

    return traced_generator


def _async_generator(
    func: Callable[..., Any],
    name: str,
    kind: int,
    static: dict[str, AttributeValue],
    threshold: int | None,
) -> Callable[..., Any]:
    slow = threshold is None

    async def traced_async_generator(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        nonlocal slow
        generator = func(*args, **kwargs)
        start = perf_counter_ns()
        span: Span | None = None
        if slow:
            try:
                span = _start(name, kind, static)
            except Exception as exc:
                _untraced(name, exc)
        # The span is current while each step is awaited (in the awaiting task's context,
        # where nothing else runs meanwhile) and given back before the value is yielded.
        try:
            token = _enter(span) if span is not None else None
            try:
                value = await generator.asend(None)
            finally:
                if token is not None:
                    _leave(token)
            while True:
                try:
                    sent = yield value
                except GeneratorExit:
                    token = _enter(span) if span is not None else None
                    try:
                        await generator.aclose()
                    finally:
                        if token is not None:
                            _leave(token)
                    raise
                except BaseException as thrown:
                    token = _enter(span) if span is not None else None
                    try:
                        value = await generator.athrow(thrown)
                    finally:
                        if token is not None:
                            _leave(token)
                else:
                    token = _enter(span) if span is not None else None
                    try:
                        value = await generator.asend(sent)
                    finally:
                        if token is not None:
                            _leave(token)
        except StopAsyncIteration:
            if span is not None:
                _finish(span, None)
            return
        except BaseException as exc:
            if span is not None:
                _finish(span, exc)
            raise
        finally:
            if not slow and perf_counter_ns() - start >= threshold:  # type: ignore[operator]
                slow = True

    return traced_async_generator
