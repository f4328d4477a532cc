"""Black mode: statements codetrace changes are black-formatted, and strip formats them back.

The before/after cases are golden cases with a ``config.toml`` (``format = "black"``):
``fixtures/golden/black_clean`` (black-clean input stays black-clean, split calls keep their
split, strip gives it back), ``black_unformatted_statement`` (a statement black would change is
left as it is), ``black_line_length_100`` (the project's black options), and
``black_off_lines_grow`` (without black mode, lines only grow), ``black_compound_headers`` (calls
in ``if``/``while``/``for``/``with`` headers, decorators, defaults), ``black_left_alone`` (a
statement that would not strip back is left and reported), ``ruff_format_clean`` and
``ruff_format_single_quotes`` (ruff's formatter and its settings); every statement shape near
the line length is swept in ``test_format_shapes.py``. Here: where the style comes from.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import black
import pytest
from typer.testing import CliRunner

from codetrace import _format
from codetrace._format import BlackStyle, RuffStyle, black_style, ruff_executable, style_for
from codetrace.cli import app

GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden"
CLEAN = (GOLDEN / "black_clean" / "input.py").read_text()


def _black(text: str) -> str:
    return black.format_str(text, mode=black.Mode())


def test_style_comes_from_the_project(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    assert black_style(None, None) is None
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.black]\nline-length = 100\nskip-magic-trailing-comma = true\n"
                         "target-version = ['py310']\n")
    assert black_style(pyproject, None) == BlackStyle(
        line_length=100, magic_trailing_comma=False, target_versions=("py310",))
    assert black_style(pyproject, "none") is None
    pyproject.write_text("[tool.ruff]\n")
    assert black_style(pyproject, None) is None
    assert black_style(pyproject, "black") == BlackStyle()


def test_black_reads_black_and_ruff_reads_ruff(tmp_path: Path) -> None:
    """Each formatter's own settings: black never takes ruff's line length, nor ruff black's."""
    (tmp_path / ".git").mkdir()
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.black]\nline-length = 100\n[tool.ruff]\nline-length = 120\n"
                         "indent-width = 2\ntarget-version = 'py311'\n[tool.ruff.format]\n"
                         "quote-style = 'single'\nskip-magic-trailing-comma = true\n")
    assert style_for(pyproject, "black") == BlackStyle(line_length=100)
    assert style_for(pyproject, "ruff") == RuffStyle(
        line_length=120, indent_width=2, quote_style="single", magic_trailing_comma=False,
        target_version="py311")
    # detected: black wins when both are configured
    assert style_for(pyproject, None) == BlackStyle(line_length=100)
    # ruff.toml beside the pyproject is ruff's configuration (as ruff reads it), `extend` too
    (tmp_path / "base.toml").write_text("line-length = 90\n[format]\nquote-style = 'single'\n")
    (tmp_path / "ruff.toml").write_text("extend = 'base.toml'\n[format]\npreview = true\n")
    assert style_for(pyproject, "ruff") == RuffStyle(line_length=90, quote_style="single",
                                                      preview=True)


def test_ruff_format_is_detected_only_where_ruff_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[tool.ruff]\nline-length = 100\n[tool.ruff.format]\n")
    if ruff_executable() is not None:
        assert style_for(pyproject, None) == RuffStyle(line_length=100)
    monkeypatch.setattr(_format, "ruff_executable", lambda: None)
    assert style_for(pyproject, None) is None
    pyproject.write_text("[tool.codetrace]\nformat = 'ruff'\n")
    (tmp_path / "m.py").write_text("x = 1\n")
    result = CliRunner().invoke(app, ["apply", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(
        "pyproject.toml:2: [tool.codetrace] format = \"ruff\" needs ruff installed where "
        "codetrace runs (pip install ruff)")
    assert len(result.stderr.strip().splitlines()) == 1


RUFF_CLEAN = (GOLDEN / "ruff_format_clean" / "input.py").read_text()


def test_cli_detects_ruff_format_projects(tmp_path: Path) -> None:
    executable = ruff_executable()
    if executable is None:
        pytest.skip("ruff is in the test extra")
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n"
                                             "[tool.ruff.format]\n")
    (tmp_path / "m.py").write_text(RUFF_CLEAN)
    check = [executable, "format", "--check", "--no-cache", str(tmp_path)]
    assert subprocess.run(check, capture_output=True).returncode == 0
    result = CliRunner().invoke(app, ["apply", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "m.py").read_text() == \
        (GOLDEN / "ruff_format_clean" / "expected.py").read_text()
    assert subprocess.run(check, capture_output=True).returncode == 0
    assert CliRunner().invoke(app, ["strip", str(tmp_path)]).exit_code == 0
    assert (tmp_path / "m.py").read_text() == RUFF_CLEAN


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
    assert '"black", "ruff" or "none"' in result.stderr
