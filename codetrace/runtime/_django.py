"""``hooks.django(application)``: trace a Django project from its WSGI or ASGI application.

Where the hook goes, and why there: the rule file hooks the objects a project's ``wsgi.py`` and
``asgi.py`` build (``application = get_wsgi_application()``, ``get_asgi_application()``,
``WSGIHandler()``), with the same ``hook-after`` advice as Flask's and Starlette's apps, so the
reviewer sees one added line in the file that every deployment (gunicorn, uwsgi, uvicorn,
daphne, mod_wsgi) loads, and the engine needs no new kind of advice. The settings hook below
adds the projects that never import wsgi.py; neither alone covers every project (computed
settings: ``django-environ``, a ``MIDDLEWARE`` built elsewhere and only named here).

What the hook does, through Django's public API only:

* **Requests**: it puts :data:`_django_middleware.PATH` first in ``settings.MIDDLEWARE`` (so
  outermost: the span covers the other middleware) and has the handler load its middleware
  again (``load_middleware``, which every handler runs on creation and Django's test client
  runs lazily; ``is_async=True`` for an ``ASGIHandler``): by the time the hook runs, the
  factory's handler has loaded the middleware list already. The other middleware classes are
  therefore instantiated a second time, once, at start-up. Handlers made later (the test
  ``Client``'s) find the setting and trace their requests too. One hook call per handler counts:
  a second does nothing; the setting never gets the path twice.
* **SQL**: ``_django_db.install`` on every connection open now, and Django's
  ``connection_created`` signal for every one opened later (one receiver, ``dispatch_uid``).

Not a Django handler (a mock, a WSGI middleware wrapped around it): left alone and logged once
by the hook. Django is imported only here, i.e. only by projects that use it.

``hooks.django_settings(MIDDLEWARE)`` (:func:`settings_middleware`) covers the projects whose
wsgi.py never runs: test suites (Django's test ``Client`` builds its handler from the setting),
management commands, workers. The rule file wraps the value the settings module assigns, so
the list every handler reads starts with :data:`PATH`, and the statements of every connection
are traced from the first one. It runs while the settings module is being imported, before
``django.setup()``: it touches no setting and no connection, only the ``connection_created``
signal (importing ``django.db`` then reads no setting). With both hooks in a project the
application hook finds the path listed and adds nothing.
"""

from __future__ import annotations

import importlib
import weakref

from . import _django_db
from ._django_middleware import PATH

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_instrumented: weakref.WeakSet[Any] = weakref.WeakSet()
"""Handlers already instrumented (a handful per process; gone with the handler)."""


def instrument(application: Any) -> Any:
    """Instrument the Django handler ``application`` once (module docstring); return it."""
    base_handler = _django("django.core.handlers.base").BaseHandler
    asgi_handler = _django("django.core.handlers.asgi").ASGIHandler
    if not isinstance(application, base_handler):
        raise TypeError(f"{type(application).__name__} is not a Django WSGI or ASGI handler")
    _trace_statements()
    if application in _instrumented:
        return application
    settings = _django("django.conf").settings
    middleware = settings.MIDDLEWARE
    if PATH not in middleware:
        listed = [PATH, *middleware]
        settings.MIDDLEWARE = tuple(listed) if isinstance(middleware, tuple) else listed
    application.load_middleware(is_async=isinstance(application, asgi_handler))
    _instrumented.add(application)
    return application


def settings_middleware(middleware: Any) -> Any:
    """``middleware`` with :data:`PATH` first (a new list or tuple, as given; as it is when
    listed already), and the SQL of every connection opened from now on traced."""
    if not isinstance(middleware, (list, tuple)) or not all(
            isinstance(entry, str) for entry in middleware):
        raise TypeError(f"MIDDLEWARE is a {type(middleware).__name__}, not a list of paths")
    _connect_statements()
    if PATH in middleware:
        return middleware
    listed = [PATH, *middleware]
    return tuple(listed) if isinstance(middleware, tuple) else listed


def _django(name: str) -> Any:
    """A Django module (imported here, so only by projects that use Django; untyped)."""
    return importlib.import_module(name)


def _connect_statements() -> None:
    """Every connection opened from now on gets the statement wrapper (one receiver, however
    often this runs: ``dispatch_uid``)."""
    connection_created = _django("django.db.backends.signals").connection_created
    connection_created.connect(
        _django_db.on_connection_created, dispatch_uid="codetrace.django_db", weak=False
    )


def _trace_statements() -> None:
    _connect_statements()
    connections = _django("django.db").connections
    for connection in connections.all(initialized_only=True):
        _django_db.install(connection)
