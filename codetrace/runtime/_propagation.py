"""``inject`` and ``extract``: trace context into outgoing headers and out of incoming ones.

The formats are chosen by ``OTEL_PROPAGATORS`` (comma-separated, read on first use):
``tracecontext`` (W3C ``traceparent``/``tracestate``), ``baggage`` (W3C ``baggage``), ``b3``
(single header), ``b3multi`` (``X-B3-*``), ``none``; the default is ``tracecontext,baggage``.
``extract`` applies them in order, a later valid trace context replacing an earlier one.

Carriers are mappings of header names to values (a ``dict``, a ``requests``
``CaseInsensitiveDict``, ``http.client`` or ``werkzeug`` headers...). Lookups are
case-insensitive, as HTTP header names are; several values for one name (several keys differing
in case, or a list value) are joined with ``,`` as RFC 7230 says, which is how a duplicated
``traceparent`` becomes invalid and several ``tracestate`` headers combine. ``inject`` writes
lowercase names. Neither ever raises: malformed input is ignored (a new trace starts), as the
specifications require.
"""

from __future__ import annotations

from . import _b3
from ._baggage import format_baggage, parse_baggage
from ._config import ensure_configured, settings
from ._context import Context
from ._log import warn_once
from ._span import Span, current
from ._tracecontext import parse_traceparent, parse_tracestate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping, Sequence

    from ._bridge import Bridge

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
            carrier["tracestate"] = source.trace_state

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
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    result: list[Propagator] = []
    for name in dict.fromkeys(name.strip().lower() for name in names):
        if not name or name == "none":
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


def propagators() -> tuple[Propagator, ...]:
    """The configured propagators (from ``OTEL_PROPAGATORS`` on first use)."""
    configured = settings.propagators
    if configured is None:
        import os

        configured = make_propagators(os.environ.get("OTEL_PROPAGATORS", DEFAULT_PROPAGATORS))
        settings.propagators = configured
    return configured  # type: ignore[return-value]


def _text(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, bytes):
        return [value.decode("latin-1")]
    if isinstance(value, (list, tuple)):
        return [item for element in value for item in _text(element)]
    return []


def collect_headers(carrier: Mapping[str, object], names: Sequence[str]) -> dict[str, str]:
    """``{lowercase name: value}`` for ``names`` in ``carrier``, any case, joined by ``,``."""
    wanted = frozenset(names)
    found: dict[str, list[str]] = {}
    for key, value in carrier.items():
        if isinstance(key, bytes):
            key = key.decode("latin-1")
        if not isinstance(key, str):
            continue
        lower = key.lower()
        if lower in wanted:
            found.setdefault(lower, []).extend(_text(value))
    return {name: ",".join(values) for name, values in found.items() if values}


def _active_bridge() -> Bridge | None:
    """The OpenTelemetry bridge if spans go through it (then so does propagation)."""
    pipeline = settings.pipeline
    if pipeline is None:
        pipeline = ensure_configured()
    return pipeline.bridge


def _bridge_failed(operation: str, exc: Exception) -> None:
    warn_once(
        f"bridge-{operation}",
        "codetrace: OpenTelemetry's propagator failed in %s; using codetrace's",
        operation,
        exc=exc,
    )


def header_names() -> tuple[str, ...]:
    """The (lowercase) header names the configured propagators read and write."""
    bridge = _active_bridge()
    if bridge is not None:
        try:
            return bridge.header_names()
        except Exception as exc:
            _bridge_failed("fields", exc)
    return tuple(name for propagator in propagators() for name in propagator.fields)


def extract_from_headers(headers: Mapping[str, str]) -> Context:
    """``extract`` for headers already collected by :func:`collect_headers`."""
    bridge = _active_bridge()
    if bridge is not None:
        try:
            return bridge.extract(headers)
        except Exception as exc:
            _bridge_failed("extract", exc)
    context = Context()
    for propagator in propagators():
        context = propagator.extract(headers, context)
    return context


def extract(carrier: Mapping[str, object]) -> Context:
    """The trace context and baggage in ``carrier`` (an empty ``Context`` if there is none).

    Pass the result as ``span(..., parent=ctx)`` or to ``use_context(ctx)`` to continue the
    caller's trace. While bridged to OpenTelemetry, its global propagator reads the carrier.
    """
    if settings.disabled:
        return Context()
    try:
        return extract_from_headers(collect_headers(carrier, header_names()))
    except Exception as exc:
        warn_once("extract", "codetrace: extract failed; starting a new trace", exc=exc)
        return Context()


def inject(carrier: MutableMapping[str, str], *, span: Span | Context | None = None) -> None:
    """Write the current span's (or ``span``'s) trace context and baggage into ``carrier``.

    An unsampled span still propagates its ids (with the sampled flag off); outside any span
    nothing is written. While bridged to OpenTelemetry, its global propagator writes the
    carrier, and "current" includes hand-written OpenTelemetry spans (and baggage).
    """
    if settings.disabled:
        return
    try:
        # ``_active_bridge()`` and ``propagators()`` written out: a traced HTTP call runs this.
        pipeline = settings.pipeline
        if pipeline is None:
            pipeline = ensure_configured()
        bridge = pipeline.bridge
        if bridge is not None:
            try:
                bridge.inject(carrier, span)
                return
            except Exception as exc:
                _bridge_failed("inject", exc)
        source = span if span is not None else current.get()
        if source is None:
            return
        configured = settings.propagators
        for propagator in propagators() if configured is None else configured:
            propagator.inject(source, carrier)  # type: ignore[attr-defined]
    except Exception as exc:
        warn_once("inject", "codetrace: inject failed; headers left as they were", exc=exc)
