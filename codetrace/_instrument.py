"""Apply planned edits to a module and add the one runtime import."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from codetrace import _snippets
from codetrace._advice import Options, Plan


class _Apply(cst.CSTTransformer):
    """Post-order application: injected code is built from updated nodes, never matched again."""

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan

    def leave_Call(
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.BaseExpression:
        build = self.plan.replace_call.get(id(original_node))
        return build(updated_node) if build is not None else updated_node

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.FlattenSentinel[cst.SimpleStatementLine]:
        extra = self.plan.insert_after.get(id(original_node))
        if extra is None:
            return updated_node
        return cst.FlattenSentinel([updated_node, extra])


def apply_plan(module: cst.Module, plan: Plan, options: Options) -> cst.Module:
    """The module with every edit of ``plan`` applied and the runtime import added."""
    changed = module.visit(_Apply(plan))
    return add_runtime_import(changed, options)


def is_runtime_import(statement: cst.CSTNode, marker: str) -> bool:
    """``import <anything> as <marker>`` alone on a line: the import codetrace adds."""
    if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
        return False
    small = statement.body[0]
    if not isinstance(small, cst.Import) or len(small.names) != 1:
        return False
    asname = small.names[0].asname
    return asname is not None and isinstance(asname.name, cst.Name) and asname.name.value == marker


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
    if any(is_runtime_import(statement, options.marker) for statement in module.body):
        return module
    line = _snippets.statement(
        "runtime_import.py.j2", {"marker": options.marker, "runtime": options.runtime},
        line_length=options.line_length,
    )
    body = list(module.body)
    body.insert(import_position(body), line)
    return module.with_changes(body=body)
