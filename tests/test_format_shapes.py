"""Every statement shape codetrace changes stays formatter-clean, at every width near the limit.

Each shape is a formatter-clean module (formatted by the real black or ruff first) holding one
call codetrace instruments, with a name whose length moves the statement across the line
length: below it, at it, and past it once the call is wrapped. After ``apply`` in the
formatter's mode the whole file must be clean for that formatter, the call instrumented (or,
where strip could not give the statement back, the statement untouched and the site reported),
and strip must give the input back (the engine's self-check, which would make the file an
error). The default run samples a few widths; the slow run sweeps every width and more line
lengths.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import black
import pytest

from codetrace._context import FileContext
from codetrace._engine import LEFT_FOR_FORMATTER, instrument
from codetrace._format import BlackStyle, RuffStyle, Style, ruff_executable
from codetrace._import_settings import ImportStyle
from codetrace._options import Options
from codetrace._rules import RuleSet

HEAD = "import requests\n\n\n"
#: ``{p}`` is the name whose length is swept
SHAPES: dict[str, str] = {
    "assign": "def f(url):\n    {p} = requests.get(url, timeout=5)\n    return {p}\n",
    "return": "def f(url):\n    return requests.get(url, params={{'{p}': 1}})\n",
    "if": "def f(url):\n    if requests.get(url).status_code == len('{p}'):\n        return 1\n",
    "elif": ("def f(url, x):\n    if x:\n        pass\n    elif requests.get(url).status_code"
             " == len('{p}'):\n        return 1\n"),
    "while": "def f(url, {p}):\n    while requests.get(url).ok and {p}:\n        pass\n",
    "for": "def f(url):\n    for item in requests.get(url).json()['{p}']:\n        print(item)\n",
    "with": "def f(url):\n    with requests.get(url, stream=True) as {p}:\n        return {p}\n",
    "listcomp": "def f(urls):\n    return [requests.get(u).status_code for u in urls if '{p}']\n",
    "genexp_in_if": ("def f(urls):\n    if any(requests.get(u).ok for u in urls if '{p}'):\n"
                     "        return 1\n"),
    "decorator": "@register(requests.get('http://x').json()['{p}'])\ndef f():\n    pass\n",
    "default_arg": "def f(x=requests.get('http://x'), {p}=None):\n    pass\n",
    "lambda": "handler = lambda u: requests.get(u, timeout=len('{p}'))\n",
    "chained": "def f(url):\n    return requests.get(url).json().get('{p}').get('x')\n",
    "fstring": "def f(url):\n    return f\"{{requests.get(url).status_code}} {p}\"\n",
    "nested": "def f(url):\n    print(len(requests.get(url).content), '{p}')\n",
    "attr_target": ("class C:\n    def f(self, url):\n        self.{p}.attribute = "
                    "requests.get(url)\n"),
    "ternary": "def f(url, {p}):\n    return requests.get(url) if {p} else None\n",
    "class_body": "class C:\n    x = requests.get('{p}')\n",
    "augassign": ("def f(url, total):\n    total += len(requests.get(url, headers={{'{p}': "
                  "'v'}}).content)\n"),
    "dict": "def f(url):\n    return {{'a': requests.get(url), 'b': '{p}'}}\n",
    "kwarg": "def f(url):\n    foo(data=requests.get(url).json(), other='{p}')\n",
    "two_calls": ("def f(url):\n    return requests.get(url).ok and requests.post(url, "
                  "data='{p}').ok\n"),
    "magic_comma_args": ("def f(url):\n    return requests.get(\n        url,\n        '{p}',\n"
                         "    )\n"),
    "magic_comma_around": ("def f(url):\n    return foo(\n        requests.get(url),\n"
                           "        '{p}',\n    )\n"),
    "comment_in_call": ("def f(url):\n    return requests.get(  # why\n        url, '{p}'\n"
                        "    )\n"),
    "hook_statement": ("from flask import Flask\n\n\nclass A:\n    def __init__(self):\n"
                       "        self.{p} = Flask(__name__)\n"),
    "multiline_args": ("def f(url):\n    return requests.get(\n        url,\n        "
                       "params={{'{p}': 1}},\n    )\n"),
}


def _black(style: BlackStyle) -> Callable[[str], str]:
    return lambda text: black.format_str(text, mode=style.mode(0))


def _ruff(style: RuffStyle) -> Callable[[str], str]:
    executable = ruff_executable()
    assert executable is not None
    return lambda text: subprocess.run([executable, *style.arguments(0)], input=text,
                                       capture_output=True, text=True, check=True,
                                       timeout=60).stdout


def _sweep(ruleset: RuleSet, style: Style, widths: range | tuple[int, ...]) -> list[str]:
    formatted = _black(style) if isinstance(style, BlackStyle) else _ruff(style)
    options = Options(style=style, imports=ImportStyle())
    problems: list[str] = []
    for name, shape in SHAPES.items():
        for width in widths:
            source = formatted(HEAD + shape.format(p="p" * width))
            result = instrument(source.encode(), FileContext("m.py", ruleset, options))
            where = f"{name} (name of {width}, line length {style.line_length})"
            if result.status == "error":
                problems.append(f"{where}: {result.error}")
                continue
            left = [site for site in result.sites if site.skipped == LEFT_FOR_FORMATTER]
            if result.status != "changed":
                if not left:
                    problems.append(f"{where}: nothing instrumented and nothing reported")
                continue
            output = (result.output or b"").decode()
            if formatted(output) != output:
                problems.append(f"{where}: {style.name} would reformat\n{output}")
    return problems


#: a name of 20 puts 23 of the shapes where the statement fits the line and the wrapped one does
#: not (the regime that matters); 4 and 36 on either side
BLACK_WIDTHS = (4, 20, 36)


def test_black_shapes(ruleset: RuleSet) -> None:
    problems = _sweep(ruleset, BlackStyle(), BLACK_WIDTHS)
    assert not problems, "\n\n".join(problems)


def test_a_statement_that_would_not_strip_back_is_left_and_reported(ruleset: RuleSet) -> None:
    """A user's magic trailing comma next to a call that black must split for the wrapper: the
    statement is left as it was and the site says why."""
    source = black.format_str(HEAD + SHAPES["magic_comma_around"].format(p="p" * 40),
                              mode=black.Mode())
    options = Options(style=BlackStyle(), imports=ImportStyle())
    result = instrument(source.encode(), FileContext("m.py", ruleset, options))
    assert result.status == "unchanged"
    assert [site.skipped for site in result.sites] == [LEFT_FOR_FORMATTER]
    # without black mode the same site is instrumented (lines may grow)
    plain = instrument(source.encode(), FileContext("m.py", ruleset, Options()))
    assert plain.status == "changed"


@pytest.fixture
def ruff_style() -> RuffStyle:
    if ruff_executable() is None:
        pytest.skip("ruff is in the test extra (pip install '.[test]')")
    return RuffStyle()


def test_ruff_shapes(ruleset: RuleSet, ruff_style: RuffStyle) -> None:
    problems = _sweep(ruleset, ruff_style, (20,))
    assert not problems, "\n\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("line_length", [79, 88, 100, 120])
def test_black_shapes_every_width(ruleset: RuleSet, line_length: int) -> None:
    problems = _sweep(ruleset, BlackStyle(line_length=line_length), range(1, line_length, 2))
    assert not problems, "\n\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize(("line_length", "quotes", "magic"),
                         [(88, "double", True), (100, "single", False), (79, "preserve", True)])
def test_ruff_shapes_every_width(
    ruleset: RuleSet, ruff_style: RuffStyle, line_length: int, quotes: str, magic: bool
) -> None:
    style = RuffStyle(line_length=line_length, quote_style=quotes, magic_trailing_comma=magic)
    problems = _sweep(ruleset, style, range(1, line_length, 3))
    assert not problems, "\n\n".join(problems)
