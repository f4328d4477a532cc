"""``# codetrace: ignore``: the opt-out directive, on a line, a ``def``/``class``, or a file's top.

The one place that knows the directive's spelling; the collector asks it where a directive
applies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import libcst as cst

DIRECTIVE = re.compile(r"#\s*codetrace:\s*ignore\b")

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def directive_lines(text: str) -> set[int]:
    """Lines (numbered as libcst numbers them) holding an ignore directive."""
    lines: set[int] = set()
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        if "#" in line and DIRECTIVE.search(line):
            lines.add(number)
    return lines


def comment_has_directive(comment: cst.Comment | None) -> bool:
    return comment is not None and DIRECTIVE.search(comment.value) is not None


def leading_directive(lines: Sequence[cst.EmptyLine]) -> bool:
    """A directive comment on the line right above a statement (or its decorators)."""
    return bool(lines) and comment_has_directive(lines[-1].comment)



def def_ignored(node: cst.FunctionDef | cst.ClassDef) -> bool:
    """A directive above the definition (or its decorators), or after its colon."""
    if leading_directive(node.leading_lines):
        return True
    if node.decorators and leading_directive(node.decorators[0].leading_lines):
        return True
    body = node.body
    if isinstance(body, cst.IndentedBlock):
        return comment_has_directive(body.header.comment)
    if isinstance(body, cst.SimpleStatementSuite):
        return comment_has_directive(body.trailing_whitespace.comment)
    return False
