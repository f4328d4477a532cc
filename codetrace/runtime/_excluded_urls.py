"""Which URLs an HTTP adapter or server hook leaves untraced: ``OTEL_PYTHON_*EXCLUDED_URLS``.

OpenTelemetry's Python instrumentations read two variables, and so does codetrace, with the
same meaning, so a deployment configured for one behaves the same under the other:

* ``OTEL_PYTHON_<LIBRARY>_EXCLUDED_URLS`` (``OTEL_PYTHON_AIOHTTP_CLIENT_EXCLUDED_URLS``,
  ``OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS``, ...): for that library alone; when set (and not
  blank) it replaces the general list, it does not add to it;
* ``OTEL_PYTHON_EXCLUDED_URLS``: for every library without its own variable.

A value is a comma-separated list of regular expressions; a URL is excluded when any of them
is found in it (``re.search``, as OpenTelemetry's ``ExcludeList`` does): ``/health`` excludes
``http://host/health?x=1`` and ``http://host/api/healthz`` alike; anchor it (``/health$``) to
be stricter. What the URL is depends on the caller, as in OpenTelemetry: clients match the
full URL they request, a server hook says what it matches (aiohttp's: the path).

Departures, both on purpose: blank entries are dropped (``a,`` would otherwise join to
``a|``, which matches every URL), and an entry that is not a valid expression is logged once
and ignored rather than failing the application.

Callers name the library by its variable's full name, a literal, so that a reader (and
tests/test_docs_runtime_env.py) finds every variable the runtime reads by its name; a bare
library name (``"AIOHTTP_CLIENT"``) is accepted too and means the same variable. Each variable
is read once and its expression cached; ``codetrace.runtime.reset()`` forgets them.
"""

from __future__ import annotations

from ._env import env_value, regex_list
from ._log import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

GENERAL = "OTEL_PYTHON_EXCLUDED_URLS"

_compiled: dict[str, re.Pattern[str] | None] = {}


def _pattern(variable: str) -> re.Pattern[str] | None:
    try:
        return _compiled[variable]
    except KeyError:
        pass
    value = env_value(variable)
    name = variable
    if value is None:
        value, name = env_value(GENERAL), GENERAL
    pattern = regex_list(name, value)
    if len(_compiled) < 64:  # a handful of libraries; never grows without bound
        _compiled[variable] = pattern
    return pattern


def excluded(url: str, library: str) -> bool:
    """Whether ``url`` is excluded by the library's own variable (``library``: its full name,
    ``OTEL_PYTHON_<LIBRARY>_EXCLUDED_URLS``, or just ``<LIBRARY>``) or, when that is unset, by
    ``OTEL_PYTHON_EXCLUDED_URLS``. Never raises."""
    try:
        if not library.startswith("OTEL_"):
            library = f"OTEL_PYTHON_{library.upper()}_EXCLUDED_URLS"
        pattern = _pattern(library)
        return pattern is not None and pattern.search(url) is not None
    except Exception as exc:  # pragma: no cover - defensive: a URL that is not text, say
        warn_once("excluded-urls", "codetrace: could not match an excluded URL", exc=exc)
        return False


def forget() -> None:
    """Read the variables again on next use (``codetrace.runtime.reset()``)."""
    _compiled.clear()
