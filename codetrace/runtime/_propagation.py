"""``inject`` and ``extract``: trace context into outgoing headers and out of incoming ones.

The formats are chosen by ``OTEL_PROPAGATORS`` (see ``_propagators``). ``extract`` applies them
in order, a later valid trace context replacing an earlier one.

Carriers are mappings of header names to values (a ``dict``, a ``requests``
``CaseInsensitiveDict``, ``http.client`` or ``werkzeug`` headers...). Lookups are
case-insensitive, as HTTP header names are; several values for one name (several keys differing
in case, or a list value) are joined with ``,`` as RFC 7230 says, which is how a duplicated
``traceparent`` becomes invalid and several ``tracestate`` headers combine. ``inject`` writes
lowercase names. Neither ever raises: malformed input is ignored (a new trace starts), as the
specifications require.
"""

from __future__ import annotations

from ._context import Context
from ._env import env_value
from ._log import warn_once
from ._setup import ensure_configured
from ._span import Span, current
from ._state import settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping, Sequence

    from ._bridge import Bridge
    from ._propagators import Propagator


def propagators() -> tuple[Propagator, ...]:
    """The configured propagators (from ``OTEL_PROPAGATORS`` on first use).

    The formats (``_propagators``) are imported here, on the first ``inject``/``extract``.
    """
    configured = settings.propagators
    if configured is None:
        from ._propagators import DEFAULT_PROPAGATORS, make_propagators

        configured = make_propagators(env_value("OTEL_PROPAGATORS") or DEFAULT_PROPAGATORS)
        settings.propagators = configured
    return configured


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
            propagator.inject(source, carrier)
    except Exception as exc:
        warn_once("inject", "codetrace: inject failed; headers left as they were", exc=exc)
