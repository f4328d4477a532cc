"""Resource attributes: which service produced the spans, read from the standard variables.

``OTEL_RESOURCE_ATTRIBUTES`` is ``key=value`` pairs separated by commas, with ``,``, ``=`` and
non-ASCII characters percent-encoded; as the OpenTelemetry specification asks, a value that does
not decode (an entry without ``=``, an empty key, a bad escape) discards the whole variable and
is logged once. ``OTEL_SERVICE_NAME`` wins over a ``service.name`` given there; the default is
``unknown_service``. The dict is built on first use (not at import) and cached until ``reset()``.
"""

from __future__ import annotations

from ._env import env_value, parse_key_values
from ._log import warn_once

_cached: dict[str, str] | None = None


def parse_resource_attributes(raw: str) -> dict[str, str] | None:
    """The attributes in an ``OTEL_RESOURCE_ATTRIBUTES`` value, or ``None`` if it is malformed."""
    pairs, malformed = parse_key_values(raw, errors="strict")
    return None if malformed else pairs


def _build() -> dict[str, str]:
    from ._version import __version__

    attributes: dict[str, str] = {}
    raw = env_value("OTEL_RESOURCE_ATTRIBUTES")
    if raw is not None:
        parsed = parse_resource_attributes(raw)
        if parsed is None:
            warn_once(
                "resource-attributes",
                "codetrace: OTEL_RESOURCE_ATTRIBUTES is malformed and was ignored: %r",
                raw,
            )
        else:
            attributes.update(parsed)
    service = env_value("OTEL_SERVICE_NAME")
    if service:
        attributes["service.name"] = service
    attributes.setdefault("service.name", "unknown_service")
    attributes["telemetry.sdk.name"] = "codetrace"
    attributes["telemetry.sdk.language"] = "python"
    attributes["telemetry.sdk.version"] = __version__
    return attributes


def resource_attributes() -> dict[str, str]:
    """The resource attributes every exporter attaches to its spans (a fresh copy)."""
    global _cached
    if _cached is None:
        _cached = _build()
    return dict(_cached)


def forget() -> None:
    """Drop the cached attributes so the next call reads the environment again."""
    global _cached
    _cached = None
