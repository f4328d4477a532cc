"""``hooks.wsgi(obj)``: a SERVER span per request of a Bottle, Falcon or Pyramid application.

A WSGI application is a callable the project keeps, so the hook cannot swap it for a wrapper
(the engine writes ``_codetrace.hooks.wsgi(app)`` after the statement that creates it, and a
hook returns its argument). Each framework's own middleware API changes the object in place
instead, with the environ-to-span code of ``_wsgi``:

* ``bottle.Bottle``: ``before_request``/``after_request`` hooks and a plugin (``_wsgi_bottle``);
* ``falcon.App`` (``falcon.API`` in Falcon 3): ``add_middleware`` (``_wsgi_falcon``);
* ``pyramid.config.Configurator``: a tween (``_wsgi_pyramid``); the hook goes on the
  configurator because tweens cannot be added to the router ``make_wsgi_app`` returns.

Anything else is left untraced with one warning that says so. The frameworks are never
imported here: the object's class is looked up among the modules already loaded.
"""

from __future__ import annotations

import sys

from ._log import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _is(obj: object, module: str, name: str) -> bool:
    cls = getattr(sys.modules.get(module), name, None)
    return isinstance(cls, type) and isinstance(obj, cls)


def instrument(obj: Any) -> None:
    """Instrument ``obj`` through its framework's middleware API (see the module docstring)."""
    if _is(obj, "bottle", "Bottle"):
        from ._wsgi_bottle import instrument as bottle

        bottle(obj)
    elif _is(obj, "falcon.app", "App"):
        from ._wsgi_falcon import instrument as falcon

        falcon(obj)
    elif _is(obj, "pyramid.config", "Configurator"):
        from ._wsgi_pyramid import instrument as pyramid

        pyramid(obj)
    else:
        warn_once(
            f"wsgi-unknown:{type(obj).__qualname__}",
            "codetrace: the wsgi hook knows Bottle, Falcon and Pyramid, not %s; left untraced",
            type(obj).__qualname__,
        )
