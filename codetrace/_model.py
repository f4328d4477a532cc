"""The resolver's data model: scopes and bindings as ``_collect`` records them, the values
``_resolve`` computes, and the sites ``_match`` reports.

A leaf of the engine (it imports only the rules' types), so the collector, the resolver, the
matcher and the advice kinds can all share it without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import libcst as cst

from codetrace._ruleset import Rule
from codetrace._span_directive import SpanSpec


@dataclass(frozen=True)
class Ref:
    """The expression names the object ``qname`` (a module, class or function)."""

    qname: str


@dataclass(frozen=True)
class Inst:
    """The expression is an instance of ``type`` (a qualified class name)."""

    type: str


@dataclass(frozen=True)
class Unknown:
    """The resolver cannot tell; ``reason`` says why, for ``explain``."""

    reason: str


Value = Ref | Inst | Unknown
NONE = Unknown("None")
#: what a binding contributes while it is being evaluated (a cycle): nothing. Agreement
#: ignores it, so ``x = x or requests.Session()`` is decided by its other bindings — the least
#: fixpoint, which is sound on this flat lattice. Results computed through a cycle are not
#: memoised (they may be partial for anything but the evaluation's root).
CYCLE = Unknown("defined only in terms of itself")

#: tiers, in the order of DESIGN.md; ``explain`` reports the deepest one a match needed
TIER_NAMES = {
    1: "imports",
    2: "scope flow",
    3: "self/class attribute",
    4: "return type",
    5: "cross-module",
    6: "project call sites",
}


@dataclass
class Binding:
    """One way a name gets bound: evaluated lazily, since it may depend on other names.

    kinds: import | value | annotation | enter | aenter | def | class | self | cls | param |
    opaque | none. A ``param`` (a parameter without an annotation) names its function in
    ``qname``, its position (-1: keyword-only) and its default.
    """

    kind: str
    scope: Scope
    node: cst.BaseExpression | None = None
    qname: str = ""
    reason: str = ""
    position: int = -1
    default: cst.BaseExpression | None = None


@dataclass(eq=False)
class Scope:
    """A Python scope: module, class, function, lambda or comprehension."""

    kind: str
    parent: Scope | None
    qualname: str
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    #: attribute paths assigned in this scope (``g.db = ...``), keyed ``"g.db"``
    dotted: dict[str, list[Binding]] = field(default_factory=dict)
    globals: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)
    #: modules ``from M import *`` imports here, in order
    star_imports: list[str] = field(default_factory=list)

    def module(self) -> Scope:
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope

    def owner_of(self, name: str) -> Scope:
        """The scope a binding of ``name`` made here lands in (``global``/``nonlocal``)."""
        if name in self.globals:
            return self.module()
        if name in self.nonlocals:
            scope = self.parent
            while scope is not None:
                if scope.kind == "function" and name in scope.bindings:
                    return scope
                scope = scope.parent
        return self


@dataclass(eq=False)
class ClassInfo:
    """A class of the project: its body scope, its bases, and ``self.x = ...`` in its methods."""

    qname: str
    scope: Scope
    outer: Scope
    bases: tuple[cst.BaseExpression, ...]
    instance_attrs: dict[str, list[Binding]] = field(default_factory=dict)


@dataclass(eq=False)
class FunctionInfo:
    """A function of the project: what it is declared or seen to return."""

    qname: str
    scope: Scope
    outer: Scope
    returns: cst.BaseExpression | None
    return_values: list[cst.BaseExpression] = field(default_factory=list)
    kind: str = "function"  # function | method | staticmethod | classmethod | property
    is_async: bool = False
    is_generator: bool = False
    decorators: tuple[cst.BaseExpression, ...] = ()


@dataclass(frozen=True)
class CallSite:
    """A call found in the file, with what the resolver needs to judge it."""

    node: cst.Call
    scope: Scope
    #: quote characters of the f-strings the call stands in (injected strings must avoid them)
    fstring_quotes: frozenset[str]
    #: the call is the whole value of ``target = CALL`` on a line of its own
    assigned_to: cst.BaseAssignTargetExpression | None
    statement: cst.SimpleStatementLine | None
    #: the call is already instrumented (an argument of ``_codetrace.*``, or hooked below)
    instrumented: bool
    #: a ``# codetrace: ignore`` directive covers the call
    ignored: bool
    #: the call is a decorator (``@bp.get("/")``): it runs once, at definition, and is no I/O
    decorator: bool = False
    #: names of the rules a ``# codetrace: ignore[...]`` directive ignores for this call
    ignored_rules: frozenset[str] = frozenset()


class Project(Protocol):
    """What the resolver needs of the project: other modules' facts, on demand."""

    def module_exists(self, name: str) -> bool: ...

    def module_scope(self, name: str) -> Scope | None: ...

    def class_info(self, qname: str) -> ClassInfo | None: ...

    def function_info(self, qname: str) -> FunctionInfo | None: ...

    def sibling_classes(self, qname: str) -> Sequence[ClassInfo]:
        """The classes defined in the module that defines ``qname`` (subclass checks)."""
        ...

    def calls_in(self, module: str) -> Sequence[CallSite]:
        """The calls module ``module`` makes (typing parameters from their callers)."""
        ...


def dotted_name(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` as text when ``node`` is a plain attribute chain of names, else None."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def iter_targets(node: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    """Flatten tuple/list/starred assignment targets."""
    if isinstance(node, (cst.Tuple, cst.List)):
        for element in node.elements:
            yield from iter_targets(element.value)
    elif isinstance(node, cst.StarredElement):
        yield from iter_targets(node.value)
    else:
        yield node


class SingleModule:
    """A :class:`Project` that knows one module only (no cross-module tier)."""

    def __init__(
        self,
        classes: dict[str, ClassInfo] | None = None,
        functions: dict[str, FunctionInfo] | None = None,
        calls: Sequence[CallSite] = (),
    ) -> None:
        self.classes = classes or {}
        self.functions = functions or {}
        self.calls = calls

    def module_exists(self, name: str) -> bool:
        return False

    def module_scope(self, name: str) -> Scope | None:
        return None

    def class_info(self, qname: str) -> ClassInfo | None:
        return self.classes.get(qname)

    def function_info(self, qname: str) -> FunctionInfo | None:
        return self.functions.get(qname)

    def sibling_classes(self, qname: str) -> Sequence[ClassInfo]:
        return list(self.classes.values())

    def calls_in(self, module: str) -> Sequence[CallSite]:
        return self.calls


@dataclass(frozen=True)
class Site:
    """A call a rule matched: the rule, the callee's qualified name, and where it stands."""

    call: CallSite
    rule: Rule
    qname: str
    how: str  # the deepest resolution tier the match needed (TIER_NAMES)


@dataclass(frozen=True)
class Assignment:
    """A module-level ``NAME = value`` or ``NAME: T = value`` (``match.assign`` rules)."""

    name: str
    value: cst.BaseExpression
    #: the value is already an injected expression (a second ``apply`` leaves it)
    instrumented: bool
    #: a ``# codetrace: ignore`` directive covers the statement
    ignored: bool
    ignored_rules: frozenset[str] = frozenset()


@dataclass(frozen=True)
class AssignSite:
    """A module-level assignment a rule matched: its value is what the advice wraps."""

    assignment: Assignment
    rule: Rule
    qname: str  # ``module.NAME``
    how: str = "module assignment"


@dataclass(frozen=True)
class Definition:
    """A ``def`` of the module, with what deciding whether to trace it needs.

    ``qualname`` is Python's ``__qualname__`` (``Charger.charge``, ``outer.<locals>.inner``).
    """

    node: cst.FunctionDef
    module: str
    qualname: str
    #: names of the rules ``# codetrace: ignore`` directives on it or around it ignore
    ignored_rules: frozenset[str]
    #: the options of its ``# codetrace: span`` directive, if it has one
    directive: SpanSpec | None
    #: it already carries the decorator codetrace adds
    decorated: bool
    #: a ``@typing.overload`` stub, or defined under ``if TYPE_CHECKING:``: it never runs
    never_runs: bool
    #: its body is only a docstring, ``pass``, ``...`` or ``return`` of a name or constant
    trivial: bool

    @property
    def full_name(self) -> str:
        return f"{self.module}.{self.qualname}" if self.module else self.qualname


@dataclass(frozen=True)
class FunctionSite:
    """A function a ``span-function`` rule (or a directive) traces, and its span's options."""

    function: Definition
    rule: Rule
    spec: SpanSpec
    how: str  # "directive" or "function glob"

    @property
    def qname(self) -> str:
        return self.function.full_name

    @property
    def name(self) -> str:
        return self.spec.span_name(self.function.module, self.function.qualname)


@dataclass(frozen=True)
class Unresolved:
    """A call that looks like a rule's method on a receiver whose type we could not tell."""

    call: CallSite
    method: str
    receiver: str
    reason: str
    #: how likely it is the library's call: 2 strong, 1 some, 0 only the method's name
    evidence: int = 0


@dataclass(frozen=True)
class Matches:
    sites: tuple[Site, ...]
    unresolved: tuple[Unresolved, ...]
    ignored: int
    #: calls already instrumented (reports count them as covered)
    instrumented: int = 0
    #: adapter names and rule ids the file's instrumented calls name (``ModuleFacts``)
    marker_names: frozenset[str] = frozenset()
    #: functions to trace (advice ``span-function``)
    functions: tuple[FunctionSite, ...] = ()
    #: module-level assignments whose value an advice wraps (``match.assign``)
    assignments: tuple[AssignSite, ...] = ()


