"""The collector (``_collect``): scopes and bindings, ignore directives, and each call's context.

Per feature, a table of inputs where the fact is absent (the no-op table) and one where it is
present, with what it must be.
"""

from __future__ import annotations

import libcst as cst
import pytest

from codetrace._collect import ModuleFacts, collect
from codetrace._model import CallSite, Scope

RUNTIME = "codetrace.runtime"
_CODE = cst.Module(body=[])


def _facts(source: str, module_name: str = "pkg.mod", is_package: bool = False) -> ModuleFacts:
    return collect(cst.parse_module(source), module_name=module_name, is_package=is_package,
                   runtime=RUNTIME)


def _code(node: cst.CSTNode) -> str:
    return _CODE.code_for_node(node)


def _call(facts: ModuleFacts, callee: str) -> CallSite:
    """The one call whose callee reads ``callee``."""
    found = [call for call in facts.calls if _code(call.node.func) == callee]
    assert len(found) == 1, [_code(call.node.func) for call in facts.calls]
    return found[0]


def _summary(scope: Scope) -> dict[str, list[str]]:
    """``name -> [kind:detail, ...]``: the qualified name of imports/defs/classes, the code of
    values, enter and annotation bindings, the reason of opaque ones."""
    summary: dict[str, list[str]] = {}
    for name, bindings in scope.bindings.items():
        for binding in bindings:
            if binding.kind in ("import", "def", "class", "self", "cls"):
                detail = binding.qname
            elif binding.kind == "opaque":
                detail = binding.reason
            else:
                assert binding.node is not None
                detail = _code(binding.node)
            summary.setdefault(name, []).append(f"{binding.kind}:{detail}")
    return summary


# ----- bindings, per scope kind ---------------------------------------------------------------
MODULE_BINDINGS = [
    pytest.param("import a.b.c\n", {"a": ["import:a"]}, id="import_dotted_binds_top"),
    pytest.param("import a.b as ab\n", {"ab": ["import:a.b"]}, id="import_as"),
    pytest.param("from x.y import z as w, v\n", {"w": ["import:x.y.z"], "v": ["import:x.y.v"]},
                 id="from_import"),
    pytest.param("from . import sib\n", {"sib": ["import:pkg.sib"]}, id="relative_sibling"),
    pytest.param("from .other import q\n", {"q": ["import:pkg.other.q"]},
                 id="relative_module"),
    pytest.param("from .. import up\n", {"up": ["import:up"]}, id="relative_parent"),
    pytest.param("x = None\nx += 1\nx: int\n",
                 {"x": ["none:None", "opaque:changed by augmented assignment", "annotation:int"]},
                 id="none_augmented_annotation"),
    pytest.param("x = y = f()\n", {"x": ["value:f()"], "y": ["value:f()"]}, id="chained"),
    pytest.param("a, (b, *c) = f()\n",
                 {"a": ["opaque:bound by unpacking"], "b": ["opaque:bound by unpacking"],
                  "c": ["opaque:bound by unpacking"]}, id="unpacking"),
    pytest.param("for i in x:\n    pass\n", {"i": ["opaque:a loop variable"]}, id="for"),
    pytest.param("with a as b, c as (d, e):\n    pass\n",
                 {"b": ["enter:a"], "d": ["opaque:bound by unpacking"],
                  "e": ["opaque:bound by unpacking"]}, id="with"),
    pytest.param("try:\n    pass\nexcept E as err:\n    pass\n",
                 {"err": ["opaque:an exception"]}, id="except"),
    pytest.param(
        "match x:\n    case [a, *rest]:\n        pass\n    case {'k': 1, **others}:\n"
        "        pass\n",
        {"a": ["opaque:a match capture"], "rest": ["opaque:a match capture"],
         "others": ["opaque:a match capture"]}, id="match"),
    pytest.param("[a for a in b if (w := a)]\n", {"w": ["value:a"]},
                 id="walrus_in_comprehension_binds_outside"),
    pytest.param("lam = lambda a: a\n", {"lam": ["value:lambda a: a"]}, id="lambda_value"),
    pytest.param("def f():\n    pass\nclass C:\n    pass\n",
                 {"f": ["def:pkg.mod.f"], "C": ["class:pkg.mod.C"]}, id="def_and_class"),
    pytest.param("def f():\n    global g\n    g = 1\n", {"f": ["def:pkg.mod.f"], "g": ["value:1"]},
                 id="global_lands_in_module"),
    pytest.param("x.y = 1\nx[0] = 2\n", {}, id="attribute_and_subscript_targets"),
]


@pytest.mark.parametrize(("source", "expected"), MODULE_BINDINGS)
def test_module_bindings(source: str, expected: dict[str, list[str]]) -> None:
    assert _summary(_facts(source).module_scope) == expected


def test_package_relative_import() -> None:
    facts = _facts("from . import sib\nfrom .. import up\n", module_name="pkg.sub",
                   is_package=True)
    assert _summary(facts.module_scope) == {"sib": ["import:pkg.sub.sib"], "up": ["import:pkg.up"]}


FUNCTION_BINDINGS = [
    pytest.param(
        "def f(a, b: int, /, c=1, *args, d: str, **kw):\n    e = 1\n", "pkg.mod.f",
        {"a": ["param:a"], "b": ["annotation:int"],
         "c": ["param:c"], "d": ["annotation:str"],
         "args": ["opaque:a * or ** parameter"], "kw": ["opaque:a * or ** parameter"],
         "e": ["value:1"]},
        id="parameters"),
    pytest.param(
        "class C:\n    def m(self, y):\n        pass\n", "pkg.mod.C.m",
        {"self": ["self:pkg.mod.C"], "y": ["param:y"]},
        id="method"),
    pytest.param("class C:\n    @classmethod\n    def k(cls):\n        pass\n", "pkg.mod.C.k",
                 {"cls": ["cls:pkg.mod.C"]}, id="classmethod"),
    pytest.param("class C:\n    @staticmethod\n    def s(a):\n        pass\n", "pkg.mod.C.s",
                 {"a": ["param:a"]}, id="staticmethod"),
    pytest.param("class C:\n    @property\n    def p(self):\n        pass\n", "pkg.mod.C.p",
                 {"self": ["self:pkg.mod.C"]}, id="property"),
    pytest.param("def f():\n    def g(self):\n        pass\n", "pkg.mod.f.g",
                 {"self": ["param:self"]},
                 id="nested_function_has_no_self"),
    pytest.param("async def f():\n    async with a as b:\n        pass\n", "pkg.mod.f",
                 {"b": ["aenter:a"]}, id="async_with"),
    pytest.param("def f():\n    x = 1\n    def g():\n        nonlocal x\n        x = 2\n",
                 "pkg.mod.f", {"x": ["value:1", "value:2"], "g": ["def:pkg.mod.f.g"]},
                 id="nonlocal_lands_in_outer"),
    pytest.param("def f():\n    global x\n    x = 1\n", "pkg.mod.f", {}, id="global_not_local"),
]


@pytest.mark.parametrize(("source", "function", "expected"), FUNCTION_BINDINGS)
def test_function_bindings(source: str, function: str, expected: dict[str, list[str]]) -> None:
    info = _facts(source).functions[function]
    assert info.scope.kind == "function"
    assert _summary(info.scope) == expected


CALL_SCOPE_BINDINGS = [
    pytest.param("[g(a) for a in b]\n", "comprehension",
                 {"a": ["opaque:a comprehension variable"]}, id="list_comprehension"),
    pytest.param("{k: g() for k, v in b}\n", "comprehension",
                 {"k": ["opaque:bound by unpacking"], "v": ["opaque:bound by unpacking"]},
                 id="dict_comprehension_unpacking"),
    pytest.param("(g() for a in b for c in a)\n", "comprehension",
                 {"a": ["opaque:a comprehension variable"],
                  "c": ["opaque:a comprehension variable"]}, id="generator_two_fors"),
    pytest.param("[g() for a in b if (w := a)]\n", "comprehension",
                 {"a": ["opaque:a comprehension variable"]}, id="walrus_not_in_comprehension"),
    pytest.param("f = lambda a, *b, c=1: g()\n", "lambda",
                 {"a": ["param:a"],
                  "c": ["param:c"],
                  "b": ["opaque:a * or ** parameter"]}, id="lambda"),
    pytest.param("class C:\n    x = 1\n    g()\n", "class", {"x": ["value:1"]}, id="class_body"),
]


@pytest.mark.parametrize(("source", "kind", "expected"), CALL_SCOPE_BINDINGS)
def test_call_scope_bindings(source: str, kind: str, expected: dict[str, list[str]]) -> None:
    scope = _call(_facts(source), "g").scope
    assert scope.kind == kind
    assert _summary(scope) == expected


FUNCTION_KINDS = [
    pytest.param("def f():\n    pass\n", "pkg.mod.f", ("function", False, False), id="function"),
    pytest.param("async def f():\n    pass\n", "pkg.mod.f", ("function", True, False), id="async"),
    pytest.param("def f():\n    yield 1\n", "pkg.mod.f", ("function", False, True),
                 id="generator"),
    pytest.param("def f():\n    x = yield\n", "pkg.mod.f", ("function", False, True),
                 id="generator_yield_expression"),
    pytest.param("def f():\n    def g():\n        yield 1\n", "pkg.mod.f",
                 ("function", False, False), id="nested_generator_is_not_ours"),
    pytest.param("class C:\n    def m(self):\n        pass\n", "pkg.mod.C.m",
                 ("method", False, False), id="method"),
    pytest.param("class C:\n    @property\n    def m(self):\n        pass\n", "pkg.mod.C.m",
                 ("property", False, False), id="property"),
    pytest.param("class C:\n    @staticmethod\n    def m():\n        pass\n", "pkg.mod.C.m",
                 ("staticmethod", False, False), id="staticmethod"),
]


@pytest.mark.parametrize(("source", "function", "expected"), FUNCTION_KINDS)
def test_function_kinds(source: str, function: str, expected: tuple[str, bool, bool]) -> None:
    info = _facts(source).functions[function]
    assert (info.kind, info.is_async, info.is_generator) == expected


def test_function_returns() -> None:
    facts = _facts(
        "def f() -> T:\n    if a:\n        return x\n    f = lambda: y\n    return\n"
        "    return z\n"
    )
    info = facts.functions["pkg.mod.f"]
    assert info.returns is not None
    assert _code(info.returns) == "T"
    assert [_code(v) for v in info.return_values] == ["x", "z"]


def test_class_facts() -> None:
    facts = _facts(
        "class C(Base, metaclass=M):\n    x = 1\n    def __init__(self, s):\n"
        "        self.s = s\n        self.t: int = 0\n        other.u = 1\n"
        "    def m(me):\n        me.v = None\n        me.w += 1\n"
    )
    info = facts.classes["pkg.mod.C"]
    assert [_code(base) for base in info.bases] == ["Base"]
    assert info.scope.kind == "class"
    assert info.outer is facts.module_scope
    assert _summary(info.scope) == {
        "x": ["value:1"], "__init__": ["def:pkg.mod.C.__init__"], "m": ["def:pkg.mod.C.m"],
    }
    kinds = {name: [b.kind for b in bindings] for name, bindings in info.instance_attrs.items()}
    assert kinds == {"s": ["value"], "t": ["annotation"], "v": ["none"], "w": ["opaque"]}
    assert list(facts.functions["pkg.mod.C.__init__"].scope.dotted) == ["other.u"]


def test_scope_kinds_and_qualnames() -> None:
    facts = _facts(
        "a()\nclass C:\n    b()\n    def m(self):\n        c()\n        f = lambda: d()\n"
        "        [e() for _ in x]\n"
    )
    where = {_code(call.node.func): (call.scope.kind, call.scope.qualname) for call in facts.calls}
    assert where == {
        "a": ("module", "pkg.mod"),
        "b": ("class", "pkg.mod.C"),
        "c": ("function", "pkg.mod.C.m"),
        "d": ("lambda", "pkg.mod.C.m.<lambda>"),
        "e": ("comprehension", "pkg.mod.C.m.<comprehension>"),
    }


def test_star_import_and_dotted() -> None:
    facts = _facts("from x import *\ng.db = 1\n")
    assert facts.module_scope.star_imports == ["x"]
    assert list(facts.module_scope.dotted) == ["g.db"]
    assert not _facts("from x import y\n").module_scope.star_imports


# ----- # codetrace: ignore -----------------------------------------------------------------------
NOT_IGNORED = [
    pytest.param("g()\n", id="no_directive"),
    pytest.param("x = 1  # codetrace: ignore\ng()\n", id="directive_on_another_line"),
    pytest.param("x = 1\n# codetrace: ignore\ng()\n", id="comment_line_above_a_statement"),
    pytest.param('"""doc"""\n# codetrace: ignore\ng()\n', id="after_the_docstring"),
    pytest.param("g()  # codetrace: ignored\n", id="other_word"),
    pytest.param("g()  # CODETRACE: IGNORE\n", id="upper_case"),
    pytest.param("def f():  # codetrace: ignore\n    pass\ng()\n", id="after_an_ignored_def"),
    pytest.param("if c:  # codetrace: ignore\n    g()\n", id="if_header_does_not_cover_body"),
    pytest.param(
        "g(data='# codetrace: ignore')\n", id="directive_in_a_string",
        marks=pytest.mark.xfail(
            strict=True,
            reason="ignore lines are found in the raw text: a string holding the directive "
                   "ignores every call on its line")),
]

IGNORED = [
    pytest.param("g()  # codetrace: ignore\n", id="same_line"),
    pytest.param("g()  # codetrace:ignore\n", id="no_space"),
    pytest.param("g()  #codetrace: ignore because\n", id="with_reason"),
    pytest.param("x = g()  # codetrace: ignore\n", id="assignment"),
    pytest.param("f(\n    g(),  # codetrace: ignore\n)\n", id="inside_a_multiline_call"),
    pytest.param("x = [\n    g(),\n]  # codetrace: ignore\n",
                 id="closing_line_of_a_multiline_statement"),
    pytest.param("def f():  # codetrace: ignore\n    g()\n", id="def_line"),
    pytest.param("x = 1\n# codetrace: ignore\ndef f():\n    g()\n", id="comment_above_def"),
    pytest.param("x = 1\n# codetrace: ignore\n@dec\ndef f():\n    g()\n",
                 id="comment_above_decorators"),
    pytest.param("def f(): g()  # codetrace: ignore\n", id="one_line_def"),
    pytest.param("class C:  # codetrace: ignore\n    g()\n", id="class_line"),
    pytest.param("class C:  # codetrace: ignore\n    def m(self):\n        g()\n",
                 id="method_of_an_ignored_class"),
    pytest.param("x = 1\n# codetrace: ignore\nclass C:\n    y = g()\n", id="comment_above_class"),
    pytest.param("def f():  # codetrace: ignore\n    def h():\n        g()\n",
                 id="nested_function"),
    pytest.param("x = 1\n@dec\n# codetrace: ignore\ndef f():\n    g()\n",
                 id="comment_between_decorator_and_def",
                 marks=pytest.mark.xfail(
                     strict=True,
                     reason="a directive on the line right above `def` but below its decorators "
                            "is not honoured")),
]


@pytest.mark.parametrize("source", NOT_IGNORED)
def test_not_ignored(source: str) -> None:
    facts = _facts(source)
    assert not _call(facts, "g").ignored
    assert not facts.file_ignored


@pytest.mark.parametrize("source", IGNORED)
def test_ignored(source: str) -> None:
    facts = _facts(source)
    assert _call(facts, "g").ignored
    assert not facts.file_ignored


def test_ignore_is_per_call_and_per_def() -> None:
    facts = _facts("def f():  # codetrace: ignore\n    g()\nh()  # codetrace: ignore\nk()\n")
    assert {_code(c.node.func): c.ignored for c in facts.calls} == {
        "g": True, "h": True, "k": False,
    }


def test_ignore_found_from_source_bytes() -> None:
    """``source`` (the parsed bytes) is what is searched for directives."""
    text = "g()  # codetrace: ignore\n"
    module = cst.parse_module(text)
    facts = collect(module, module_name="m", is_package=False, runtime=RUNTIME,
                    source=text.encode())
    assert _call(facts, "g").ignored
    facts = collect(module, module_name="m", is_package=False, runtime=RUNTIME, source=b"g()\n")
    assert not _call(facts, "g").ignored


FILE_NOT_IGNORED = [
    pytest.param("g()\n", id="no_directive"),
    pytest.param('"""doc"""\n# codetrace: ignore\ng()\n', id="after_the_docstring"),
    pytest.param("x = 1\n# codetrace: ignore\ng()\n", id="after_a_statement"),
    pytest.param("g()  # codetrace: ignore\n", id="first_statement_line"),
]

FILE_IGNORED = [
    pytest.param("# codetrace: ignore\ng()\n", id="first_line"),
    pytest.param("#!/usr/bin/env python\n# codetrace: ignore\n\ng()\n", id="after_shebang"),
    pytest.param("# codetrace: ignore\nimport x\ng()\n", id="above_imports"),
    pytest.param("# codetrace: ignore\ndef f():\n    g()\n", id="above_a_def"),
]


@pytest.mark.parametrize("source", FILE_NOT_IGNORED)
def test_file_not_ignored(source: str) -> None:
    assert not _facts(source).file_ignored


@pytest.mark.parametrize("source", FILE_IGNORED)
def test_file_ignored(source: str) -> None:
    assert _facts(source).file_ignored


# ----- f-string quotes ------------------------------------------------------------------------
FSTRING_QUOTES = [
    pytest.param("g()\n", frozenset(), id="not_in_an_fstring"),
    pytest.param("x = f'{a}'\ng()\n", frozenset(), id="after_an_fstring"),
    pytest.param("'{}'.format(g())\n", frozenset(), id="plain_string"),
    pytest.param("f'{g()}'\n", frozenset("'"), id="single"),
    pytest.param('f"{g()}"\n', frozenset('"'), id="double"),
    pytest.param("f'''{g()}'''\n", frozenset("'"), id="triple"),
    pytest.param("f'{ f\"{g()}\" }'\n", frozenset("'\""), id="nested"),
    pytest.param("f'{x:{g()}}'\n", frozenset("'"), id="format_spec"),
]


@pytest.mark.parametrize(("source", "quotes"), FSTRING_QUOTES)
def test_fstring_quotes(source: str, quotes: frozenset[str]) -> None:
    assert _call(_facts(source), "g").fstring_quotes == quotes


# ----- assigned_to / statement ----------------------------------------------------------------
NOT_ASSIGNED = [
    pytest.param("g()\n", id="expression_statement"),
    pytest.param("x = y = g()\n", id="two_targets"),
    pytest.param("x = g(); z = 1\n", id="two_statements_on_the_line"),
    pytest.param("x += g()\n", id="augmented"),
    pytest.param("x = h(g())\n", id="argument"),
    pytest.param("x = g() or y\n", id="part_of_an_expression"),
    pytest.param("return_value = [g()]\n", id="in_a_list"),
    pytest.param("x: T\ng()\n", id="annotation_without_value"),
    pytest.param("if x := g():\n    pass\n", id="walrus"),
]

ASSIGNED = [
    pytest.param("x = g()\n", "x", id="name"),
    pytest.param("x: T = g()\n", "x", id="annotated"),
    pytest.param("x.y = g()\n", "x.y", id="attribute"),
    pytest.param("x, y = g()\n", "x, y", id="tuple"),
    pytest.param("x = (g())\n", "x", id="parenthesized"),
    pytest.param("if c:\n    x = g()\n", "x", id="in_a_block"),
    pytest.param("x = g()  # note\n", "x", id="trailing_comment"),
]


@pytest.mark.parametrize("source", NOT_ASSIGNED)
def test_not_assigned(source: str) -> None:
    call = _call(_facts(source), "g")
    assert call.assigned_to is None
    assert call.statement is None


@pytest.mark.parametrize(("source", "target"), ASSIGNED)
def test_assigned(source: str, target: str) -> None:
    call = _call(_facts(source), "g")
    assert call.assigned_to is not None
    assert _code(call.assigned_to) == target
    assert call.statement is not None
    assert [small.value for small in call.statement.body
            if isinstance(small, (cst.Assign, cst.AnnAssign))] == [call.node]


def test_assigned_outer_call_only() -> None:
    facts = _facts("x = g().h()\n")
    assert _call(facts, "g().h").assigned_to is not None
    assert _call(facts, "g").assigned_to is None


# ----- the marker: foreign bindings ---------------------------------------------------------------
NOT_FOREIGN = [
    pytest.param("x = 1\n", id="no_marker"),
    pytest.param("import codetrace.runtime as _codetrace\n", id="runtime_import"),
    pytest.param("import codetrace.runtime as _codetrace\n_codetrace.traced(f, 'x')(1)\n",
                 id="runtime_import_and_use"),
    pytest.param("from codetrace import runtime as _codetrace\n", id="runtime_from_import"),
    pytest.param("_codetrace.hooks.flask(app)\n", id="mention_without_binding"),
]

FOREIGN = [
    pytest.param("import os as _codetrace\n", "_codetrace", id="other_module"),
    pytest.param("import other.runtime as _codetrace\n", "_codetrace", id="other_runtime"),
    pytest.param("def f():\n    import codetrace.runtime as _codetrace\n", "_codetrace",
                 id="runtime_import_not_at_module_level"),
    pytest.param("_codetrace = 1\n", "1", id="assignment"),
    pytest.param("def _codetrace():\n    pass\n", "_codetrace", id="def"),
    pytest.param("class _codetrace:\n    pass\n", "_codetrace", id="class"),
    pytest.param("for _codetrace in x:\n    pass\n", "_codetrace", id="loop"),
    pytest.param("def f(_codetrace):\n    pass\n", "_codetrace", id="parameter"),
]


@pytest.mark.parametrize("source", NOT_FOREIGN)
def test_marker_not_foreign(source: str) -> None:
    assert _facts(source).foreign_marker == ()


@pytest.mark.parametrize(("source", "node"), FOREIGN)
def test_marker_foreign(source: str, node: str) -> None:
    assert [_code(n) for n in _facts(source).foreign_marker] == [node]


# ----- already instrumented ---------------------------------------------------------------------
NOT_INSTRUMENTED = [
    pytest.param("session.get(u)\n", "session.get", id="plain_call"),
    pytest.param("_codetrace.traced(session.get)(u)\n", "_codetrace.traced(session.get)",
                 id="traced_wrong_arity"),
    pytest.param("_codetrace.traced(session.get, name)(u)\n",
                 "_codetrace.traced(session.get, name)", id="traced_computed_name"),
    pytest.param("_codetrace.traced(session.get, adapter='x')(u)\n",
                 "_codetrace.traced(session.get, adapter='x')", id="traced_keyword"),
    pytest.param("other.traced(session.get, 'x')(u)\n", "other.traced(session.get, 'x')",
                 id="not_the_marker"),
    pytest.param("app = Flask(x)\n_codetrace.hooks.flask(other)\n", "Flask", id="hook_on_other"),
    pytest.param("app = Flask(x)\nprint(1)\n_codetrace.hooks.flask(app)\n", "Flask",
                 id="hook_not_right_after"),
    pytest.param("app = Flask(x)\n_codetrace.hooks.flask(app);\n", "Flask",
                 id="hook_with_semicolon"),
    pytest.param("app = Flask(x)\n_codetrace.other.flask(app)\n", "Flask", id="not_a_hook"),
    pytest.param("app = Flask(x)\n_codetrace.hooks.flask(app, 1)\n", "Flask",
                 id="hook_two_arguments"),
    pytest.param("_codetrace.hooks.flask((Flask(x)))\n", "Flask", id="hook_parenthesized_call"),
]

INSTRUMENTED = [
    pytest.param("_codetrace.traced(session.get, 'requests.send')(u)\n",
                 "_codetrace.traced(session.get, 'requests.send')", id="traced"),
    pytest.param('x = f(_codetrace.traced(session.get, "requests.send")(u))\n',
                 '_codetrace.traced(session.get, "requests.send")', id="traced_as_argument"),
    pytest.param("_codetrace.traced(session.get, 'requests.send')(u)\n", "_codetrace.traced",
                 id="runtime_own_call"),
    pytest.param("app = Flask(x)\n_codetrace.hooks.flask(app)\n", "Flask", id="hook_statement"),
    pytest.param("app = Flask(x)\n_codetrace.hooks.flask(app)\n", "_codetrace.hooks.flask",
                 id="hook_statement_own_call"),
    pytest.param("def f():\n    app = Flask(x)\n    _codetrace.hooks.flask(app)\n", "Flask",
                 id="hook_statement_in_a_block"),
    pytest.param("self.app = Flask(x)\n_codetrace.hooks.flask(self.app)\n", "Flask",
                 id="hook_statement_attribute"),
    pytest.param("app: Flask = Flask(x)\n_codetrace.hooks.flask(app)\n", "Flask",
                 id="hook_statement_annotated"),
    pytest.param("return_ = _codetrace.hooks.flask(Flask(x))\n", "Flask", id="hook_expression"),
]


@pytest.mark.parametrize(("source", "callee"), NOT_INSTRUMENTED)
def test_not_instrumented(source: str, callee: str) -> None:
    assert not _call(_facts(source), callee).instrumented


@pytest.mark.parametrize(("source", "callee"), INSTRUMENTED)
def test_instrumented(source: str, callee: str) -> None:
    assert _call(_facts(source), callee).instrumented
