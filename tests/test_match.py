"""The matcher (``_match``): which calls are sites, which are unresolved candidates, which neither.

Tables: calls that are not candidates at all (the no-op table), calls a rule matches (rule,
qualified name and the tier name ``explain`` shows), and candidates left unresolved (method,
receiver and reason).
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from codetrace._collect import ModuleFacts, collect
from codetrace._match import match
from codetrace._model import Matches, Project, SingleModule
from codetrace._project import ProjectIndex
from codetrace._rules import RuleSet

RUNTIME = "codetrace.runtime"
_CODE = cst.Module(body=[])


def _facts(source: str, module_name: str = "m") -> ModuleFacts:
    return collect(cst.parse_module(source), module_name=module_name, is_package=False,
                   runtime=RUNTIME)


#: the construction rules (objects traced where they are built) have their own table below; the
#: call-site tables judge call sites alone
CONSTRUCTION = ("requests.session", "httpx.client")


def _match(source: str, ruleset: RuleSet, project: Project | None = None,
           construction: bool = False) -> Matches:
    facts = _facts(source)
    rules = ruleset if construction else ruleset.without(CONSTRUCTION)
    return match(facts, rules, project or SingleModule(facts.classes, facts.functions, facts.calls))


def _sites(matches: Matches) -> list[tuple[str, str, str, str]]:
    return [(_CODE.code_for_node(s.call.node.func), s.rule.id, s.qname, s.how)
            for s in matches.sites]


def _unresolved(matches: Matches) -> list[tuple[str, str, str, str]]:
    return [(_CODE.code_for_node(u.call.node.func), u.method, u.receiver, u.reason)
            for u in matches.unresolved]


# ----- neither a site nor a candidate ---------------------------------------------------------
NOT_CANDIDATES = [
    pytest.param("def f(s):\n    s.fetch(u)\n", id="not_a_rule_method"),
    pytest.param("get(u)\n", id="bare_name"),
    pytest.param("d = {}\nd.get(k)\n", id="resolved_to_another_type"),
    pytest.param("import requests\ns = requests.Session()\ns.close()\n",
                 id="library_method_without_rule"),
    pytest.param("import requests\nrequests.Session().mount(p, a)\n",
                 id="library_method_on_a_call"),
    pytest.param("import os\nos.path.join(a, b)\n", id="other_library"),
    pytest.param("class C:\n    def get(self, u):\n        pass\nC().get(u)\n",
                 id="project_method"),
    pytest.param("import requests\n_codetrace.traced(requests.get, 'requests.send')(u)\n",
                 id="already_wrapped"),
    pytest.param("from flask import Flask\napp = Flask(__name__)\n_codetrace.hooks.flask(app)\n",
                 id="already_hooked"),
    pytest.param(
        "from flask import Flask\ndef f():\n    return _codetrace.hooks.flask(Flask(__name__))\n",
        id="already_hooked_expression"),
    pytest.param("def f(s):\n    s.get(u)  # codetrace: ignore\n",
                 id="ignored_candidate_is_not_listed"),
]


@pytest.mark.parametrize("source", NOT_CANDIDATES)
def test_not_candidates(source: str, ruleset: RuleSet) -> None:
    matches = _match(source, ruleset)
    assert (matches.sites, matches.unresolved, matches.ignored) == ((), (), 0)


# ----- sites ----------------------------------------------------------------------------------
SITES = [
    pytest.param("import requests\nrequests.get(u)\n",
                 [("requests.get", "requests.send", "requests.get", "imports")], id="imports"),
    pytest.param("import requests\ns = requests.Session()\ns.get(u)\n",
                 [("s.get", "requests.send", "requests.Session.get", "scope flow")],
                 id="scope_flow"),
    pytest.param("import requests\ndef f(s: requests.Session):\n    s.get(u)\n",
                 [("s.get", "requests.send", "requests.Session.get", "scope flow")],
                 id="parameter_annotation"),
    pytest.param(
        "import requests\nclass C:\n    def __init__(self):\n        self.s = requests.Session()\n"
        "    def run(self):\n        self.s.get(u)\n",
        [("self.s.get", "requests.send", "requests.Session.get", "self/class attribute")],
        id="self_attribute"),
    pytest.param("import requests\ndef make() -> requests.Session:\n    pass\nmake().get(u)\n",
                 [("make().get", "requests.send", "requests.Session.get", "return type")],
                 id="return_type"),
    pytest.param("import httpx\nhttpx.Client().post(u)\n",
                 [("httpx.Client().post", "httpx.send", "httpx.Client.post", "imports")],
                 id="httpx_client"),
    pytest.param(
        "import sqlite3\nc = sqlite3.connect(p)\nc.execute(q).fetchall()\nc.commit()\nc.close()\n",
        [("sqlite3.connect", "sqlite3.connect", "sqlite3.connect", "imports"),
         ("c.execute", "sqlite3.query", "sqlite3.Connection.execute", "scope flow"),
         ("c.commit", "sqlite3.transaction", "sqlite3.Connection.commit", "scope flow")],
        id="sqlite3_rules"),
    pytest.param("from flask import Flask\napp = Flask(__name__)\n",
                 [("Flask", "flask.app", "flask.Flask", "imports")], id="flask"),
    pytest.param("import requests\nrequests.get(u)\nrequests = None\n",
                 [("requests.get", "requests.send", "requests.get", "imports")],
                 id="name_otherwise_only_none"),
    pytest.param(
        "import requests\nf'{requests.get(u)}'\n",
        [("requests.get", "requests.send", "requests.get", "imports")], id="in_an_fstring"),
    pytest.param(
        "import requests, httpx\ndef f(s: httpx.Client):\n    s.get(u)\n"
        "def g(s: requests.Session):\n    s.get(u)\n",
        [("s.get", "httpx.send", "httpx.Client.get", "scope flow"),
         ("s.get", "requests.send", "requests.Session.get", "scope flow")],
        id="same_parameter_name_in_two_functions"),
]


@pytest.mark.parametrize(("source", "sites"), SITES)
def test_sites(source: str, sites: list[tuple[str, str, str, str]], ruleset: RuleSet) -> None:
    matches = _match(source, ruleset)
    assert _sites(matches) == sites
    assert matches.unresolved == ()
    assert matches.ignored == 0


# ----- unresolved candidates ------------------------------------------------------------------
UNRESOLVED = [
    pytest.param("def f(s):\n    s.get(u)\n",
                 [("s.get", "get", "s", "`s` is a parameter without an annotation")],
                 id="parameter"),
    pytest.param("x[0].get(u)\n",
                 [("x[0].get", "get", "Subscript", "a Subscript expression is not resolved")],
                 id="receiver_not_a_name"),
    pytest.param("a.b.c.execute(q)\n",
                 [("a.b.c.execute", "execute", "a.b.c", "`a` is not bound in this module")],
                 id="dotted_receiver"),
    pytest.param(
        "import requests, httpx\ns = requests.Session() if c else httpx.Client()\ns.get(u)\n",
        [("s.get", "get", "s", "conditional of different things")], id="different_things"),
    pytest.param(
        "from requests import *\nmake_session().post(u)\n",
        [("make_session().post", "post", "Call",
          "`make_session` may come from a star import of requests")],
        id="star_import"),
]


@pytest.mark.parametrize(("source", "unresolved"), UNRESOLVED)
def test_unresolved(
    source: str, unresolved: list[tuple[str, str, str, str]], ruleset: RuleSet
) -> None:
    matches = _match(source, ruleset)
    assert _unresolved(matches) == unresolved
    assert matches.sites == ()


def test_site_and_candidate_in_one_module(ruleset: RuleSet) -> None:
    matches = _match("import requests\nr = requests.get(u)\nr.json().get(k)\n", ruleset)
    assert _sites(matches) == [("requests.get", "requests.send", "requests.get", "imports")]
    assert _unresolved(matches) == [
        ("r.json().get", "get", "Call", "what requests.get() returns is not declared"),
    ]


# ----- ignored ----------------------------------------------------------------------------------
IGNORED = [
    pytest.param("import requests\nrequests.get(u)  # codetrace: ignore\n", 1, 0, id="line"),
    pytest.param(
        "import requests\ndef f():  # codetrace: ignore\n    requests.get(u)\n"
        "    requests.post(u)\n",
        2, 0, id="def"),
    pytest.param(
        "import requests\nrequests.get(u)  # codetrace: ignore\nrequests.post(u)\n", 1, 1,
        id="one_of_two"),
    pytest.param("import requests\nrequests.Session().close()  # codetrace: ignore\n", 0, 0,
                 id="not_a_site_is_not_counted"),
    pytest.param("def f(s):\n    s.get(u)  # codetrace: ignore\n", 0, 0,
                 id="candidate_is_not_counted"),
]


@pytest.mark.parametrize(("source", "ignored", "sites"), IGNORED)
def test_ignored(source: str, ignored: int, sites: int, ruleset: RuleSet) -> None:
    matches = _match(source, ruleset)
    assert matches.ignored == ignored
    assert len(matches.sites) == sites
    assert matches.unresolved == ()


# ----- construction sites: the class itself, or any project subclass -------------------------
CONSTRUCTED = [
    pytest.param("import requests\ns = requests.Session()\n",
                 [("requests.Session", "requests.session", "requests.Session", "imports")],
                 id="library_class"),
    pytest.param("from requests import Session as S\nS()\n",
                 [("S", "requests.session", "requests.Session", "imports")], id="alias"),
    pytest.param("import requests\nclass Api(requests.Session):\n    pass\nApi()\n",
                 [("Api", "requests.session", "m.Api", "self/class attribute")],
                 id="project_subclass"),
    pytest.param("import requests\nclass A(requests.Session):\n    pass\n"
                 "class B(A):\n    pass\nB()\n",
                 [("B", "requests.session", "m.B", "self/class attribute")],
                 id="subclass_of_a_subclass"),
    pytest.param("import httpx\nclass C(httpx.AsyncClient):\n    pass\nC(base_url=u)\n",
                 [("C", "httpx.client", "m.C", "self/class attribute")], id="async_client"),
    pytest.param("from flask import Flask\nclass MyFlask(Flask):\n    pass\n"
                 "app = MyFlask(__name__)\n",
                 [("MyFlask", "flask.app", "m.MyFlask", "self/class attribute")],
                 id="flask_subclass"),
    pytest.param("import requests\nclass Other:\n    pass\nOther()\n", [], id="unrelated_class"),
    pytest.param("import requests\nclass Mixin:\n    pass\nclass Api(Mixin, requests.Session):\n"
                 "    pass\nApi()\n",
                 [("Api", "requests.session", "m.Api", "self/class attribute")],
                 id="second_base"),
    pytest.param("import requests\nrequests.Session.get(s, u)\n",
                 [("requests.Session.get", "requests.send", "requests.Session.get", "imports")],
                 id="method_of_the_class_is_not_a_construction"),
]


@pytest.mark.parametrize(("source", "sites"), CONSTRUCTED)
def test_construction_sites(
    source: str, sites: list[tuple[str, str, str, str]], ruleset: RuleSet
) -> None:
    assert _sites(_match(source, ruleset, construction=True)) == sites


def test_cross_module_how(ruleset: RuleSet, tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "http.py").write_text("import requests\nsession = requests.Session()\n")
    project = ProjectIndex([tmp_path], runtime=RUNTIME)
    facts = _facts("from app.http import session\nsession.get(u)\n", "main")
    project.add("main", facts)
    assert _sites(match(facts, ruleset, project)) == [
        ("session.get", "requests.send", "requests.Session.get", "cross-module"),
    ]
    # without the project, `app.http.session.get` is taken for another library's function:
    # neither a site nor a candidate
    single = SingleModule(facts.classes, facts.functions, facts.calls)
    assert match(facts, ruleset, single) == Matches(
        (), (), 0)
