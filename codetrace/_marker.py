"""The marker and the one runtime import: what makes injected code recognisable.

Every injected construct goes through the name ``_codetrace``, bound by one import per changed
file, ``import codetrace.runtime as _codetrace``. ``strip`` undoes only what it can prove it
wrote: that import (of the configured runtime module, at module level, alone on its line) and
calls of the marker's own attributes in the shapes the advice kinds build.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from codetrace import _snippets
from codetrace._model import dotted_name
from codetrace._options import Options

#: the name every injected construct goes through; a constant, not a setting: strip and a
#: second apply must find exactly what the first apply wrote
MARKER = "_codetrace"


def marker_path(node: cst.BaseExpression) -> list[str] | None:
    """``["_codetrace", "hooks", "flask"]`` for ``_codetrace.hooks.flask``; None otherwise."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name) or node.value != MARKER:
        return None
    parts.append(node.value)
    return list(reversed(parts))


def is_marker_rooted(node: cst.BaseExpression) -> bool:
    """An attribute chain that starts at the marker (``_codetrace.x.y``), or the marker."""
    return marker_path(node) is not None


def is_runtime_import(statement: cst.CSTNode, runtime: str) -> bool:
    """``import <runtime> as _codetrace`` alone on a line: the import codetrace adds."""
    if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
        return False
    small = statement.body[0]
    if not isinstance(small, cst.Import) or len(small.names) != 1:
        return False
    alias = small.names[0]
    asname = alias.asname
    return (
        asname is not None
        and isinstance(asname.name, cst.Name)
        and asname.name.value == MARKER
        and dotted_name(alias.name) == runtime
    )


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _is_import_line(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )


def import_position(body: Sequence[cst.CSTNode]) -> int:
    """After the docstring, the ``__future__`` imports and the leading import lines."""
    index = 0
    if body and _is_docstring(body[0]):
        index = 1
    while index < len(body) and _is_import_line(body[index]):
        index += 1
    return index


def add_runtime_import(module: cst.Module, options: Options) -> cst.Module:
    """``module`` with the runtime import, unless it has it already."""
    if has_runtime_import(module, options.runtime):
        return module
    line = _snippets.statement(
        "runtime_import.py.j2", {"marker": MARKER, "runtime": options.runtime},
        line_length=options.line_length,
    )
    body = list(module.body)
    body.insert(import_position(body), line)
    return module.with_changes(body=body)


def has_runtime_import(module: cst.Module, runtime: str) -> bool:
    return any(is_runtime_import(statement, runtime) for statement in module.body)
