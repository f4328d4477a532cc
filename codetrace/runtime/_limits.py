"""Span limits: how many attributes and events a span keeps, and how long a string may be.

Erroneous code (an attribute set in a loop, an event per row) must not grow a span without
bound, and a collector rejects or truncates what is too large anyway. The limits and their
variables are the OpenTelemetry SDK's (the specification's "Span Limits"):

=========================================  ================================================
``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT``        attributes per span; else
                                           ``OTEL_ATTRIBUTE_COUNT_LIMIT``; else 128
``OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`` characters per string value of a span attribute
                                           (each string of a list too); else
                                           ``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``; else none
``OTEL_SPAN_EVENT_COUNT_LIMIT``            events per span; else 128
``OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT``       attributes per event; else
                                           ``OTEL_ATTRIBUTE_COUNT_LIMIT``; else 128
``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT``      characters per string value of an event attribute
                                           (and the span attributes' fallback); else none
``OTEL_SPAN_LINK_COUNT_LIMIT``             links per span; else 128
``OTEL_LINK_ATTRIBUTE_COUNT_LIMIT``        attributes per link; else
                                           ``OTEL_ATTRIBUTE_COUNT_LIMIT``; else 128
=========================================  ================================================

A value is a whole number ``>= 0`` (``0`` keeps nothing). Anything else is logged once and
treated as unset, so the next variable in the chain, or the default, applies. codetrace spans
have no links (nothing in the runtime creates one), so the two link limits are read and
checked but change nothing. What is over a limit is dropped and counted
(``dropped_attributes_count``, ``dropped_events_count``, an event's
``dropped_attributes_count``), and the OTLP exporters send the counts.

The variables are read once, when a pipeline that records spans is built (``_setup``), never
per span. Two places apply them:

* while a span records, counts are checked as things are added (``Span.set_attribute``,
  ``add_event``, the start attributes): that is what keeps memory bounded. The limits in force
  are module globals of ``_span`` and ``_values``, rebound by :func:`install`, so the check
  costs what checking against a constant did;
* when limits other than the defaults are configured, a processor placed first in the
  pipeline (:class:`SpanLimitsProcessor`) finishes the job as each span ends, before any
  exporter sees it: it cuts string values to the length limits, and drops attributes that
  adapters wrote straight into ``span.attributes`` past the count limit (they do so for a few
  known attributes, to save a call per span). With the defaults (no length limit) there is no
  such processor, and no cost.
"""

from __future__ import annotations

from . import _span, _values
from ._env import env_value
from ._log import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._protocols import SpanProcessor
    from ._span import Span

DEFAULT_COUNT = 128
"""The default of every count limit (the OpenTelemetry SDK's)."""

ENV_VARIABLES = (
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT",
    "OTEL_SPAN_LINK_COUNT_LIMIT",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
)
"""Every variable this module reads."""


class SpanLimits:
    """The limits of one pipeline; ``None`` for a length means no limit."""

    __slots__ = (
        "attribute_count",
        "attribute_value_length",
        "event_attribute_count",
        "event_attribute_value_length",
        "event_count",
        "link_attribute_count",
        "link_count",
    )

    def __init__(
        self,
        *,
        attribute_count: int = DEFAULT_COUNT,
        attribute_value_length: int | None = None,
        event_count: int = DEFAULT_COUNT,
        event_attribute_count: int = DEFAULT_COUNT,
        event_attribute_value_length: int | None = None,
        link_count: int = DEFAULT_COUNT,
        link_attribute_count: int = DEFAULT_COUNT,
    ) -> None:
        self.attribute_count = attribute_count
        self.attribute_value_length = attribute_value_length
        self.event_count = event_count
        self.event_attribute_count = event_attribute_count
        self.event_attribute_value_length = event_attribute_value_length
        self.link_count = link_count
        self.link_attribute_count = link_attribute_count

    def _fields(self) -> tuple[int | None, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpanLimits) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"SpanLimits({fields})"

    @property
    def is_default(self) -> bool:
        """Whether these are the OpenTelemetry defaults (128 of everything, no length limit)."""
        return self == DEFAULT_LIMITS


DEFAULT_LIMITS = SpanLimits()


def _limit(name: str) -> int | None:
    """The whole number ``>= 0`` in the variable ``name``; ``None`` if unset, blank or invalid
    (invalid is logged once)."""
    raw = env_value(name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value >= 0:
        return value
    warn_once(
        f"limit:{name}:{raw}",
        "codetrace: invalid %s=%r (expected a whole number >= 0); ignored",
        name,
        raw,
    )
    return None


def _first(*values: int | None, default: int) -> int:
    for value in values:
        if value is not None:
            return value
    return default


def limits_from_env() -> SpanLimits:
    """The limits the ``OTEL_*_LIMIT`` variables ask for (see the module docstring)."""
    general_count = _limit("OTEL_ATTRIBUTE_COUNT_LIMIT")
    general_length = _limit("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")
    span_length = _limit("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT")
    return SpanLimits(
        attribute_count=_first(
            _limit("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"), general_count, default=DEFAULT_COUNT
        ),
        attribute_value_length=span_length if span_length is not None else general_length,
        event_count=_first(_limit("OTEL_SPAN_EVENT_COUNT_LIMIT"), default=DEFAULT_COUNT),
        event_attribute_count=_first(
            _limit("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT"), general_count, default=DEFAULT_COUNT
        ),
        event_attribute_value_length=general_length,
        link_count=_first(_limit("OTEL_SPAN_LINK_COUNT_LIMIT"), default=DEFAULT_COUNT),
        link_attribute_count=_first(
            _limit("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT"), general_count, default=DEFAULT_COUNT
        ),
    )


def install(limits: SpanLimits) -> None:
    """Make ``limits`` the counts every recording span checks from now on."""
    _span.attribute_count_limit = limits.attribute_count
    _span.event_count_limit = limits.event_count
    _span.event_attribute_count_limit = limits.event_attribute_count
    _values.span_attribute_count_limit = limits.attribute_count


def with_span_limits(processors: tuple[SpanProcessor, ...]) -> tuple[SpanProcessor, ...]:
    """The processors of a new pipeline, with the limits applied (what ``_setup`` calls).

    A pipeline that records (``processors`` not empty) reads the variables now and installs
    them; other limits than the defaults put a :class:`SpanLimitsProcessor` first. A pipeline
    that records nothing (tracing off, bridged to OpenTelemetry) reads nothing and puts the
    defaults back, which is also what the bridge's start attributes are checked against (the
    OpenTelemetry SDK then applies its own limits).
    """
    if not processors:
        install(DEFAULT_LIMITS)
        return processors
    limits = limits_from_env()
    install(limits)
    if limits.is_default:
        return processors
    return (SpanLimitsProcessor(limits), *processors)


class SpanLimitsProcessor:
    """The first processor of a pipeline with configured limits: applies them as a span ends.

    Cuts the string values of the span's and its events' attributes to the length limits, and
    drops (and counts) attributes past the count limit, keeping the first ones set, which is
    what checking each one as it was set would have kept.
    """

    __slots__ = ("limits",)

    def __init__(self, limits: SpanLimits) -> None:
        self.limits = limits

    def on_start(self, span: Span) -> None:
        return None

    def on_end(self, span: Span) -> None:
        limits = self.limits
        span.dropped_attributes_count += _limit_attributes(
            span.attributes, limits.attribute_count, limits.attribute_value_length
        )
        length = limits.event_attribute_value_length
        for event in span.events:
            event.dropped_attributes_count += _limit_attributes(
                event.attributes, limits.event_attribute_count, length
            )

    def force_flush(self, timeout_s: float = 30.0) -> bool:
        return True

    def shutdown(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"SpanLimitsProcessor({self.limits!r})"


def _limit_attributes(
    attributes: dict[str, _values.AttributeValue], count: int, length: int | None
) -> int:
    """Apply ``count`` and ``length`` to ``attributes`` in place; the number dropped."""
    dropped = 0
    if len(attributes) > count:
        extra = list(attributes)[count:]
        for key in extra:
            del attributes[key]
        dropped = len(extra)
    if length is not None:
        for key, value in list(attributes.items()):
            cut = _values.truncate_value(value, length)
            if cut is not value:
                attributes[key] = cut
    return dropped
