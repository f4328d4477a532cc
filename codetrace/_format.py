"""Keeping black-formatted projects black-clean, without touching the rest of their code.

By default codetrace leaves the user's layout alone and a wrapped call simply makes its line
longer. A project formatted with black (``[tool.black]`` in its pyproject, or
``format = "black"`` in ``[tool.codetrace]``) would then fail ``black --check`` after ``apply``.
So in black mode each *statement codetrace changed* is formatted with the project's black
settings — that statement only — and ``strip`` formats the statements it changes back.

The rules that keep ``strip(apply(x)) == x`` byte for byte (S original statement, W the wrapped
statement, F = black(W), unwrap = strip's inverse):

* apply uses F only when S is black-clean and black(unwrap(F)) == S; otherwise W, as without
  black mode (e.g. black exploded the call one argument per line and added a trailing comma that
  would keep the stripped call exploded);
* strip formats unwrap(T) only when the statement T it changes is itself black-clean.

If S was black-clean and apply used F, strip sees a black-clean F and gives black(unwrap(F)) ==
S. If apply used W, then either W is not black-clean and strip gives unwrap(W) == S, or it is and
strip gives black(S) == S. The per-file self-check still verifies the result.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import libcst as cst

from codetrace import _toml

if TYPE_CHECKING:
    import black


@dataclass(frozen=True)
class BlackStyle:
    """The project's black settings that matter for one statement."""

    line_length: int = 88
    string_normalization: bool = True
    magic_trailing_comma: bool = True
    preview: bool = False

    def mode(self, indent: int) -> black.Mode:
        import black  # ~70 ms: only projects in black mode pay for it

        return black.Mode(
            line_length=max(self.line_length - indent, 20),
            string_normalization=self.string_normalization,
            magic_trailing_comma=self.magic_trailing_comma,
            preview=self.preview,
        )


def black_style(pyproject: Path | None, setting: str | None) -> BlackStyle | None:
    """The style for ``format = setting`` (``"black"``, ``"none"``, or None: detect)."""
    if setting == "none":
        return None
    table: dict[str, Any] = {}
    if pyproject is not None:
        try:
            data = _toml.loads(pyproject.read_text(encoding="utf-8"))
            table = data.get("tool", {}).get("black") or {}
        except (OSError, UnicodeDecodeError, _toml.TOMLDecodeError):
            table = {}
        if setting is None and "black" not in data.get("tool", {}):
            return None
    elif setting is None:
        return None
    return BlackStyle(
        line_length=int(table.get("line-length", table.get("line_length", 88))),
        string_normalization=not bool(table.get("skip-string-normalization", False)),
        magic_trailing_comma=not bool(table.get("skip-magic-trailing-comma", False)),
        preview=bool(table.get("preview", False)),
    )


@functools.lru_cache(maxsize=4096)
def _format_text(text: str, style: BlackStyle, indent: int) -> str | None:
    import black

    try:
        return black.format_str(text, mode=style.mode(indent))
    except Exception:  # black rejects what it cannot format: we then leave the statement be
        return None


def _text(statement: cst.SimpleStatementLine) -> str:
    return cst.Module(body=[statement.with_changes(leading_lines=())]).code


def format_statement(
    statement: cst.SimpleStatementLine, style: BlackStyle, indent: int
) -> cst.SimpleStatementLine | None:
    """``statement`` as black formats it at ``indent`` columns (leading lines kept), or None."""
    formatted = _format_text(_text(statement), style, indent)
    if formatted is None:
        return None
    try:
        parsed = cst.parse_module(formatted)
    except cst.ParserSyntaxError:
        return None
    if len(parsed.body) != 1 or not isinstance(parsed.body[0], cst.SimpleStatementLine):
        return None
    return parsed.body[0].with_changes(leading_lines=statement.leading_lines)


def is_clean(statement: cst.SimpleStatementLine, style: BlackStyle, indent: int) -> bool:
    """Does black leave this statement exactly as it is?"""
    return _format_text(_text(statement), style, indent) == _text(statement)


def same(a: cst.SimpleStatementLine, b: cst.SimpleStatementLine) -> bool:
    return _text(a) == _text(b) and a.leading_lines == b.leading_lines


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
        """Columns of indentation, or None where tabs make black's view uncertain."""
        text = "".join(self.indents)
        return None if "\t" in text else len(text)
