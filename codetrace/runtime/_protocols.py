"""Structural types shared by the runtime and by what plugs into it (exporters, processors).

Only type checkers import this module: the runtime guards every import of it with
``TYPE_CHECKING``, so :mod:`typing` never lands in an instrumented program's start-up. Exporter
and processor authors (the OTLP exporter, the batch processor, users) implement these shapes;
nothing needs to inherit from them.

The seam, in one place:

* a finished :class:`~codetrace.runtime.Span` is plain data (see its docstring for the fields);
* a processor gets ``on_start(span)`` when a *recording* span starts and ``on_end(span)`` when it
  ends, and must answer ``force_flush(timeout_s)`` and ``shutdown()``;
* an exporter gets ``export(spans)`` with finished spans and returns ``True`` on success;
* ``register_exporter(name, factory, processor="simple" | "batch")`` makes ``name`` usable in
  ``OTEL_TRACES_EXPORTER``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from ._span import Span

Primitive = str | bool | int | float
AttributeValue = str | bool | int | float | list[Primitive]
BaggageEntry = tuple[str, str, str]
"""One baggage list-member: ``(key, decoded value, properties as written, ';'-joined)``."""


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
