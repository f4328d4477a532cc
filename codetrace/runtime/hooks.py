"""Hooks: ``_codetrace.hooks.NAME(obj)`` instruments ``obj`` and returns it.

The engine writes a hook call right after the statement that creates the object
(``app = Flask(__name__)`` then ``_codetrace.hooks.flask(app)``) or around the creating
expression (``return _codetrace.hooks.flask(Flask(__name__))``), which is why every hook returns
its argument. Hooks register through the library's public extension points, never by patching,
and never raise: an object a hook cannot instrument is returned untouched (and logged once).
The library itself is imported only inside the hook, i.e. only by programs that already use it.

The names defined here are exactly ``_catalogue.HOOKS``. Any other name (code instrumented for
a newer runtime, say) is still a hook: it logs once that it is unknown and returns its argument,
so an application never fails on a hook this runtime lacks. Dunder names are not hooks: they
raise ``AttributeError`` as usual, so ``hasattr``, pickling and tooling behave.
"""

from __future__ import annotations

from ._log import warn_once
from ._state import settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

# exactly _catalogue.HOOKS (tests/runtime/test_catalogue.py)
__all__ = ["aiohttp_app", "celery", "django", "django_settings", "flask", "starlette", "wsgi"]


def aiohttp_app(app: T) -> T:
    """Trace each request of the ``aiohttp.web.Application`` ``app`` in a SERVER span (see
    ``_aiohttp_server``); return ``app``."""
    return _instrumented(app, "_aiohttp_server", "aiohttp_app", "the aiohttp app")


def celery(app: T) -> T:
    """Trace the tasks of the Celery ``app``: a PRODUCER span per published task and a CONSUMER
    span per executed task, linked through the message headers (Celery's task signals: see
    ``_celery``); return ``app``."""
    return _instrumented(app, "_celery", "celery", "the Celery app")


def django(application: T) -> T:
    """Trace each request of the Django WSGI or ASGI ``application`` in a SERVER span (a
    middleware put outermost in ``MIDDLEWARE``) and each SQL statement in a CLIENT span
    (``connection.execute_wrapper``): see ``_django``; return ``application``."""
    return _instrumented(application, "_django", "django", "the Django application")


def django_settings(middleware: T) -> T:
    """``MIDDLEWARE`` as a settings module assigns it, with codetrace's middleware first (a
    new list, or tuple, as given), and the SQL of every Django connection traced: see
    ``_django.settings_middleware``. It runs while the settings module is imported, so it
    never raises: a settings module that fails to import stops the whole project."""
    if settings.disabled:
        return middleware
    try:
        from ._django import settings_middleware

        listed: T = settings_middleware(middleware)
        return listed
    except Exception as exc:
        warn_once("hook:django_settings", "codetrace: could not add the Django middleware",
                  exc=exc)
    return middleware


def flask(app: T) -> T:
    """Trace each request of the Flask ``app`` in a SERVER span (see ``_flask``); return ``app``."""
    return _instrumented(app, "_flask", "flask", "the Flask app")


def starlette(app: T) -> T:
    """Trace each request and WebSocket of the Starlette or FastAPI ``app`` in a SERVER span
    (an ASGI middleware added with ``app.add_middleware``: see ``_starlette``); return ``app``."""
    return _instrumented(app, "_starlette", "starlette", "the ASGI app")


def wsgi(app: T) -> T:
    """Trace each request of a Bottle app, a Falcon app or the apps a Pyramid
    ``Configurator`` makes, in a SERVER span, through each framework's own middleware API (see
    ``_wsgi_hook``); return ``app``."""
    return _instrumented(app, "_wsgi_hook", "wsgi", "the WSGI app")


def _instrumented(obj: T, module: str, hook: str, what: str) -> T:
    """``obj``, given to ``instrument`` of the runtime module ``module`` (imported here, on
    first use: only programs that use the library load it) unless tracing is disabled; a
    failure is logged once (``hook:NAME``) and ``obj`` comes back untouched."""
    if settings.disabled:
        return obj
    try:
        from importlib import import_module

        import_module(f"{__package__}.{module}").instrument(obj)
    except Exception as exc:
        warn_once(f"hook:{hook}", f"codetrace: could not instrument {what}", exc=exc)
    return obj


def _unknown(name: str) -> Callable[[T], T]:
    def unknown_hook(obj: T) -> T:
        from ._catalogue import HOOKS

        warn_once(
            f"hook-unknown:{name}",
            "codetrace: hook %r is unknown to this runtime (it has %s); %r left untraced",
            name,
            ", ".join(HOOKS),
            type(obj).__name__,
        )
        return obj

    unknown_hook.__name__ = unknown_hook.__qualname__ = name
    return unknown_hook


def __getattr__(name: str) -> Callable[[T], T]:
    """Any other ``hooks.NAME``: a hook that logs once and returns its argument unchanged."""
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _unknown(name)
