"""Black mode: statements codetrace changes are black-formatted, and strip formats them back."""

from __future__ import annotations

from pathlib import Path

import black
from typer.testing import CliRunner

from codetrace._context import FileContext
from codetrace._engine import instrument, strip
from codetrace._format import BlackStyle, black_style
from codetrace._options import Options
from codetrace._rules import RuleSet
from codetrace.cli import app

STYLE = BlackStyle()
CLEAN = '''import requests


def fetch(session: requests.Session, url: str, payload: dict) -> int:
    response = session.post(url, json=payload, timeout=5, headers={"X-Id": "1"})
    return response.status_code


def exploded(url):
    return requests.get(
        url,
        timeout=5,
    )


def many(url, a_long_argument_name, another_long_argument_name, third_argument_name):
    return requests.get(
        url, a_long_argument_name, another_long_argument_name, third_argument_name
    )


class Client:
    def fetch(self, url):
        if url:
            return requests.get(url, params={"q": "a longer query string"}, timeout=10)
        return None
'''


def _black(text: str) -> str:
    return black.format_str(text, mode=black.Mode())


def test_black_clean_input_stays_black_clean_and_strips_exactly(ruleset: RuleSet) -> None:
    assert _black(CLEAN) == CLEAN
    options = Options(style=STYLE)
    result = instrument(CLEAN.encode(), FileContext("m.py", ruleset, options, module_name="m"))
    assert result.status == "changed", result.error
    output = result.output.decode() if result.output else ""
    assert _black(output) == output  # `black --check` still passes after apply
    assert "_codetrace.traced(session.post, \"requests.send\")(\n" in output
    back = strip(result.output or b"", FileContext("m.py", options=options))
    assert back.output == CLEAN.encode()


def test_without_black_mode_lines_only_grow(ruleset: RuleSet) -> None:
    result = instrument(CLEAN.encode(), FileContext("m.py", ruleset, Options(), module_name="m"))
    output = (result.output or b"").decode()
    assert 'response = _codetrace.traced(session.post, "requests.send")(url, json=payload' in output
    assert _black(output) != output


def test_split_calls_keep_their_split(ruleset: RuleSet) -> None:
    """A call black already split, and one exploded by a magic trailing comma, stay so."""
    result = instrument(CLEAN.encode(), FileContext(
        "m.py", ruleset, Options(style=STYLE), module_name="m"))
    output = (result.output or b"").decode()
    assert ('    return _codetrace.traced(requests.get, "requests.send")(\n'
            "        url, a_long_argument_name, another_long_argument_name, third_argument_name\n"
            "    )\n") in output
    assert ('    return _codetrace.traced(requests.get, "requests.send")(\n'
            "        url,\n        timeout=5,\n    )\n") in output


def test_unformatted_statements_are_not_reformatted(ruleset: RuleSet) -> None:
    messy = "import requests\nx = requests.get( 'u' ,timeout = 5 )\n"
    result = instrument(messy.encode(), FileContext(
        "m.py", ruleset, Options(style=STYLE), module_name="m"))
    assert b"""x = _codetrace.traced(requests.get, "requests.send")( 'u' ,timeout = 5 )""" in (
        result.output or b"")
    back = strip(result.output or b"", FileContext("m.py", options=Options(style=STYLE)))
    assert back.output == messy.encode()


def test_style_comes_from_the_project(tmp_path: Path) -> None:
    assert black_style(None, None) is None
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.black]\nline-length = 100\nskip-magic-trailing-comma = true\n")
    assert black_style(pyproject, None) == BlackStyle(line_length=100, magic_trailing_comma=False)
    assert black_style(pyproject, "none") is None
    pyproject.write_text("[tool.ruff]\n")
    assert black_style(pyproject, None) is None
    assert black_style(pyproject, "black") == BlackStyle()


def test_cli_detects_black_projects(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.black]\n")
    (tmp_path / "m.py").write_text(CLEAN)
    result = CliRunner().invoke(app, ["apply", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    output = (tmp_path / "m.py").read_text()
    assert _black(output) == output
    assert CliRunner().invoke(app, ["strip", str(tmp_path)]).exit_code == 0
    assert (tmp_path / "m.py").read_text() == CLEAN
    (tmp_path / "pyproject.toml").write_text('[tool.codetrace]\nformat = "blue"\n')
    result = CliRunner().invoke(app, ["apply", str(tmp_path)])
    assert result.exit_code == 2 and "pyproject.toml:2: [tool.codetrace] format" in result.stderr
