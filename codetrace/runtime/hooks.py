"""Hooks: ``_codetrace.hooks.NAME(obj)`` instruments ``obj`` and returns it.

The engine writes a hook call right after the statement that creates the object
(``app = Flask(__name__)`` then ``_codetrace.hooks.flask(app)``) or around the creating
expression (``return _codetrace.hooks.flask(Flask(__name__))``), which is why every hook returns
its argument. Hooks register through the library's public extension points, never by patching,
and never raise: an object a hook cannot instrument is returned untouched (and logged once).
The library itself is imported only inside the hook, i.e. only by programs that already use it.
"""

from __future__ import annotations

from ._config import settings
from ._log import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeVar

    T = TypeVar("T")

__all__ = ["flask"]


def flask(app: T) -> T:
    """Trace each request of the Flask ``app`` in a SERVER span (see ``_flask``); return ``app``."""
    if settings.disabled:
        return app
    try:
        from ._flask import instrument

        instrument(app)
    except Exception as exc:
        warn_once("hook:flask", "codetrace: could not instrument the Flask app", exc=exc)
    return app
