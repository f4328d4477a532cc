"""The propagation formats: W3C Trace Context, W3C Baggage, B3 single and multi.

Each propagator reads its headers into a ``Context`` (``extract``) and writes a span's or a
context's into a carrier (``inject``); ``fields`` are the (lowercase) header names it uses.
``OTEL_PROPAGATORS`` (comma-separated: ``tracecontext``, ``baggage``, ``b3``, ``b3multi``,
``none``; default ``tracecontext,baggage``) chooses them: ``_propagation`` reads it on first
use, ``configure`` can set them in code; both keep the result in ``_state.settings``.
"""

from __future__ import annotations

from . import _b3
from ._baggage import format_baggage, parse_baggage
from ._context import Context
from ._env import split_names
from ._log import warn_once
from ._tracecontext import parse_traceparent, parse_tracestate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping, Sequence

    from ._span import Span

DEFAULT_PROPAGATORS = "tracecontext,baggage"


class TraceContextPropagator:
    """W3C ``traceparent`` and ``tracestate``."""

    fields = ("traceparent", "tracestate")

    def inject(self, source: Span | Context, carrier: MutableMapping[str, str]) -> None:
        trace_id = source.trace_id
        span_id = source.span_id
        if not (trace_id and span_id):
            return
        # format_traceparent written out, with bytes.hex rather than a "032x" format spec, which
        # costs microseconds more where it matters: on every traced HTTP call, with cold caches
        # (benchmarks/runtime_requests.py). An id too big to be valid raises: nothing sent.
        carrier["traceparent"] = (
            f"00-{trace_id.to_bytes(16, 'big').hex()}-{span_id.to_bytes(8, 'big').hex()}"
            f"-0{source.trace_flags & 3}"
        )
        if source.trace_state:
            state = _checked_state(source.trace_state)
            if state:
                carrier["tracestate"] = state


    def extract(self, headers: Mapping[str, str], context: Context) -> Context:
        traceparent = headers.get("traceparent")
        if traceparent is None:
            return context
        parsed = parse_traceparent(traceparent)
        if parsed is None:
            return context
        trace_state = ""
        raw_state = headers.get("tracestate")
        if raw_state is not None:
            trace_state = parse_tracestate(raw_state) or ""
        trace_id, span_id, flags = parsed
        return Context(trace_id, span_id, flags, trace_state, context.baggage)


class BaggagePropagator:
    """W3C ``baggage``."""

    fields = ("baggage",)

    def inject(self, source: Span | Context, carrier: MutableMapping[str, str]) -> None:
        if source.baggage:
            value = format_baggage(source.baggage)
            if value:
                carrier["baggage"] = value

    def extract(self, headers: Mapping[str, str], context: Context) -> Context:
        raw = headers.get("baggage")
        if raw is None:
            return context
        entries = parse_baggage(raw)
        if not entries:
            return context
        return Context(
            context.trace_id, context.span_id, context.trace_flags, context.trace_state, entries
        )


_checked: dict[str, str] = {}


def _checked_state(state: str) -> str:
    """``state`` as a valid ``tracestate``, or ``""``: whatever built the context (user code
    too), nothing that breaks the header grammar (a CR/LF, an invalid member) is written."""
    known = _checked.get(state)
    if known is None:
        known = parse_tracestate(state) or ""
        if len(_checked) >= 256:
            _checked.clear()
        _checked[state] = known
    return known


class B3SinglePropagator:
    """Zipkin ``b3`` single header."""

    fields = (_b3.SINGLE,)

    def inject(self, source: Span | Context, carrier: MutableMapping[str, str]) -> None:
        if source.trace_id and source.span_id:
            carrier[_b3.SINGLE] = _b3.format_single(
                source.trace_id, source.span_id, source.trace_flags
            )

    def extract(self, headers: Mapping[str, str], context: Context) -> Context:
        raw = headers.get(_b3.SINGLE)
        parsed = _b3.parse_single(raw) if raw is not None else None
        if parsed is None:
            return context
        return Context(parsed[0], parsed[1], parsed[2], "", context.baggage)


class B3MultiPropagator:
    """Zipkin ``X-B3-*`` headers."""

    fields = (_b3.TRACE_ID, _b3.SPAN_ID, _b3.SAMPLED, _b3.FLAGS)

    def inject(self, source: Span | Context, carrier: MutableMapping[str, str]) -> None:
        if source.trace_id and source.span_id:
            carrier[_b3.TRACE_ID] = f"{source.trace_id:032x}"
            carrier[_b3.SPAN_ID] = f"{source.span_id:016x}"
            carrier[_b3.SAMPLED] = "1" if source.trace_flags & 1 else "0"

    def extract(self, headers: Mapping[str, str], context: Context) -> Context:
        parsed = _b3.parse_multi(
            headers.get(_b3.TRACE_ID),
            headers.get(_b3.SPAN_ID),
            headers.get(_b3.SAMPLED),
            headers.get(_b3.FLAGS),
        )
        if parsed is None:
            return context
        return Context(parsed[0], parsed[1], parsed[2], "", context.baggage)


Propagator = TraceContextPropagator | BaggagePropagator | B3SinglePropagator | B3MultiPropagator

_BY_NAME: dict[str, type[Propagator]] = {
    "tracecontext": TraceContextPropagator,
    "baggage": BaggagePropagator,
    "b3": B3SinglePropagator,
    "b3multi": B3MultiPropagator,
}


def make_propagators(spec: str | Sequence[str]) -> tuple[Propagator, ...]:
    """The propagators named in ``spec`` (an ``OTEL_PROPAGATORS`` value, or a list of names)."""
    result: list[Propagator] = []
    for name in split_names(spec):
        if name == "none":
            continue
        cls = _BY_NAME.get(name)
        if cls is None:
            warn_once(
                f"propagator:{name}",
                "codetrace: unsupported OTEL_PROPAGATORS value %r; ignored",
                name,
            )
            continue
        result.append(cls())
    return tuple(result)
