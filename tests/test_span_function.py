"""The engine half of ``span-function``: the ``# codetrace: span`` directive, rule globs, and
the decorator line it adds (golden cases ``fixtures/golden/span_function_*`` pin the shapes).

These tests run the real engine and CLI on real files; nothing is mocked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetrace._context import FileContext
from codetrace._engine import instrument, strip
from codetrace._prefilter import Prefilter
from codetrace._rules import RuleError, RuleSet, load_rules, select_rules
from codetrace._span_directive import DirectiveError, SpanSpec, parse
from codetrace.cli import app


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def apply(source: str, ruleset: RuleSet, module: str = "myapp.orders") -> tuple[str, str]:
    result = instrument(source.encode(), FileContext("m.py", ruleset, module_name=module))
    assert result.status != "error", result.error
    return result.status, (result.output or source.encode()).decode()


# ----- the directive's options --------------------------------------------------------------

@pytest.mark.parametrize(("comment", "spec"), [
    ("# codetrace: span", SpanSpec()),
    ("#codetrace:span", SpanSpec()),
    ('# codetrace: span name="orders.create"', SpanSpec(name="orders.create")),
    ("# codetrace: span name='orders.create' kind=server", SpanSpec("orders.create", "server")),
    ("# codetrace: span order.kind=web retries=3 ratio=0.5 fast=true slow=false",
     SpanSpec(attributes=(("fast", True), ("order.kind", "web"), ("ratio", 0.5),
                          ("retries", 3), ("slow", False)))),
    ("# codetrace: span min_duration_ms=50", SpanSpec(min_duration_ms=50.0)),
    ('# codetrace: span note="two words"  # and another comment',
     SpanSpec(attributes=(("note", "two words"),))),
])
def test_directive_options(comment: str, spec: SpanSpec) -> None:
    assert parse(comment) == spec


@pytest.mark.parametrize(("comment", "message"), [
    ("# codetrace: span orders", "expects key=value options, not 'orders'"),
    ("# codetrace: span kind=sever", "kind must be one of internal, server"),
    ("# codetrace: span min_duration_ms=-1", "min_duration_ms must be a number"),
    ("# codetrace: span min_duration_ms=soon", "min_duration_ms must be a number"),
    ('# codetrace: span name="open', "a quoted value is not closed"),
    ("# codetrace: span name=", "has no value"),
    ('# codetrace: span name=""', "name must be a non-empty string"),
    ("# codetrace: span a=1 a=2", "sets 'a' twice"),
    ('# codetrace: span name="a\\"b"', "no backslashes"),
])
def test_malformed_directive_options(comment: str, message: str) -> None:
    with pytest.raises(DirectiveError) as caught:
        parse(comment)
    assert message in str(caught.value)


def test_a_directive_mentioned_in_a_string_is_not_one(ruleset: RuleSet) -> None:
    source = ('def f():\n    """Put `# codetrace: span` on a def."""\n'
              '    return "# codetrace: span kind=bogus"\n')
    assert apply(source, ruleset) == ("unchanged", source)


def test_spans_is_not_span(ruleset: RuleSet) -> None:
    source = "def f():  # codetrace: spans are nice\n    return 1\n"
    assert apply(source, ruleset) == ("unchanged", source)


def test_a_directive_at_the_top_of_a_file_is_read(ruleset: RuleSet) -> None:
    """libcst keeps a first statement's comments in the module header, not on the def."""
    source = "# codetrace: span\ndef f():\n    return 1\n"
    status, output = apply(source, ruleset, module="m")
    assert status == "changed"
    assert '@_codetrace.span_function("m.f")\ndef f():' in output


def test_a_malformed_directive_fails_the_file_with_its_line(ruleset: RuleSet) -> None:
    source = b"import os\n\n\ndef f():  # codetrace: span kind=sever\n    return os.sep\n"
    result = instrument(source, FileContext("m.py", ruleset, module_name="m"))
    assert result.status == "error" and result.line == 4 and result.output is None
    assert "kind must be one of" in result.error and "\n" not in result.error


def test_two_directives_on_one_function_are_an_error(ruleset: RuleSet) -> None:
    source = b"# codetrace: span\ndef f():  # codetrace: span\n    return 1\n"
    result = instrument(source, FileContext("m.py", ruleset, module_name="m"))
    assert result.status == "error" and "second `# codetrace: span`" in result.error


# ----- rule files ---------------------------------------------------------------------------

GLOB_RULE = """\
[[rule]]
id = "myapp.services"
[rule.match]
function = ["myapp.services.*"]
[rule.do]
advice = "span-function"
"""


@pytest.mark.parametrize(("name", "text", "line", "message"), [
    ("bad_glob", GLOB_RULE.replace('"myapp.services.*"', '"*.services"'), 4,
     "is not a function glob"),
    ("empty_part", GLOB_RULE.replace('"myapp.services.*"', '"myapp..x"'), 4,
     "is not a function glob"),
    ("unbalanced", GLOB_RULE.replace('"myapp.services.*"', '"myapp.[ab"'), 4,
     "is not a function glob"),
    ("bad_kind", GLOB_RULE + 'kind = "backend"\n', 7, "must be one of internal, server"),
    ("bad_placeholder", GLOB_RULE + 'name = "{module}.{function}"\n', 7,
     "unknown placeholder {function}"),
    ("bad_attributes", GLOB_RULE + 'attributes = { "a" = [1, 2] }\n', 7,
     "attribute 'a' must be a string"),
    ("bad_minimum", GLOB_RULE + "min_duration_ms = -5\n", 7, "min_duration_ms: must be"),
    ("bad_skip", GLOB_RULE + 'skip_trivial = "yes"\n', 7, "must be true or false"),
    ("unknown_key", GLOB_RULE + 'adapter = "requests.send"\n', 7,
     "'adapter' only goes with advice 'wrap-call'"),
    ("wrong_advice", GLOB_RULE.replace('"span-function"', '"wrap-call"'), 6,
     'match.function goes with advice = "span-function"'),
    ("no_globs", GLOB_RULE.replace('function = ["myapp.services.*"]',
                                   'call = ["myapp.x"]'), 6, "needs match.function"),
    ("mixed", GLOB_RULE.replace('function = ["myapp.services.*"]',
                                'function = ["myapp.*"]\ncall = ["myapp.x"]'), 4,
     "goes in a rule of its own"),
])
def test_function_rules_are_validated_with_file_and_line(
    tmp_path: Path, name: str, text: str, line: int, message: str
) -> None:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    with pytest.raises(RuleError) as caught:
        load_rules([path])
    assert caught.value.path == path and caught.value.line == line
    assert message in caught.value.message


def test_a_glob_rule_loads_with_its_options(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(GLOB_RULE + 'name = "svc.{qualname}"\nkind = "server"\n'
                    'attributes = { "team" = "payments" }\nmin_duration_ms = 5\n')
    rule = next(r for r in load_rules([path]).rules if r.id == "myapp.services")
    assert rule.functions == ("myapp.services.*",)
    assert rule.span == SpanSpec("svc.{qualname}", "server", (("team", "payments"),), 5.0,
                                 skip_trivial=True, template=True)


def test_the_directive_is_a_rule_every_rule_set_has(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(GLOB_RULE)
    ids = [rule.id for rule in load_rules([path]).rules]
    assert ids == ["myapp.services", "codetrace.span"]


@pytest.mark.parametrize(("module", "function", "traced"), [
    ("myapp.services", "def f():\n    x = 1\n    return x\n", True),
    ("myapp.services.orders", "def f():\n    x = 1\n    return x\n", True),  # a submodule
    ("myapp.servicesx", "def f():\n    x = 1\n    return x\n", False),
    ("myapp.billing", "def f():\n    x = 1\n    return x\n", False),
    ("myapp.services", "def f():\n    return 1\n", False),  # trivial
    ("myapp.services", "def f():\n    '''Doc.'''\n    pass\n", False),
    ("myapp.services", "def f(self):\n    return self.x\n", False),
    ("myapp.services", "def f(self):\n    return self.x()\n", True),
    ("myapp.services", "class C:\n    def m(self):\n        self.n()\n", True),
    ("myapp.services", "f = lambda: print(1)\n", False),
])
def test_globs_select_functions_by_module_and_qualified_name(
    tmp_path: Path, module: str, function: str, traced: bool
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(GLOB_RULE)
    status, output = apply(function, load_rules([path]), module=module)
    assert (status == "changed") is traced
    assert ("@_codetrace.span_function" in output) is traced


def test_a_module_glob_without_a_star_takes_the_module_s_functions(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(GLOB_RULE.replace('"myapp.services.*"', '"myapp.services"'))
    _, output = apply("def f():\n    g()\n", load_rules([path]), module="myapp.services")
    assert '@_codetrace.span_function("myapp.services.f")' in output


# ----- selection and opt-out ----------------------------------------------------------------

SOURCE = "import os\n\n\ndef f():  # codetrace: span\n    return os.sep\n"


@pytest.mark.parametrize("name", ["codetrace.span", "codetrace"])
def test_ignoring_the_directive_rule_turns_it_off(ruleset: RuleSet, name: str) -> None:
    assert apply(SOURCE, select_rules(ruleset, None, ignore=[name]))[0] == "unchanged"
    assert apply(SOURCE, select_rules(ruleset, [name]))[0] == "changed"
    # a malformed directive is no error when the directive is not in force
    bad = SOURCE.replace("span", "span kind=bogus")
    assert apply(bad, select_rules(ruleset, None, ignore=[name]))[0] == "unchanged"


def test_the_prefilter_lets_a_directive_through_only_while_it_is_in_force(
    ruleset: RuleSet,
) -> None:
    data = SOURCE.encode()
    assert Prefilter.for_rules(ruleset).may_match(data)
    assert not Prefilter.for_rules(select_rules(ruleset, None, ignore=["codetrace"])
                                   ).may_match(data)
    assert not Prefilter.for_rules(ruleset).may_match(b"import os\n# codetrace: ignore\n")


def test_cli_select_and_ignore_name_the_directive(tmp_path: Path) -> None:
    target = tmp_path / "m.py"
    target.write_text(SOURCE)
    assert run("apply", "--check", "--no-cache", "--ignore", "codetrace.span",
               str(target))[0] == 0
    code, _, err = run("apply", "--check", "--no-cache", str(target))
    assert code == 1, err
    code, out, _ = run("rules")
    assert "codetrace.span" in out and "span-function" in out


# ----- the CLI on real files ----------------------------------------------------------------

def test_apply_then_strip_gives_the_files_back_and_counts_functions(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "myapp").mkdir(parents=True)
    (project / "myapp" / "__init__.py").write_text("")
    service = project / "myapp" / "services.py"
    service.write_bytes(b"import os\r\n\r\n\r\nclass Orders:\r\n    def create(self, sku):\r\n"
                        b"        return os.path.join(sku, 'x')\r\n")
    orders = project / "myapp" / "orders.py"
    orders.write_text("# codetrace: span name=\"orders.place\"\nasync def place(x):\n"
                      "    return await x\n")
    (project / "tracing.toml").write_text(GLOB_RULE)
    (project / "pyproject.toml").write_text('[tool.codetrace]\nrules = ["tracing.toml"]\n')
    before = {p: p.read_bytes() for p in project.rglob("*.py")}
    code, _, err = run("apply", "--no-cache", str(project))
    assert code == 0, err
    assert "2 files instrumented, 0 call sites, 0 hooks, 2 functions" in err
    assert b'    @_codetrace.span_function("myapp.services.Orders.create")\r\n' \
        b"    def create(self, sku):\r\n" in service.read_bytes()
    assert orders.read_text().startswith(
        '# codetrace: span name="orders.place"\nimport codetrace.runtime as _codetrace\n\n\n'
        '@_codetrace.span_function("orders.place")\nasync def place(x):\n')
    # idempotent, and strip gives every byte back
    assert run("apply", "--check", "--no-cache", str(project))[0] == 0
    code, _, err = run("strip", "--no-cache", str(project))
    assert code == 0, err
    assert {p: p.read_bytes() for p in project.rglob("*.py")} == before


def test_a_malformed_directive_is_one_line_and_the_run_goes_on(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    pass\n\n\ndef g():  # codetrace: span kind=sever\n    f()\n")
    good = tmp_path / "good.py"
    good.write_text("def h():  # codetrace: span\n    print(1)\n")
    before = bad.read_bytes()
    code, _, err = run("apply", "--no-cache", str(tmp_path))
    assert code == 2
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "bad.py:5:" in line and "kind must be one of" in line
    assert bad.read_bytes() == before
    assert "@_codetrace.span_function" in good.read_text()


def test_explain_lists_traced_functions(tmp_path: Path) -> None:
    target = tmp_path / "m.py"
    target.write_text("def h():  # codetrace: span\n    print(1)\n")
    code, out, err = run("explain", "--json", str(target))
    assert code == 0, err
    assert '"rule": "codetrace.span"' in out and '"advice": "span-function"' in out


def test_the_runtime_import_is_shared_with_library_rules(ruleset: RuleSet) -> None:
    """Instrumented before for requests, then a directive added: one import, both kept."""
    first = "import requests\n\n\ndef f(u):\n    return requests.get(u)\n"
    _, once = apply(first, ruleset)
    edited = once.replace("def f(u):", "def f(u):  # codetrace: span")
    status, twice = apply(edited, ruleset)
    assert status == "changed" and twice.count("import codetrace.runtime as _codetrace") == 1
    assert '@_codetrace.span_function("myapp.orders.f")\ndef f(u):' in twice
    result = strip(twice.encode(), FileContext("m.py", ruleset, module_name="myapp.orders"))
    assert result.output == first.replace("def f(u):", "def f(u):  # codetrace: span").encode()


# ----- the advice owns its shape: build, recognise, undo, in every kind of def -------------

#: ``def`` shapes; each traced one carries the directive
DEFS = {
    "plain": "def f(a, b=2):  # codetrace: span\n    return g(a, b)\n",
    "one_line": "def f(): return g()  # codetrace: span\n",
    "async": "# codetrace: span\nasync def f():\n    return await g()\n",
    "generator": "# codetrace: span\ndef f():\n    yield g()\n",
    "async_generator": "# codetrace: span\nasync def f():\n    yield await g()\n",
    "recursive": "# codetrace: span\ndef f(n):\n    return 1 if n < 2 else n * f(n - 1)\n",
    "method": "class C:\n    # codetrace: span\n    def m(self):\n        return g()\n",
    "classmethod": "class C:\n    @classmethod\n    # codetrace: span\n    def m(cls):\n"
                   "        return cls()\n",
    "staticmethod": "class C:\n    # codetrace: span\n    @staticmethod\n    def m():\n"
                    "        return g()\n",
    "property": "class C:\n    @property\n    def p(self):  # codetrace: span\n"
                "        return g()\n",
    "nested": "def outer():\n    # codetrace: span\n    def inner():\n        return g()\n"
              "    return inner\n",
    "in_if": "if g():\n    # codetrace: span\n    def f():\n        return g()\n",
    "decorated_multiline": "# codetrace: span\n@deco(\n    1,  # one\n)\n# after\n"
                           "def f():\n    return g()\n",
    "tab_indented": "class C:\n\t# codetrace: span\n\tdef m(self):\n\t\treturn g()\n",
    "comment_block": "# first\n# codetrace: span\n# last\ndef f():\n    return g()\n",
}


@pytest.mark.parametrize("shape", sorted(DEFS))
def test_build_recognise_undo_in_every_def(ruleset: RuleSet, shape: str) -> None:
    import libcst as cst

    from codetrace import _advice
    from codetrace._source import compiles

    source = ("def g(*a):\n    return 1\n\n\ndef deco(*a):\n    return lambda f: f\n\n\n"
              + DEFS[shape]).encode()
    file = FileContext("m.py", ruleset, module_name="m")
    result = instrument(source, file)
    assert result.status == "changed", result.error
    output = result.output or b""
    assert compiles(output, "m.py") is None
    owner = _advice.get("span-function")

    def defs(module: cst.Module) -> list[cst.FunctionDef]:
        found: list[cst.FunctionDef] = []

        class Defs(cst.CSTVisitor):
            def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
                found.append(node)

        module.visit(Defs())
        return found

    before, after = defs(cst.parse_module(source)), defs(cst.parse_module(output))
    traced = [node for node in after if owner.undecorate(node) is not None]
    assert len(traced) == len(result.sites) == 1
    (node,) = traced
    assert owner.added_decorator(node.decorators[-1])  # innermost: right above the def
    # undo gives the user's def back node for node
    (original,) = [d for d in before if d.name.value == node.name.value]
    undone = owner.undecorate(node)
    assert undone is not None and undone.deep_equals(original)
    # no other advice kind claims the decorator's call
    call = node.decorators[-1].decorator
    assert isinstance(call, cst.Call)
    for other in _advice.all_advice():
        if other is not owner:
            assert other.unwrap(call) is None and other.instrumented(call) is None
    assert instrument(output, file).status == "unchanged"
    stripped = strip(output, file)
    assert stripped.status == "changed" and stripped.output == source


@pytest.mark.parametrize("text", [
    "@_codetrace.span_function\ndef f(): pass\n",                 # not called
    "@_codetrace.span_function(name)\ndef f(): pass\n",           # the name is not a literal
    "@_codetrace.span_function('x', other=1)\ndef f(): pass\n",   # a keyword we never write
    "@_codetrace.span_function(*names)\ndef f(): pass\n",
    "@other.span_function('x')\ndef f(): pass\n",                 # not the marker
    "@_codetrace.traced('x')\ndef f(): pass\n",
])
def test_look_alike_decorators_are_nobody_s(text: str) -> None:
    import libcst as cst

    from codetrace import _advice

    node = cst.parse_module(text).body[0]
    assert isinstance(node, cst.FunctionDef)
    assert not _advice.added_decorator(node.decorators[0])
    assert _advice.undecorate(node) is None
