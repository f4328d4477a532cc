"""Structural types: the span as exporters read it, and what plugs into the runtime.

Only type checkers import this module: the runtime guards every import of it with
``TYPE_CHECKING``, so :mod:`typing` never lands in an instrumented program's start-up. Exporter
and processor authors (the OTLP exporter, the batch processor, users) implement these shapes;
nothing needs to inherit from them.

The seam, in one place:

* :class:`SpanData` is THE span protocol: the read-only fields of a finished span, which is
  all exporters and encoders read (``_span.Span`` has them as plain attributes; tests feed
  dataclasses). Ids are integers (128-bit trace id, 64-bit span id, ``parent_id == 0`` for a
  root); ``kind`` and ``status_code`` are the OTLP numbers, so encoding is a straight copy.
* :class:`Parent` is what a new span needs from its parent (a local span or an extracted
  ``Context``); :data:`Sampler` decides from it.
* a processor gets ``on_start(span)`` when a *recording* span starts and ``on_end(span)`` when it
  ends, and must answer ``force_flush(timeout_s)`` and ``shutdown()``;
* an exporter gets ``export(spans)`` with finished spans and returns ``True`` on success;
* ``register_exporter(name, factory, processor="simple" | "batch")`` makes ``name`` usable in
  ``OTEL_TRACES_EXPORTER``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from ._span import Span
from ._values import AttributeValue, BaggageEntry, Primitive

__all__ = [
    "AttributeValue",
    "Attributes",
    "BaggageEntry",
    "EventData",
    "Parent",
    "Primitive",
    "Sampler",
    "SpanData",
    "SpanExporter",
    "SpanProcessor",
]

Attributes = Mapping[str, Primitive | Sequence[Primitive]]
"""Attributes as readers take them: a primitive or a sequence of primitives per key (the
encoders also accept bytes and nested mappings, as OTLP's AnyValue does, and write anything
else as its string form)."""


class EventData(Protocol):
    """A timestamped annotation on a span (an OTLP ``Span.Event``)."""

    @property
    def name(self) -> str: ...
    @property
    def time_ns(self) -> int: ...
    @property
    def attributes(self) -> Attributes: ...


class SpanData(Protocol):
    """A finished span as exporters see it (the field names are a contract: never rename)."""

    @property
    def name(self) -> str: ...
    @property
    def trace_id(self) -> int: ...
    @property
    def span_id(self) -> int: ...
    @property
    def parent_id(self) -> int: ...
    @property
    def trace_flags(self) -> int:
        """Bit 0 sampled, bit 1 random trace id."""

    @property
    def trace_state(self) -> str: ...
    @property
    def kind(self) -> int: ...
    @property
    def start_ns(self) -> int: ...
    @property
    def end_ns(self) -> int: ...
    @property
    def attributes(self) -> Attributes: ...
    @property
    def status_code(self) -> int: ...
    @property
    def status_message(self) -> str: ...
    @property
    def events(self) -> Sequence[EventData]: ...
    @property
    def is_remote_parent(self) -> bool: ...


class Parent(Protocol):
    """What a new span needs from its parent: a local :class:`Span` or an extracted ``Context``."""

    @property
    def trace_id(self) -> int: ...
    @property
    def span_id(self) -> int: ...
    @property
    def trace_flags(self) -> int: ...
    @property
    def trace_state(self) -> str: ...
    @property
    def baggage(self) -> tuple[BaggageEntry, ...]: ...
    @property
    def is_remote(self) -> bool: ...


Sampler = Callable[[Parent | None, int], bool]
"""``sampler(parent, trace_id) -> sampled``; ``parent`` is ``None`` for a root span."""


class SpanExporter(Protocol):
    def export(self, spans: Sequence[Span]) -> bool: ...
    def shutdown(self) -> None: ...


class SpanProcessor(Protocol):
    def on_start(self, span: Span) -> None: ...
    def on_end(self, span: Span) -> None: ...
    def force_flush(self, timeout_s: float = 30.0) -> bool: ...
    def shutdown(self) -> None: ...
