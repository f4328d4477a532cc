"""What does a name or a call refer to? A light resolver of our own over the libcst tree.

libcst's ScopeProvider + QualifiedNameProvider answer this too, but cost ~10x the parse
(DESIGN.md, "Where the time goes"). This module does one pass that records, per scope, every
binding of every name, then evaluates expressions lazily:

* ``Ref(qname)``  — the expression *is* a module, class or function with that qualified name;
* ``Inst(type)``  — the expression is an instance of that type;
* ``Unknown(why)`` — we cannot tell, and say why (``codetrace explain`` shows it).

Soundness comes first: a name resolves only when *every* binding of it in its scope agrees
(``None`` bindings excepted: calling a method on ``None`` fails the same way traced or not).
A wrong match would rewrite the wrong call; an unresolved one is only reported.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import libcst as cst

from codetrace._rules import RuleSet


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

_LITERAL_TYPES: dict[type[cst.CSTNode], str] = {
    cst.Dict: "builtins.dict",
    cst.DictComp: "builtins.dict",
    cst.List: "builtins.list",
    cst.ListComp: "builtins.list",
    cst.Set: "builtins.set",
    cst.SetComp: "builtins.set",
    cst.Tuple: "builtins.tuple",
    cst.SimpleString: "builtins.str",
    cst.ConcatenatedString: "builtins.str",
    cst.FormattedString: "builtins.str",
    cst.Integer: "builtins.int",
    cst.Float: "builtins.float",
    cst.Imaginary: "builtins.complex",
    cst.GeneratorExp: "builtins.generator",
}


@dataclass
class _Binding:
    """One way a name gets bound: evaluated lazily, since it may depend on other names."""

    kind: str  # import | value | annotation | enter | def | opaque | none
    scope: Scope
    node: cst.BaseExpression | None = None
    qname: str = ""
    reason: str = ""


@dataclass(eq=False)
class Scope:
    """A Python scope: module, class, function, lambda or comprehension."""

    kind: str
    parent: Scope | None
    qualname: str
    bindings: dict[str, list[_Binding]] = field(default_factory=dict)
    globals: set[str] = field(default_factory=set)
    nonlocals: set[str] = field(default_factory=set)
    star_import: bool = False

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
    #: line span of the statement the call stands in (for ``# codetrace: ignore``)
    ignored: bool


def marker_root(node: cst.BaseExpression, marker: str) -> bool:
    """Is ``node`` an attribute chain that starts at the marker name (``_codetrace.x.y``)?"""
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name) and node.value == marker


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


class Resolver:
    """Evaluates expressions of one module against its scopes and the rule set's types."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self._active: set[tuple[int, str]] = set()

    def evaluate(self, node: cst.BaseExpression, scope: Scope) -> Value:
        """What ``node``, evaluated in ``scope``, refers to."""
        if isinstance(node, cst.Name):
            return self.lookup(node.value, scope)
        if isinstance(node, cst.Attribute):
            base = self.evaluate(node.value, scope)
            if isinstance(base, Ref):
                return Ref(self.ruleset.canonical(f"{base.qname}.{node.attr.value}"))
            if isinstance(base, Inst):
                return Ref(self.ruleset.canonical(f"{base.type}.{node.attr.value}"))
            return base
        if isinstance(node, cst.Call):
            callee = self.evaluate(node.func, scope)
            if isinstance(callee, Ref):
                returned = self.ruleset.returns.get(callee.qname)
                if returned is not None:
                    return Inst(self.ruleset.canonical(returned))
                return Unknown(f"what {callee.qname}() returns is not declared")
            return callee
        literal = _LITERAL_TYPES.get(type(node))
        if literal is not None:
            return Inst(literal)
        return Unknown(f"a {type(node).__name__} expression is not resolved")

    def annotation(self, node: cst.BaseExpression, scope: Scope) -> Value:
        """The instance type an annotation declares (``X``, ``X | None``, ``Optional[X]``)."""
        if isinstance(node, cst.SimpleString):
            try:
                inner = cst.parse_expression(node.evaluated_value)
            except (cst.ParserSyntaxError, TypeError):
                return Unknown("string annotation does not parse")
            return self.annotation(inner, scope)
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            return _one_of(
                [self.annotation(node.left, scope), self.annotation(node.right, scope)]
            )
        if isinstance(node, cst.Name) and node.value == "None":
            return Unknown("None")
        if isinstance(node, cst.Subscript):
            head = self.evaluate(node.value, scope)
            if isinstance(head, Ref) and head.qname in ("typing.Optional", "typing.Union"):
                members = [
                    self.annotation(el.slice.value, scope)
                    for el in node.slice
                    if isinstance(el.slice, cst.Index)
                ]
                return _one_of(members)
            return Unknown("generic annotation")
        value = self.evaluate(node, scope)
        if isinstance(value, Ref):
            return Inst(self.ruleset.canonical(value.qname))
        return Unknown("annotation does not name a known type")

    def lookup(self, name: str, scope: Scope) -> Value:
        """The value of ``name`` seen from ``scope``, by Python's scoping rules."""
        found = _find_bindings(name, scope)
        if found is None:
            if scope.module().star_import:
                return Unknown(f"`{name}` may come from a star import")
            if hasattr(builtins, name):
                return Ref(f"builtins.{name}")
            return Unknown(f"`{name}` is not bound in this module")
        key = (id(found[0].scope), name)
        if key in self._active:
            return Unknown(f"`{name}` is defined in terms of itself")
        self._active.add(key)
        try:
            values = [self._binding_value(b) for b in found if b.kind != "none"]
        finally:
            self._active.discard(key)
        if not values:
            return Unknown(f"`{name}` is only ever None")
        return _agree(name, values)

    def _binding_value(self, binding: _Binding) -> Value:
        if binding.kind in ("import", "def"):
            return Ref(self.ruleset.canonical(binding.qname))
        if binding.kind == "value" and binding.node is not None:
            return self.evaluate(binding.node, binding.scope)
        if binding.kind == "annotation" and binding.node is not None:
            return self.annotation(binding.node, binding.scope)
        if binding.kind == "enter" and binding.node is not None:
            entered = self.evaluate(binding.node, binding.scope)
            if isinstance(entered, Inst):
                returned = self.ruleset.returns.get(f"{entered.type}.__enter__")
                if returned is not None:
                    return Inst(self.ruleset.canonical(returned))
                return Unknown(f"what {entered.type}.__enter__() returns is not declared")
            return entered
        return Unknown(binding.reason or "bound in a way that is not resolved")


def _one_of(values: Sequence[Value]) -> Value:
    real = [v for v in values if not (isinstance(v, Unknown) and v.reason == "None")]
    if len(real) == 1:
        return real[0]
    return Unknown("union of several types")


def _agree(name: str, values: Sequence[Value]) -> Value:
    first = values[0]
    if all(v == first for v in values[1:]):
        return first
    unknown = next((v for v in values if isinstance(v, Unknown)), None)
    if unknown is not None:
        return Unknown(f"`{name}` has a binding that is not resolved: {unknown.reason}")
    return Unknown(f"`{name}` is bound to different things")


def _find_bindings(name: str, scope: Scope) -> list[_Binding] | None:
    current: Scope | None = scope
    first = True
    while current is not None:
        if current.kind == "class" and not first:
            current = current.parent
            continue
        if name in current.globals:
            current = current.module()
        bindings = current.bindings.get(name)
        if bindings:
            return bindings
        first = False
        current = current.parent
    return None


def iter_targets(node: cst.BaseExpression) -> Iterator[cst.BaseExpression]:
    """Flatten tuple/list/starred assignment targets."""
    if isinstance(node, (cst.Tuple, cst.List)):
        for element in node.elements:
            yield from iter_targets(element.value)
    elif isinstance(node, cst.StarredElement):
        yield from iter_targets(node.value)
    else:
        yield node
