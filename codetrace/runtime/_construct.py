"""Traced subclasses: how a constructed library object gets traced for its whole life.

The construction adapters (``requests.session``, ``httpx.client``, ``sqlite3.connect``) make
the object the project asked for, but of a subclass that overrides the library's documented
funnel method (``Session.send``, ``Client.send``, a ``sqlite3.Connection``'s ``cursor`` and
shortcuts). Every later call on the object goes through the override wherever it happens, and
nothing global changes: the library's classes are untouched. This module builds those
subclasses; the adapters say what each overrides.

* One subclass per (original class, kind), built on first use and cached. The cache is a plain
  dict bounded at :data:`MAX_CLASSES` (cleared when full, like the runtime's other caches): a
  weak-keyed cache would not let anything go, since a subclass holds its base strongly.
* The subclass looks like the original: same ``__name__``, ``__qualname__``, ``__module__``
  and ``__doc__``, ``__slots__ = ()`` (it adds no ``__dict__`` or ``__weakref__`` the original
  lacks). ``isinstance(obj, Original)`` holds; ``type(obj) is Original`` does not.
* Pickling: ``__reduce_ex__`` hands pickle the original class, so a traced object pickles by
  reference to it (and unpickles, anywhere, as an untraced original: the receiving process has
  no construction site). ``copy.copy``/``copy.deepcopy`` keep the traced class (``__copy__``/
  ``__deepcopy__``, added only when the original defines neither).
* Refused (the callee is called unchanged, untraced): a class with its own
  ``__init_subclass__`` (building a subclass would run project code, a plugin registry say), a
  metaclass other than ``type``/``abc.ABCMeta``, a ``@final``-like class that cannot be
  subclassed.
* :data:`FUNNEL` is a class attribute of every traced subclass. A call-site adapter checks it on
  the type of the callee's ``__self__`` (:func:`built_traced`): a call on an object traced at
  construction is traced by the object, so the call site adds no second span.
"""

from __future__ import annotations

from ._log import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Namespace = Callable[[type, "Callable[[], type]"], dict[str, Any]]

FUNNEL = "_codetrace_funnel"
"""The class attribute that marks a traced subclass (its value: the adapter's kind)."""

MAX_CLASSES = 1024

_classes: dict[tuple[type, str], type] = {}
_refused: dict[tuple[type, str], bool] = {}
_ALLOWED_METACLASSES = ("type", "ABCMeta", "_ProtocolMeta")
_LIBRARY_METACLASSES = frozenset({("asyncpg.connection", "ConnectionMeta")})
"""Libraries' own metaclasses known to run no code when a class is made: asyncpg's
``ConnectionMeta`` defines ``__instancecheck__`` alone (``connection_class=`` subclasses are
asyncpg's documented way to extend a connection)."""


def built_traced(callee: object, args: tuple[Any, ...]) -> bool:
    """Whether ``callee`` is a method of an object traced at construction.

    A bound method (``session.get``): its ``__self__``; a function called with the object
    first (``Session.get(session, url)``): the first argument. Only ``type()`` of either is
    read, so a mock is neither called nor introspected.
    """
    owner = getattr(callee, "__self__", None)
    if owner is not None and getattr(type(owner), FUNNEL, None) is not None:
        return True
    return bool(args) and getattr(type(args[0]), FUNNEL, None) is not None


def is_class(value: object) -> bool:
    """``value`` is a class, by its real type (a mock's ``__class__`` is not asked)."""
    return issubclass(type(value), type)


def _acceptable(cls: type) -> bool:
    meta = type(cls)
    if (meta.__module__, meta.__name__) in _LIBRARY_METACLASSES:
        pass
    elif meta.__name__ not in _ALLOWED_METACLASSES or meta.__module__ not in (
        "builtins",
        "abc",
        "typing",
    ):
        return False
    # every class but ``object``; ``typing.Protocol``/``Generic`` define the hook but run no
    # project code (redis-py's clients derive from a ``Protocol``, so have its metaclass too)
    return all(
        "__init_subclass__" not in vars(klass) or klass.__module__ == "typing"
        for klass in cls.__mro__[:-1]
    )


def loaded_class(module: str, name: str) -> type | None:
    """``module.name`` if that module is already loaded and the name is a class (not a mock):
    the library's base class to compare with, never imported here."""
    import sys

    found = getattr(sys.modules.get(module), name, None)
    return found if is_class(found) else None


def retyped(obj: Any, cache: dict[type, type | None], traced_for: Callable[[type], type | None],
            kind: str) -> None:
    """Make ``obj`` (just built by the library) an instance of ``traced_for(type(obj))`` when
    that is a traced subclass of funnel ``kind``; the answer is kept per class in ``cache``
    (bounded), so the next object of the class costs a look-up. May raise: the caller logs."""
    cls = type(obj)
    traced = cache.get(cls, cls)
    if traced is cls and getattr(cls, FUNNEL, None) is None:
        traced = traced_for(cls) if is_class(cls) else None
        if traced is None or getattr(traced, FUNNEL, None) != kind:
            traced = None
        if len(cache) >= MAX_CLASSES:
            cache.clear()
        cache[cls] = traced
    if traced is not None and traced is not cls:
        obj.__class__ = traced


def named_like(function: Any, cls: type, name: str) -> Any:
    """``function``, named as the method ``name`` of ``cls`` it stands in for (name, qualified
    name, docstring), so a traced subclass's override reads like the library's own method in
    tracebacks, ``help()`` and debuggers."""
    function.__name__ = name
    function.__qualname__ = f"{cls.__qualname__}.{name}"
    function.__doc__ = getattr(getattr(cls, name, None), "__doc__", None)
    return function


def traced_subclass(cls: type, kind: str, namespace: Namespace) -> type | None:
    """The traced subclass of ``cls`` for ``kind`` (``None``: leave ``cls`` alone).

    ``namespace(cls, get_subclass)`` returns the overriding methods; ``get_subclass()`` gives
    them the subclass (for ``super(subclass, self)``) once it exists.
    """
    key = (cls, kind)
    built = _classes.get(key)
    if built is not None:
        return built
    if _refused.get(key):
        return None
    if getattr(cls, FUNNEL, None) is not None:  # already traced: it is its own traced class
        return cls
    subclass: type | None = None
    try:
        if _acceptable(cls):
            subclass = _build(cls, kind, namespace)
    except Exception as exc:  # a class that cannot be subclassed, say
        warn_once(f"construct:{kind}", "codetrace: cannot trace %r objects", cls, exc=exc)
        subclass = None
    if len(_classes) >= MAX_CLASSES:
        _classes.clear()
        _refused.clear()
    if subclass is None:
        _refused[key] = True
    else:
        _classes[key] = subclass
    return subclass


def _build(cls: type, kind: str, namespace: Namespace) -> type:
    made: list[Any] = []

    def get_subclass() -> Any:
        return made[0]

    body: dict[str, Any] = dict(namespace(cls, get_subclass))
    original = cls

    def __reduce_ex__(self: Any, protocol: Any) -> Any:
        reduced = super(made[0], self).__reduce_ex__(protocol)
        return _to_original(reduced, made[0], original)

    body.update(
        {
            "__slots__": (),
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__,
            "__reduce_ex__": __reduce_ex__,
            FUNNEL: kind,
        }
    )
    if getattr(cls, "__copy__", None) is None and getattr(cls, "__deepcopy__", None) is None:

        def __copy__(self: Any) -> Any:
            import copy

            reduced = super(made[0], self).__reduce_ex__(4)
            return copy._reconstruct(self, None, *reduced)  # type: ignore[attr-defined]

        def __deepcopy__(self: Any, memo: Any) -> Any:
            import copy

            reduced = super(made[0], self).__reduce_ex__(4)
            return copy._reconstruct(self, memo, *reduced)  # type: ignore[attr-defined]

        body["__copy__"] = __copy__
        body["__deepcopy__"] = __deepcopy__
    subclass = type(cls)(cls.__name__, (cls,), body)
    made.append(subclass)
    return subclass


def _to_original(reduced: Any, subclass: type, original: type) -> Any:
    """A ``__reduce_ex__`` value with the traced subclass replaced by the original class."""
    if type(reduced) is not tuple or len(reduced) < 2 or type(reduced[1]) is not tuple:
        return reduced
    function, arguments = reduced[0], reduced[1]
    if getattr(function, "__name__", None) == "__newobj__" and arguments == (subclass,):
        # Pickle insists that ``__newobj__``'s class is the object's own; the protocol 0/1
        # reconstructor (``object.__new__(original)``, then the state) has no such check.
        import copyreg

        return (copyreg._reconstructor, (original, object, None), *reduced[2:])  # type: ignore[attr-defined]
    arguments = tuple(original if item is subclass else item for item in arguments)
    return (function, arguments, *reduced[2:])
