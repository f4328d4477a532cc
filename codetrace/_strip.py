"""Undo exactly what ``apply`` did, and nothing else.

Each advice kind recognises and undoes its own shape (``_advice``); this module walks the tree,
asks the registry, and removes the runtime import (``_marker``). It acts only in a file that has
the runtime import of the configured module under the marker: there, the marker is provably
codetrace's. User code that binds or mentions the marker in other ways is left as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from codetrace import _advice, _format
from codetrace._marker import has_runtime_import, is_runtime_import


class _Strip(cst.CSTTransformer, _format.IndentTracker):
    def __init__(self, runtime: str | None, style: _format.BlackStyle | None = None) -> None:
        """``runtime`` None: undo call-site constructs only (one statement, no import)."""
        cst.CSTTransformer.__init__(self)
        _format.IndentTracker.__init__(self)
        self.runtime = runtime
        self.style = style
        self.removed = 0
        self.touched: list[bool] = []

    def visit_Module(self, node: cst.Module) -> None:
        self.module_indent = node.default_indent

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.push_indent(node)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.touched.append(False)

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine:
        """In black mode a statement strip changed is formatted back, if it was black-clean."""
        if not self.touched.pop() or self.style is None:
            return updated_node
        indent = self.width()
        if indent is None or not _format.is_clean(original_node, self.style, indent):
            return updated_node
        return _format.format_statement(updated_node, self.style, indent) or updated_node

    def leave_Call(
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.BaseExpression:
        inner = _advice.unwrap(updated_node)
        if inner is None:
            return updated_node
        self.removed += 1
        if self.touched:
            self.touched[-1] = True
        return inner

    def _is_injected(self, statement: cst.CSTNode, at_module_level: bool) -> bool:
        if at_module_level and self.runtime is not None \
                and is_runtime_import(statement, self.runtime):
            return True
        return _advice.added_target(statement) is not None

    def _filter(
        self, body: Sequence[cst.BaseStatement], at_module_level: bool
    ) -> tuple[list[cst.BaseStatement], list[cst.EmptyLine]]:
        kept: list[cst.BaseStatement] = []
        carried: list[cst.EmptyLine] = []
        for statement in body:
            if self._is_injected(statement, at_module_level):
                assert isinstance(statement, cst.SimpleStatementLine)
                self.removed += 1
                carried.extend(statement.leading_lines)
                continue
            movable = (cst.SimpleStatementLine, cst.BaseCompoundStatement)
            if carried and isinstance(statement, movable):
                statement = statement.with_changes(
                    leading_lines=[*carried, *statement.leading_lines]
                )
                carried = []
            kept.append(statement)
        return kept, carried

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        kept, carried = self._filter(updated_node.body, at_module_level=True)
        return updated_node.with_changes(body=kept, footer=[*carried, *updated_node.footer])

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        self.pop_indent()
        kept, carried = self._filter(updated_node.body, at_module_level=False)
        if not kept:
            kept = [cst.SimpleStatementLine([cst.Pass()])]
        return updated_node.with_changes(body=kept, footer=[*carried, *updated_node.footer])


def strip_module(
    module: cst.Module, runtime: str, style: _format.BlackStyle | None = None
) -> tuple[cst.Module, int]:
    """The module without codetrace's constructs, and how many were removed.

    Without the runtime import of ``runtime`` under the marker nothing is provably ours, and the
    module comes back as it is.
    """
    if not has_runtime_import(module, runtime):
        return module, 0
    stripper = _Strip(runtime, style)
    return module.visit(stripper), stripper.removed


def unwrap_statement(statement: cst.SimpleStatementLine) -> cst.SimpleStatementLine:
    """One statement with the call-site constructs undone (no formatting)."""
    result = statement.visit(_Strip(None))
    assert isinstance(result, cst.SimpleStatementLine)
    return result
