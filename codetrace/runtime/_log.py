"""Report runtime trouble through :mod:`logging`; never raise it, never warn it.

The runtime lives inside someone else's application. An exporter that cannot write, an adapter
that meets an object it does not understand, a malformed ``OTEL_*`` variable: none of these may
stop the application, and none may flood its logs either. Every module of the runtime reports
through this one: :func:`warn_once` logs each distinct problem (a *key*) once at WARNING;
:func:`warn` and :func:`debug` are for callers that count repeats themselves (the OTLP exporter
logs the first failure of each kind at WARNING and the others at DEBUG; the batch processor
says once per process exit how many spans it could not deliver).

Loggers: ``codetrace.runtime``, or a child of it for a *channel* (``codetrace.runtime.otlp``,
``codetrace.runtime.batch``), so an application can silence the exporter alone. In an
application that configures no logging, :mod:`logging`'s last-resort handler prints WARNING
records to stderr as their bare message, so every line starts with ``codetrace:`` and says
what, where and why by itself; a traceback is attached only to report a bug of ours.

:mod:`logging` is imported only when something goes wrong, so a healthy process never pays for
it at start-up, or when a component that logs from a background thread starts
(:func:`load_logging`). :mod:`warnings` is never used: applications and test suites (pytest ``-W
error``) turn warnings into exceptions, which would break the promise above.
"""

from __future__ import annotations

LOGGER_NAME = "codetrace.runtime"

_seen: set[str] = set()


def _log(
    level: int, channel: str, message: str, args: tuple[object, ...], exc: BaseException | None
) -> None:
    try:
        import logging

        name = f"{LOGGER_NAME}.{channel}" if channel else LOGGER_NAME
        logging.getLogger(name).log(level, message, *args, exc_info=exc)
    except Exception:  # pragma: no cover - logging itself is broken; nothing left to tell
        pass


def load_logging() -> None:
    """Import :mod:`logging` now, on the calling thread, for a background thread that logs later.

    A thread importing a module holds that module's import lock meanwhile. If another thread
    forks at that instant, the lock stays held in the child, and the child's next ``import
    logging`` (the application's or ours) never returns. So a background thread must find
    :mod:`logging` already imported: the batch processor calls this before its thread starts.
    """
    import logging  # noqa: F401


def warn_once(
    key: str,
    message: str,
    *args: object,
    exc: BaseException | None = None,
    channel: str = "",
) -> None:
    """Log ``message % args`` at WARNING the first time ``key`` is reported; drop repeats."""
    if key in _seen:
        return
    _seen.add(key)
    _log(30, channel, message, args, exc)


def warn(message: str, *args: object, channel: str = "") -> None:
    """Log ``message % args`` at WARNING, every time."""
    _log(30, channel, message, args, None)


def debug(message: str, *args: object, channel: str = "") -> None:
    """Log ``message % args`` at DEBUG, every time."""
    _log(10, channel, message, args, None)


def count_of(count: int, noun: str) -> str:
    """``1 span``, ``12 spans``: counts in log lines read as sentences."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def forget() -> None:
    """Forget which problems were reported, so a reconfigured runtime reports them again."""
    _seen.clear()
