"""The resolver (``_resolve``), feature by feature, on small modules.

Each case is a module and an expression in it: the callee of a call (``session.get``) or a whole
call (``sqlite3.connect(p)``). Per feature, one table of expressions that resolve (to a ``Ref`` or
an ``Inst``) and one of expressions that must stay ``Unknown`` (with part of the reason the user
sees in ``explain``). The expression is evaluated the way ``_match`` does it: one ``Resolver`` for
the module, every call's callee evaluated in file order, so memoisation takes part.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from codetrace._collect import ModuleFacts, collect
from codetrace._model import Inst, Project, Ref, SingleModule, Unknown, Value
from codetrace._project import ProjectIndex
from codetrace._resolve import Resolver
from codetrace._rules import RuleSet

RUNTIME = "codetrace.runtime"
_CODE = cst.Module(body=[])


def _facts(source: str, module_name: str = "m", is_package: bool = False) -> ModuleFacts:
    return collect(cst.parse_module(source), module_name=module_name, is_package=is_package,
                   runtime=RUNTIME)


def _evaluate(
    facts: ModuleFacts, ruleset: RuleSet, project: Project, expression: str
) -> tuple[Value, set[int]]:
    """Value and tiers of the last call whose callee (or whole text) is ``expression``."""
    resolver = Resolver(ruleset, project)
    found: list[tuple[Value, set[int]]] = []
    for call in facts.calls:
        resolver.begin()
        callee = resolver.evaluate(call.node.func, call.scope)
        if _CODE.code_for_node(call.node.func) == expression:
            found.append((callee, set(resolver.tiers)))
        elif _CODE.code_for_node(call.node) == expression:
            resolver.begin()
            found.append((resolver.evaluate(call.node, call.scope), set(resolver.tiers)))
    assert found, f"no call {expression!r} in the module"
    return found[-1]


def _resolve(source: str, expression: str, ruleset: RuleSet) -> tuple[Value, set[int]]:
    facts = _facts(source)
    single = SingleModule(facts.classes, facts.functions, facts.calls)
    return _evaluate(facts, ruleset, single, expression)


def _check_resolved(source: str, expression: str, expected: Value, ruleset: RuleSet) -> None:
    assert _resolve(source, expression, ruleset)[0] == expected


def _check_unknown(source: str, expression: str, reason: str, ruleset: RuleSet) -> None:
    value, _ = _resolve(source, expression, ruleset)
    assert isinstance(value, Unknown), value
    assert reason in value.reason


SESSION_GET = Ref("requests.Session.get")
CLIENT_GET = Ref("httpx.Client.get")


# ----- tier 1: imports and aliases -----------------------------------------------------------
IMPORTS = [
    pytest.param("import requests\nrequests.get(u)\n", "requests.get", Ref("requests.get"),
                 id="import"),
    pytest.param("import requests as r\nr.get(u)\n", "r.get", Ref("requests.get"),
                 id="import_as"),
    pytest.param("from requests import get\nget(u)\n", "get", Ref("requests.get"),
                 id="from_import"),
    pytest.param("from requests import get as fetch\nfetch(u)\n", "fetch", Ref("requests.get"),
                 id="from_import_as"),
    pytest.param("from requests import Session\nSession().get(u)\n", "Session().get",
                 SESSION_GET, id="from_import_class"),
    pytest.param("from requests import Session as S\nS().get(u)\n", "S().get", SESSION_GET,
                 id="from_import_class_as"),
    pytest.param("import requests.sessions\nrequests.sessions.Session().get(u)\n",
                 "requests.sessions.Session().get", SESSION_GET, id="alias_dotted"),
    pytest.param("from requests.sessions import Session\nSession().get(u)\n", "Session().get",
                 SESSION_GET, id="alias_from_import"),
    pytest.param("import requests.sessions as rs\nrs.Session().get(u)\n", "rs.Session().get",
                 SESSION_GET, id="alias_module_as"),
    pytest.param("from requests.api import get\nget(u)\n", "get", Ref("requests.get"),
                 id="alias_module_api"),
    pytest.param("import requests.sessions\nrequests.get(u)\n", "requests.get",
                 Ref("requests.get"), id="submodule_import_binds_top"),
    pytest.param("import pysqlite3 as sqlite3\nsqlite3.connect(p).commit()\n",
                 "sqlite3.connect(p).commit", Ref("sqlite3.Connection.commit"),
                 id="alias_other_distribution"),
    pytest.param("from sqlite3 import dbapi2\ndbapi2.connect(p).commit()\n",
                 "dbapi2.connect(p).commit", Ref("sqlite3.Connection.commit"),
                 id="alias_submodule_from_import"),
    pytest.param("import requests\nrequests.get(u)\nrequests = None\n", "requests.get",
                 Ref("requests.get"), id="rebound_to_none"),
]

IMPORTS_UNKNOWN = [
    pytest.param("session.get(u)\n", "session.get", "`session` is not bound in this module",
                 id="unbound"),
    pytest.param("def f():\n    import requests\nrequests.get(u)\n", "requests.get",
                 "`requests` is not bound", id="import_in_another_scope"),
    pytest.param("from requests import *\nadapters.get(u)\n", "adapters.get",
                 "may come from a star import of requests", id="star_import"),
    pytest.param("from os import *\nopen(p)\n", "open", "may come from a star import",
                 id="star_import_hides_builtins"),
]


@pytest.mark.parametrize(("source", "expression", "expected"), IMPORTS)
def test_imports(source: str, expression: str, expected: Value, ruleset: RuleSet) -> None:
    _check_resolved(source, expression, expected, ruleset)


@pytest.mark.parametrize(("source", "expression", "reason"), IMPORTS_UNKNOWN)
def test_imports_unknown(source: str, expression: str, reason: str, ruleset: RuleSet) -> None:
    _check_unknown(source, expression, reason, ruleset)


# ----- tier 1: what constructors and factories return ----------------------------------------
FACTORIES = [
    pytest.param("import sqlite3\nsqlite3.connect(p)\n", "sqlite3.connect(p)",
                 Inst("sqlite3.Connection"), id="connect"),
    pytest.param("import sqlite3\nsqlite3.connect(p).cursor()\n", "sqlite3.connect(p).cursor()",
                 Inst("sqlite3.Cursor"), id="connection_cursor"),
    pytest.param("import sqlite3\nc = sqlite3.connect(p)\nc.execute(q)\n", "c.execute(q)",
                 Inst("sqlite3.Cursor"), id="connection_execute"),
    pytest.param("import sqlite3\nc = sqlite3.connect(p)\nc.cursor().execute(q)\n",
                 "c.cursor().execute(q)", Inst("sqlite3.Cursor"), id="cursor_execute"),
    pytest.param("import requests\nrequests.Session()\n", "requests.Session()",
                 Inst("requests.Session"), id="constructor"),
    pytest.param("import requests\nrequests.session()\n", "requests.session()",
                 Inst("requests.Session"), id="factory_function"),
    pytest.param("import requests\nrequests.sessions.Session()\n", "requests.sessions.Session()",
                 Inst("requests.Session"), id="aliased_constructor"),
    pytest.param("from flask.app import Flask\nFlask(n)\n", "Flask(n)", Inst("flask.Flask"),
                 id="aliased_from_import"),
    pytest.param("class C:\n    pass\nC()\n", "C()", Inst("m.C"), id="project_class"),
    pytest.param("dict(a=1)\n", "dict(a=1)", Inst("builtins.dict"), id="builtin_class"),
]

FACTORIES_UNKNOWN = [
    pytest.param("import requests\nrequests.get(u)\n", "requests.get(u)",
                 "what requests.get() returns is not declared", id="undeclared"),
    pytest.param("import sqlite3\nc = sqlite3.connect(p)\nc.commit()\n", "c.commit()",
                 "what sqlite3.Connection.commit() returns is not declared",
                 id="undeclared_method"),
    pytest.param("open(p)\n", "open(p)", "what builtins.open() returns is not declared",
                 id="builtin_function"),
    pytest.param("import sqlite3\nsqlite3.connect(p)()\n", "sqlite3.connect(p)()",
                 "calling an instance of sqlite3.Connection", id="calling_an_instance"),
]


@pytest.mark.parametrize(("source", "expression", "expected"), FACTORIES)
def test_factories(source: str, expression: str, expected: Value, ruleset: RuleSet) -> None:
    _check_resolved(source, expression, expected, ruleset)


@pytest.mark.parametrize(("source", "expression", "reason"), FACTORIES_UNKNOWN)
def test_factories_unknown(source: str, expression: str, reason: str, ruleset: RuleSet) -> None:
    _check_unknown(source, expression, reason, ruleset)


# ----- tier 2: flow inside a scope -----------------------------------------------------------
FLOW = [
    pytest.param("import requests\ns = requests.Session()\ns.get(u)\n", "s.get", SESSION_GET,
                 id="assignment"),
    pytest.param("import requests\na = s = requests.Session()\ns.get(u)\n", "s.get",
                 SESSION_GET, id="chained_assignment"),
    pytest.param("import requests\nif (s := requests.Session()):\n    s.get(u)\n", "s.get",
                 SESSION_GET, id="walrus"),
    pytest.param("import requests\n[s := requests.Session() for _ in x]\ns.get(u)\n", "s.get",
                 SESSION_GET, id="walrus_in_comprehension_binds_outside"),
    pytest.param("import requests\nwith requests.Session() as s:\n    s.get(u)\n", "s.get",
                 SESSION_GET, id="with"),
    pytest.param("import sqlite3\nwith sqlite3.connect(p) as c:\n    c.execute(q)\n",
                 "c.execute", Ref("sqlite3.Connection.execute"), id="with_connection"),
    pytest.param(
        "import httpx\nasync def f():\n    async with httpx.AsyncClient() as c:\n"
        "        await c.get(u)\n",
        "c.get", Ref("httpx.AsyncClient.get"), id="async_with"),
    pytest.param("import requests\ns: requests.Session = make()\ns.get(u)\n", "s.get",
                 SESSION_GET, id="annotated_assignment"),
    pytest.param("import requests\ndef f(s: requests.Session):\n    s.get(u)\n", "s.get",
                 SESSION_GET, id="parameter_annotation"),
    pytest.param("import requests\ndef f(*, s: requests.Session):\n    s.get(u)\n", "s.get",
                 SESSION_GET, id="keyword_only_parameter"),
    pytest.param("import requests\ndef f(s: requests.Session | None):\n    s.get(u)\n", "s.get",
                 SESSION_GET, id="annotation_or_none"),
    pytest.param(
        "from typing import Optional\nimport requests\n"
        "def f(s: Optional[requests.Session]):\n    s.get(u)\n",
        "s.get", SESSION_GET, id="annotation_optional"),
    pytest.param(
        "import typing\nimport requests\ndef f(s: typing.Optional[requests.Session]):\n"
        "    s.get(u)\n",
        "s.get", SESSION_GET, id="annotation_typing_optional"),
    pytest.param(
        "from typing import Union\nimport requests\n"
        "def f(s: Union[requests.Session, None]):\n    s.get(u)\n",
        "s.get", SESSION_GET, id="annotation_union_with_none"),
    pytest.param("import requests\ndef f(s: 'requests.Session'):\n    s.get(u)\n", "s.get",
                 SESSION_GET, id="string_annotation"),
    pytest.param("import requests\ndef f(s: 'requests.Session | None'):\n    s.get(u)\n",
                 "s.get", SESSION_GET, id="string_annotation_or_none"),
    pytest.param("import requests\ndef f(s: list[requests.Session]):\n    s.get(u)\n", "s.get",
                 Ref("builtins.list.get"), id="generic_annotation_is_its_head"),
    pytest.param("import requests\napp.s = requests.Session()\napp.s.get(u)\n", "app.s.get",
                 SESSION_GET, id="dotted_assignment"),
    pytest.param(
        "import sqlite3\ndef f():\n    g.db = sqlite3.connect(p)\n    g.db.execute(q)\n",
        "g.db.execute", Ref("sqlite3.Connection.execute"), id="dotted_assignment_in_function"),
]

FLOW_UNKNOWN = [
    pytest.param("def f(s):\n    s.get(u)\n", "s.get", "`s` is a parameter without an annotation",
                 id="parameter_without_annotation"),
    pytest.param("def f(*s):\n    s.get(u)\n", "s.get", "a * or ** parameter", id="star_parameter"),
    pytest.param("f = lambda s: s.get(u)\n", "s.get", "`s` is a parameter without an annotation",
                 id="lambda_parameter"),
    pytest.param("import requests\nf = lambda s=requests.Session(): s.get(u)\n", "s.get",
                 "`s` is a parameter without an annotation", id="lambda_default_is_not_a_type"),
    pytest.param(
        "import requests, httpx\ndef f(s: requests.Session | httpx.Client):\n    s.get(u)\n",
        "s.get", "union of several types", id="union_of_two_types"),
    pytest.param("import requests\ndef f(s: 'requests.'):\n    s.get(u)\n", "s.get",
                 "string annotation does not parse", id="string_annotation_does_not_parse"),
    pytest.param("def f(s: Foo):\n    s.get(u)\n", "s.get",
                 "annotation does not name a known type", id="unknown_annotation"),
    pytest.param("import requests\na, s = 1, requests.Session()\ns.get(u)\n", "s.get",
                 "bound by unpacking", id="unpacking"),
    pytest.param(
        "import requests\ns = requests.Session()\nfor s in xs:\n    pass\ns.get(u)\n", "s.get",
        "a loop variable", id="loop_variable"),
    pytest.param(
        "import requests\ns = requests.Session()\ntry:\n    pass\nexcept E as s:\n    pass\n"
        "s.get(u)\n",
        "s.get", "an exception", id="exception_name"),
    pytest.param("import requests\ns = requests.Session()\ns += 1\ns.get(u)\n", "s.get",
                 "changed by augmented assignment", id="augmented_assignment"),
    pytest.param(
        "import requests\nasync def f():\n    async with requests.Session() as c:\n"
        "        await c.get(u)\n",
        "c.get", "what requests.Session.__aenter__() returns is not declared",
        id="async_with_undeclared_aenter"),
    pytest.param(
        "import sqlite3\nc = sqlite3.connect(p)\nwith c.cursor() as k:\n    k.execute(q)\n",
        "k.execute", "what sqlite3.Cursor.__enter__() returns is not declared",
        id="with_undeclared_enter"),
    pytest.param("async def f():\n    c = await make()\n    c.get(u)\n", "c.get",
                 "an awaited value", id="awaited"),
    pytest.param("x[0].get(u)\n", "x[0].get", "a Subscript expression is not resolved",
                 id="subscript"),
    pytest.param("import requests\nf = lambda: requests.Session()\nf().get(u)\n", "f().get",
                 "a Lambda expression is not resolved", id="lambda_call"),
    pytest.param(
        "match x:\n    case Point() as s:\n        s.get(u)\n", "s.get", "a match capture",
        id="match_capture"),
    # a module-level ``app.s = ...`` says nothing of another object that a parameter
    # happens to call ``app``
    pytest.param(
        "import requests\napp.s = requests.Session()\ndef f(app):\n    app.s.get(u)\n",
        "app.s.get", "parameter without an annotation", id="dotted_assignment_shadowed"),
]


@pytest.mark.parametrize(("source", "expression", "expected"), FLOW)
def test_flow(source: str, expression: str, expected: Value, ruleset: RuleSet) -> None:
    _check_resolved(source, expression, expected, ruleset)


@pytest.mark.parametrize(("source", "expression", "reason"), FLOW_UNKNOWN)
def test_flow_unknown(source: str, expression: str, reason: str, ruleset: RuleSet) -> None:
    _check_unknown(source, expression, reason, ruleset)


# ----- agreement: every binding must agree, None excepted; `or` and conditionals ------------------
AGREEMENT = [
    pytest.param(
        "import requests\nif c:\n    s = requests.Session()\nelse:\n    s = requests.session()\n"
        "s.get(u)\n",
        "s.get", SESSION_GET, id="two_bindings_agree"),
    pytest.param("import requests\ns = None\ns = requests.Session()\ns.get(u)\n", "s.get",
                 SESSION_GET, id="none_ignored"),
    pytest.param("import requests\ns = requests.session() or requests.Session()\ns.get(u)\n",
                 "s.get", SESSION_GET, id="or_same"),
    pytest.param("import requests\ns = None or requests.Session()\ns.get(u)\n", "s.get",
                 SESSION_GET, id="or_none"),
    pytest.param("import requests\ns = requests.Session() if c else None\ns.get(u)\n", "s.get",
                 SESSION_GET, id="conditional_none"),
    pytest.param("import requests\nx = x or requests.Session()\nx.get(u)\n", "x.get",
                 SESSION_GET, id="cycle_or"),
    pytest.param("import requests\na = b\nb = a\nb = requests.Session()\na.get(u)\n", "a.get",
                 SESSION_GET, id="cycle_through_two_names"),
]

AGREEMENT_UNKNOWN = [
    pytest.param(
        "import requests, httpx\ns = requests.Session()\ns = httpx.Client()\ns.get(u)\n", "s.get",
        "`s` is bound to different things", id="conflicting_rebinding"),
    pytest.param("import requests\ns = requests.Session()\ns = make()\ns.get(u)\n", "s.get",
                 "`s` has a binding that is not resolved: `make` is not bound", id="one_unknown"),
    pytest.param("s = None\ns.get(u)\n", "s.get", "`s` is only ever None", id="only_none"),
    pytest.param("import requests, httpx\ns = requests.Session() or httpx.Client()\ns.get(u)\n",
                 "s.get", "`or` of different things", id="or_different"),
    pytest.param("import requests\ns = given or requests.Session()\ns.get(u)\n", "s.get",
                 "`given` is not bound", id="or_unknown"),
    pytest.param("import requests\ndef f(s):\n    t = s or requests.Session()\n    t.get(u)\n",
                 "t.get", "parameter without an annotation", id="or_parameter"),
    pytest.param(
        "import requests, httpx\ns = requests.Session() if c else httpx.Client()\ns.get(u)\n",
        "s.get", "conditional of different things", id="conditional_different"),
    pytest.param("x = x\nx.get(u)\n", "x.get", "defined only in terms of itself",
                 id="cycle_only"),
]


@pytest.mark.parametrize(("source", "expression", "expected"), AGREEMENT)
def test_agreement(source: str, expression: str, expected: Value, ruleset: RuleSet) -> None:
    _check_resolved(source, expression, expected, ruleset)


@pytest.mark.parametrize(("source", "expression", "reason"), AGREEMENT_UNKNOWN)
def test_agreement_unknown(source: str, expression: str, reason: str, ruleset: RuleSet) -> None:
    _check_unknown(source, expression, reason, ruleset)


# ----- scopes: global, nonlocal, closures, classes, comprehensions -------------------------------
SCOPES = [
    pytest.param(
        "import requests\ns = None\ndef init():\n    global s\n    s = requests.Session()\n"
        "def use():\n    s.get(u)\n",
        "s.get", SESSION_GET, id="global_set_in_function"),
    pytest.param(
        "import requests\ndef init():\n    global s\n    s = requests.Session()\n    s.get(u)\n",
        "s.get", SESSION_GET, id="global_read_in_function"),
    pytest.param(
        "import requests, httpx\ns = requests.Session()\ndef f():\n    s = httpx.Client()\n"
        "    s.get(u)\n",
        "s.get", CLIENT_GET, id="local_shadows_module"),
    pytest.param(
        "import requests, httpx\ns = requests.Session()\ndef f():\n    s = httpx.Client()\n"
        "s.get(u)\n",
        "s.get", SESSION_GET, id="local_does_not_leak"),
    pytest.param(
        "import requests\ndef outer():\n    s = None\n    def inner():\n        nonlocal s\n"
        "        s = requests.Session()\n    inner()\n    s.get(u)\n",
        "s.get", SESSION_GET, id="nonlocal"),
    pytest.param(
        "import requests\ndef outer():\n    s = requests.Session()\n    def inner():\n"
        "        s.get(u)\n",
        "s.get", SESSION_GET, id="closure"),
    pytest.param("import requests\nclass C:\n    s = requests.Session()\n    s.get(u)\n", "s.get",
                 SESSION_GET, id="class_body"),
    pytest.param("import requests\nclass C:\n    s = requests.Session()\n"
                 "    r = [x for x in s.get(u)]\n",
                 "s.get", SESSION_GET, id="first_iterable_sees_class_scope"),
    pytest.param("import requests\ns = requests.Session()\n[s.get(u) for u in xs]\n", "s.get",
                 SESSION_GET, id="comprehension_sees_outer"),
    pytest.param("import requests\ns = requests.Session()\n{k: s.get(k) for k in xs}\n", "s.get",
                 SESSION_GET, id="dict_comprehension"),
    pytest.param("import requests\ns = requests.Session()\nf = lambda: s.get(u)\n", "s.get",
                 SESSION_GET, id="lambda_closure"),
    pytest.param(
        "import requests, httpx\ndef f(s: httpx.Client):\n    s.get(u)\n"
        "def g(s: requests.Session):\n    s.get(u)\n",
        "s.get", SESSION_GET, id="same_parameter_name_in_two_functions"),
    pytest.param(
        "import requests, httpx\ns = httpx.Client()\ns.get(u)\n"
        "def f(s: requests.Session):\n    s.get(u)\n",
        "s.get", SESSION_GET, id="parameter_named_like_a_module_global"),
]

SCOPES_UNKNOWN = [
    pytest.param(
        "import requests, httpx\ns = requests.Session()\ndef init():\n    global s\n"
        "    s = httpx.Client()\ns.get(u)\n",
        "s.get", "`s` is bound to different things", id="global_conflict"),
    pytest.param(
        "import requests, httpx\ndef outer():\n    s = requests.Session()\n    def inner():\n"
        "        nonlocal s\n        s = httpx.Client()\n    s.get(u)\n",
        "s.get", "`s` is bound to different things", id="nonlocal_conflict"),
    pytest.param(
        "import requests, httpx\ndef outer():\n    def inner():\n        nonlocal s\n"
        "        s = httpx.Client()\n    s = requests.Session()\n    inner()\n    s.get(u)\n",
        "s.get", "`s` is bound to different things", id="nonlocal_before_outer_binding",
        marks=pytest.mark.xfail(
            strict=True,
            reason="a nonlocal binding seen before the enclosing function binds the name lands "
                   "in the inner scope: outer `s` resolves to requests.Session.get")),
    pytest.param(
        "import requests\nclass C:\n    s = requests.Session()\n    def m(self):\n"
        "        s.get(u)\n",
        "s.get", "`s` is not bound in this module", id="class_scope_hidden_from_methods"),
    pytest.param(
        "import requests\nclass C:\n    s = requests.Session()\n    r = [s.get(u) for u in xs]\n",
        "s.get", "`s` is not bound in this module", id="class_scope_hidden_from_comprehension"),
    pytest.param("import requests\ns = requests.Session()\n[s.get(u) for s in xs]\n", "s.get",
                 "a comprehension variable", id="comprehension_variable"),
    pytest.param(
        "import requests\ns = requests.Session()\n[1 for a in b for s in a if s.get(u)]\n",
        "s.get", "a comprehension variable", id="nested_comprehension_variable"),
]


@pytest.mark.parametrize(("source", "expression", "expected"), SCOPES)
def test_scopes(source: str, expression: str, expected: Value, ruleset: RuleSet) -> None:
    _check_resolved(source, expression, expected, ruleset)


@pytest.mark.parametrize(("source", "expression", "reason"), SCOPES_UNKNOWN)
def test_scopes_unknown(source: str, expression: str, reason: str, ruleset: RuleSet) -> None:
    _check_unknown(source, expression, reason, ruleset)


# ----- tier 3: self attributes, class attributes, project subclasses, super() --------------------
CLASSES = [
    pytest.param(
        "import requests\nclass C:\n    def __init__(self):\n        self.s = requests.Session()\n"
        "    def run(self):\n        self.s.get(u)\n",
        "self.s.get", SESSION_GET, id="self_attribute"),
    pytest.param(
        "import requests\nclass C:\n    def __init__(me):\n        me.s = requests.Session()\n"
        "    def run(this):\n        this.s.get(u)\n",
        "this.s.get", SESSION_GET, id="self_by_another_name"),
    pytest.param(
        "import requests\nclass C:\n    def __init__(self):\n"
        "        self.s: requests.Session = make()\n    def run(self):\n        self.s.get(u)\n",
        "self.s.get", SESSION_GET, id="annotated_self_attribute"),
    pytest.param(
        "import requests\nclass C:\n    def __init__(self):\n        self.s = None\n"
        "    def open(self):\n        self.s = requests.Session()\n    def run(self):\n"
        "        self.s.get(u)\n",
        "self.s.get", SESSION_GET, id="self_attribute_none_then_set"),
    pytest.param(
        "import requests\nclass C:\n    def __init__(self, s: requests.Session | None = None):\n"
        "        self.s = s or requests.Session()\n    def run(self):\n        self.s.get(u)\n",
        "self.s.get", SESSION_GET, id="annotated_parameter_or_default"),
    pytest.param("import requests\nclass C:\n    s: requests.Session\n    def run(self):\n"
                 "        self.s.get(u)\n",
                 "self.s.get", SESSION_GET, id="class_annotation"),
    pytest.param("import requests\nclass C:\n    s = requests.Session()\n    def run(self):\n"
                 "        self.s.get(u)\n",
                 "self.s.get", SESSION_GET, id="class_attribute_via_self"),
    pytest.param("import requests\nclass C:\n    s = requests.Session()\nC.s.get(u)\n", "C.s.get",
                 SESSION_GET, id="class_attribute_via_class"),
    pytest.param("import requests\nclass C:\n    s = requests.Session()\nC().s.get(u)\n",
                 "C().s.get", SESSION_GET, id="class_attribute_via_instance"),
    pytest.param(
        "import requests\nclass C:\n    s = requests.Session()\n    @classmethod\n"
        "    def run(cls):\n        cls.s.get(u)\n",
        "cls.s.get", SESSION_GET, id="classmethod_cls"),
    pytest.param(
        "import requests\nclass C:\n    @property\n    def s(self) -> requests.Session:\n"
        "        return make()\n    def run(self):\n        self.s.get(u)\n",
        "self.s.get", SESSION_GET, id="property_annotated"),
    pytest.param(
        "import requests\nclass C:\n    @property\n    def s(self):\n"
        "        return requests.Session()\n    def run(self):\n        self.s.get(u)\n",
        "self.s.get", SESSION_GET, id="property_inferred"),
    pytest.param(
        "class C:\n    def get(self):\n        pass\n    def run(self):\n        self.get(u)\n",
        "self.get", Ref("m.C.get"), id="own_method"),
    pytest.param(
        "import requests\nclass A:\n    def __init__(self):\n        self.s = requests.Session()\n"
        "class B(A):\n    def run(self):\n        self.s.get(u)\n",
        "self.s.get", SESSION_GET, id="inherited_attribute"),
    pytest.param("import requests\nclass S(requests.Session):\n    pass\nS().get(u)\n", "S().get",
                 SESSION_GET, id="library_subclass"),
    pytest.param(
        "import requests\nclass S(requests.Session):\n    def run(self):\n        self.get(u)\n",
        "self.get", SESSION_GET, id="library_subclass_self"),
    pytest.param(
        "import requests\nclass A(requests.Session):\n    pass\nclass B(A):\n    pass\n"
        "B().get(u)\n",
        "B().get", SESSION_GET, id="library_subclass_two_levels"),
    pytest.param(
        "from requests.sessions import Session\nclass S(Session):\n    pass\nS().get(u)\n",
        "S().get", SESSION_GET, id="library_subclass_aliased_base"),
    pytest.param(
        "import requests\nclass Base(requests.Session):\n    pass\nclass Sub(Base):\n"
        "    def other(self):\n        pass\ndef f(b: Base):\n    b.get(u)\n",
        "b.get", SESSION_GET, id="subclass_not_overriding"),
    pytest.param(
        "import requests\nclass S(requests.Session):\n    def get(self, url):\n"
        "        return super().get(url)\n",
        "super().get", SESSION_GET, id="super"),
    pytest.param(
        "import requests\nclass S(requests.Session):\n    def get(self, url):\n"
        "        return super(S, self).get(url)\n",
        "super(S, self).get", SESSION_GET, id="super_explicit"),
    pytest.param(
        "import requests\nclass A:\n    def __init__(self):\n        self.s = requests.Session()\n"
        "class B(A):\n    def run(self):\n        super().s.get(u)\n",
        "super().s.get", SESSION_GET, id="super_project_base"),
    pytest.param(
        "import requests\nclass S(requests.Session):\n    def get(self, url):\n        pass\n"
        "S().get(u)\n",
        "S().get", Ref("m.S.get"), id="override_is_the_project_method"),
]

CLASSES_UNKNOWN = [
    pytest.param(
        "import requests, httpx\nclass C:\n    def __init__(self):\n"
        "        self.s = requests.Session()\n    def reset(self):\n"
        "        self.s = httpx.Client()\n    def run(self):\n        self.s.get(u)\n",
        "self.s.get", "`C.s` is bound to different things", id="self_attribute_conflict"),
    pytest.param(
        "import requests, httpx\nclass C:\n    s = requests.Session()\n    def m(self):\n"
        "        self.s = httpx.Client()\n    def r(self):\n        self.s.get(u)\n",
        "self.s.get", "`C.s` is bound to different things", id="class_and_self_attribute_differ"),
    pytest.param(
        "import requests\nclass C:\n    def __init__(self, s=None):\n"
        "        self.s = s or requests.Session()\n    def run(self):\n        self.s.get(u)\n",
        "self.s.get", "`s` is a parameter without an annotation", id="parameter_or_default"),
    pytest.param("class C:\n    def run(self):\n        self.s.get(u)\n", "self.s.get",
                 "no attribute `s` on m.C", id="missing_attribute"),
    pytest.param(
        "import requests\nclass C:\n    pass\ndef f(c):\n    c.s = requests.Session()\n"
        "def g(c: C):\n    c.s.get(u)\n",
        "c.s.get", "no attribute `s` on m.C", id="attribute_set_outside_the_class"),
    pytest.param("class C:\n    @staticmethod\n    def run(s):\n        s.get(u)\n", "s.get",
                 "`s` is a parameter without an annotation", id="staticmethod_first_parameter"),
    pytest.param(
        "import requests, httpx\nclass Base:\n    def __init__(self):\n"
        "        self.s = requests.Session()\n    def run(self):\n        self.s.get(u)\n"
        "class Child(Base):\n    def __init__(self):\n        self.s = httpx.Client()\n",
        "self.s.get", "`s` is overridden in subclass m.Child", id="subclass_overrides_attribute"),
    pytest.param(
        "import requests\nclass Base(requests.Session):\n    pass\nclass Sub(Base):\n"
        "    def get(self, url):\n        pass\ndef f(b: Base):\n    b.get(u)\n",
        "b.get", "`get` is overridden in subclass m.Sub", id="subclass_overrides_method"),
    pytest.param(
        "import requests\nclass Api(requests.Session):\n    def run(self):\n        self.get(u)\n"
        "class Sub(Api):\n    def get(self, url):\n        pass\n",
        "self.get", "`get` is overridden in subclass m.Sub", id="subclass_overrides_self_call"),
    pytest.param(
        "import requests\nclass S(requests.Session):\n    def get(self, url):\n"
        "        return super(T, self).get(url)\n",
        "super(T, self).get", "super(X, obj) with X other than the enclosing class",
        id="super_other_class"),
    pytest.param("super().get(u)\n", "super().get", "super() outside a method of a project class",
                 id="super_outside_class"),
    pytest.param("import requests\nclass S(requests.Session, Mixin):\n    pass\nS().get(u)\n",
                 "S().get", "m.S has several bases; `get` may come from any",
                 id="several_bases"),
    pytest.param("class S(Base):\n    pass\nS().get(u)\n", "S().get",
                 "a base class of m.S is not resolved", id="unresolved_base"),
    pytest.param("class S(object):\n    pass\nS().get(u)\n", "S().get", "no attribute `get` on m.S",
                 id="object_base"),
    pytest.param(
        "import requests, httpx\nif c:\n    class C:\n        s = requests.Session()\nelse:\n"
        "    class C:\n        s = httpx.Client()\nC.s.get(u)\n",
        "C.s.get", "", id="class_defined_twice",
        marks=pytest.mark.xfail(
            strict=True,
            reason="only the first definition of a qualified name is kept: the second class "
                   "is ignored (resolves to requests.Session.get)")),
]


@pytest.mark.parametrize(("source", "expression", "expected"), CLASSES)
def test_classes(source: str, expression: str, expected: Value, ruleset: RuleSet) -> None:
    _check_resolved(source, expression, expected, ruleset)


@pytest.mark.parametrize(("source", "expression", "reason"), CLASSES_UNKNOWN)
def test_classes_unknown(source: str, expression: str, reason: str, ruleset: RuleSet) -> None:
    _check_unknown(source, expression, reason, ruleset)


# ----- tier 4: what the project's functions return --------------------------------------------
RETURNS = [
    pytest.param("import requests\ndef make() -> requests.Session:\n    pass\nmake().get(u)\n",
                 "make().get", SESSION_GET, id="annotation"),
    pytest.param(
        "import requests\ndef make() -> requests.Session | None:\n    pass\nmake().get(u)\n",
        "make().get", SESSION_GET, id="annotation_or_none"),
    pytest.param("import requests\ndef make() -> 'requests.Session':\n    pass\nmake().get(u)\n",
                 "make().get", SESSION_GET, id="string_annotation"),
    pytest.param("import requests\ndef make():\n    return requests.Session()\nmake().get(u)\n",
                 "make().get", SESSION_GET, id="inferred"),
    pytest.param(
        "import requests\ndef make():\n    s = requests.Session()\n    return s\nmake().get(u)\n",
        "make().get", SESSION_GET, id="inferred_through_a_local"),
    pytest.param(
        "import requests\ndef make():\n    if c:\n        return None\n"
        "    return requests.Session()\nmake().get(u)\n",
        "make().get", SESSION_GET, id="inferred_none_ignored"),
    pytest.param(
        "import requests\ndef make(c: bool):\n    return make(c) if c else requests.Session()\n"
        "make(1).get(u)\n",
        "make(1).get", SESSION_GET, id="inferred_recursive"),
    pytest.param(
        "import requests\ndef make():\n    def inner():\n        yield 1\n"
        "    return requests.Session()\nmake().get(u)\n",
        "make().get", SESSION_GET, id="nested_generator_is_not_ours"),
    pytest.param(
        "import requests\ndef make() -> requests.Session:\n    pass\ns = make()\ns.get(u)\n",
        "s.get", SESSION_GET, id="assigned"),
    pytest.param(
        "import requests\nclass C:\n    def make(self) -> requests.Session:\n        pass\n"
        "C().make().get(u)\n",
        "C().make().get", SESSION_GET, id="method"),
    pytest.param(
        "import requests\nclass C:\n    @staticmethod\n    def make():\n"
        "        return requests.Session()\nC.make().get(u)\n",
        "C.make().get", SESSION_GET, id="staticmethod"),
]

RETURNS_UNKNOWN = [
    pytest.param(
        "import requests, httpx\ndef make():\n    if c:\n        return httpx.Client()\n"
        "    return requests.Session()\nmake().get(u)\n",
        "make().get", "`m.make()` is bound to different things", id="returns_disagree"),
    pytest.param("def make():\n    pass\nmake().get(u)\n", "make().get", "m.make returns nothing",
                 id="returns_nothing"),
    pytest.param("def make():\n    return\nmake().get(u)\n", "make().get",
                 "m.make returns nothing", id="bare_return"),
    pytest.param(
        "import requests\nasync def make():\n    return requests.Session()\nmake().get(u)\n",
        "make().get", "m.make is async", id="async"),
    pytest.param(
        "import requests\nasync def make() -> requests.Session:\n    pass\nmake().get(u)\n",
        "make().get", "m.make is async", id="async_annotated"),
    pytest.param(
        "import requests\ndef make():\n    yield requests.Session()\nmake().get(u)\n",
        "make().get", "m.make is a generator", id="generator"),
    pytest.param(
        "import requests\ndef make() -> requests.Session:\n    yield x\nmake().get(u)\n",
        "make().get", "m.make is a generator", id="generator_annotated"),
    pytest.param("def make():\n    return make()\nmake().get(u)\n", "make().get",
                 "defined only in terms of itself", id="recursive_only"),
    pytest.param("def f():\n    pass\nf.cache.get(u)\n", "f.cache.get",
                 "`cache` is an attribute of the function m.f", id="function_attribute"),
    pytest.param("def open(p):\n    pass\nopen(p).read()\n", "open(p).read",
                 "m.open returns nothing", id="shadowed_builtin"),
    pytest.param(
        "import requests, httpx\nif c:\n    def make():\n        return requests.Session()\n"
        "else:\n    def make():\n        return httpx.Client()\nmake().get(u)\n",
        "make().get", "", id="function_defined_twice",
        marks=pytest.mark.xfail(
            strict=True,
            reason="only the first definition of a qualified name is kept: the second def "
                   "is ignored (resolves to requests.Session.get)")),
]


@pytest.mark.parametrize(("source", "expression", "expected"), RETURNS)
def test_returns(source: str, expression: str, expected: Value, ruleset: RuleSet) -> None:
    _check_resolved(source, expression, expected, ruleset)


@pytest.mark.parametrize(("source", "expression", "reason"), RETURNS_UNKNOWN)
def test_returns_unknown(source: str, expression: str, reason: str, ruleset: RuleSet) -> None:
    _check_unknown(source, expression, reason, ruleset)


# ----- importlib, builtins and literals -------------------------------------------------------
DYNAMIC = [
    pytest.param(
        "import importlib\nsqlite3 = importlib.import_module('sqlite3')\nsqlite3.connect(p)\n",
        "sqlite3.connect", Ref("sqlite3.connect"), id="import_module"),
    pytest.param(
        "from importlib import import_module\nm = import_module('requests')\nm.get(u)\n", "m.get",
        Ref("requests.get"), id="import_module_from_import"),
    pytest.param(
        "import importlib\ntry:\n    sqlite3 = importlib.import_module('pysqlite3')\n"
        "except ImportError:\n    import sqlite3\nsqlite3.connect(p)\n",
        "sqlite3.connect", Ref("sqlite3.connect"), id="import_module_fallback"),
    pytest.param("print(x)\n", "print", Ref("builtins.print"), id="builtin"),
    pytest.param("dict().get(k)\n", "dict().get", Ref("builtins.dict.get"), id="builtin_class"),
    pytest.param("d = {}\nd.get(k)\n", "d.get", Ref("builtins.dict.get"), id="dict"),
    pytest.param("'a'.join(x)\n", "'a'.join", Ref("builtins.str.join"), id="str"),
    pytest.param("f'a{b}'.join(x)\n", "f'a{b}'.join", Ref("builtins.str.join"), id="fstring"),
    pytest.param("[1].append(x)\n", "[1].append", Ref("builtins.list.append"), id="list"),
    pytest.param("x = 1\nx.bit_length()\n", "x.bit_length", Ref("builtins.int.bit_length"),
                 id="int"),
    pytest.param("x = 1, 2\nx.count(1)\n", "x.count", Ref("builtins.tuple.count"), id="tuple"),
    pytest.param("x = [a for a in b]\nx.pop()\n", "x.pop", Ref("builtins.list.pop"),
                 id="list_comprehension"),
    pytest.param("(a for a in b).send(1)\n", "(a for a in b).send",
                 Ref("builtins.generator.send"), id="generator_expression"),
]

DYNAMIC_UNKNOWN = [
    pytest.param("import importlib\nm = importlib.import_module(name)\nm.get(u)\n", "m.get",
                 "importlib.import_module() of a computed name", id="computed_name"),
    pytest.param("import importlib\nm = importlib.import_module('.x')\nm.get(u)\n", "m.get",
                 "importlib.import_module() of a computed name", id="relative_name"),
    pytest.param("import importlib\nm = importlib.import_module(f'requests')\nm.get(u)\n",
                 "m.get", "importlib.import_module() of a computed name", id="fstring_name"),
    pytest.param("open(p).read()\n", "open(p).read", "what builtins.open() returns",
                 id="builtin_function_result"),
]


@pytest.mark.parametrize(("source", "expression", "expected"), DYNAMIC)
def test_dynamic_and_builtins(
    source: str, expression: str, expected: Value, ruleset: RuleSet
) -> None:
    _check_resolved(source, expression, expected, ruleset)


@pytest.mark.parametrize(("source", "expression", "reason"), DYNAMIC_UNKNOWN)
def test_dynamic_and_builtins_unknown(
    source: str, expression: str, reason: str, ruleset: RuleSet
) -> None:
    _check_unknown(source, expression, reason, ruleset)


# ----- injected code evaluates as the code it wraps ---------------------------------------------
INJECTED = [
    pytest.param(
        "import requests\ns = requests.Session()\n"
        "r = _codetrace.traced(s.get, 'requests.send')(u)\nr.json()\n",
        "_codetrace.traced(s.get, 'requests.send')(u)", "what requests.Session.get() returns",
        id="wrap_call"),
    pytest.param(
        "from flask import Flask\napp = _codetrace.hooks.flask(Flask(n))\napp.run()\n",
        "app.run", Ref("flask.Flask.run"), id="hook_wrap"),
]


@pytest.mark.parametrize(("source", "expression", "expected"), INJECTED)
def test_injected_code_is_transparent(
    source: str, expression: str, expected: Value | str, ruleset: RuleSet
) -> None:
    value, _ = _resolve(source, expression, ruleset)
    if isinstance(expected, str):
        assert isinstance(value, Unknown)
        assert expected in value.reason
    else:
        assert value == expected


# ----- tiers ------------------------------------------------------------------------------------
TIERS = [
    pytest.param("import requests\nrequests.get(u)\n", "requests.get", {1}, id="imports"),
    pytest.param("print(x)\n", "print", set(), id="builtin_needs_none"),
    pytest.param("import requests\ns = requests.Session()\ns.get(u)\n", "s.get", {1, 2},
                 id="scope_flow"),
    pytest.param(
        "import requests\nclass C:\n    def __init__(self):\n        self.s = requests.Session()\n"
        "    def run(self):\n        self.s.get(u)\n",
        "self.s.get", {1, 2, 3}, id="self_attribute"),
    pytest.param("import requests\nclass S(requests.Session):\n    pass\nS().get(u)\n", "S().get",
                 {1, 3}, id="subclass"),
    pytest.param("import requests\ndef make() -> requests.Session:\n    pass\nmake().get(u)\n",
                 "make().get", {1, 4}, id="return_type"),
    pytest.param(
        "import requests\ns = requests.Session()\ns.get(u)\ns.post(u)\n", "s.post", {1, 2},
        id="memoised_name_reports_its_tiers"),
]


@pytest.mark.parametrize(("source", "expression", "tiers"), TIERS)
def test_tiers(source: str, expression: str, tiers: set[int], ruleset: RuleSet) -> None:
    assert _resolve(source, expression, ruleset)[1] == tiers


def test_begin_resets_tiers(ruleset: RuleSet) -> None:
    facts = _facts("import requests\ns = requests.Session()\ns.get(u)\n")
    resolver = Resolver(ruleset, SingleModule(facts.classes, facts.functions, facts.calls))
    call = facts.calls[-1]
    resolver.evaluate(call.node.func, call.scope)
    assert resolver.tiers == {1, 2}
    resolver.begin()
    assert resolver.tiers == set()
    assert resolver.evaluate(cst.parse_expression("print"), call.scope) == Ref("builtins.print")
    assert resolver.tiers == set()


# ----- tier 5: other modules of the project ----------------------------------------------------
APP = {"app/__init__.py": "", "app/http.py": "import requests\nsession = requests.Session()\n"}
SUBCLASS = {
    "app/__init__.py": "",
    "app/http.py": "import requests\nclass S(requests.Session):\n    pass\n"
                   "def make() -> S:\n    pass\n",
}

CROSS_MODULE = [
    pytest.param(APP, "main", "from app.http import session\nsession.get(u)\n", "session.get",
                 SESSION_GET, {1, 2, 5}, id="from_import"),
    pytest.param(APP, "main", "from app.http import *\nsession.get(u)\n", "session.get",
                 SESSION_GET, {1, 2, 5}, id="star_import_of_a_project_module"),
    pytest.param(APP, "main", "from requests import *\nsession = Session()\nsession.get(u)\n",
                 "session.get", SESSION_GET, {1, 2}, id="star_import_of_the_library"),
    pytest.param(APP, "main", "import app.http\napp.http.session.get(u)\n",
                 "app.http.session.get", SESSION_GET, {1, 2, 5}, id="import_dotted"),
    pytest.param(APP, "main", "from app import http\nhttp.session.get(u)\n", "http.session.get",
                 SESSION_GET, {1, 2, 5}, id="from_package_import_module"),
    pytest.param(APP, "app.main", "from .http import session\nsession.get(u)\n", "session.get",
                 SESSION_GET, {1, 2, 5}, id="relative_import"),
    pytest.param(APP, "app.main", "from . import http\nhttp.session.get(u)\n",
                 "http.session.get", SESSION_GET, {1, 2, 5}, id="relative_module_import"),
    pytest.param(
        {"app/__init__.py": "from app.http import session\n", "app/http.py": APP["app/http.py"]},
        "main", "from app import session\nsession.get(u)\n", "session.get", SESSION_GET,
        {1, 2, 5}, id="reexported_by_package"),
    pytest.param(
        {"app/__init__.py": "", "app/http.py": "import requests as session\n"},
        "main", "from app.http import session\nsession.get(u)\n", "session.get",
        Ref("requests.get"), {1, 5}, id="module_alias"),
    pytest.param(
        {"requests/__init__.py": "def get(u):\n    pass\n"},
        "main", "import requests\nrequests.get(u)\n", "requests.get", Ref("requests.get"), {1},
        id="vendored_library_stays_a_reference"),
    pytest.param(SUBCLASS, "main", "from app.http import S\nS().get(u)\n", "S().get",
                 SESSION_GET, {1, 3, 5}, id="imported_subclass",
                 marks=pytest.mark.xfail(
                     strict=True,
                     reason="a project class imported from another module does not report "
                            "tier 5 (tiers are {1, 3})")),
    pytest.param(SUBCLASS, "main", "from app.http import make\nmake().get(u)\n", "make().get",
                 SESSION_GET, {1, 3, 4, 5}, id="imported_function",
                 marks=pytest.mark.xfail(
                     strict=True,
                     reason="a project function imported from another module does not report "
                            "tier 5 (tiers are {1, 3, 4})")),
]

CROSS_MODULE_UNKNOWN = [
    pytest.param(APP, "from app.http import missing\nmissing.get(u)\n", "missing.get",
                 "`missing` is not bound in this module", id="missing_name"),
    pytest.param(
        {"app/__init__.py": "", "app/http.py": "session = make()\n"},
        "from app.http import session\nsession.get(u)\n", "session.get",
        "`make` is not bound in this module", id="unresolved_there"),
    pytest.param(
        {"app/__init__.py": "", "app/a.py": "from app.b import s\n",
         "app/b.py": "from app.a import s\n"},
        "from app.a import s\ns.get(u)\n", "s.get", "defined only in terms of itself",
        id="import_cycle"),
    pytest.param(
        {"app/__init__.py": "", "app/http.py": "from requests import *\n"},
        "from app.http import fetch\nfetch(u)\n", "fetch", "may come from a star import",
        id="star_import_there"),
    pytest.param(
        {"app/__init__.py": "", "app/http.py": "def broken(:\n"},
        "from app.http import session\nsession.get(u)\n", "session.get",
        "module app.http of the project does not reach a rule's library, or could not be read",
        id="unparsable_module"),
]


def _project(tmp_path: Path, files: dict[str, str]) -> ProjectIndex:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return ProjectIndex([tmp_path], runtime=RUNTIME)


@pytest.mark.parametrize(
    ("files", "module_name", "source", "expression", "expected", "tiers"), CROSS_MODULE)
def test_cross_module(
    files: dict[str, str], module_name: str, source: str, expression: str, expected: Value,
    tiers: set[int], ruleset: RuleSet, tmp_path: Path,
) -> None:
    project = _project(tmp_path, files)
    facts = _facts(source, module_name)
    project.add(module_name, facts)
    assert _evaluate(facts, ruleset, project, expression) == (expected, tiers)


@pytest.mark.parametrize(("files", "source", "expression", "reason"), CROSS_MODULE_UNKNOWN)
def test_cross_module_unknown(
    files: dict[str, str], source: str, expression: str, reason: str, ruleset: RuleSet,
    tmp_path: Path,
) -> None:
    project = _project(tmp_path, files)
    facts = _facts(source, "main")
    project.add("main", facts)
    value, _ = _evaluate(facts, ruleset, project, expression)
    assert isinstance(value, Unknown), value
    assert reason in value.reason


# ----- tier 6: unannotated parameters typed from the module's own calls --------------------
S = "import requests, httpx\n"
FROM_CALLERS = [
    pytest.param(S + "def f(s):\n    s.get(u)\nf(requests.Session())\nf(requests.Session())\n",
                 "s.get", SESSION_GET, id="every_caller_agrees"),
    pytest.param(S + "def f(x, s=None):\n    s.get(u)\nf(1, s=requests.Session())\n",
                 "s.get", SESSION_GET, id="keyword_argument"),
    pytest.param(S + "D = requests.Session()\ndef f(s=D):\n    s.get(u)\nf()\n",
                 "s.get", SESSION_GET, id="default_when_not_passed"),
    pytest.param(S + "class C:\n    def m(self, s):\n        s.get(u)\n"
                 "C().m(requests.Session())\n", "s.get", SESSION_GET, id="bound_method"),
    pytest.param(S + "class B:\n    def __init__(self, make):\n        self.c = make()\n"
                 "    def go(self):\n        self.c.get(u)\n"
                 "class C(B):\n    def __init__(self):\n        super().__init__(httpx.Client)\n",
                 "self.c.get", CLIENT_GET, id="class_passed_to_super_init"),
    pytest.param(S + "class B:\n    def __init__(self, s):\n        self.s = s\n"
                 "    def go(self):\n        self.s.get(u)\nB(requests.Session())\n",
                 "self.s.get", SESSION_GET, id="constructor_argument"),
    pytest.param(S + "class B:\n    def __init__(self, s):\n        self.s = s\n"
                 "    def go(self):\n        self.s.get(u)\n"
                 "class C(B):\n    def __init__(self):\n"
                 "        B.__init__(self, requests.Session())\n",
                 "self.s.get", SESSION_GET, id="explicit_base_init"),
    pytest.param(S + "def f(s):\n    s.get(u)\n"
                 "f(requests.Session() if c else requests.Session())\n",
                 "s.get", SESSION_GET, id="conditional_argument_agrees"),
]

FROM_CALLERS_UNKNOWN = [
    pytest.param(S + "def f(s):\n    s.get(u)\n", "s.get", "parameter without an annotation",
                 id="no_caller"),
    pytest.param(S + "def f(s):\n    s.get(u)\nf(requests.Session())\nf(httpx.Client())\n",
                 "s.get", "bound to different things", id="callers_disagree"),
    pytest.param(S + "def f(s):\n    s.get(u)\nf(requests.Session())\nf(*args)\n",
                 "s.get", "*args or **kwargs", id="spread_arguments"),
    pytest.param(S + "def f(s):\n    s.get(u)\nf(requests.Session())\nf(thing)\n",
                 "s.get", "not resolved", id="one_caller_unknown"),
    pytest.param(S + "def f(s):\n    s.get(u)\nf()\n", "s.get", "parameter without an annotation",
                 id="not_passed_no_default"),
    pytest.param(S + "g = lambda s: s.get(u)\ng(requests.Session())\n", "s.get",
                 "parameter without an annotation", id="lambda_parameters_stay_unknown"),
]


@pytest.mark.parametrize(("source", "expression", "expected"), FROM_CALLERS)
def test_parameters_from_callers(
    source: str, expression: str, expected: Value, ruleset: RuleSet
) -> None:
    value, tiers = _resolve(source, expression, ruleset)
    assert value == expected
    assert 6 in tiers


@pytest.mark.parametrize(("source", "expression", "reason"), FROM_CALLERS_UNKNOWN)
def test_parameters_from_callers_unknown(
    source: str, expression: str, reason: str, ruleset: RuleSet
) -> None:
    _check_unknown(source, expression, reason, ruleset)


# ----- a library object or a project subclass of its class: the subclass is kept ------------------
SUBCLASS_JOIN = [
    pytest.param(S + "class W(httpx.Client):\n    pass\n"
                 "def f(c: httpx.Client | None):\n    client = c or W()\n    client.send(r)\n",
                 "client.send", Ref("httpx.Client.send"), id="or_with_a_subclass"),
    pytest.param(S + "from typing import TYPE_CHECKING\nclass _D(httpx.Client):\n    pass\n"
                 "if TYPE_CHECKING:\n    D = httpx.Client\nelse:\n    D = _D\n"
                 "class W(D):\n    pass\n"
                 "def f(c: httpx.Client | None):\n    client = c or W()\n    client.send(r)\n",
                 "client.send", Ref("httpx.Client.send"), id="type_checking_alias_of_a_subclass"),
    pytest.param(S + "from typing import Generic, TypeVar\nT = TypeVar('T')\n"
                 "class Base(Generic[T]):\n    client: httpx.Client\n"
                 "class Api(Base[int]):\n    def go(self):\n        self.client.get(u)\n",
                 "self.client.get", CLIENT_GET, id="generic_base"),
    pytest.param(S + "class W(httpx.Client):\n    def send(self, r):\n        pass\n"
                 "def f(c: httpx.Client | None):\n    client = c or W()\n    client.send(r)\n",
                 "client.send", Ref("m.W.send"), id="override_in_the_subclass_is_seen"),
]


@pytest.mark.parametrize(("source", "expression", "expected"), SUBCLASS_JOIN)
def test_subclass_join(source: str, expression: str, expected: Value, ruleset: RuleSet) -> None:
    _check_resolved(source, expression, expected, ruleset)
