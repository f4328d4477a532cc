"""Black mode: statements codetrace changes are black-formatted, and strip formats them back.

The before/after cases are golden cases with a ``config.toml`` (``format = "black"``):
``fixtures/golden/black_clean`` (black-clean input stays black-clean, split calls keep their
split, strip gives it back), ``black_unformatted_statement`` (a statement black would change is
left as it is), ``black_line_length_100`` (the project's black options), and
``black_off_lines_grow`` (without black mode, lines only grow). Here: where the style comes from.
"""

from __future__ import annotations

from pathlib import Path

import black
from typer.testing import CliRunner

from codetrace._format import BlackStyle, black_style
from codetrace.cli import app

GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden"
CLEAN = (GOLDEN / "black_clean" / "input.py").read_text()


def _black(text: str) -> str:
    return black.format_str(text, mode=black.Mode())


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
    assert _black(CLEAN) == CLEAN
    (tmp_path / "pyproject.toml").write_text("[tool.black]\n")
    (tmp_path / "m.py").write_text(CLEAN)
    result = CliRunner().invoke(app, ["apply", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    output = (tmp_path / "m.py").read_text()
    assert _black(output) == output
    assert output == (GOLDEN / "black_clean" / "expected.py").read_text()
    assert CliRunner().invoke(app, ["strip", str(tmp_path)]).exit_code == 0
    assert (tmp_path / "m.py").read_text() == CLEAN
    (tmp_path / "pyproject.toml").write_text('[tool.codetrace]\nformat = "blue"\n')
    result = CliRunner().invoke(app, ["apply", str(tmp_path)])
    assert result.exit_code == 2 and "pyproject.toml:2: [tool.codetrace] format" in result.stderr
