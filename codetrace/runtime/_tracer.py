"""Starting spans: parent lookup, ids, the sampling decision, processors' ``on_start``.

``span(name)`` is what ``with _codetrace.span("myapp.orders.create"):`` calls, and what every
adapter uses. It is written for the common path: one ``ContextVar.get``, one sampler call, one
or two ``getrandbits``, one ``time_ns``, one object. A span is *recording* (keeps attributes and
reaches the processors) only if it is sampled and something will export it; with the default
``OTEL_TRACES_EXPORTER=none`` spans still carry ids and flags for propagation but record
nothing.
"""

from __future__ import annotations

from time import time_ns

from ._config import ensure_configured, settings
from ._log import warn_once
from ._span import (
    FLAG_RANDOM,
    FLAG_SAMPLED,
    NOOP_SPAN,
    Span,
    SpanKind,
    clean_attributes,
    current,
    new_span_id,
    new_trace_id,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._context import Context
    from ._protocols import AttributeValue, Parent


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
    """
    if settings.disabled:
        return NOOP_SPAN
    pipeline = settings.pipeline
    if pipeline is None:
        pipeline = ensure_configured()
    source: Parent | None = parent if parent is not None else current.get()
    baggage = source.baggage if source is not None else ()
    if source is not None and source.trace_id and source.span_id:
        trace_id = source.trace_id
        parent_id = source.span_id
        flags = source.trace_flags & FLAG_RANDOM
        trace_state = source.trace_state
        is_remote_parent = source.is_remote
    else:
        source = None
        trace_id = new_trace_id()
        parent_id = 0
        flags = FLAG_RANDOM
        trace_state = ""
        is_remote_parent = False
    try:
        sampled = pipeline.sampler(source, trace_id)
    except Exception as exc:
        warn_once("sampler-error", "codetrace: the sampler raised; span not sampled", exc=exc)
        sampled = False
    processors = pipeline.processors
    if not (sampled and processors):
        return Span(
            name,
            trace_id,
            new_span_id(),
            parent_id,
            flags | FLAG_SAMPLED if sampled else flags,
            trace_state,
            kind,
            time_ns(),
            is_remote_parent=is_remote_parent,
            baggage=baggage,
        )
    cleaned: dict[str, AttributeValue] | None = None
    dropped = 0
    if attributes:
        cleaned, dropped = clean_attributes(attributes)
    started = Span(
        name,
        trace_id,
        new_span_id(),
        parent_id,
        flags | FLAG_SAMPLED,
        trace_state,
        kind,
        time_ns(),
        cleaned,
        is_remote_parent=is_remote_parent,
        baggage=baggage,
        processors=processors,
        recording=True,
    )
    started.dropped_attributes_count = dropped
    for processor in pipeline.starters:
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
