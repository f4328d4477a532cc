"""Report runtime trouble once, through :mod:`logging`; never raise it, never warn it.

The runtime lives inside someone else's application. An exporter that cannot write, an adapter
that meets an object it does not understand, a malformed ``OTEL_*`` variable: none of these may
stop the application, and none may flood its logs either. Each distinct problem (a *key*) is
logged once at WARNING on the ``codetrace.runtime`` logger.

:mod:`logging` is imported only when something goes wrong, so a healthy process never pays for
it at start-up. :mod:`warnings` is never used: applications and test suites (pytest ``-W
error``) turn warnings into exceptions, which would break the promise above.
"""

from __future__ import annotations

LOGGER_NAME = "codetrace.runtime"

_seen: set[str] = set()


def warn_once(key: str, message: str, *args: object, exc: BaseException | None = None) -> None:
    """Log ``message % args`` at WARNING the first time ``key`` is reported; drop repeats."""
    if key in _seen:
        return
    _seen.add(key)
    try:
        import logging

        logging.getLogger(LOGGER_NAME).warning(message, *args, exc_info=exc)
    except Exception:  # pragma: no cover - logging itself is broken; nothing left to tell
        pass


def forget() -> None:
    """Forget which problems were reported, so a reconfigured runtime reports them again."""
    _seen.clear()
