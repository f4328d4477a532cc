"""One pass over a module: scopes, bindings, and every call with the context it stands in.

The pass records facts only; judging a call (does a rule match it?) is ``_match``'s job, so the
two can be tested apart and ``explain`` can reuse both.

Why one module of ~470 lines: it is one visitor, and the point of it is one walk. Its parts
(scopes, bindings, classes and methods, calls) share the visitor's stacks; split into several
visitors they would walk the tree several times, which is the cost DESIGN.md measures first.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from codetrace import _advice, _span_directive
from codetrace._directives import EVERY, NOTHING, comment_ignores, def_ignores, directive_lines
from codetrace._marker import MARKER, is_marker_rooted, is_runtime_import
from codetrace._model import (
    Assignment,
    Binding,
    CallSite,
    ClassInfo,
    Definition,
    FunctionInfo,
    Scope,
    dotted_name,
    iter_targets,
)


@dataclass(frozen=True)
class ModuleFacts:
    """What one pass found: the module scope, the calls, and the marker's own bindings."""

    module_scope: Scope
    calls: tuple[CallSite, ...]
    #: nodes where the marker name is bound by something other than the runtime import
    foreign_marker: tuple[cst.CSTNode, ...]
    file_ignored: bool
    classes: dict[str, ClassInfo]
    functions: dict[str, FunctionInfo]
    #: calls already instrumented (wrapped, or hooked by the statement after them)
    instrumented_sites: int = 0
    #: the string arguments of the runtime's calls (``traced(f, "redis.client")``): the adapter
    #: names and rule ids in use, for the installed-version check (``_versions``)
    marker_names: frozenset[str] = frozenset()
    #: every ``def``, for ``span-function`` rules and ``# codetrace: span`` directives
    definitions: tuple[Definition, ...] = ()
    #: (line, message) of each ``# codetrace: span`` that is malformed or on no ``def``
    span_errors: tuple[tuple[int, str], ...] = ()
    #: module-level ``NAME = value`` / ``NAME: T = value`` (``match.assign`` rules)
    assignments: tuple[Assignment, ...] = ()
    #: every name a module-level statement assigns (``=``, ``: T =``, ``+=``): what
    #: ``match.alongside`` asks of the module
    module_assigned: frozenset[str] = frozenset()


def collect(
    module: cst.Module, *, module_name: str, is_package: bool, runtime: str,
    source: bytes | None = None,
) -> ModuleFacts:
    """Walk ``module`` once and return its facts.

    ``source``, the bytes ``module`` was parsed from, spares regenerating the code to look for
    ``# codetrace: ignore`` (positions are computed only where a directive appears).
    """
    wrapper: MetadataWrapper | None = None
    text = source.decode(module.encoding) if source is not None else module.code
    text_has_directive = "codetrace:" in text
    if text_has_directive:
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        positions = dict(wrapper.resolve(PositionProvider))
    else:
        positions = {}
    header = NOTHING
    for line in module.header if text_has_directive else ():
        header = header | comment_ignores(line.comment)
    spans = _span_directive.comments(text) if text_has_directive and \
        _span_directive.DIRECTIVE.search(text) else {}
    collector = _Collector(
        module_name=module_name, is_package=is_package, runtime=runtime,
        positions=positions, directives=directive_lines(text) if text_has_directive else {},
        file_ignores=header, span_comments=spans,
    )
    module.visit(collector)
    errors = collector.span_errors + [
        (line, "`# codetrace: span` goes on a `def` line, or alone on the line directly above "
         "the `def` or above its decorators")
        for line in sorted(set(spans) - collector.span_lines)]
    return ModuleFacts(
        collector.module_scope, tuple(collector.calls), tuple(collector.foreign_marker),
        EVERY in header, collector.classes, collector.functions, len(collector.done),
        frozenset(collector.marker_names), tuple(collector.definitions),
        tuple(sorted(errors)), tuple(collector.assignments),
        frozenset(collector.module_assigned),
    )


def _is_type_checking(test: cst.BaseExpression) -> bool:
    """``if TYPE_CHECKING:`` / ``if typing.TYPE_CHECKING:``."""
    name = dotted_name(test)
    return name is not None and name.rpartition(".")[2] == "TYPE_CHECKING"


def _is_overload(decorator: cst.Decorator) -> bool:
    """``@overload`` / ``@typing.overload``: a stub for the type checker, replaced at once."""
    name = dotted_name(decorator.decorator)
    return name is not None and name.rpartition(".")[2] == "overload"


_CONSTANTS = (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString,
              cst.Ellipsis)


def _is_trivial(node: cst.FunctionDef) -> bool:
    """A body worth no span: only a docstring, ``pass``, ``...``, and at most one ``return``
    of nothing, a name, an attribute or a constant (getters, stubs, placeholders)."""
    body = node.body
    smalls: list[cst.BaseSmallStatement] = []
    if isinstance(body, cst.SimpleStatementSuite):
        smalls.extend(body.body)
    else:
        for statement in body.body:
            if not isinstance(statement, cst.SimpleStatementLine):
                return False
            smalls.extend(statement.body)
    first = smalls[0] if smalls else None
    if isinstance(first, cst.Expr) and isinstance(first.value, (cst.SimpleString,
                                                                 cst.ConcatenatedString)):
        smalls = smalls[1:]
    rest = [small for small in smalls if not isinstance(small, cst.Pass) and not (
        isinstance(small, cst.Expr) and isinstance(small.value, cst.Ellipsis))]
    if not rest:
        return True
    if len(rest) == 1 and isinstance(rest[0], cst.Return):
        value = rest[0].value
        return value is None or dotted_name(value) is not None or isinstance(value, _CONSTANTS)
    return False


def _assigned_call(
    statement: cst.CSTNode,
) -> tuple[cst.BaseAssignTargetExpression, cst.Call] | None:
    """``target = CALL`` (or ``target: T = CALL``) alone on its line: the target and the call."""
    if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
        return None
    small = statement.body[0]
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
    elif isinstance(small, cst.AnnAssign):
        target = small.target
    else:
        return None
    return (target, small.value) if isinstance(small.value, cst.Call) else None


_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError"})


@dataclass(eq=False)
class _ImportTry:
    """A ``try`` statement being visited, for the optional-import idiom::

        try:
            from redis import Redis
        except ImportError:
            Redis = object

    The fallback binding runs only when the import failed, i.e. when the library is not
    installed and there is nothing to trace; keeping it would make ``Redis`` "bound to
    different things" and leave every subclass and client unresolved. So a binding other than
    an import, made in a handler of ``ImportError``/``ModuleNotFoundError`` in the same scope,
    of a name the ``try`` body imported, is not recorded. An import in the handler (``except
    ImportError: import json``) is kept: it is a real alternative. (The runtime checks what it
    wraps when it runs: a class that is not the library's is called unchanged.)"""

    scope: Scope
    imported: set[str] = field(default_factory=set)
    in_fallback: bool = False


def _catches_import_error(kind: cst.BaseExpression | None) -> bool:
    """``except ImportError`` / ``except (ModuleNotFoundError, AttributeError)`` and the like."""
    if isinstance(kind, cst.Tuple):
        return any(_catches_import_error(element.value) for element in kind.elements)
    if isinstance(kind, cst.Name):
        return kind.value in _IMPORT_ERRORS
    if isinstance(kind, cst.Attribute) and isinstance(kind.value, cst.Name):
        return kind.value.value == "builtins" and kind.attr.value in _IMPORT_ERRORS
    return False


class _Collector(cst.CSTVisitor):
    def __init__(
        self, *, module_name: str, is_package: bool, runtime: str,
        positions: dict[cst.CSTNode, CodeRange], directives: dict[int, frozenset[str]],
        file_ignores: frozenset[str] = NOTHING,
        span_comments: dict[int, tuple[str, bool]] | None = None,
    ) -> None:
        super().__init__()
        self.module_name = module_name
        #: ``# codetrace: span`` comments by line (``_span_directive.comments``)
        self.span_comments = span_comments or {}
        #: the lines of those a ``def`` took, and the problems found in them
        self.span_lines: set[int] = set()
        self.span_errors: list[tuple[int, str]] = []
        self.definitions: list[Definition] = []
        #: Python's ``__qualname__`` prefix of the definitions being visited
        self.qualname_prefix: list[str] = [""]
        #: bodies of ``if TYPE_CHECKING:``, and how deep inside them the visit is
        self.type_checking_blocks: set[int] = set()
        self.type_checking = 0
        self.module_header: Sequence[cst.EmptyLine] = ()
        self.first_statement: cst.CSTNode | None = None
        self.package = module_name if is_package else module_name.rpartition(".")[0]
        self.runtime = runtime
        self.positions = positions
        self.directives = directives
        self.module_scope = Scope("module", None, module_name)
        self.scope = self.module_scope
        self.calls: list[CallSite] = []
        self.foreign_marker: list[cst.CSTNode] = []
        self.fstring_quotes: list[str] = []
        #: what the directives around the current node ignore: rule names, or EVERY
        self.ignores: list[frozenset[str]] = [file_ignores] if file_ignores else []
        self.statement_ignored: list[frozenset[str]] = []
        self.instrumented: set[int] = set()
        #: the calls an injected construct instruments (the runtime's own calls are not sites)
        self.done: set[int] = set()
        self.marker_names: set[str] = set()
        self.decorators: set[int] = set()
        self.assigned: dict[int, tuple[cst.BaseAssignTargetExpression, cst.SimpleStatementLine]]
        self.assigned = {}
        self.classes: dict[str, ClassInfo] = {}
        self.functions: dict[str, FunctionInfo] = {}
        #: innermost function being visited (None inside a lambda or at class/module level)
        self.function: list[FunctionInfo | None] = []
        #: (class, name of the first parameter) for the method whose body is being visited
        self.method_self: list[tuple[ClassInfo, str] | None] = []
        self.class_stack: list[ClassInfo] = []
        #: the ``try`` statements being visited, innermost last (see :class:`_ImportTry`)
        self.import_trys: list[_ImportTry] = []
        self.assignments: list[Assignment] = []
        self.module_assigned: set[str] = set()

    # ----- helpers -------------------------------------------------------------------------
    def _bind(self, name: str, binding: Binding) -> None:
        attempt = self.import_trys[-1] if self.import_trys else None
        if attempt is not None and attempt.scope is self.scope:
            if not attempt.in_fallback:
                if binding.kind == "import":
                    attempt.imported.add(name)
            elif binding.kind != "import" and name in attempt.imported:
                return  # ``except ImportError: Redis = object``: see :class:`_ImportTry`
        owner = self.scope.owner_of(name)
        owner.bindings.setdefault(name, []).append(binding)
        if name == MARKER:
            is_runtime_import = (
                binding.kind == "import" and binding.qname == self.runtime and owner.parent is None
            )
            if not is_runtime_import and binding.node is not None:
                self.foreign_marker.append(binding.node)

    def _span_ignores(self, node: cst.CSTNode) -> frozenset[str]:
        if not self.directives:
            return NOTHING
        where = self.positions.get(node)
        if not isinstance(where, CodeRange):
            return NOTHING
        found = NOTHING
        for line, names in self.directives.items():
            if where.start.line <= line <= where.end.line:
                found = found | names
        return found

    def _bind_target(self, target: cst.BaseExpression, binding: Binding) -> None:
        if isinstance(target, cst.Name):
            self._bind(target.value, binding)
            return
        for element in iter_targets(target):
            if isinstance(element, cst.Name):
                reason = "bound by unpacking" if element is not target else binding.reason
                self._bind(element.value, Binding("opaque", self.scope, element, reason=reason))

    def _enter(self, kind: str, name: str) -> Scope:
        outer = self.scope
        qualname = f"{outer.qualname}.{name}" if name else outer.qualname
        self.scope = Scope(kind, outer, qualname)
        return outer

    # ----- statements that carry ignore directives --------------------------------------------
    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.statement_ignored.append(self._span_ignores(node))
        assignment = _assigned_call(node)
        if assignment is not None:
            self.assigned[id(assignment[1])] = (assignment[0], node)
        if self.scope is self.module_scope and not self.type_checking:
            for small in node.body:
                self._module_assignment(small)

    def _module_assignment(self, small: cst.BaseSmallStatement) -> None:
        """Record ``NAME = value`` / ``NAME: T = value`` at module level, the value as
        written; ``+=`` only counts as assigning the name (``match.alongside``)."""
        if isinstance(small, cst.Assign):
            names = [t.target.value for t in small.targets if isinstance(t.target, cst.Name)]
            value: cst.BaseExpression | None = small.value
            if len(small.targets) != 1:
                value = None  # ``A = B = [...]``: left alone
        elif isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
            names, value = [small.target.value], small.value
        elif isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name):
            names, value = [small.target.value], None
        else:
            return
        self.module_assigned.update(names)
        if value is None or not names:
            return
        inner = _advice.unwrap(value) if isinstance(value, cst.Call) else None
        if inner is not None and not isinstance(inner, cst.Call):
            self.done.add(id(value))  # a wrapped call is counted by ``visit_Call``
        ignores = NOTHING
        if self.directives:
            ignores = ignores.union(*self.ignores, *self.statement_ignored)
        self.assignments.append(Assignment(
            names[0], value, instrumented=inner is not None, ignored=EVERY in ignores,
            ignored_rules=ignores - {EVERY}))

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine) -> None:
        self.statement_ignored.pop()

    def _mark_hooked(self, body: Sequence[cst.CSTNode]) -> None:
        """``x = Lib(...)`` followed by a statement an advice added for ``x``: already done."""
        for current, following in itertools.pairwise(body):
            assignment = _assigned_call(current)
            if assignment is None:
                continue
            added = _advice.added_target(following)
            if added is not None and added.deep_equals(assignment[0]):
                self.instrumented.add(id(assignment[1]))
                self.done.add(id(assignment[1]))

    def visit_Module(self, node: cst.Module) -> None:
        self._mark_hooked(node.body)
        self.module_header = node.header
        # the first statement, the runtime import apply may have put before it aside
        body = [s for s in node.body if not is_runtime_import(s, self.runtime)]
        self.first_statement = body[0] if body else None

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self._mark_hooked(node.body)
        if id(node) in self.type_checking_blocks:
            self.type_checking += 1

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock) -> None:
        if id(original_node) in self.type_checking_blocks:
            self.type_checking -= 1

    def visit_If(self, node: cst.If) -> None:
        if _is_type_checking(node.test):
            self.type_checking_blocks.add(id(node.body))

    # ----- definitions, for span-function ----------------------------------------------------
    def _span_directive(self, node: cst.FunctionDef) -> _span_directive.SpanSpec | None:
        """The ``# codetrace: span`` of ``node``: on its signature's lines, or in the block of
        comment lines right above the ``def`` or above one of its decorators (the first, as
        written; ours, once applied, goes below the comments between decorators and ``def``)."""
        if not self.span_comments:
            return None
        name = self.positions.get(node.name)
        body = self.positions.get(node.body.header if isinstance(node.body, cst.IndentedBlock)
                                  else node.body)
        if name is None or body is None:
            return None
        signature = range(name.start.line, body.start.line + 1)
        above: list[int] = []
        blocks = [node.leading_lines, *(d.leading_lines for d in node.decorators),
                  node.lines_after_decorators]
        if node is self.first_statement:  # libcst keeps its comments in the module's header
            blocks.insert(0, self.module_header)
        for block in blocks:
            for line in reversed(block):
                if line.comment is None:
                    break
                where = self.positions.get(line.comment)
                if where is not None and where.start.line in self.span_comments:
                    above.append(where.start.line)
        found = [line for line in signature if line in self.span_comments]
        found += sorted(above)
        if not found:
            return None
        self.span_lines.update(found)
        if len(found) > 1:
            self.span_errors.append((found[1], "a second `# codetrace: span` on the same "
                                     "function (one directive says it all)"))
            return None
        try:
            return _span_directive.parse(self.span_comments[found[0]][0])
        except _span_directive.DirectiveError as exc:
            self.span_errors.append((found[0], str(exc)))
            return None

    def _define(self, node: cst.FunctionDef, ignored: frozenset[str]) -> str:
        """Record ``node`` as a :class:`Definition`; its ``__qualname__``."""
        qualname = self.qualname_prefix[-1] + node.name.value
        self.definitions.append(Definition(
            node, self.module_name, qualname,
            ignored_rules=NOTHING.union(*self.ignores, ignored),
            directive=self._span_directive(node),
            decorated=any(_advice.added_decorator(d) for d in node.decorators),
            never_runs=self.type_checking > 0 or any(_is_overload(d) for d in node.decorators),
            trivial=_is_trivial(node),
        ))
        return qualname

    # ----- scopes ---------------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        ignored = def_ignores(node)
        for decorator in node.decorators:
            self.decorators.add(id(decorator.decorator))
            decorator.visit(self)
        if node.returns is not None:
            node.returns.visit(self)
        self._visit_param_defaults(node.params)
        qname = f"{self.scope.qualname}.{node.name.value}"
        in_class = self.scope.kind == "class" and bool(self.class_stack)
        kind = "method" if in_class else "function"
        for decorator in node.decorators:
            name = dotted_name(decorator.decorator)
            if in_class and name in ("staticmethod", "classmethod", "property"):
                kind = name
        self._bind(node.name.value, Binding("def", self.scope, node.name, qname=qname))
        self.qualname_prefix.append(self._define(node, ignored) + ".<locals>.")
        outer = self._enter("function", node.name.value)
        info = FunctionInfo(
            qname, self.scope, outer, node.returns.annotation if node.returns else None,
            kind=kind, is_async=node.asynchronous is not None,
            decorators=tuple(d.decorator for d in node.decorators),
        )
        self.functions.setdefault(qname, info)
        self._bind_params(node.params, info)
        self.function.append(info)
        self.method_self.append(self._self_of(node, info))
        self.ignores.append(ignored)
        node.body.visit(self)
        self.ignores.pop()
        self.qualname_prefix.pop()
        self.method_self.pop()
        self.function.pop()
        self.scope = outer
        return False

    def _self_of(
        self, node: cst.FunctionDef, info: FunctionInfo
    ) -> tuple[ClassInfo, str] | None:
        if info.kind not in ("method", "property") or not self.class_stack:
            return None
        positional = [*node.params.posonly_params, *node.params.params]
        if not positional:
            return None
        return self.class_stack[-1], positional[0].name.value

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        ignored = def_ignores(node)
        for decorator in node.decorators:
            self.decorators.add(id(decorator.decorator))
            decorator.visit(self)
        for arg in (*node.bases, *node.keywords):
            arg.visit(self)
        qname = f"{self.scope.qualname}.{node.name.value}"
        self._bind(node.name.value, Binding("class", self.scope, node.name, qname=qname))
        self.qualname_prefix.append(f"{self.qualname_prefix[-1]}{node.name.value}.")
        outer = self._enter("class", node.name.value)
        info = ClassInfo(qname, self.scope, outer, tuple(arg.value for arg in node.bases))
        self.classes.setdefault(qname, info)
        self.class_stack.append(info)
        self.function.append(None)
        self.method_self.append(None)
        self.ignores.append(ignored)
        node.body.visit(self)
        self.ignores.pop()
        self.qualname_prefix.pop()
        self.method_self.pop()
        self.function.pop()
        self.class_stack.pop()
        self.scope = outer
        return False

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        self._visit_param_defaults(node.params)
        outer = self._enter("lambda", "<lambda>")
        self._bind_params(node.params, None)
        self.function.append(None)
        self.method_self.append(None)
        node.body.visit(self)
        self.method_self.pop()
        self.function.pop()
        self.scope = outer
        return False

    def _visit_param_defaults(self, params: cst.Parameters) -> None:
        for param in (*params.posonly_params, *params.params, *params.kwonly_params):
            if param.default is not None:
                param.default.visit(self)
            if param.annotation is not None:
                param.annotation.visit(self)
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param) and star.annotation is not None:
                star.annotation.visit(self)

    def _bind_params(self, params: cst.Parameters, function: FunctionInfo | None) -> None:
        positional = [*params.posonly_params, *params.params]
        for index, param in enumerate((*positional, *params.kwonly_params)):
            name = param.name.value
            if index == 0 and function is not None and self.class_stack and param in positional:
                cls = self.class_stack[-1].qname
                if function.kind in ("method", "property"):
                    self._bind(name, Binding("self", self.scope, param.name, qname=cls))
                    continue
                if function.kind == "classmethod":
                    self._bind(name, Binding("cls", self.scope, param.name, qname=cls))
                    continue
            if param.annotation is not None:
                self._bind(name, Binding(
                    "annotation", self.scope.parent or self.scope, param.annotation.annotation))
            else:
                self._bind(name, Binding(
                    "param", self.scope, param.name,
                    qname=function.qname if function is not None else "",
                    reason=f"`{name}` is a parameter without an annotation",
                    position=index if param in positional else -1, default=param.default))
        for star in (params.star_arg, params.star_kwarg):
            if isinstance(star, cst.Param):
                self._bind(star.name.value, Binding(
                    "opaque", self.scope, star.name, reason="a * or ** parameter"))

    def _visit_comprehension(
        self, node: cst.ListComp | cst.SetComp | cst.GeneratorExp | cst.DictComp
    ) -> bool:
        node.for_in.iter.visit(self)
        outer = self._enter("comprehension", "<comprehension>")
        comp: cst.CompFor | None = node.for_in
        first = True
        while comp is not None:
            if not first:
                comp.iter.visit(self)
            self._bind_target(comp.target, Binding("opaque", self.scope, comp.target,
                                                     reason="a comprehension variable"))
            for condition in comp.ifs:
                condition.visit(self)
            comp = comp.inner_for_in
            first = False
        if isinstance(node, cst.DictComp):
            node.key.visit(self)
            node.value.visit(self)
        else:
            node.elt.visit(self)
        self.scope = outer
        return False

    def visit_ListComp(self, node: cst.ListComp) -> bool:
        return self._visit_comprehension(node)

    def visit_SetComp(self, node: cst.SetComp) -> bool:
        return self._visit_comprehension(node)

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> bool:
        return self._visit_comprehension(node)

    def visit_DictComp(self, node: cst.DictComp) -> bool:
        return self._visit_comprehension(node)

    # ----- bindings -------------------------------------------------------------------------
    def visit_Global(self, node: cst.Global) -> None:
        self.scope.globals.update(item.name.value for item in node.names)

    def visit_Nonlocal(self, node: cst.Nonlocal) -> None:
        self.scope.nonlocals.update(item.name.value for item in node.names)

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted_name(alias.name) or ""
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self._bind(alias.asname.name.value,
                           Binding("import", self.scope, alias.asname.name, qname=full))
            else:
                top = full.split(".", 1)[0]
                self._bind(top, Binding("import", self.scope, alias.name, qname=top))

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        base = (dotted_name(node.module) or "") if node.module is not None else ""
        if node.relative:
            package = self.package
            for _ in range(len(node.relative) - 1):
                package = package.rpartition(".")[0]
            base = ".".join(part for part in (package, base) if part)
        if isinstance(node.names, cst.ImportStar):
            self.scope.star_imports.append(base)
            return
        for alias in node.names:
            name = dotted_name(alias.name) or ""
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            qname = f"{base}.{name}" if base else name
            self._bind(local, Binding("import", self.scope, alias.name, qname=qname))

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            binding = self._value_binding(node.value, target.target)
            if isinstance(target.target, cst.Attribute):
                self._bind_attribute(target.target, binding)
            else:
                self._bind_target(target.target, binding)

    def _bind_attribute(self, target: cst.Attribute, binding: Binding) -> None:
        """``self.x = ...`` in a method (class tier), or ``g.db = ...`` (flow tier)."""
        method = self.method_self[-1] if self.method_self else None
        if (
            method is not None
            and isinstance(target.value, cst.Name)
            and target.value.value == method[1]
        ):
            method[0].instance_attrs.setdefault(target.attr.value, []).append(binding)
            return
        dotted = dotted_name(target)
        if dotted is not None:
            self.scope.dotted.setdefault(dotted, []).append(binding)

    def visit_Return(self, node: cst.Return) -> None:
        function = self.function[-1] if self.function else None
        if function is not None and node.value is not None:
            function.return_values.append(node.value)

    def visit_Yield(self, node: cst.Yield) -> None:
        function = self.function[-1] if self.function else None
        if function is not None:
            function.is_generator = True

    def _value_binding(self, value: cst.BaseExpression, node: cst.CSTNode) -> Binding:
        if isinstance(value, cst.Name) and value.value == "None":
            return Binding("none", self.scope, value)
        return Binding("value", self.scope, value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        binding = Binding("annotation", self.scope, node.annotation.annotation)
        if isinstance(node.target, cst.Name):
            self._bind(node.target.value, binding)
        elif isinstance(node.target, cst.Attribute):
            self._bind_attribute(node.target, binding)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        binding = Binding("opaque", self.scope, node.target,
                           reason="changed by augmented assignment")
        if isinstance(node.target, cst.Attribute):
            self._bind_attribute(node.target, binding)
        else:
            self._bind_target(node.target, binding)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        if isinstance(node.target, cst.Name):
            scope = self.scope
            while scope.kind == "comprehension" and scope.parent is not None:
                scope = scope.parent
            binding = self._value_binding(node.value, node.target)
            scope.owner_of(node.target.value).bindings.setdefault(
                node.target.value, []).append(binding)

    def visit_For(self, node: cst.For) -> None:
        self._bind_target(node.target, Binding("opaque", self.scope, node.target,
                                                reason="a loop variable"))

    def visit_With(self, node: cst.With) -> None:
        kind = "aenter" if node.asynchronous is not None else "enter"
        for item in node.items:
            if item.asname is not None:
                self._bind_target(item.asname.name, Binding(kind, self.scope, item.item))

    def visit_Try(self, node: cst.Try) -> None:
        self.import_trys.append(_ImportTry(self.scope))

    def leave_Try(self, original_node: cst.Try) -> None:
        self.import_trys.pop()

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        attempt = self.import_trys[-1] if self.import_trys else None
        if attempt is not None and attempt.scope is self.scope and _catches_import_error(
            node.type
        ):
            attempt.in_fallback = True
        if node.name is not None and isinstance(node.name.name, cst.Name):
            self._bind(node.name.name.value, Binding("opaque", self.scope, node.name.name,
                                                      reason="an exception"))

    def leave_ExceptHandler(self, original_node: cst.ExceptHandler) -> None:
        if self.import_trys:
            self.import_trys[-1].in_fallback = False

    def visit_MatchAs(self, node: cst.MatchAs) -> None:
        if node.name is not None:
            self._bind(node.name.value, Binding("opaque", self.scope, node.name,
                                                 reason="a match capture"))

    def visit_MatchStar(self, node: cst.MatchStar) -> None:
        if node.name is not None:
            self._bind(node.name.value, Binding("opaque", self.scope, node.name,
                                                 reason="a match capture"))

    def visit_MatchMapping(self, node: cst.MatchMapping) -> None:
        if node.rest is not None:
            self._bind(node.rest.value, Binding("opaque", self.scope, node.rest,
                                                 reason="a match capture"))

    # ----- f-strings and calls ----------------------------------------------------------------
    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        self.fstring_quotes.append(node.quote)

    def leave_FormattedString(self, original_node: cst.FormattedString) -> None:
        self.fstring_quotes.pop()

    def visit_Call(self, node: cst.Call) -> None:
        done = _advice.instrumented(node)
        if done is not None:
            self.instrumented.add(id(done))
            self.done.add(id(done))
        if is_marker_rooted(node.func):  # the runtime's own calls are never a rule's
            self.instrumented.add(id(node))
            self.marker_names.update(
                arg.value.evaluated_value for arg in node.args
                if isinstance(arg.value, cst.SimpleString)
                and isinstance(arg.value.evaluated_value, str))
        assigned = self.assigned.get(id(node))
        ignores = NOTHING
        if self.directives:  # every directive, on a def or at the top too, is on some line
            ignores = ignores.union(*self.ignores, *self.statement_ignored,
                                    self._span_ignores(node))
        quotes = frozenset("".join(self.fstring_quotes))
        self.calls.append(CallSite(
            node=node, scope=self.scope, fstring_quotes=quotes,
            assigned_to=assigned[0] if assigned else None,
            statement=assigned[1] if assigned else None,
            instrumented=id(node) in self.instrumented,
            ignored=EVERY in ignores,
            decorator=id(node) in self.decorators,
            ignored_rules=ignores - {EVERY},
        ))

