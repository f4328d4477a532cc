"""Adapter for rule ``flask_sqlalchemy.extension``: every engine of a Flask-SQLAlchemy extension.

A Flask-SQLAlchemy application never calls ``create_engine``: the extension object does, in
``init_app`` (run by the constructor when the app is passed, ``SQLAlchemy(app)``, or later,
``db.init_app(app)``). ``_codetrace.traced(SQLAlchemy, "flask_sqlalchemy.extension")(app)``
(or a project subclass of ``SQLAlchemy``) builds the extension as an instance of a traced
subclass (``_construct``) of the class called, overriding the method every engine of the
extension is made by, and traces each engine it returns with the ``sqlalchemy.engine``
listeners (``_sqlalchemy.instrument``: one CLIENT span per statement, whoever runs it,
``db.session``, ``Model.query``, ``db.engine.connect()``):

* Flask-SQLAlchemy 3.x: ``_make_engine(bind_key, options, app)``, called once per bind key by
  ``init_app`` (documented on the class; internal, but the only funnel: ``init_app`` calls
  ``engine_from_config`` nowhere else).
* Flask-SQLAlchemy 2.x: ``create_engine(sa_url, engine_opts)``, public, documented as the method
  to override "to have final say over how the SQLAlchemy engine is created".

A project subclass's own override runs first (the traced subclass calls it through ``super()``)
and its engine is the one traced. rules/flask_sqlalchemy.toml says why this extension point and
not another. Any other callee (a mock of ``SQLAlchemy``, a class that is not the extension, a
version with neither method) is called unchanged; ``flask_sqlalchemy`` is never imported, only
looked up in :data:`sys.modules`.
"""

from __future__ import annotations

import sys

from ._construct import is_class, traced_subclass
from ._log import warn_once
from ._sqlalchemy import instrument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

KIND = "flask_sqlalchemy.extension"
FUNNELS = ("_make_engine", "create_engine")
"""The engine-making method of Flask-SQLAlchemy 3.x, then of 2.x: the first the class has."""


def _funnel(cls: type) -> str | None:
    for name in FUNNELS:
        if callable(getattr(cls, name, None)):
            return name
    return None


def _namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    name = _funnel(cls)
    if name is None:
        return {}

    def make_engine(self: Any, *args: Any, **kwargs: Any) -> Any:
        engine = getattr(super(subclass(), self), name)(*args, **kwargs)
        instrument(engine)
        return engine

    make_engine.__name__ = name
    make_engine.__qualname__ = f"{cls.__qualname__}.{name}"
    make_engine.__doc__ = getattr(getattr(cls, name, None), "__doc__", None)
    return {name: make_engine}


def extension_class(callee: object) -> type | None:
    """The traced subclass to build instead of ``callee``, or ``None`` to call it unchanged."""
    if not is_class(callee):
        return None
    # ``flask_sqlalchemy.extension`` first: ``mock.patch("flask_sqlalchemy.SQLAlchemy")``
    # replaces the public name only.
    module = sys.modules.get("flask_sqlalchemy.extension") or sys.modules.get("flask_sqlalchemy")
    base = getattr(module, "SQLAlchemy", None) if module is not None else None
    if not is_class(base) or not issubclass(callee, base):  # type: ignore[arg-type]
        return None
    if _funnel(callee) is None:  # type: ignore[arg-type]
        warn_once(
            "flask-sqlalchemy-version",
            "codetrace: this Flask-SQLAlchemy makes engines in a way codetrace does not know "
            "(no _make_engine or create_engine method); its engines are untraced",
        )
        return None
    return traced_subclass(callee, KIND, _namespace)  # type: ignore[arg-type]


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``callee(*args, **kwargs)``, as a traced extension when ``callee`` is ``SQLAlchemy``."""
    try:
        cls = extension_class(callee)
    except Exception as exc:
        warn_once("flask-sqlalchemy", "codetrace: Flask-SQLAlchemy left untraced", exc=exc)
        cls = None
    if cls is None:
        return callee(*args, **kwargs)
    return cls(*args, **kwargs)
