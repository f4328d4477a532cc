"""Every advice kind owns its shape: what it builds, it recognises and undoes, in every context.

A table of expression contexts times the registered advice kinds: for each, the injected code
compiles, each injected construct is recognised by its advice (``instrumented`` names the very
call it instruments, ``unwrap`` gives the user's expression back node for node), the collector
sees the site as done (a second apply changes nothing), and strip gives the bytes back.
A new advice kind adds one row to ``RULES``; ``test_every_advice_has_a_row`` insists.
"""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from codetrace import _advice
from codetrace._context import FileContext
from codetrace._engine import instrument, strip
from codetrace._rules import RuleSet, load_rules
from codetrace._source import compiles

#: advice name -> (rule file body, the callee the contexts call)
RULES = {
    "wrap-call": ('advice = "wrap-call"\nadapter = "requests.send"\n', "lib.fetch"),
    "hook-after": ('advice = "hook-after"\nhook = "flask"\n', "lib.make"),
}

#: expression contexts, ``CALL`` standing for ``callee(1, b=2)``; the module imports ``lib``
CONTEXTS = {
    "statement": "CALL\n",
    "assignment": "x = CALL\n",
    "attribute_target": "class C:\n    pass\nC.x = CALL\n",
    "return": "def f():\n    return CALL\n",
    "lambda": "f = lambda: CALL\n",
    "comprehension": "xs = [CALL for _ in range(3)]\n",
    "generator": "xs = list(CALL for _ in range(3))\n",
    "fstring_double": 'text = f"{CALL}"\n',
    "fstring_single": "text = f'{CALL}'\n",
    "decorator": "@CALL\ndef g():\n    pass\n",
    "class_body": "class K:\n    attr = CALL\n",
    "await": "async def h():\n    return await CALL\n",
    "default_argument": "def d(value=CALL):\n    return value\n",
    "conditional": "y = CALL if True else None\n",
    "nested_call": "print(CALL, CALL)\n",
    "parenthesised": "z = (CALL)\n",
    "multiline": "w = CALL_OPEN\n    1,  # first\n    b=2,\n)\n",
    "semicolons": "a = 1; CALL; b = 2\n",
}


def _ruleset(tmp_path: Path, advice: str) -> RuleSet:
    body, callee = RULES[advice]
    path = tmp_path / "rules.toml"
    path.write_text(
        f'[[rule]]\nid = "lib.thing"\n[rule.match]\ncall = ["{callee}"]\n[rule.do]\n{body}'
    )
    return load_rules([path])


def _source(context: str, callee: str) -> bytes:
    body = CONTEXTS[context].replace("CALL_OPEN", f"{callee}(\n")
    return ("import lib\n\n" + body.replace("CALL", f"{callee}(1, b=2)")).encode()


def _calls(module: cst.Module) -> list[cst.Call]:
    found: list[cst.Call] = []

    class Calls(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            found.append(node)

    module.visit(Calls())
    return found


def _statements(module: cst.Module) -> list[cst.SimpleStatementLine]:
    found: list[cst.SimpleStatementLine] = []

    class Lines(cst.CSTVisitor):
        def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
            found.append(node)

    module.visit(Lines())
    return found


def _user_calls(module: cst.Module, callee: str) -> list[cst.Call]:
    code = cst.Module([])
    return [c for c in _calls(module) if code.code_for_node(c.func) == callee]


@pytest.mark.parametrize("context", sorted(CONTEXTS))
@pytest.mark.parametrize("advice", sorted(RULES))
def test_build_recognise_undo(tmp_path: Path, advice: str, context: str) -> None:
    ruleset = _ruleset(tmp_path, advice)
    callee = RULES[advice][1]
    source = _source(context, callee)
    file = FileContext("m.py", ruleset, module_name="m")
    result = instrument(source, file)
    assert result.status == "changed", result.error
    output = result.output or b""
    assert compiles(output, "m.py") is None

    originals = _user_calls(cst.parse_module(source), callee)
    tree = cst.parse_module(output)
    owner = _advice.get(advice)
    built = [node for node in _calls(tree) if owner.unwrap(node) is not None]
    statements = [s for s in _statements(tree) if owner.added_target(s) is not None]
    # every site is instrumented once: by an expression construct or an added statement
    assert len(built) + len(statements) == len(originals) == len(result.sites)
    # recognise: the construct names a call of the same tree, the user's call it instruments
    in_tree = {id(node) for node in _calls(tree)}
    for node in built:
        target = owner.instrumented(node)
        assert target is not None and id(target) in in_tree
        # the construct itself (a wrapped callee), or the user's call inside it
        assert target is node or id(target) in {id(c) for c in _calls(node)}
        assert target is node or owner.unwrap(target) is None
    # undo: the user's expression comes back node for node, in source order
    undone = [owner.unwrap(node) for node in built]
    expected = originals if not statements else []
    for got, want in zip(undone, expected, strict=True):
        assert got is not None and got.deep_equals(want), (code_of(got), code_of(want))
    # other advice kinds do not claim this shape
    for other in _advice.all_advice():
        if other is not owner:
            assert not any(other.unwrap(node) for node in built)
            assert not any(other.added_target(s) for s in _statements(tree))
    # a second apply sees every site as done; strip gives the input back byte for byte
    assert instrument(output, file).status == "unchanged"
    stripped = strip(output, file)
    assert stripped.status == "changed" and stripped.output == source


def code_of(node: cst.CSTNode | None) -> str:
    return "" if node is None else cst.Module([]).code_for_node(node)


def test_every_advice_has_a_row() -> None:
    # advice kinds about functions (``span-function``) have their table of ``def`` shapes in
    # tests/test_span_function.py: these contexts are for calls
    about_calls = {a.name for a in _advice.all_advice() if a.counts_as != "function"}
    assert set(RULES) == about_calls


@pytest.mark.parametrize("advice", sorted(RULES))
def test_strangers_are_not_recognised(advice: str) -> None:
    """Look-alikes of the shapes that codetrace did not write are nobody's."""
    owner = _advice.get(advice)
    for text in [
        "_codetrace.traced(f)(1)",                  # wrong arity
        "_codetrace.traced(f, name)(1)",            # the adapter is not a literal
        "_codetrace.traced(f, 'x', extra=1)(1)",    # keyword
        "other.traced(f, 'x')(1)",                  # not the marker
        "_codetrace.hooks.flask(make(), 2)",        # two arguments
        "_codetrace.hooks.flask(*apps)",            # star
        "_codetrace.hooks.flask((make()))",         # the wrapped call carries parentheses
        "_codetrace.hooks(app)",                    # no hook name
        "f(1)",
    ]:
        node = cst.parse_expression(text)
        assert isinstance(node, cst.Call)
        assert owner.unwrap(node) is None, text
        assert owner.instrumented(node) is None, text
        statement = cst.parse_statement(text + "\n")
        assert owner.added_target(statement) is None, text
