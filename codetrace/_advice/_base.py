"""What an advice kind is: the one owner of one injected shape.

An advice builds its shape (:meth:`Advice.plan`), recognises it (:meth:`Advice.instrumented`,
:meth:`Advice.added_target`: the collector and a second ``apply`` must not instrument a site
twice) and undoes it (:meth:`Advice.unwrap`: ``strip``, and the resolver, which evaluates
injected code as the user's code inside it). Nothing else in the engine knows a shape, so a new
advice kind is its own module, its template and its tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import libcst as cst

from codetrace._model import AssignSite, FunctionSite, Site
from codetrace._options import Options


@dataclass
class Plan:
    """Edits, keyed by the identity of original nodes (the transformer sees originals)."""

    replace_call: dict[int, Callable[[cst.Call], cst.BaseExpression]] = field(default_factory=dict)
    insert_after: dict[int, cst.SimpleStatementLine] = field(default_factory=dict)
    #: a ``def`` (by its original node) → the function with the advice's decorator added
    decorate: dict[int, Callable[[cst.FunctionDef], cst.FunctionDef]] = field(
        default_factory=dict)
    #: an assigned value (by its original node) → the expression that replaces it
    replace_value: dict[int, Callable[[cst.BaseExpression], cst.BaseExpression]] = field(
        default_factory=dict)

    def update(self, other: Plan) -> None:
        self.replace_call.update(other.replace_call)
        self.insert_after.update(other.insert_after)
        self.decorate.update(other.decorate)
        self.replace_value.update(other.replace_value)

    def empty(self) -> bool:
        return not (self.replace_call or self.insert_after or self.decorate
                    or self.replace_value)


@dataclass(frozen=True)
class Skip:
    """The advice cannot apply here; the reason is reported, never silently dropped."""

    reason: str


class Advice:
    """Base of the advice kinds; subclasses set :attr:`name` and are registered by
    :func:`register`. The recognisers default to "not my shape"."""

    #: the value of ``advice =`` in rule files
    name: ClassVar[str] = ""
    #: the other keys of ``[rule.do]`` this advice reads (rule files are validated against them)
    do_keys: ClassVar[tuple[str, ...]] = ()
    #: what reports count a site of this advice as: "call", "hook" or "function"
    counts_as: ClassVar[str] = "call"

    def check(self, do: Mapping[str, object]) -> tuple[str, str] | None:
        """A problem with this rule's ``[rule.do]`` values, as (key, message); None if fine."""
        return None

    def plan(self, site: Site, options: Options) -> Plan | Skip:
        """The edits that instrument ``site``."""
        raise NotImplementedError

    def plan_function(self, site: FunctionSite, options: Options) -> Plan | Skip:
        """The edits that trace the function of ``site`` (advice kinds about functions)."""
        return Skip(f"advice {self.name!r} instruments calls, not functions")

    def plan_assign(self, site: AssignSite, options: Options) -> Plan | Skip:
        """The edits that instrument the value of a module-level assignment (``match.assign``)."""
        return Skip(f"advice {self.name!r} instruments calls, not assigned values")

    def unwrap(self, node: cst.Call) -> cst.BaseExpression | None:
        """If ``node`` is this advice's injected expression, the user's expression it holds,
        exactly as it was written; else None."""
        return None

    def instrumented(self, node: cst.Call) -> cst.Call | None:
        """If ``node`` is this advice's injected expression, the call (a node of the same tree)
        it instruments; else None."""
        return None

    def added_target(self, statement: cst.CSTNode) -> cst.BaseExpression | None:
        """If ``statement`` is a statement this advice adds, the expression it instruments
        (``app`` in ``_codetrace.hooks.flask(app)``); else None."""
        return None

    def added_decorator(self, decorator: cst.Decorator) -> bool:
        """``decorator`` is one this advice adds (the function is traced already)."""
        return False

    def undecorate(self, node: cst.FunctionDef) -> cst.FunctionDef | None:
        """``node`` without the decorators this advice added, its comment lines back where
        they were; None when it has none."""
        return None


REGISTRY: dict[str, Advice] = {}


def register(cls: type[Advice]) -> type[Advice]:
    """Class decorator: make ``cls`` the advice called ``cls.name`` in rule files."""
    if not cls.name or cls.name in REGISTRY:
        raise ValueError(f"advice name {cls.name!r} is empty or registered twice")
    REGISTRY[cls.name] = cls()
    return cls


def string_quote(site: Site) -> str | None:
    """A quote character injected strings may use where the call stands, or None.

    Before Python 3.12 an expression inside an f-string may not reuse the f-string's quote.
    """
    for quote in ('"', "'"):
        if quote not in site.call.fstring_quotes:
            return quote
    return None
