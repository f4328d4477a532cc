"""The span: plain data that exporters read, plus the one ``ContextVar`` that says which is current.

Why it looks like this:

* ``__slots__`` and plain ``int``/``str`` fields: a span is created on every traced call, so it
  must be cheap to build and cheap to read. Ids are integers (128-bit trace, 64-bit span) and are
  rendered as hex only by the exporters that need text.
* Kinds, status codes and flags are ``int`` constants (``_values``), not :mod:`enum` members.
* The current span lives in ONE ``ContextVar[Span | None]``, set on ``__enter__`` and reset with
  its token on ``__exit__``. Asyncio tasks and ``contextvars.copy_context()`` carry it; plain
  threads do not (see the package docstring).
* A span that is not sampled is still a ``Span`` with real ids (so it propagates them
  downstream), but it records nothing and reaches no processor.
* Nothing here raises into the application: bad attribute values are converted or dropped,
  processor failures are logged once.

* Limits (``_limits``: ``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT``, ``OTEL_SPAN_EVENT_COUNT_LIMIT``,
  ``OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT``, ...) are module globals here, rebound when a pipeline is
  built: counting against a global costs what counting against a constant did, so
  ``set_attribute`` pays nothing for them. What is over a limit is dropped and counted
  (``dropped_attributes_count``, ``dropped_events_count``, an event's
  ``dropped_attributes_count``); value lengths are cut when the span ends (``_limits``).

The fields of a finished span are the seam exporters read: ``_protocols.SpanData`` lists them
(do not rename them).
"""

from __future__ import annotations

from contextvars import ContextVar
from time import time_ns

from ._log import warn_once
from ._values import (
    FLAG_SAMPLED,
    KIND_NAMES,
    MAX_ATTRIBUTES,
    SpanKind,
    StatusCode,
    clean_attributes,
    clean_value,
    qualified_name,
    safe_str,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from contextvars import Token
    from types import TracebackType
    from typing import Protocol

    from ._values import AttributeValue, BaggageEntry

    class SpanProcessor(Protocol):
        """What a span needs from the processors it reaches: ``on_end`` (the full processor
        protocol, which the pipeline uses, is ``_protocols.SpanProcessor``)."""

        def on_end(self, span: Span) -> None: ...


MAX_EVENTS = 128
"""The default event count limit per span (the OpenTelemetry default)."""

# The limits in force, rebound by ``_limits.install`` when a pipeline is built (never per span).
attribute_count_limit = MAX_ATTRIBUTES
"""Attributes kept per span; later new keys are counted as dropped."""
event_count_limit = MAX_EVENTS
"""Events kept per span; later ones are counted as dropped."""
event_attribute_count_limit = MAX_ATTRIBUTES
"""Attributes kept per event; later ones are counted in the event's ``dropped_attributes_count``."""


current: ContextVar[Span | None] = ContextVar("codetrace_current_span", default=None)
"""The current span of this context (thread, task, or copied context)."""


def reset_current(token: Token[Span | None]) -> None:
    """``current.reset(token)``, tolerating a token from another context.

    A span can be left in another context than it was entered in (an async generator finalised
    by the event loop, say); that context's current span is not ours to touch.
    """
    try:  # noqa: SIM105 - contextlib.suppress costs an import and a frame on every span
        current.reset(token)
    except (ValueError, RuntimeError):
        pass


def current_span() -> Span | None:
    """The span that is current here, or ``None`` outside any span.

    After ``use_context(extracted)`` with no local span started yet, this is a non-recording
    placeholder for the remote parent (``is_remote`` is true).
    """
    return current.get()


class Event:
    """A timestamped annotation on a span (``exception`` events carry the exception)."""

    __slots__ = ("attributes", "dropped_attributes_count", "name", "time_ns")

    def __init__(
        self,
        name: str,
        time_ns: int,
        attributes: dict[str, AttributeValue] | None = None,
        dropped_attributes_count: int = 0,
    ) -> None:
        self.name = name
        self.time_ns = time_ns
        self.attributes: dict[str, AttributeValue] = attributes if attributes is not None else {}
        self.dropped_attributes_count = dropped_attributes_count

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {self.time_ns}, {self.attributes!r})"


class Span:
    """One timed operation. Use it as a context manager to make it current for a block.

    Fields are public plain data (listed in the module docstring) so exporters can read them
    without accessor calls. Mutate through the methods: they respect sampling, limits and the
    end of the span.
    """

    __slots__ = (
        "_processors",
        "_recording",
        "_token",
        "attributes",
        "baggage",
        "dropped_attributes_count",
        "dropped_events_count",
        "end_ns",
        "events",
        "is_remote",
        "is_remote_parent",
        "kind",
        "name",
        "parent_id",
        "span_id",
        "start_ns",
        "status_code",
        "status_message",
        "trace_flags",
        "trace_id",
        "trace_state",
    )

    def __init__(
        self,
        name: str,
        trace_id: int,
        span_id: int,
        parent_id: int = 0,
        trace_flags: int = 0,
        trace_state: str = "",
        kind: int = SpanKind.INTERNAL,
        start_ns: int = 0,
        attributes: dict[str, AttributeValue] | None = None,
        *,
        is_remote_parent: bool = False,
        is_remote: bool = False,
        baggage: tuple[BaggageEntry, ...] = (),
        processors: tuple[SpanProcessor, ...] = (),
        recording: bool = False,
    ) -> None:
        self.name = name
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.trace_flags = trace_flags
        self.trace_state = trace_state
        self.kind = kind
        self.start_ns = start_ns
        self.end_ns = 0
        self.attributes: dict[str, AttributeValue] = attributes if attributes is not None else {}
        self.status_code = StatusCode.UNSET
        self.status_message = ""
        self.events: list[Event] = []
        self.is_remote_parent = is_remote_parent
        self.is_remote = is_remote
        self.baggage = baggage
        self.dropped_attributes_count = 0
        self.dropped_events_count = 0
        self._processors = processors
        self._recording = recording
        self._token: Token[Span | None] | None = None

    # -- reading -------------------------------------------------------------------------------

    def is_recording(self) -> bool:
        """Whether changes to this span are kept (sampled, exported somewhere, not yet ended)."""
        return self._recording

    @property
    def sampled(self) -> bool:
        """The W3C sampled flag this span propagates."""
        return bool(self.trace_flags & FLAG_SAMPLED)

    @property
    def duration_ns(self) -> int:
        """``end_ns - start_ns`` once ended, else 0."""
        return self.end_ns - self.start_ns if self.end_ns else 0

    def __repr__(self) -> str:
        return (
            f"<Span {self.name!r} kind={KIND_NAMES.get(self.kind, self.kind)} "
            f"trace_id={self.trace_id:032x} span_id={self.span_id:016x} "
            f"parent_id={self.parent_id:016x}>"
        )

    # -- recording -----------------------------------------------------------------------------

    def set_attribute(self, key: str, value: object) -> None:
        """Set one attribute (``None`` is ignored; other values are cleaned: ``clean_value``)."""
        if not self._recording:
            return
        cleaned = clean_value(value)
        if cleaned is None:
            return
        attributes = self.attributes
        if len(attributes) >= attribute_count_limit and key not in attributes:
            self.dropped_attributes_count += 1
            return
        attributes[key] = cleaned

    def set_attributes(self, attributes: Mapping[str, object]) -> None:
        """Set several attributes at once."""
        if not self._recording:
            return
        try:
            items = list(attributes.items())
        except Exception:
            return
        for key, value in items:
            self.set_attribute(key, value)

    def add_event(
        self,
        name: str,
        attributes: Mapping[str, object] | None = None,
        timestamp_ns: int | None = None,
    ) -> None:
        """Add a timestamped event (at most ``event_count_limit`` are kept, each with at most
        ``event_attribute_count_limit`` attributes)."""
        if not self._recording:
            return
        if len(self.events) >= event_count_limit:
            self.dropped_events_count += 1
            return
        cleaned: dict[str, AttributeValue] = {}
        dropped = 0
        if attributes:
            cleaned, dropped = clean_attributes(attributes, event_attribute_count_limit)
        self.events.append(
            Event(name, timestamp_ns if timestamp_ns is not None else time_ns(), cleaned, dropped)
        )

    def record_exception(
        self, exception: BaseException, attributes: Mapping[str, object] | None = None
    ) -> None:
        """Add an ``exception`` event (type, message, stack trace); the status is left alone."""
        if not self._recording:
            return
        from ._redact import scrub_text  # credentials in the text stay in the process

        event: dict[str, object] = {
            "exception.type": qualified_name(type(exception)),
            "exception.message": scrub_text(safe_str(exception)),
        }
        try:
            import traceback

            event["exception.stacktrace"] = scrub_text(
                "".join(
                    traceback.format_exception(type(exception), exception, exception.__traceback__)
                )
            )
        except Exception:  # pragma: no cover - a traceback that cannot be formatted
            pass
        if attributes:
            event.update(attributes)
        self.add_event("exception", event)

    def set_status(self, code: int, message: str = "") -> None:
        """Set the status: ``OK`` is final, ``UNSET`` ignored, a message kept for ``ERROR`` only."""
        if not self._recording or self.status_code == StatusCode.OK:
            return
        if code == StatusCode.OK:
            self.status_code = StatusCode.OK
            self.status_message = ""
        elif code == StatusCode.ERROR:
            self.status_code = StatusCode.ERROR
            self.status_message = message

    def update_name(self, name: str) -> None:
        """Rename the span (a server span learns its route after it started)."""
        if self._recording:
            self.name = name

    def fail(self, exception: BaseException) -> None:
        """Record ``exception`` as this span's error: event, ``error.type`` and status ``ERROR``."""
        if not self._recording:
            return
        self.record_exception(exception)
        if "error.type" not in self.attributes:
            self.set_attribute("error.type", qualified_name(type(exception)))
        from ._redact import scrub_text

        message = scrub_text(safe_str(exception))
        self.set_status(StatusCode.ERROR, f"{type(exception).__name__}: {message}")

    def end(self, end_ns: int | None = None) -> None:
        """End the span and hand it to the processors. Ending twice does nothing."""
        if self.end_ns:
            return
        self.end_ns = end_ns if end_ns is not None else time_ns()
        if not self._recording:
            return
        self._recording = False
        for processor in self._processors:
            try:
                processor.on_end(self)
            except Exception as exc:
                _on_end_failed(processor, exc)

    # -- current span --------------------------------------------------------------------------

    def activate(self) -> None:
        """Make this span current in this context (what ``__enter__`` does)."""
        self._token = current.set(self)

    def deactivate(self) -> None:
        """Give back the span that was current before :meth:`activate` (without ending)."""
        token = self._token
        if token is None:
            return
        self._token = None
        reset_current(token)

    def __enter__(self) -> Span:
        self._token = current.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # ``end()`` and ``reset_current()`` written out: this runs on every span, and the two
        # calls they save are a measurable share of a span's cost (benchmarks/runtime_span.py).
        if exc is not None and self._recording and is_failure(exc):
            try:
                self.fail(exc)
            except Exception as error:  # pragma: no cover - never mask the user's exception
                warn_once("fail", "codetrace: could not record an exception", exc=error)
        if not self.end_ns:
            self.end_ns = time_ns()
            if self._recording:
                self._recording = False
                for processor in self._processors:
                    try:
                        processor.on_end(self)
                    except Exception as error:
                        _on_end_failed(processor, error)
        token = self._token
        if token is not None:
            self._token = None
            try:  # noqa: SIM105 - see reset_current
                current.reset(token)
            except (ValueError, RuntimeError):
                pass


def _on_end_failed(processor: SpanProcessor, exc: Exception) -> None:
    name = type(processor).__qualname__
    warn_once(
        f"on_end:{name}",
        "codetrace: span processor %s failed in on_end; spans may be lost",
        name,
        exc=exc,
    )


def is_failure(exc: BaseException) -> bool:
    """Whether leaving a span with ``exc`` marks it failed.

    ``GeneratorExit`` (a generator closed early) and ``SystemExit`` with a success code are how
    Python ends things normally; everything else, cancellation included, is recorded.
    """
    if isinstance(exc, Exception):
        return True
    if isinstance(exc, GeneratorExit):
        return False
    if isinstance(exc, SystemExit):
        return exc.code not in (None, 0)
    return True


class NoopSpan(Span):
    """The one span handed out while tracing is disabled: does nothing, is never current."""

    __slots__ = ()

    def __enter__(self) -> Span:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def end(self, end_ns: int | None = None) -> None:
        return None

    def activate(self) -> None:
        return None


NOOP_SPAN = NoopSpan("", 0, 0)
