"""The marker and the one runtime import: what makes injected code recognisable.

Every injected construct goes through the name ``_codetrace``, bound by one import per changed
file, ``import codetrace.runtime as _codetrace``, sorted in where the project's import sorter
(ruff's ``I`` rules or isort) puts it. ``strip`` undoes only what it can prove it wrote: that
import (of the configured runtime module, at module level, alone on its line) with the blank
lines added for it, and calls of the marker's own attributes in the shapes the advice kinds build.
"""

from __future__ import annotations

import libcst as cst

from codetrace import _import_order, _snippets
from codetrace._import_settings import ImportStyle
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


def add_runtime_import(
    module: cst.Module, options: Options, imports: ImportStyle | None = None
) -> cst.Module:
    """``module`` with the runtime import where the project's import sorter puts it
    (``_import_order``), unless it has it already."""
    if has_runtime_import(module, options.runtime):
        return module
    return _import_order.insert(module, _line(options), MARKER, imports or ImportStyle())


def remove_runtime_import(module: cst.Module, runtime: str, imports: ImportStyle) -> cst.Module:
    """``module`` without its first module-level runtime import and the blank lines that
    :func:`add_runtime_import` added with it (byte for byte what it had before)."""
    for index, statement in enumerate(module.body):
        if is_runtime_import(statement, runtime):
            return _import_order.remove(module, index, MARKER, imports)
    return module


def _line(options: Options) -> cst.SimpleStatementLine:
    return _snippets.statement(
        "runtime_import.py.j2", {"marker": MARKER, "runtime": options.runtime},
        line_length=options.line_length,
    )


def has_runtime_import(module: cst.Module, runtime: str) -> bool:
    return any(is_runtime_import(statement, runtime) for statement in module.body)
