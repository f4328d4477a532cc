"""Resource attributes: which service produced the spans, read from the standard variables.

``OTEL_RESOURCE_ATTRIBUTES`` is ``key=value`` pairs separated by commas, with ``,``, ``=`` and
non-ASCII characters percent-encoded; as the OpenTelemetry specification asks, a value that does
not decode (an entry without ``=``, an empty key, a bad escape) discards the whole variable and
is logged once. ``OTEL_SERVICE_NAME`` wins over a ``service.name`` given there; the default is
``unknown_service``. The dict is built on first use (not at import) and cached until ``reset()``.
"""

from __future__ import annotations

import os

from ._log import warn_once

_cached: dict[str, str] | None = None


def _decode(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text.strip(), errors="strict")


def parse_resource_attributes(raw: str) -> dict[str, str] | None:
    """The attributes in an ``OTEL_RESOURCE_ATTRIBUTES`` value, or ``None`` if it is malformed."""
    result: dict[str, str] = {}
    for entry in raw.split(","):
        if not entry.strip():
            continue
        key, sep, value = entry.partition("=")
        try:
            key = _decode(key)
            value = _decode(value)
        except UnicodeDecodeError:
            return None
        if not sep or not key:
            return None
        result[key] = value
    return result


def _build() -> dict[str, str]:
    from codetrace import __version__

    attributes: dict[str, str] = {}
    raw = os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    if raw.strip():
        parsed = parse_resource_attributes(raw)
        if parsed is None:
            warn_once(
                "resource-attributes",
                "codetrace: OTEL_RESOURCE_ATTRIBUTES is malformed and was ignored: %r",
                raw,
            )
        else:
            attributes.update(parsed)
    service = os.environ.get("OTEL_SERVICE_NAME", "").strip()
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
