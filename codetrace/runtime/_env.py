"""Reading configuration text: environment variables, numbers, name lists and ``k=v`` lists.

Every ``OTEL_*``/``CODETRACE_*`` value the runtime reads goes through here, so they all follow
the same rules: a blank value counts as unset (as the other SDKs do); names are compared
stripped and lowercase; a malformed value is logged once (through ``_log``) and the default is
used, because a typo in a deployment manifest must not take the application down. Nothing here
raises.
"""

from __future__ import annotations

import os

from ._log import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Iterable


class ConfigError(ValueError):
    """A setting a component cannot start with (a certificate file that cannot be read).

    Its message is the whole story for one log line: the variable, its value, what is wrong
    and what is off because of it. Whoever builds components from the environment (``_setup``)
    logs it without a traceback and goes on without the component; code that builds the
    component itself gets the exception, as with any bad argument.
    """


def env_value(name: str) -> str | None:
    """The variable ``name``, stripped; ``None`` when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def env_flag(name: str) -> bool:
    """A boolean as the specification reads them: only ``true`` (any case) is true."""
    return (env_value(name) or "").lower() == "true"


def split_names(spec: str | Iterable[str]) -> list[str]:
    """The names in a comma-separated list (or an iterable of names): stripped, lowercase,
    without blanks, first occurrence kept."""
    names = spec.split(",") if isinstance(spec, str) else spec
    return list(dict.fromkeys(n for n in (name.strip().lower() for name in names) if n))


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    """The variable ``name`` if it is one of ``choices`` (any case), else ``default``."""
    raw = (env_value(name) or "").lower()
    if not raw:
        return default
    if raw not in choices:
        expected = (
            ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
        )
        warn_once(
            f"choice:{name}:{raw}",
            "codetrace: unknown %s=%r (expected %s); using %s",
            name,
            raw,
            expected,
            default,
        )
        return default
    return raw


def read_number(
    raw: str | None,
    default: float,
    *,
    what: str,
    positive: bool = False,
    at_most: float | None = None,
    unit: str = "",
    channel: str = "",
) -> float:
    """The number written in ``raw``, or ``default`` when ``raw`` is ``None`` or blank.

    A value must be ``>= 0`` (``> 0`` if ``positive``; ``<= at_most`` if given); anything else
    (text, NaN, out of range) is logged once, naming ``what`` (the variable) and ``unit``, and
    gives ``default``.
    """
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    valid = value > 0 if positive else value >= 0  # both false for NaN
    if valid and (at_most is None or value <= at_most):
        return value
    unit_text = f" ({unit})" if unit else ""
    warn_once(
        f"number:{what}:{raw}",
        "codetrace: invalid %s=%r%s; using %s",
        what,
        raw,
        unit_text,
        f"{default:g}",
        channel=channel,
    )
    return default


def env_number(
    name: str,
    default: float,
    *,
    positive: bool = False,
    unit: str = "",
    channel: str = "",
) -> float:
    """:func:`read_number` of the variable ``name``."""
    raw = os.environ.get(name)
    return read_number(raw, default, what=name, positive=positive, unit=unit, channel=channel)


def parse_key_values(text: str, *, errors: str = "replace") -> tuple[dict[str, str], list[str]]:
    """``key1=value1,key2=value2`` (keys and values percent-decoded, stripped): the pairs, and
    the entries that are malformed (no ``=``, an empty key, or, with ``errors="strict"``, an
    escape that is not UTF-8), which the pairs leave out.

    The W3C-Baggage-like format of ``OTEL_RESOURCE_ATTRIBUTES`` and
    ``OTEL_EXPORTER_OTLP_HEADERS``; each caller decides what a malformed entry costs.
    """
    from urllib.parse import unquote  # imports re: only paid when such a variable is set

    pairs: dict[str, str] = {}
    malformed: list[str] = []
    for entry in text.split(","):
        if not entry.strip():
            continue
        key, sep, value = entry.partition("=")
        try:
            key = unquote(key.strip(), errors=errors)
            value = unquote(value.strip(), errors=errors)
        except UnicodeDecodeError:
            malformed.append(entry.strip())
            continue
        if not sep or not key:
            malformed.append(entry.strip())
            continue
        pairs[key] = value
    return pairs, malformed


def regex_list(variable: str, value: str | None, *, ignore_case: bool = False
               ) -> re.Pattern[str] | None:
    """A comma-separated list of regular expressions (``OTEL_PYTHON_EXCLUDED_URLS``, the header
    capture variables) as one pattern that matches where any entry does; None when the value
    is unset or holds no valid entry. An entry that is not a regular expression is logged once
    and ignored, the others still apply: OpenTelemetry's own reading of these variables."""
    if value is None:
        return None
    import re  # here: a runtime whose variables are unset never loads ``re`` for them

    valid: list[str] = []
    for entry in value.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            re.compile(entry)
        except re.error as exc:
            warn_once(
                f"regex-list:{variable}:{entry}",
                "codetrace: %s: %r is not a regular expression (%s); ignored",
                variable,
                entry,
                exc,
            )
            continue
        valid.append(f"(?:{entry})")
    if not valid:
        return None
    return re.compile("|".join(valid), re.IGNORECASE if ignore_case else 0)
