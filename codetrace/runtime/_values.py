"""The values a span holds: kinds, status codes, flags, and attributes (and how anything else
is made to fit).

Kinds and status codes are classes of ``int`` constants carrying the OTLP numbers, not
:mod:`enum` members: importing :mod:`enum` costs milliseconds and comparing ints costs nothing.

Attributes follow the OpenTelemetry definition: a primitive (``str``, ``bool``, ``int``,
``float``) or a list of primitives. :func:`clean_value` turns whatever an application or an
adapter hands over into one of those (or drops it) without ever raising; :func:`clean_attributes`
does a whole mapping and applies the attribute count limit (:data:`span_attribute_count_limit`,
128 unless ``_limits`` installed another one when the pipeline was built);
:func:`truncate_value` applies a value length limit.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

Primitive = str | bool | int | float
AttributeValue = str | bool | int | float | list[Primitive]
BaggageEntry = tuple[str, str, str]
"""One baggage list-member: ``(key, decoded value, properties as written, ';'-joined)``."""


class SpanKind:
    """Span kinds, as the OTLP numbers exporters write."""

    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode:
    """Span status codes, as the OTLP numbers exporters write."""

    UNSET = 0
    OK = 1
    ERROR = 2


KIND_NAMES = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUS_NAMES = {0: "UNSET", 1: "OK", 2: "ERROR"}

FLAG_SAMPLED = 0x01
FLAG_RANDOM = 0x02


MAX_ATTRIBUTES = 128
"""The default attribute count limit, per span and per event (the OpenTelemetry default)."""

span_attribute_count_limit = MAX_ATTRIBUTES
"""Attributes :func:`clean_attributes` keeps by default (a span's start attributes): a module
global, rebound by ``_limits.install`` when a pipeline is built, so the check costs what a
constant does."""


def qualified_name(cls: type) -> str:
    """``module.QualName`` of an exception class, bare for builtins (``ValueError``)."""
    module = getattr(cls, "__module__", None)
    qualname = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", "Exception")
    if not module or module == "builtins":
        return str(qualname)
    return f"{module}.{qualname}"


def safe_str(value: object) -> str:
    """``str(value)``, or a placeholder when ``__str__`` raises."""
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def clean_value(value: object) -> AttributeValue | None:
    """The attribute value to store for ``value``, or ``None`` to drop it.

    Primitives are kept; subclasses (``IntEnum``, ``str`` subclasses) become their base type;
    lists and tuples become lists of primitives; anything else becomes its ``str()``.
    """
    # Exact primitives first, one identity test each: this runs for every attribute set.
    if type(value) is str or type(value) is int or type(value) is bool or type(value) is float:
        return value
    if value is None:
        return None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple)):
        items: list[Primitive] = []
        for item in value:
            cleaned = clean_value(item)
            if cleaned is not None and not isinstance(cleaned, list):
                items.append(cleaned)
        return items
    return safe_str(value)


def clean_attributes(
    attributes: Mapping[str, object], limit: int | None = None
) -> tuple[dict[str, AttributeValue], int]:
    """A fresh attribute dict from ``attributes`` (values cleaned) and the count dropped.

    At most ``limit`` keys are kept (default: :data:`span_attribute_count_limit`), the first
    ones; the others are counted.
    """
    if limit is None:
        limit = span_attribute_count_limit
    result: dict[str, AttributeValue] = {}
    dropped = 0
    try:
        items = list(attributes.items())
    except Exception:
        return result, 0
    for key, value in items:
        cleaned = clean_value(value)
        if cleaned is None or not isinstance(key, str):
            continue
        if len(result) >= limit and key not in result:
            dropped += 1
            continue
        result[key] = cleaned
    return result, dropped


def truncate_value(value: AttributeValue, length: int) -> AttributeValue:
    """``value`` with every string in it cut to ``length`` characters (the OpenTelemetry value
    length limit: strings, and each string of a list; other types are left alone).

    Returns ``value`` itself when nothing is cut, so a caller can tell by identity.
    """
    if type(value) is str:
        return value[:length] if len(value) > length else value
    if type(value) is list and any(type(item) is str and len(item) > length for item in value):
        return [
            item[:length] if type(item) is str and len(item) > length else item for item in value
        ]
    return value
