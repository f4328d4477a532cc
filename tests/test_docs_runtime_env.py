"""docs/runtime-environment.md lists every variable the runtime reads, and nothing it does not.

The names are read from the runtime's source, not from a list someone keeps: every string
literal that is a whole ``OTEL_*``/``CODETRACE_*`` name, and the names built from a prefix, as
``_otlp`` builds ``OTEL_EXPORTER_OTLP_TRACES_{suffix}`` and ``OTEL_EXPORTER_OTLP_{suffix}``
from the suffixes its callers pass (``"HEADERS"``, ``"CERTIFICATE"``...).
"""

from __future__ import annotations

import ast
import functools
import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "codetrace" / "runtime"
PAGE = ROOT / "docs" / "runtime-environment.md"

NAME = re.compile(r"^(OTEL|CODETRACE)_[A-Z0-9_]*[A-Z0-9]$")  # a prefix ends in "_"
PREFIX = re.compile(r"^(OTEL|CODETRACE)_[A-Z0-9_]*_$")
SUFFIX = re.compile(r"^[A-Z][A-Z0-9_]*$")

Function = ast.FunctionDef | ast.AsyncFunctionDef


def _callee(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _params(function: Function) -> set[str]:
    args = function.args
    every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
    return {a.arg for a in every if a is not None}


def _template_prefix(node: ast.AST, params: set[str]) -> str | None:
    """``f"OTEL_X_{param}"`` or ``"OTEL_X_" + param``: the prefix, when the rest is a
    parameter of the enclosing function."""
    if isinstance(node, ast.JoinedStr) and len(node.values) == 2:
        head, tail = node.values
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        head, tail = node.left, node.right
    else:
        return None
    if isinstance(tail, ast.FormattedValue):
        tail = tail.value
    if (isinstance(head, ast.Constant) and isinstance(head.value, str)
            and PREFIX.match(head.value) and isinstance(tail, ast.Name) and tail.id in params):
        return head.value
    return None


def variables_read(sources: dict[str, str]) -> dict[str, set[str]]:
    """Variable name -> the files that name it, from Python sources by file name."""
    found: dict[str, set[str]] = {}
    trees = {name: ast.parse(text) for name, text in sources.items()}
    functions = [(name, node) for name, tree in trees.items() for node in ast.walk(tree)
                 if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    # functions that build a name from a parameter, and the prefixes they build
    builders: dict[str, set[str]] = {}
    for _, function in functions:
        params = _params(function)
        for node in ast.walk(function):
            prefix = _template_prefix(node, params)
            if prefix is not None:
                builders.setdefault(function.name, set()).add(prefix)
    # and the functions that pass one of their parameters on to a builder (to a fixed point)
    changed = True
    while changed:
        changed = False
        for _, function in functions:
            params = _params(function)
            for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
                target = _callee(call)
                if target in builders and function.name != target and any(
                        isinstance(a, ast.Name) and a.id in params for a in call.args):
                    before = len(builders.get(function.name, ()))
                    builders.setdefault(function.name, set()).update(builders[target])
                    changed |= len(builders[function.name]) != before
    for file, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and NAME.match(node.value):
                found.setdefault(node.value, set()).add(file)
            if isinstance(node, ast.Call) and _callee(node) in builders:
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) \
                            and SUFFIX.match(arg.value):
                        for prefix in builders[_callee(node) or ""]:
                            found.setdefault(prefix + arg.value, set()).add(file)
    return found


@functools.cache
def runtime_variables() -> dict[str, set[str]]:
    return variables_read({str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
                           for path in sorted(RUNTIME.rglob("*.py"))})


def documented(page: str) -> set[str]:
    """The names in the first column of the page's tables."""
    names: set[str] = set()
    for line in page.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            first = line.split(" | ")[0]
            names.update(re.findall(r"`((?:OTEL|CODETRACE)_[A-Z0-9_]+)`", first))
    return names


def test_the_scanner_sees_literals_and_names_built_from_prefixes() -> None:
    source = textwrap.dedent('''
        LIMIT = "OTEL_SPAN_EVENT_COUNT_LIMIT"
        MESSAGE = "codetrace: OTEL_FOO is malformed"  # a message, not a name

        def _names(suffix):
            return f"OTEL_EXPORTER_OTLP_TRACES_{suffix}", "OTEL_EXPORTER_OTLP_" + suffix

        def value(suffix):
            return [env(n) for n in _names(suffix)]

        def tls(explicit, keyword, suffix):
            return explicit or value(suffix)

        value("HEADERS")
        tls(None, "certificate_file", "CERTIFICATE")
        print("NOT_PASSED")
    ''')
    assert set(variables_read({"m.py": source})) == {
        "OTEL_SPAN_EVENT_COUNT_LIMIT",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE",
    }


def test_the_page_reads_its_first_columns_only() -> None:
    page = ("| variable | default | meaning |\n|---|---|---|\n"
            "| `OTEL_A`, `OTEL_B` | `1` | like `OTEL_C` |\n"
            "Prose that mentions `OTEL_D`.\n")
    assert documented(page) == {"OTEL_A", "OTEL_B"}


def test_every_variable_the_runtime_reads_is_documented() -> None:
    read = runtime_variables()
    missing = sorted(set(read) - documented(PAGE.read_text(encoding="utf-8")))
    assert not missing, (
        "variables the runtime reads but docs/runtime-environment.md does not list (add a "
        "row: name, default, meaning):\n" + "\n".join(
            f"  {name} (in {', '.join(sorted(read[name]))})" for name in missing))


def test_every_documented_variable_is_read_by_the_runtime() -> None:
    stale = sorted(documented(PAGE.read_text(encoding="utf-8")) - set(runtime_variables()))
    assert not stale, (
        "docs/runtime-environment.md lists variables no module of codetrace/runtime/ reads "
        "(remove their rows, or the code lost them):\n  " + "\n  ".join(stale))


def test_the_variables_the_runtime_names_in_its_readme_section_exist() -> None:
    """README's runtime section names a few variables; each must be one the runtime reads."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:OTEL|CODETRACE)_[A-Z0-9_]+)(?:=[^`]*)?`", readme))
    named -= {"CODETRACE_CACHE_DIR", "CODETRACE_SKIP_SERVERS"}  # the engine's, the tests'
    assert not sorted(named - set(runtime_variables()))
