"""Starting spans: parent lookup, ids, the sampling decision, processors' ``on_start``.

``span(name)`` is what ``with _codetrace.span("myapp.orders.create"):`` calls, and what every
adapter uses. It is written for the common path: one ``ContextVar.get``, one sampler call, one
or two ``getrandbits``, one ``time_ns``, one object. A span is *recording* (keeps attributes and
reaches the processors) only if it is sampled and something will export it; with the default
``OTEL_TRACES_EXPORTER=none`` spans still carry ids and flags for propagation but record
nothing.
"""

from __future__ import annotations

import os
from time import time_ns

from ._log import warn_once
from ._sampling import parentbased_always_on
from ._setup import bridge_failed, ensure_configured
from ._span import NOOP_SPAN, Span, current
from ._state import settings
from ._values import FLAG_RANDOM, FLAG_SAMPLED, SpanKind, StatusCode, clean_attributes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ._context import Context
    from ._protocols import Parent
    from ._values import AttributeValue

# -- ids: random, non-zero, from a private generator reseeded after fork ------------------------


def _new_generator() -> Callable[[int], int]:
    """``getrandbits`` of a private generator seeded from ``os.urandom``, reseeded after fork.

    ``_random`` is the C generator behind :mod:`random`; importing it costs ~0.1 ms, where
    :mod:`random` itself costs ~2 ms (it imports ``hashlib`` helpers, ``math``, ``bisect``...).
    A private instance, reseeded in every forked child, keeps two processes forked from one
    parent from producing the same ids (what :mod:`random` does for its shared instance).
    """
    from _random import Random

    generator = Random()
    register_at_fork = getattr(os, "register_at_fork", None)
    if register_at_fork is not None:  # not on Windows, where there is no fork
        register_at_fork(after_in_child=generator.seed)
    return generator.getrandbits


getrandbits = _new_generator()
"""``getrandbits(bits)``: the runtime's id source (the C method itself, no Python frame)."""


def new_trace_id() -> int:
    """A random, non-zero 128-bit trace id (all 16 bytes random, so the W3C random flag holds)."""
    trace_id = getrandbits(128)
    while not trace_id:  # pragma: no cover - one chance in 2**128
        trace_id = getrandbits(128)
    return trace_id


def new_span_id() -> int:
    """A random, non-zero 64-bit span id."""
    span_id = getrandbits(64)
    while not span_id:  # pragma: no cover - one chance in 2**64
        span_id = getrandbits(64)
    return span_id


# -- starting spans ----------------------------------------------------------------------------

_new = object.__new__
_NO_PROCESSORS = ()


def span(
    name: str,
    *,
    kind: int = SpanKind.INTERNAL,
    attributes: Mapping[str, object] | None = None,
    parent: Context | Span | None = None,
) -> Span:
    """Start a span; use it as ``with span("name") as s:`` to make it current for the block.

    The block's exception, if any, is recorded (an ``exception`` event with ``exception.type``
    and ``exception.message``, ``error.type``, status ``ERROR``) and re-raised unchanged.
    ``parent`` overrides the current span: an extracted :class:`Context` continues a remote
    trace, and ``Context()`` (empty) starts a new one. Without ``with``, call ``activate()``/
    ``deactivate()`` and ``end()`` yourself.

    While bridged to OpenTelemetry (see ``_bridge``), the span is an OpenTelemetry span behind
    the same interface.
    """
    if settings.disabled:
        return NOOP_SPAN
    pipeline = settings.pipeline
    if pipeline is None:
        pipeline = ensure_configured()
    if pipeline.bridge is not None:
        try:
            return pipeline.bridge.start(name, kind, attributes, parent)
        except Exception as exc:
            pipeline = bridge_failed(pipeline.bridge, exc)
    source: Parent | None = parent if parent is not None else current.get()
    if source is not None and source.trace_id and source.span_id:
        trace_id = source.trace_id
        parent_id = source.span_id
        flags = source.trace_flags & FLAG_RANDOM
        trace_state = source.trace_state
        is_remote_parent = source.is_remote
        baggage = source.baggage
    else:
        baggage = source.baggage if source is not None else ()
        source = None
        trace_id = getrandbits(128) or new_trace_id()
        parent_id = 0
        flags = FLAG_RANDOM
        trace_state = ""
        is_remote_parent = False
    sampler = pipeline.sampler
    if sampler is parentbased_always_on:  # the default, decided here without a call
        sampled = source is None or bool(source.trace_flags & FLAG_SAMPLED)
    else:
        try:
            sampled = sampler(source, trace_id)
        except Exception as exc:
            warn_once("sampler-error", "codetrace: the sampler raised; span not sampled", exc=exc)
            sampled = False
    processors = pipeline.processors
    recording = sampled and bool(processors)
    cleaned: dict[str, AttributeValue] = {}
    dropped = 0
    if attributes and recording:
        cleaned, dropped = clean_attributes(attributes)
    # The span's fields set here rather than through ``Span(...)``: keyword arguments and the
    # extra frame cost more than all the stores together (benchmarks/runtime_span.py). Every
    # slot of ``Span.__init__`` must be set here too (tests/runtime_bridge checks it).
    started: Span = _new(Span)
    started.name = name
    started.trace_id = trace_id
    started.span_id = getrandbits(64) or new_span_id()
    started.parent_id = parent_id
    started.trace_flags = flags | FLAG_SAMPLED if sampled else flags
    started.trace_state = trace_state
    started.kind = kind
    started.start_ns = time_ns()
    started.end_ns = 0
    started.attributes = cleaned
    started.status_code = StatusCode.UNSET
    started.status_message = ""
    started.events = []
    started.is_remote_parent = is_remote_parent
    started.is_remote = False
    started.baggage = baggage
    started.dropped_attributes_count = dropped
    started.dropped_events_count = 0
    started._token = None
    if not recording:
        started._processors = _NO_PROCESSORS
        started._recording = False
        return started
    started._processors = processors
    started._recording = True
    starters = pipeline.starters
    if not starters:
        return started
    for processor in starters:
        try:
            processor.on_start(started)
        except Exception as exc:
            warn_once(
                f"on_start:{type(processor).__qualname__}",
                "codetrace: span processor %s failed in on_start",
                type(processor).__qualname__,
                exc=exc,
            )
    return started
