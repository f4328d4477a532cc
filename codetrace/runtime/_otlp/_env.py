"""Reading the standard ``OTEL_*`` environment variables the OTLP exporter honours.

Configuration comes from the environment of a process we do not own, so nothing here raises:
a malformed value is reported once through ``logging`` and the specification's default is used,
because a typo in a deployment manifest must not take the application down.
"""

from __future__ import annotations

import os

LOGGER_NAME = "codetrace.runtime.otlp"


def warn(message: str, *args: object) -> None:
    """Log a configuration or export problem at WARNING.

    ``logging`` is imported here rather than at module level: it costs a few milliseconds the
    application should not pay at ``import codetrace.runtime`` when nothing is wrong.
    """
    import logging

    logging.getLogger(LOGGER_NAME).warning(message, *args)


def debug(message: str, *args: object) -> None:
    """Log at DEBUG (repeated failures, after the first WARNING)."""
    import logging

    logging.getLogger(LOGGER_NAME).debug(message, *args)


def env_value(name: str) -> str | None:
    """An environment variable, with a blank value read as unset (as the other SDKs do)."""
    value = os.environ.get(name, "").strip()
    return value or None


def traces_env(suffix: str) -> str | None:
    """``OTEL_EXPORTER_OTLP_TRACES_<suffix>``, else ``OTEL_EXPORTER_OTLP_<suffix>``, else None.

    The specification gives the signal-specific variable precedence.
    """
    return env_value(f"OTEL_EXPORTER_OTLP_TRACES_{suffix}") or env_value(
        f"OTEL_EXPORTER_OTLP_{suffix}"
    )


def parse_key_values(text: str, source: str) -> dict[str, str]:
    """Parse ``key1=value1,key2=value2`` with percent-decoded keys and values.

    This is the W3C-Baggage-like format the specification uses for
    ``OTEL_EXPORTER_OTLP_HEADERS`` and ``OTEL_RESOURCE_ATTRIBUTES``. A malformed entry is
    skipped (and reported), the others are kept.
    """
    from urllib.parse import unquote  # imports re: only paid when the variable is set

    result: dict[str, str] = {}
    for entry in text.split(","):
        if not entry.strip():
            continue
        key, sep, value = entry.partition("=")
        key = unquote(key.strip())
        if not sep or not key:
            warn("codetrace: ignoring malformed entry %r in %s", entry.strip(), source)
            continue
        result[key] = unquote(value.strip())
    return result
