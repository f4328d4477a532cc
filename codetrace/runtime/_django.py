"""``hooks.django(application)``: trace a Django project from its WSGI or ASGI application.

Where the hook goes, and why there: the rule file hooks the objects a project's ``wsgi.py`` and
``asgi.py`` build (``application = get_wsgi_application()``, ``get_asgi_application()``,
``WSGIHandler()``), with the same ``hook-after`` advice as Flask's and Starlette's apps, so the
reviewer sees one added line in the file that every deployment (gunicorn, uwsgi, uvicorn,
daphne, mod_wsgi) loads, and the engine needs no new kind of advice. Rewriting ``MIDDLEWARE`` in
``settings.py`` instead would need a list-editing advice, and miss projects whose settings are
computed (split settings, ``django-environ``, ``MIDDLEWARE += [...]``).

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


def _django(name: str) -> Any:
    """A Django module (imported here, so only by projects that use Django; untyped)."""
    return importlib.import_module(name)


def _trace_statements() -> None:
    connections = _django("django.db").connections
    connection_created = _django("django.db.backends.signals").connection_created
    connection_created.connect(
        _django_db.on_connection_created, dispatch_uid="codetrace.django_db", weak=False
    )
    for connection in connections.all(initialized_only=True):
        _django_db.install(connection)
