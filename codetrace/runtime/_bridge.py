"""The bridge: codetrace spans through the OpenTelemetry API, in the application's own pipeline.

(Over 400 lines on purpose: :class:`Bridge` and :class:`BridgeSpan` are one mechanism that
reaches into each other on every span, and half the length is the specification below.)

A program that already uses OpenTelemetry (hand-written ``tracer.start_as_current_span(...)``,
an SDK ``TracerProvider`` with its exporters) must get ONE trace out of its own spans and
codetrace's, one context and one export pipeline. So when the OpenTelemetry API is loaded and
a real provider is installed (``trace.get_tracer_provider()`` is not the default proxy or no-op
one), or when ``CODETRACE_BACKEND=otel``, ``span()`` starts its spans with the OpenTelemetry
tracer instead of codetrace's own pipeline:

* Backend choice (``CODETRACE_BACKEND``, read by ``_setup``): ``auto`` (default) decides once,
  when the runtime configures itself on first use (first span, ``inject`` or ``extract``). It
  never imports OpenTelemetry: if ``opentelemetry.trace`` is not already in ``sys.modules``
  nobody can have installed a provider, and the answer is "no" for the cost of a dict lookup.
  So configure the SDK before the first traced call, or set ``CODETRACE_BACKEND=otel`` (then
  codetrace uses the API's global tracer, which follows a provider installed later).
  ``codetrace`` forces codetrace's own pipeline. ``configure(backend=...)`` does the same in code.
* A bridged span is a :class:`BridgeSpan`: a codetrace :class:`~._span.Span` (so adapters,
  hooks and user code keep one API) wrapping an OpenTelemetry span started with
  ``tracer.start_span(name, context=parent, kind=..., attributes=..., start_time=...)``. Its
  ids, flags and ``tracestate`` are the OpenTelemetry span's. Attributes, events, status and
  name changes are kept on the codetrace span while it runs (adapters write its ``attributes``
  dict directly) and handed to the OpenTelemetry span in one go when it ends, just before
  ``end(end_time=...)``: the SDK's processors see the finished span with everything on it.
  Sampling is the SDK's: an unsampled span is not recording, exactly as the SDK decided.
* Context: making a bridged span current sets codetrace's ``ContextVar`` AND attaches an
  OpenTelemetry context (``opentelemetry.context.attach``, detached with its token), so a
  hand-written span started inside is its child. The attached context carries a marker
  (a context key holding the OpenTelemetry span) that survives in contexts derived from it: a span
  started where codetrace's current span is ``S`` takes OpenTelemetry's current context as its
  parent when that context descends from ``S`` (``S`` itself, or a hand-written span inside
  ``S``), and ``S`` otherwise (``S`` was made current by codetrace alone: a remote parent from
  ``use_context(extract(...))``, a streamed response chunk, an awaited coroutine). Outside any
  codetrace span, OpenTelemetry's current context is the parent: a codetrace span inside a
  hand-written one is its child.
* Propagation: ``inject``/``extract`` use OpenTelemetry's global propagator
  (``opentelemetry.propagate``), so ``OTEL_PROPAGATORS`` values and ``set_global_textmap``
  choices that only OpenTelemetry knows (X-Ray, Jaeger, ...) apply, and OpenTelemetry baggage
  set by hand-written code travels with codetrace's requests. The headers are the same W3C ones
  codetrace writes itself, so a bridged service and a codetrace-only one understand each other.
* Double instrumentation: a bridged CLIENT span sets OpenTelemetry's "HTTP instrumentation
  suppressed" context key while it is current, the way OpenTelemetry's own higher-level
  instrumentations do, so an application also run under ``opentelemetry-instrument`` (or with
  ``RequestsInstrumentor``) gets one span per request, not two.
* Exporters: codetrace's own are not used while bridged (the SDK's pipeline exports; its
  provider flushes at exit by itself). ``force_flush()`` flushes the provider.
* Failure: the bridge must never break the application. If the OpenTelemetry API raises while
  a span starts, codetrace logs once and falls back to its own pipeline for good; problems on a
  running span (attach, detach, end) are logged once and swallowed.

This module is imported only when the backend is decided, never by ``import codetrace.runtime``.
"""

from __future__ import annotations

import sys
from time import time_ns

from ._context import Context
from ._log import warn_once
from ._span import Span, current, is_failure
from ._values import SpanKind, clean_attributes
from ._version import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping
    from types import TracebackType
    from typing import Any

    from ._values import AttributeValue, BaggageEntry

TRACER_NAME = "codetrace"


def otel_configured() -> bool:
    """Whether the OpenTelemetry API is loaded with a provider that is not the default one.

    Never imports anything: a program that has not imported ``opentelemetry.trace`` has not
    installed a provider either.
    """
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return False
    try:
        provider = trace.get_tracer_provider()
        default = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
        return not isinstance(provider, default)
    except Exception as exc:
        warn_once("bridge-detect", "codetrace: cannot inspect OpenTelemetry; not bridging", exc=exc)
        return False


_MARKER: Any = None
_UNKNOWN: Any = object()


def _marker(context: Any) -> Any:
    """The context key under which a bridged span leaves its OpenTelemetry span (one per process).

    Keys made by ``create_key`` are unique, so a key made per :class:`Bridge` would not match
    contexts attached by an earlier bridge (after ``configure()``): keep one.
    """
    global _MARKER
    if _MARKER is None:
        _MARKER = context.create_key("codetrace-span")
    return _MARKER


class Bridge:
    """Starts codetrace spans as OpenTelemetry spans (see the module docstring).

    Construction imports the OpenTelemetry API and raises ``ImportError`` without it; the
    caller then keeps codetrace's own pipeline.
    """

    def __init__(self) -> None:
        from opentelemetry import baggage, context, propagate, trace
        from opentelemetry.trace.status import Status, StatusCode

        self._trace = trace
        self._baggage = baggage
        self._propagate = propagate
        self._status = Status
        self._status_codes = {1: StatusCode.OK, 2: StatusCode.ERROR}
        self._kinds = {
            1: trace.SpanKind.INTERNAL,
            2: trace.SpanKind.SERVER,
            3: trace.SpanKind.CLIENT,
            4: trace.SpanKind.PRODUCER,
            5: trace.SpanKind.CONSUMER,
        }
        # The API's global tracer: a proxy until a provider is installed, then the real one.
        self._tracer = trace.get_tracer(TRACER_NAME, __version__)
        self._get_current = context.get_current
        self._set_value = context.set_value
        self._attach = context.attach
        self._detach = context.detach
        self._empty_context = context.Context
        self._marker = _marker(context)
        # Where OpenTelemetry's HTTP instrumentations look to know a higher-level span already
        # covers a request (private to the API, hence the getattr; without it, nothing set).
        self._suppress_http = getattr(context, "_SUPPRESS_HTTP_INSTRUMENTATION_KEY", None)

    # -- starting spans ------------------------------------------------------------------------

    def start(
        self,
        name: str,
        kind: int,
        attributes: Mapping[str, object] | None,
        parent: Context | Span | None,
    ) -> BridgeSpan:
        """Start an OpenTelemetry span under the right parent and wrap it. May raise."""
        parent_context = self.parent_context(parent)
        cleaned: dict[str, AttributeValue] | None = None
        dropped = 0
        if attributes:
            cleaned, dropped = clean_attributes(attributes)
        start_ns = time_ns()
        otel_span = self._tracer.start_span(
            name,
            context=parent_context,
            kind=self._kinds.get(kind, self._trace.SpanKind.INTERNAL),
            attributes=cleaned,
            start_time=start_ns,
        )
        span_context = otel_span.get_span_context()
        # The SDK's span knows its parent; other implementations: look it up in the context.
        parent_span_context = getattr(otel_span, "parent", _UNKNOWN)
        if parent_span_context is _UNKNOWN:
            parent_span_context = self._trace.get_current_span(parent_context).get_span_context()
        if (
            parent_span_context is not None
            and parent_span_context.is_valid
            and parent_span_context.trace_id == span_context.trace_id
        ):
            parent_id = parent_span_context.span_id
            is_remote_parent = bool(parent_span_context.is_remote)
        else:
            parent_id = 0
            is_remote_parent = False
        trace_state = span_context.trace_state
        started = BridgeSpan(
            name,
            span_context.trace_id,
            span_context.span_id,
            parent_id,
            int(span_context.trace_flags),
            trace_state.to_header() if trace_state else "",
            kind,
            start_ns,
            cleaned,
            is_remote_parent=is_remote_parent,
            baggage=getattr(parent, "baggage", ()),
            recording=bool(otel_span.is_recording()),
        )
        started.dropped_attributes_count = dropped
        started._otel = otel_span
        started._otel_parent = parent_context
        started._bridge = self
        return started

    def parent_context(self, parent: Context | Span | None) -> Any:
        """The OpenTelemetry context to start a span in; ``None`` means OpenTelemetry's current.

        See the module docstring for the rule between codetrace's current span and
        OpenTelemetry's current context.
        """
        if parent is not None:
            return self.context_of(parent)
        ours = current.get()
        if ours is None:
            return None
        if isinstance(ours, BridgeSpan) and self._get_current().get(self._marker) is ours._otel:
            return None
        return self.context_of(ours)

    def context_of(self, source: Context | Span) -> Any:
        """An OpenTelemetry context whose current span is ``source`` (with its baggage)."""
        if isinstance(source, BridgeSpan) and source._bridge is self:
            return source.otel_context()
        trace = self._trace
        context = self._empty_context()
        if source.trace_id and source.span_id:
            trace_state = (
                trace.TraceState.from_header([source.trace_state]) if source.trace_state else None
            )
            span_context = trace.SpanContext(
                source.trace_id,
                source.span_id,
                is_remote=bool(source.is_remote),
                trace_flags=trace.TraceFlags(source.trace_flags & 0xFF),
                trace_state=trace_state,
            )
            context = trace.set_span_in_context(trace.NonRecordingSpan(span_context), context)
        for key, value, _properties in source.baggage:
            context = self._baggage.set_baggage(key, value, context)
        return context

    def attach(self, span: Span | None) -> Any:
        """Attach a context whose current span is ``span`` (none: an empty one); its token."""
        return self._attach(self.context_of(span) if span is not None else self._empty_context())

    def detach(self, token: Any) -> None:
        """Detach what :meth:`attach` attached."""
        self._detach(token)

    def current_context(self) -> Any:
        """The OpenTelemetry context that stands for "here" (what ``inject()`` propagates)."""
        context = self.parent_context(None)
        return self._get_current() if context is None else context

    # -- propagation ---------------------------------------------------------------------------

    def inject(self, carrier: MutableMapping[str, str], source: Span | Context | None) -> None:
        """Write the trace context of ``source`` (default: here) with the global propagator."""
        context = self.context_of(source) if source is not None else self.current_context()
        self._propagate.inject(carrier, context=context)

    def extract(self, headers: Mapping[str, str]) -> Context:
        """Read ``headers`` (lowercase names) with the global propagator into a ``Context``."""
        context = self._propagate.extract(headers)
        span_context = self._trace.get_current_span(context).get_span_context()
        entries: list[BaggageEntry] = []
        for key, value in self._baggage.get_all(context).items():
            if isinstance(key, str) and isinstance(value, str):
                entries.append((key, value, ""))
        if not span_context.is_valid:
            return Context(baggage=tuple(entries))
        trace_state = span_context.trace_state
        return Context(
            span_context.trace_id,
            span_context.span_id,
            int(span_context.trace_flags),
            trace_state.to_header() if trace_state else "",
            tuple(entries),
        )

    def header_names(self) -> tuple[str, ...]:
        """The (lowercase) header names the global propagator reads and writes."""
        return tuple(sorted(name.lower() for name in self._propagate.get_global_textmap().fields))

    # -- flushing ------------------------------------------------------------------------------

    def force_flush(self, timeout_s: float) -> bool:
        """Flush the installed provider, if it can be flushed (the SDK's can)."""
        provider = self._trace.get_tracer_provider()
        flush = getattr(provider, "force_flush", None)
        if flush is None:
            return True
        return bool(flush(int(timeout_s * 1000)))

    # -- finishing spans -----------------------------------------------------------------------

    def finish(self, span: BridgeSpan, recorded: bool) -> None:
        """Hand what ``span`` recorded to its OpenTelemetry span, then end that. May raise."""
        otel_span = span._otel
        if recorded:
            if span.name != span._start_name:
                otel_span.update_name(span.name)
            if span.attributes:
                otel_span.set_attributes(span.attributes)
            for event in span.events:
                otel_span.add_event(event.name, event.attributes, event.time_ns)
            code = self._status_codes.get(span.status_code)
            if code is not None:
                otel_span.set_status(self._status(code, span.status_message or None))
        otel_span.end(end_time=span.end_ns)


class BridgeSpan(Span):
    """A codetrace span backed by an OpenTelemetry span (see the module docstring).

    Built only by :meth:`Bridge.start`, which sets the OpenTelemetry span, its parent context
    and the bridge right after construction.
    """

    __slots__ = ("_bridge", "_otel", "_otel_context", "_otel_parent", "_otel_token", "_start_name")

    def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(name, *args, **kwargs)
        self._start_name = name
        self._otel: Any = None
        self._otel_parent: Any = None
        self._otel_context: Any = None
        self._otel_token: Any = None
        self._bridge: Bridge = _NO_BRIDGE

    @property
    def otel_span(self) -> Any:
        """The OpenTelemetry span behind this one."""
        return self._otel

    def otel_context(self) -> Any:
        """The OpenTelemetry context in which this span is current (built once, on demand).

        It holds the span under the marker key too, so contexts derived from it (hand-written
        spans started inside) can be recognised as descendants.
        """
        context = self._otel_context
        if context is None:
            bridge = self._bridge
            context = bridge._set_value(
                bridge._marker,
                self._otel,
                bridge._trace.set_span_in_context(self._otel, self._otel_parent),
            )
            if self.kind == SpanKind.CLIENT and bridge._suppress_http is not None:
                # A CLIENT span is the request: OpenTelemetry's own HTTP instrumentation
                # (opentelemetry-instrument, RequestsInstrumentor) must not add a second one.
                context = bridge._set_value(bridge._suppress_http, True, context)
            self._otel_context = context
        return context

    def activate(self) -> None:
        self._token = current.set(self)
        try:
            self._otel_token = self._bridge._attach(self.otel_context())
        except Exception as exc:
            warn_once("bridge-attach", "codetrace: cannot attach an OpenTelemetry context", exc=exc)

    def deactivate(self) -> None:
        otel_token = self._otel_token
        if otel_token is not None:
            self._otel_token = None
            try:
                self._bridge._detach(otel_token)
            except Exception as exc:
                warn_once(
                    "bridge-detach", "codetrace: cannot detach an OpenTelemetry context", exc=exc
                )
        super().deactivate()

    def __enter__(self) -> Span:
        self.activate()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is not None and self._recording and is_failure(exc):
            try:
                self.fail(exc)
            except Exception as error:  # pragma: no cover - never mask the user's exception
                warn_once("fail", "codetrace: could not record an exception", exc=error)
        self.end()
        self.deactivate()

    def end(self, end_ns: int | None = None) -> None:
        if self.end_ns:
            return
        self.end_ns = end_ns if end_ns is not None else time_ns()
        recorded = self._recording
        self._recording = False
        try:
            self._bridge.finish(self, recorded)
        except Exception as exc:
            warn_once("bridge-end", "codetrace: an OpenTelemetry span failed to end", exc=exc)


class _NoBridge:
    """Stand-in until :meth:`Bridge.start` sets the real bridge (never used in practice)."""

    def finish(self, span: BridgeSpan, recorded: bool) -> None:
        return None


_NO_BRIDGE: Any = _NoBridge()
