"""Keeping black- and ruff-formatted projects clean without touching the rest of their code.

By default codetrace leaves the user's layout alone and a wrapped call simply makes its line
longer. A project formatted with black or ``ruff format`` would then fail its formatter's check
after ``apply``. So in a formatter mode each *statement codetrace changed* is formatted with the
project's settings — that statement only — and ``strip`` formats the statements it changes back.
For a compound statement (``if``/``while``/``for``/``with``, a decorated ``def`` or ``class``)
only its header is formatted: the body is the user's, and its own statements are units of their
own.

The rules that keep ``strip(apply(x)) == x`` byte for byte (S the original unit, W the wrapped
unit, F = fmt(W), U = unwrap(F)):

* strip (:func:`strip_unit`): a unit T it changed is formatted only if T is formatter-clean, and
  with the magic trailing comma ignored when T itself has none that is not needed (then every
  trailing comma in T is one the formatter added when it split a line, and the wrapped calls
  made that line longer than the user's);
* apply (:func:`apply_unit`) uses F only when S is formatter-clean and strip gives S back from
  F; when S is clean but F does not give it back, the unit is left as it was (the site is
  reported as not instrumented, never made formatter-dirty); when S was not clean, W is used
  and strip formats nothing there.

The per-file self-check still verifies the result.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import libcst as cst

from codetrace import _tool_config

if TYPE_CHECKING:
    import black

#: compound statements whose header (not their body) is a unit of formatting
HEADERS = (cst.If, cst.While, cst.For, cst.With, cst.FunctionDef, cst.ClassDef)
Unit = cst.SimpleStatementLine | cst.If | cst.While | cst.For | cst.With | cst.FunctionDef \
    | cst.ClassDef
U = TypeVar("U", bound=cst.CSTNode)


@dataclass(frozen=True)
class BlackStyle:
    """The project's black settings that matter for one statement (``[tool.black]``)."""

    line_length: int = 88
    string_normalization: bool = True
    magic_trailing_comma: bool = True
    preview: bool = False
    #: black's ``target-version`` names ("py310"...); empty: black infers them per file
    target_versions: tuple[str, ...] = ()

    name = "black"

    def mode(self, indent: int, magic_trailing_comma: bool | None = None) -> black.Mode:
        import black  # ~70 ms: only projects in black mode pay for it
        from black.mode import TargetVersion

        versions = {TargetVersion[v.upper()] for v in self.target_versions
                    if v.upper() in TargetVersion.__members__}
        return black.Mode(
            target_versions=versions,
            line_length=max(self.line_length - indent, 20),
            string_normalization=self.string_normalization,
            magic_trailing_comma=self.magic_trailing_comma
            if magic_trailing_comma is None else magic_trailing_comma,
            preview=self.preview,
        )

    def format(self, text: str, indent: int, magic_trailing_comma: bool | None = None
               ) -> str | None:
        return _black(text, self, indent, magic_trailing_comma)


@dataclass(frozen=True)
class RuffStyle:
    """The project's ``ruff format`` settings that matter for one statement."""

    line_length: int = 88
    indent_width: int = 4
    #: "double", "single" or "preserve"
    quote_style: str = "double"
    magic_trailing_comma: bool = True
    preview: bool = False
    target_version: str | None = None

    name = "ruff"

    def arguments(self, indent: int, magic_trailing_comma: bool | None = None) -> list[str]:
        skip = not (self.magic_trailing_comma if magic_trailing_comma is None
                    else magic_trailing_comma)
        arguments = [
            "format", "--isolated", "--line-length", str(min(max(self.line_length - indent, 20),
                                                              320)),
            "--config", f"indent-width={self.indent_width}",
            "--config", f'format.quote-style="{self.quote_style}"',
            "--config", f"format.skip-magic-trailing-comma={str(skip).lower()}",
            "--config", f"format.preview={str(self.preview).lower()}",
        ]
        if self.target_version:
            arguments += ["--config", f'target-version="{self.target_version}"']
        return [*arguments, "-"]

    def format(self, text: str, indent: int, magic_trailing_comma: bool | None = None
               ) -> str | None:
        return _ruff(text, self, indent, magic_trailing_comma)


Style = BlackStyle | RuffStyle


class FormatterMissing(Exception):
    """The project's formatter is not installed where codetrace runs."""


@functools.cache
def ruff_executable() -> str | None:
    """The ``ruff`` of codetrace's own environment, else the one on ``PATH`` (ruff is a binary
    on PyPI, an optional dependency: ``pip install ruff``)."""
    beside = Path(sys.executable).parent / ("ruff.exe" if os.name == "nt" else "ruff")
    return str(beside) if beside.is_file() else shutil.which("ruff")


def style_for(pyproject: Path | None, setting: str | None) -> Style | None:
    """The formatter for ``format = setting`` (``"black"``, ``"ruff"``, ``"none"``, or None:
    black when the pyproject has ``[tool.black]``, else ruff when ruff's configuration has a
    ``format`` table and ruff is installed, else none).

    black's settings come from ``[tool.black]`` only (black reads nothing else); ruff's from
    the ruff configuration nearest to the pyproject (``line-length``, ``indent-width``,
    ``target-version``, ``[format]``'s ``quote-style``, ``skip-magic-trailing-comma``,
    ``preview``).
    """
    if setting == "none":
        return None
    tool: dict[str, Any] = {}
    if pyproject is not None:
        tool = (_tool_config.read_toml(pyproject) or {}).get("tool", {})
    if setting == "black" or (setting is None and "black" in tool):
        return _black_style(tool.get("black") or {})
    folder = pyproject.parent if pyproject is not None else Path.cwd()
    found = _tool_config.nearest_ruff(folder)
    ruff = found[1] if found is not None else {}
    if setting == "ruff" or (setting is None and isinstance(ruff.get("format"), dict)
                             and ruff_executable() is not None):
        return _ruff_style(ruff)
    return None


#: kept for callers that predate ruff format support
black_style = style_for


def _black_style(table: dict[str, Any]) -> BlackStyle:
    def get(key: str, default: Any) -> Any:
        return table.get(key, table.get(key.replace("-", "_"), default))

    versions = get("target-version", [])
    return BlackStyle(
        line_length=int(get("line-length", 88)),
        string_normalization=not bool(get("skip-string-normalization", False)),
        magic_trailing_comma=not bool(get("skip-magic-trailing-comma", False)),
        preview=bool(get("preview", False)),
        target_versions=tuple(str(v) for v in versions) if isinstance(versions, list) else (),
    )


def _ruff_style(settings: dict[str, Any]) -> RuffStyle:
    found = settings.get("format")
    table: dict[str, Any] = found if isinstance(found, dict) else {}
    target = settings.get("target-version")
    return RuffStyle(
        line_length=int(settings.get("line-length", 88)),
        indent_width=int(settings.get("indent-width", 4)),
        quote_style=str(table.get("quote-style", "double")),
        magic_trailing_comma=not bool(table.get("skip-magic-trailing-comma", False)),
        preview=bool(table.get("preview", settings.get("preview", False))),
        target_version=str(target) if isinstance(target, str) else None,
    )


@functools.lru_cache(maxsize=8192)
def _black(text: str, style: BlackStyle, indent: int, magic: bool | None) -> str | None:
    import black

    try:
        return black.format_str(text, mode=style.mode(indent, magic))
    except Exception:  # black rejects what it cannot format: we then leave the statement be
        return None


@functools.lru_cache(maxsize=8192)
def _ruff(text: str, style: RuffStyle, indent: int, magic: bool | None) -> str | None:
    executable = ruff_executable()
    if executable is None:
        raise FormatterMissing("format = \"ruff\" needs ruff installed (pip install ruff)")
    try:
        done = subprocess.run([executable, *style.arguments(indent, magic)], input=text,
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


# -- units: one simple statement, or the header of a compound statement --------------------

_PASS = cst.IndentedBlock(body=[cst.SimpleStatementLine([cst.Pass()])])


def header(node: cst.CSTNode) -> cst.CSTNode:
    """The unit as formatted: a compound statement without its body (one ``pass``, the comment
    after its colon kept) and without ``else``/``elif`` branches."""
    if isinstance(node, cst.SimpleStatementLine):
        return node
    assert isinstance(node, HEADERS)
    body = node.body
    placeholder = _PASS.with_changes(header=body.header) if isinstance(
        body, cst.IndentedBlock) else body
    changes: dict[str, Any] = {"body": placeholder, "leading_lines": ()}
    if isinstance(node, (cst.If, cst.While, cst.For)):
        changes["orelse"] = None
    return node.with_changes(**changes)


def _text(node: cst.CSTNode, is_elif: bool) -> str:
    unit = header(node).with_changes(leading_lines=())
    if is_elif:
        assert isinstance(unit, cst.If)
        unit = cst.If(test=cst.Name("x"), body=_PASS, orelse=unit)
    assert isinstance(unit, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
    return cst.Module(body=[unit]).code


def _parse(text: str, kind: type[U], is_elif: bool) -> U | None:
    try:
        parsed = cst.parse_module(text)
    except cst.ParserSyntaxError:
        return None
    if len(parsed.body) != 1:
        return None
    node: cst.CSTNode = parsed.body[0]
    if is_elif:
        node = getattr(node, "orelse", None)  # type: ignore[assignment]
    return node if isinstance(node, kind) else None


def format_unit(
    node: U, style: Style, indent: int, *, is_elif: bool = False,
    magic_trailing_comma: bool | None = None,
) -> U | None:
    """``node`` as the formatter lays out its unit at ``indent`` columns (its leading lines,
    body and branches kept), or None when the formatter rejects it."""
    assert isinstance(node, (cst.SimpleStatementLine, *HEADERS))
    text = _text(node, is_elif)
    formatted = style.format(text, indent, magic_trailing_comma)
    if formatted is None:
        return None
    parsed = _parse(formatted, type(node), is_elif)
    if parsed is None:
        return None
    if isinstance(node, cst.SimpleStatementLine):
        return cast(U, parsed.with_changes(leading_lines=node.leading_lines))
    if _code(getattr(parsed.body, "header", None)) != _code(getattr(node.body, "header", None)):
        return None  # the formatter moved the comment after the colon: not ours to move
    changes: dict[str, Any] = {"body": node.body, "leading_lines": node.leading_lines}
    if isinstance(node, (cst.If, cst.While, cst.For)):
        changes["orelse"] = node.orelse
    return cast(U, parsed.with_changes(**changes))


def is_clean(node: cst.CSTNode, style: Style, indent: int, *, is_elif: bool = False,
             magic_trailing_comma: bool | None = None) -> bool:
    """Does the formatter leave this unit exactly as it is?"""
    text = _text(node, is_elif)
    return style.format(text, indent, magic_trailing_comma) == text


def _code(node: cst.CSTNode | None) -> str:
    return "" if node is None else cst.Module(body=[]).code_for_node(node)


def same(a: cst.CSTNode, b: cst.CSTNode, is_elif: bool = False) -> bool:
    """The same unit, to the byte (its leading lines included)."""
    lines = [_code(line) for line in getattr(a, "leading_lines", ())]
    return _text(a, is_elif) == _text(b, is_elif) and lines == [
        _code(line) for line in getattr(b, "leading_lines", ())]


def strip_unit(changed: U, unwrapped: U, style: Style, indent: int | None, *,
               is_elif: bool = False) -> U:
    """What strip makes of a unit it changed: ``unwrapped`` (``changed`` with the injected code
    undone) formatted back when ``changed`` was formatter-clean (see the module docstring)."""
    if indent is None or not is_clean(changed, style, indent, is_elif=is_elif):
        return unwrapped
    only_needed_commas = is_clean(changed, style, indent, is_elif=is_elif,
                                  magic_trailing_comma=False)
    magic = False if only_needed_commas else None
    return format_unit(unwrapped, style, indent, is_elif=is_elif,
                       magic_trailing_comma=magic) or unwrapped


def apply_unit(original: U, wrapped: U, style: Style, indent: int | None,
               unwrap: Callable[[U], U], *, is_elif: bool = False) -> U | None:
    """The layout of a unit apply changed: formatted when strip gives ``original`` back from
    it; ``wrapped`` as it is when ``original`` was not formatter-clean; None when the unit must
    be left as it was (formatting it would not strip back, and leaving it unformatted would
    make a clean statement dirty)."""
    if indent is None or not is_clean(original, style, indent, is_elif=is_elif):
        return wrapped
    formatted = format_unit(wrapped, style, indent, is_elif=is_elif)
    if formatted is None:
        return None
    back = strip_unit(formatted, unwrap(formatted), style, indent, is_elif=is_elif)
    if not same(back, original, is_elif):
        return None
    return formatted


class IndentTracker:
    """Mixin for transformers: the indentation width of the statement being visited."""

    module_indent = "    "

    def __init__(self) -> None:
        self.indents: list[str] = []

    def push_indent(self, node: cst.IndentedBlock) -> None:
        self.indents.append(node.indent if node.indent is not None else self.module_indent)

    def pop_indent(self) -> None:
        self.indents.pop()

    def width(self) -> int | None:
        """Columns of indentation, or None where tabs make the formatter's view uncertain."""
        text = "".join(self.indents)
        return None if "\t" in text else len(text)

