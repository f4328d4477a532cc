"""What does a name or a call refer to? A light resolver of our own over the libcst tree.

libcst's ScopeProvider + QualifiedNameProvider answer part of this, but cost ~10x the parse
(DESIGN.md, "Where the time goes"), and say nothing of receiver types. ``_collect`` does one pass
that records, per scope, every binding of every name (and, per class, every ``self.x = ...``);
this module evaluates expressions lazily against those facts:

* ``Ref(qname)``  — the expression *is* a module, class or function with that qualified name;
* ``Inst(type)``  — the expression is an instance of that type;
* ``Unknown(why)`` — we cannot tell, and say why (``codetrace explain`` shows it).

Resolution works in tiers (DESIGN.md): 1 imports and constructor/factory calls; 2 flow inside a
scope (assignments, ``with``, annotations, parameters); 3 ``self`` attributes, class attributes and
project subclasses; 4 the project's own functions' return types; 5 other modules of the project.

Soundness comes first: a name resolves only when *every* binding of it agrees (``None`` excepted:
calling a method on ``None`` fails the same way traced or not). A wrong match would rewrite the
wrong call; an unresolved one is only reported.

Why one module of ~480 lines: the tiers are methods of one evaluator that recurse into each
other and share its memo, its cycle guard and its tier record; the data model it evaluates
over lives apart (``_model``).
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence

import libcst as cst

from codetrace import _advice
from codetrace._model import (
    CYCLE,
    NONE,
    Binding,
    ClassInfo,
    FunctionInfo,
    Inst,
    Project,
    Ref,
    Scope,
    Unknown,
    Value,
    dotted_name,
)
from codetrace._ruleset import RuleSet

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

#: what a ``@contextmanager`` generator may be annotated as (the first argument is what it yields)
_YIELDS = frozenset({
    "typing.Iterator", "typing.Generator", "typing.Iterable", "collections.abc.Iterator",
    "collections.abc.Generator", "collections.abc.Iterable",
})
_ASYNC_YIELDS = frozenset({
    "typing.AsyncIterator", "typing.AsyncGenerator", "typing.AsyncIterable",
    "collections.abc.AsyncIterator", "collections.abc.AsyncGenerator",
    "collections.abc.AsyncIterable",
})
#: return annotations whose first argument is what ``with ... as x`` binds
#: ``type[X]`` annotations: the value is the class ``X``, not an instance of it
_CLASS_OF = frozenset({"typing.Type", "builtins.type"})
_MANAGERS = frozenset({"typing.ContextManager", "contextlib.AbstractContextManager"})
_ASYNC_MANAGERS = frozenset({
    "typing.AsyncContextManager", "contextlib.AbstractAsyncContextManager",
})


class Resolver:
    """Evaluates expressions against scopes, the project's modules and the rules' types.

    ``tiers`` collects the tiers the last evaluations needed (reset with :meth:`begin`).
    """

    def __init__(self, ruleset: RuleSet, project: Project) -> None:
        self.ruleset = ruleset
        self.project = project
        self._rule_of = ruleset.by_call()
        self._constructs = ruleset.by_construct()
        self._caller_index: dict[str, dict[str, list[tuple[cst.Call, Scope, int]]] | None] = {}
        self.tiers: set[int] = set()
        self._active: set[tuple[int, str]] = set()
        self._memo: dict[tuple[int, str], tuple[Value, frozenset[int]]] = {}
        self._subclass_cache: dict[str, list[ClassInfo]] = {}
        self._cycled = False

    def _same(self, a: Value, b: Value) -> bool:
        """Values agree when equal, or when both are callees one rule matches
        (``requests.post if c else requests.get``: either way a ``requests.send`` call)."""
        if a == b:
            return True
        if isinstance(a, Ref) and isinstance(b, Ref):
            rule = self._rule_of.get(a.qname)
            if rule is not None and rule is self._rule_of.get(b.qname):
                return True
            # ``-> type[SQLA] | type[SQLALegacy]``: two classes one construct rule builds
            built = self._construct_rule(a.qname)
            if built is not None and built is self._construct_rule(b.qname):
                return True
            # ``if TYPE_CHECKING: Alias = httpx.Client else: Alias = _ProjectClient``
            return any(self.project.class_info(q) is not None for q in (a.qname, b.qname)) and (
                self.constructed_base(a.qname, (b.qname,)) is not None
                or self.constructed_base(b.qname, (a.qname,)) is not None)
        if isinstance(a, Inst) and isinstance(b, Inst):
            # ``client or Wrapper()`` where Wrapper is a project subclass of client's library
            # class: the first is kept, and :func:`_one_of`/:func:`_agree` put subclasses first
            return (self.constructed_base(a.type, (b.type,)) is not None
                    or self.constructed_base(b.type, (a.type,)) is not None)
        return False

    def _construct_rule(self, qname: str) -> object | None:
        """The construct rule that building the class ``qname`` matches, if any."""
        if not self._constructs:
            return None
        base = self.constructed_base(qname, self._constructs)
        return None if base is None else self._constructs[base]

    def _consensus(self, values: Sequence[Value]) -> tuple[list[Value], Value | None]:
        """The values that are not ``None`` nor a cycle, and the one they all agree on (the
        most derived, see :meth:`_derived_first`), or None when they differ."""
        real = self._derived_first([v for v in values if v not in (NONE, CYCLE)])
        if real and all(self._same(v, real[0]) for v in real[1:]):
            return real, real[0]
        return real, None

    def _one_of(self, values: Sequence[Value], different: str) -> Value:
        """One expression that may be any of ``values`` (``a or b``, a union annotation)."""
        real, agreed = self._consensus(values)
        if not real:
            return CYCLE if CYCLE in values else NONE
        if agreed is not None:
            return agreed
        unknown = next((v for v in real if isinstance(v, Unknown)), None)
        return unknown if unknown is not None else Unknown(different)

    def _agree_values(self, name: str, values: Sequence[Value]) -> Value:
        """A name bound to ``values`` (every binding, or every return): all must agree."""
        real, agreed = self._consensus(values)
        if not real:
            return CYCLE if CYCLE in values else Unknown(f"`{name}` is only ever None")
        if agreed is not None:
            return agreed
        unknown = next((v for v in real if isinstance(v, Unknown)), None)
        if unknown is not None:
            return Unknown(f"`{name}` has a binding that is not resolved: {unknown.reason}")
        return Unknown(f"`{name}` is bound to different things")

    def _derived_first(self, values: Sequence[Value]) -> list[Value]:
        """Project subclasses before the classes they derive from, so agreement keeps the
        most derived type (an override in it is then seen, not the library's method)."""
        def rank(value: Value) -> int:
            name = value.type if isinstance(value, Inst) else getattr(value, "qname", "")
            return 0 if self.project.class_info(name) is not None else 1

        return sorted(values, key=rank)

    def begin(self) -> None:
        self.tiers = set()

    def _cycle(self) -> Value:
        self._cycled = True
        return CYCLE

    # ----- expressions ---------------------------------------------------------------------
    def evaluate(self, node: cst.BaseExpression, scope: Scope) -> Value:
        """What ``node``, evaluated in ``scope``, refers to."""
        if isinstance(node, cst.Name):
            if node.value == "None":
                return NONE
            return self.lookup(node.value, scope)
        if isinstance(node, cst.Attribute) and _is_super(node.value):
            info = self._enclosing_class(scope)
            if info is None:
                return Unknown("super() outside a method of a project class")
            assert isinstance(node.value, cst.Call)
            if node.value.args:
                named = self.evaluate(node.value.args[0].value, scope)
                if named != Ref(info.qname):
                    return Unknown("super(X, obj) with X other than the enclosing class")
            self.tiers.add(3)
            return self._bases_member(info, node.attr.value, {info.qname})
        if isinstance(node, cst.Attribute):
            dotted = dotted_name(node)
            if dotted is not None:
                assigned = self._dotted_bindings(dotted, scope)
                if assigned is not None:
                    self.tiers.add(2)
                    key = (id(assigned), dotted)
                    if key in self._active:
                        return self._cycle()
                    self._active.add(key)
                    try:
                        return self._agree(dotted, assigned)
                    finally:
                        self._active.discard(key)
            return self.attribute(self.evaluate(node.value, scope), node.attr.value)
        if isinstance(node, cst.Call):
            # injected code evaluates as the code it wraps, so a second run sees the same types
            unwrapped = _advice.unwrap(node)
            if unwrapped is not None:
                return self.evaluate(unwrapped, scope)
            callee = self.evaluate(node.func, scope)
            if callee == Ref("importlib.import_module"):
                return self._imported(node)
            if callee == Ref("builtins.getattr") and len(node.args) == 2:
                return self._getattr(node.args[0].value, node.args[1].value, scope)
            if callee == Ref("typing.cast") and node.args:
                # ``typing.cast(T, value)`` is a T to every type checker; so it is here
                return self.annotation(node.args[0].value, scope)
            return self.call(callee)
        if isinstance(node, cst.BooleanOperation) and isinstance(node.operator, cst.Or):
            either = [self.evaluate(node.left, scope), self.evaluate(node.right, scope)]
            return self._one_of(either, "`or` of different things")
        if isinstance(node, cst.IfExp):
            if self.evaluate(node.test, scope) == Ref("typing.TYPE_CHECKING"):
                # ``Base = requests.Session if TYPE_CHECKING else object``: the static type
                return self.evaluate(node.body, scope)
            either = [self.evaluate(node.body, scope), self.evaluate(node.orelse, scope)]
            return self._one_of(either, "conditional of different things")
        if isinstance(node, cst.Subscript):
            # ``Base[T]`` of a class is that class (a generic base, ``Client[int]()``)
            head = self.evaluate(node.value, scope)
            if isinstance(head, Ref) and (
                self.project.class_info(head.qname) is not None
                or head.qname in _NEUTRAL_BASES
                or head.qname in self.ruleset.returns
            ):
                return head
            return Unknown("a Subscript expression is not resolved")
        if isinstance(node, cst.Await):
            # ``await f(...)``: what ``f`` is declared to return is what it gives once awaited
            # (``conn = await asyncpg.connect(dsn)``: [types] of a coroutine function); anything
            # else awaited stays unknown (a project ``async def`` evaluates as unknown already)
            if isinstance(node.expression, cst.Call):
                awaited = self.evaluate(node.expression, scope)
                if isinstance(awaited, Inst):
                    return awaited
            return Unknown("an awaited value")
        literal = _LITERAL_TYPES.get(type(node))
        if literal is not None:
            return Inst(literal)
        return Unknown(f"a {type(node).__name__} expression is not resolved")

    def _imported(self, node: cst.Call) -> Value:
        """``importlib.import_module("name")`` with a literal absolute name is that module."""
        if len(node.args) == 1 and isinstance(node.args[0].value, cst.SimpleString):
            name = node.args[0].value.evaluated_value
            if isinstance(name, str) and name and not name.startswith("."):
                self.tiers.add(1)
                return self._deref(self.ruleset.canonical(name))
        return Unknown("importlib.import_module() of a computed name")

    def call(self, callee: Value) -> Value:
        """What calling ``callee`` returns."""
        if not isinstance(callee, Ref):
            return callee if isinstance(callee, Unknown) else Unknown(
                f"calling an instance of {callee.type}")
        returned = self.ruleset.returns.get(callee.qname)
        if returned is not None:
            return Inst(self.ruleset.canonical(returned))
        if self.project.class_info(callee.qname) is not None:
            return Inst(callee.qname)
        function = self.project.function_info(callee.qname)
        if function is not None:
            return self._returns(function)
        if callee.qname.startswith("builtins."):
            name = callee.qname.split(".", 1)[1]
            if isinstance(getattr(builtins, name, None), type):
                return Inst(callee.qname)
        return Unknown(f"what {callee.qname}() returns is not declared")

    def attribute(self, base: Value, attr: str) -> Value:
        """``base.attr``: class members for project classes, qualified names for the rest."""
        if isinstance(base, Ref):
            if self.project.class_info(base.qname) is not None:
                return self._member(base.qname, attr, set())
            if self.project.function_info(base.qname) is not None:
                return Unknown(f"`{attr}` is an attribute of the function {base.qname}")
            return self._deref(self.ruleset.canonical(f"{base.qname}.{attr}"))
        if isinstance(base, Inst):
            if self.project.class_info(base.type) is not None:
                return self._member(base.type, attr, set())
            return Ref(self.ruleset.canonical(f"{base.type}.{attr}"))
        return base

    def annotation(self, node: cst.BaseExpression, scope: Scope) -> Value:
        """The instance type an annotation declares (``X``, ``X | None``, ``Optional[X]``)."""
        if isinstance(node, cst.SimpleString):
            try:
                inner = cst.parse_expression(str(node.evaluated_value))
            except (cst.ParserSyntaxError, TypeError):
                return Unknown("string annotation does not parse")
            return self.annotation(inner, scope)
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
            return self._one_of(
                [self.annotation(node.left, scope), self.annotation(node.right, scope)],
                "union of several types",
            )
        if isinstance(node, cst.Name) and node.value == "None":
            return NONE
        if isinstance(node, cst.Subscript):
            head = self.evaluate(node.value, scope)
            if isinstance(head, Ref) and head.qname in _CLASS_OF:
                # ``type[X]``: the class itself, as a factory of classes returns it
                members = [
                    self._class_annotation(el.slice.value, scope)
                    for el in node.slice
                    if isinstance(el.slice, cst.Index)
                ]
                return self._one_of(members, "union of several classes")
            if isinstance(head, Ref) and head.qname in ("typing.Optional", "typing.Union"):
                members = [
                    self.annotation(el.slice.value, scope)
                    for el in node.slice
                    if isinstance(el.slice, cst.Index)
                ]
                return self._one_of(members, "union of several types")
            if isinstance(head, Ref):
                return Inst(self.ruleset.canonical(head.qname))
            return Unknown("generic annotation")
        value = self.evaluate(node, scope)
        if isinstance(value, Ref):
            return Inst(self.ruleset.canonical(value.qname))
        return Unknown("annotation does not name a known type")

    def _class_annotation(self, node: cst.BaseExpression, scope: Scope) -> Value:
        """The class ``X`` of ``type[X]`` (``type[A | B]``, ``type["X"]``): a reference to it."""
        declared = self.annotation(node, scope)
        if isinstance(declared, Inst):
            return Ref(declared.type)
        return declared if declared in (NONE, CYCLE) else Unknown("`type[...]` of an unknown class")

    # ----- names ---------------------------------------------------------------------------
    def lookup(self, name: str, scope: Scope) -> Value:
        """The value of ``name`` seen from ``scope``, by Python's scoping rules."""
        found = _find_bindings(name, scope)
        if found is None:
            if scope.module().star_imports:
                return self._star(name, scope.module().star_imports)
            if hasattr(builtins, name):
                return Ref(f"builtins.{name}")
            return Unknown(f"`{name}` is not bound in this module")
        # keyed by the scope that owns the bindings (one list per scope and name): a
        # parameter's binding records the enclosing scope, where its annotation is evaluated
        key = (id(found), name)
        memo = self._memo.get(key)
        if memo is not None:
            self.tiers.update(memo[1])
            return memo[0]
        if key in self._active:
            return self._cycle()
        self._active.add(key)
        outer_tiers, self.tiers = self.tiers, set()
        outer_cycled, self._cycled = self._cycled, False
        try:
            value = self._agree(name, found)
        finally:
            self._active.discard(key)
            inner_tiers, self.tiers = self.tiers, outer_tiers | self.tiers
            cycled, self._cycled = self._cycled, outer_cycled or self._cycled
        if not cycled:
            self._memo[key] = (value, frozenset(inner_tiers))
        return value

    def _star(self, name: str, modules: Sequence[str]) -> Value:
        """``name`` from ``from M import *``: the last project module that binds it (Python's
        own order), or a rule library's callee or type; else unknown."""
        for module in reversed(modules):
            canonical = self.ruleset.canonical(f"{module}.{name}")
            if module.split(".", 1)[0] in self.ruleset.modules:
                if canonical in self._rule_of or canonical in self.ruleset.returns:
                    self.tiers.add(1)
                    return Ref(canonical)
                return Unknown(f"`{name}` may come from a star import of {module}")
            scope = self.project.module_scope(module)
            if scope is None:
                return Unknown(f"`{name}` may come from a star import of {module}")
            if name in scope.bindings and not name.startswith("_"):
                self.tiers.add(5)
                return self.lookup(name, scope)
            if scope.star_imports:
                return Unknown(f"`{name}` may come from a star import of {module}")
        if hasattr(builtins, name):
            return Ref(f"builtins.{name}")
        return Unknown(f"`{name}` may come from a star import")

    def _agree(self, name: str, bindings: Sequence[Binding]) -> Value:
        values = [self._binding_value(b) for b in bindings if b.kind != "none"]
        return self._agree_values(name, values)

    def _binding_value(self, binding: Binding) -> Value:
        kind = binding.kind
        if kind == "import":
            self.tiers.add(1)
            return self._deref(self.ruleset.canonical(binding.qname))
        if kind == "def":
            function = self.project.function_info(binding.qname)
            if function is not None and function.kind == "property":
                return self._returns(function)
            return Ref(binding.qname)
        if kind in ("class", "cls"):
            return Ref(binding.qname)
        if kind == "self":
            self.tiers.add(3)
            return Inst(binding.qname)
        if kind == "value" and binding.node is not None:
            self.tiers.add(2)
            return self.evaluate(binding.node, binding.scope)
        if kind == "annotation" and binding.node is not None:
            self.tiers.add(2)
            return self.annotation(binding.node, binding.scope)
        if kind in ("enter", "aenter") and binding.node is not None:
            self.tiers.add(2)
            managed = self._managed(binding.node, binding.scope, kind == "aenter")
            if managed is not None:
                return managed
            entered = self.evaluate(binding.node, binding.scope)
            dunder = "__enter__" if kind == "enter" else "__aenter__"
            if isinstance(entered, Inst):
                returned = self.ruleset.returns.get(f"{entered.type}.{dunder}")
                if returned is not None:
                    return Inst(self.ruleset.canonical(returned))
                method = self.project.function_info(f"{entered.type}.{dunder}")
                if method is not None and kind == "enter":
                    return self._returns(method)
                return Unknown(f"what {entered.type}.{dunder}() returns is not declared")
            return entered
        if kind == "param":
            return self._from_callers(binding)
        if kind == "none":
            return NONE
        return Unknown(binding.reason or "bound in a way that is not resolved")

    def _getattr(
        self, obj: cst.BaseExpression, name: cst.BaseExpression, scope: Scope
    ) -> Value:
        """``getattr(obj, "get")``, or ``getattr(obj, method)`` where ``method`` can only be
        one of some literal names: the attribute, when every name gives the same rule's."""
        names = self._literal_strings(name, scope)
        if not names:
            return Unknown("getattr() with a name that is not a known string")
        base = self.evaluate(obj, scope)
        return self._one_of([self.attribute(base, n) for n in sorted(names)],
                            "getattr() of names that are different things")

    def _literal_strings(self, node: cst.BaseExpression, scope: Scope) -> set[str]:
        """The strings ``node`` can be: a literal, or a name bound only to literals or annotated
        ``Literal["a", "b"]``. Empty when it can be anything else."""
        if isinstance(node, cst.SimpleString):
            value = node.evaluated_value
            return {value} if isinstance(value, str) else set()
        if not isinstance(node, cst.Name):
            return set()
        bindings = _find_bindings(node.value, scope)
        found: set[str] = set()
        for binding in bindings or ():
            if binding.kind == "value" and isinstance(binding.node, cst.SimpleString):
                found |= self._literal_strings(binding.node, binding.scope)
            elif binding.kind == "annotation" and isinstance(binding.node, cst.Subscript) \
                    and self.evaluate(binding.node.value, binding.scope) == Ref("typing.Literal"):
                for element in binding.node.slice:
                    if not isinstance(element.slice, cst.Index):
                        return set()
                    literal = self._literal_strings(element.slice.value, binding.scope)
                    if not literal:
                        return set()
                    found |= literal
            else:
                return set()
        return found

    def _managed(self, node: cst.BaseExpression, scope: Scope, is_async: bool) -> Value | None:
        """``with f() as x`` where ``f`` is a project function that declares what ``x`` is:
        a ``@contextmanager`` generator annotated ``Iterator[T]``/``Generator[T, ...]``, or a
        function annotated ``ContextManager[T]``. None when ``f`` is neither."""
        if not isinstance(node, cst.Call):
            return None
        unwrapped = _advice.unwrap(node)
        call = unwrapped if isinstance(unwrapped, cst.Call) else node
        callee = self.evaluate(call.func, scope)
        if not isinstance(callee, Ref):
            return None
        function = self.project.function_info(callee.qname)
        if function is None or not isinstance(function.returns, cst.Subscript):
            return None
        head = self.evaluate(function.returns.value, function.outer)
        if not isinstance(head, Ref):
            return None
        decorated = {
            d.qname for d in (self.evaluate(e, function.outer) for e in function.decorators)
            if isinstance(d, Ref)
        }
        wrapper = "contextlib.asynccontextmanager" if is_async else "contextlib.contextmanager"
        yields = _ASYNC_YIELDS if is_async else _YIELDS
        managers = _ASYNC_MANAGERS if is_async else _MANAGERS
        if not ((wrapper in decorated and head.qname in yields) or head.qname in managers):
            return None
        first = function.returns.slice[0].slice
        if not isinstance(first, cst.Index):
            return None
        self.tiers.add(4)
        return self.annotation(first.value, function.outer)

    # ----- parameters typed from the project's own call sites ---------------------------------
    def _from_callers(self, binding: Binding) -> Value:
        """An unannotated parameter: what every call of its function in its module passes.

        Sound only as far as those calls are all the calls; the adapters verify at run time
        that a callee is the library's (DESIGN.md). A caller passing ``*args``/``**kwargs``,
        or none at all, leaves the parameter unknown.
        """
        unknown = Unknown(binding.reason or "a parameter without an annotation")
        function = self.project.function_info(binding.qname) if binding.qname else None
        if function is None:
            return unknown
        key = (id(binding), "<callers>")
        if key in self._active:
            return self._cycle()
        self._active.add(key)
        try:
            index = self._callers(function.scope.module().qualname)
            if index is None:  # met while that index is being built: decided by the others
                return self._cycle()
            callers = index.get(function.qname, [])
            if not callers:
                return unknown
            name = binding.node.value if isinstance(binding.node, cst.Name) else ""
            values: list[Value] = []
            for call, scope, offset in callers:
                argument = _argument(call, binding.position - offset, name)
                if argument is _SPREAD:
                    return Unknown(f"`{name}` is passed through *args or **kwargs")
                if argument is None:
                    if binding.default is None:
                        return unknown
                    values.append(self.evaluate(binding.default, function.outer))
                else:
                    assert isinstance(argument, cst.BaseExpression)
                    values.append(self.evaluate(argument, scope))
            self.tiers.add(6)
            return self._agree_values(name, values)
        finally:
            self._active.discard(key)

    def _callers(self, module: str) -> dict[str, list[tuple[cst.Call, Scope, int]]] | None:
        """Per project function of ``module``: the calls of it made in ``module``, each with
        the number of leading parameters the call does not pass (``self`` when bound).
        None while the index of ``module`` is being built."""
        if module in self._caller_index:
            return self._caller_index[module]
        self._caller_index[module] = None
        index: dict[str, list[tuple[cst.Call, Scope, int]]] = {}
        for site in self.project.calls_in(module):
            unwrapped = _advice.unwrap(site.node)
            call = unwrapped if isinstance(unwrapped, cst.Call) else site.node
            target = self._called_function(call, site.scope)
            if target is not None:
                index.setdefault(target[0], []).append((call, site.scope, target[1]))
        self._caller_index[module] = index
        return index

    def _called_function(self, call: cst.Call, scope: Scope) -> tuple[str, int] | None:
        """The project function ``call`` calls and how many leading parameters it binds."""
        func = call.func
        receiver = func.value if isinstance(func, cst.Attribute) else None
        if receiver is not None and not _is_super(receiver):
            named = self.evaluate(receiver, scope)
            if isinstance(named, Ref) and self.project.class_info(named.qname) is not None:
                # ``Base.__init__(self, ...)`` names Base's own, whatever subclasses override,
                # and passes self by hand
                assert isinstance(func, cst.Attribute)
                own = self._member(named.qname, func.attr.value, set(), instance=False)
                method = self.project.function_info(own.qname) if isinstance(own, Ref) else None
                if method is not None:
                    return method.qname, 1 if method.kind == "classmethod" else 0
        callee = self.evaluate(func, scope)
        if not isinstance(callee, Ref):
            return None
        if self.project.class_info(callee.qname) is not None:  # a construction: __init__
            init = self._member(callee.qname, "__init__", set(), instance=False)
            return (init.qname, 1) if isinstance(init, Ref) else None
        function = self.project.function_info(callee.qname)
        if function is None:
            return None
        if function.kind in ("function", "staticmethod"):
            return function.qname, 0
        if function.kind == "classmethod":
            return function.qname, 1
        # a method, bound through super() or an instance
        if receiver is not None and (
            _is_super(receiver) or isinstance(self.evaluate(receiver, scope), Inst)
        ):
            return function.qname, 1
        return None

    def _dotted_bindings(self, dotted: str, scope: Scope) -> list[Binding] | None:
        """``g.db`` assigned in this function (or at module level) before it is read here."""
        found = scope.dotted.get(dotted)
        if found:
            return found
        module = scope.module()
        found = module.dotted.get(dotted)
        if not found or module is scope:
            return None
        # module-level ``app.s = ...`` speaks of the module's ``app``, not of a local one
        root = dotted.split(".", 1)[0]
        if _find_bindings(root, scope) is not module.bindings.get(root):
            return None
        return found

    # ----- the project ---------------------------------------------------------------------
    def _deref(self, qname: str) -> Value:
        """``pkg.mod.name`` of the project → what ``name`` is bound to in ``pkg.mod``.

        Names in a rule's library stay references even where the tree holds that library's
        source (a vendored copy, or site-packages itself): the rules describe its API.
        """
        if qname.split(".", 1)[0] in self.ruleset.modules:
            return Ref(qname)
        key = (0, qname)
        if key in self._active:
            return self._cycle()
        self._active.add(key)
        try:
            return self._deref_project(qname)
        finally:
            self._active.discard(key)

    def _deref_project(self, qname: str) -> Value:
        if (
            self.project.class_info(qname)
            or self.project.function_info(qname)
            or self.project.module_exists(qname)
        ):
            return Ref(qname)
        parts = qname.split(".")
        for end in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:end])
            if not self.project.module_exists(module):
                continue
            scope = self.project.module_scope(module)
            if scope is None:
                return Unknown(f"module {module} of the project does not reach a rule's "
                               "library, or could not be read")
            self.tiers.add(5)
            value = self.lookup(parts[end], scope)
            for attr in parts[end + 1:]:
                value = self.attribute(value, attr)
            return value
        return Ref(qname)

    def _returns(self, function: FunctionInfo) -> Value:
        self.tiers.add(4)
        if function.is_async:
            return Unknown(f"{function.qname} is async (its call returns a coroutine)")
        if function.is_generator:
            return Unknown(f"{function.qname} is a generator")
        if function.returns is not None:
            return self.annotation(function.returns, function.outer)
        key = (id(function), "<return>")
        if key in self._active:
            return self._cycle()
        self._active.add(key)
        try:
            values = [self.evaluate(v, function.scope) for v in function.return_values]
        finally:
            self._active.discard(key)
        if not values:
            return Unknown(f"{function.qname} returns nothing")
        return self._agree_values(f"{function.qname}()", values)

    def _enclosing_class(self, scope: Scope) -> ClassInfo | None:
        """The class whose method (or a lambda/comprehension in it) ``scope`` belongs to."""
        current: Scope | None = scope
        while current is not None:
            if current.kind == "function" and current.parent is not None \
                    and current.parent.kind == "class":
                return self.project.class_info(current.parent.qualname)
            current = current.parent
        return None

    def _subclasses(self, cls: str) -> list[ClassInfo]:
        """Subclasses of ``cls`` defined in its own module (transitively)."""
        cached = self._subclass_cache.get(cls)
        if cached is not None:
            return cached
        self._subclass_cache[cls] = []  # evaluating bases may come back here: no subclasses yet
        found: list[ClassInfo] = []
        wanted = {cls}
        changed = True
        siblings = list(self.project.sibling_classes(cls))
        while changed:
            changed = False
            for info in siblings:
                if info.qname in wanted:
                    continue
                bases = [self.evaluate(base, info.outer) for base in info.bases]
                if any(isinstance(b, Ref) and b.qname in wanted for b in bases):
                    wanted.add(info.qname)
                    found.append(info)
                    changed = True
        self._subclass_cache[cls] = found
        return found

    def _member(self, cls: str, attr: str, seen: set[str], instance: bool = True) -> Value:
        """``attr`` on a project class or its instances: own body, ``self.x``, then bases.

        On an instance, a subclass in the same module that defines ``attr`` too makes it
        unresolved: at run time the object may be an instance of that subclass. On the class
        itself (``Base.__init__``) it is the class's own.
        """
        info = self.project.class_info(cls)
        if info is None or cls in seen:
            return Unknown(f"class {cls} is not resolved")
        if not seen and instance:
            for sub in self._subclasses(cls):
                if attr in sub.scope.bindings or attr in sub.instance_attrs:
                    return Unknown(f"`{attr}` is overridden in subclass {sub.qname}")
        seen.add(cls)
        self.tiers.add(3)
        own = [*info.scope.bindings.get(attr, ()), *info.instance_attrs.get(attr, ())]
        if own:
            key = (id(info), attr)
            if key in self._active:
                return self._cycle()
            self._active.add(key)
            try:
                return self._agree(f"{cls.rsplit('.', 1)[-1]}.{attr}", own)
            finally:
                self._active.discard(key)
        return self._bases_member(info, attr, seen)

    def constructed_base(self, qname: str, targets: Collection[str]) -> str | None:
        """The class of ``targets`` that the class ``qname`` is, or derives from (through
        project classes' bases, followed transitively); None when it is neither."""
        seen: set[str] = set()
        pending = [qname]
        while pending:
            current = pending.pop()
            if current in targets:
                return current
            if current in seen:
                continue
            seen.add(current)
            info = self.project.class_info(current)
            if info is None:
                continue
            for base in info.bases:
                value = self.evaluate(base, info.outer)
                if isinstance(value, Ref):
                    self.tiers.add(3)
                    pending.append(self.ruleset.canonical(value.qname))
        return None

    def _bases_member(self, info: ClassInfo, attr: str, seen: set[str]) -> Value:
        """``attr`` looked up in the bases of a project class (single inheritance is exact)."""
        cls = info.qname
        bases = [self.evaluate(base, info.outer) for base in info.bases]
        bases = [b for b in bases if not (isinstance(b, Ref) and b.qname in _NEUTRAL_BASES)]
        for base in bases:
            if isinstance(base, Ref) and self.project.class_info(base.qname) is not None:
                found = self._member(base.qname, attr, seen)
                if not (isinstance(found, Unknown) and found.reason.startswith("no attribute")):
                    return found
                continue
            if isinstance(base, Ref):
                if len(bases) > 1:
                    return Unknown(f"{cls} has several bases; `{attr}` may come from any")
                return Ref(self.ruleset.canonical(f"{base.qname}.{attr}"))
            if isinstance(base, Unknown):
                return Unknown(f"a base class of {cls} is not resolved: {base.reason}")
        return Unknown(f"no attribute `{attr}` on {cls}")


_SPREAD = object()
#: bases that add no attribute a rule could match
_NEUTRAL_BASES = frozenset({
    "builtins.object", "typing.Generic", "typing.Protocol", "typing_extensions.Protocol",
    "abc.ABC",
})


def _argument(call: cst.Call, position: int, name: str) -> cst.BaseExpression | object | None:
    """The argument ``call`` passes for the parameter at ``position`` (-1: keyword-only) named
    ``name``: an expression, None when it passes none, :data:`_SPREAD` when ``*``/``**`` may."""
    index = 0
    for arg in call.args:
        if arg.star:
            return _SPREAD
        if arg.keyword is not None:
            if arg.keyword.value == name:
                return arg.value
            continue
        if index == position:
            return arg.value
        index += 1
    return None


def _is_super(node: cst.BaseExpression) -> bool:
    """``super()``, or ``super(Cls, self)`` (assumed to name the enclosing class)."""
    return (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Name)
        and node.func.value == "super"
        and len(node.args) in (0, 2)
    )


def _find_bindings(name: str, scope: Scope) -> list[Binding] | None:
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
