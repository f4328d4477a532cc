"""Undo exactly what ``apply`` did: every construct that goes through the marker name.

The shapes (see ``_advice``) are inverted node for node, so ``strip(apply(x)) == x`` holds byte
for byte; user code that merely mentions the marker in other ways is left as it is.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from codetrace import _format


def is_runtime_import(statement: cst.CSTNode, marker: str) -> bool:
    """``import <anything> as <marker>`` alone on a line: the import codetrace adds."""
    if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
        return False
    small = statement.body[0]
    if not isinstance(small, cst.Import) or len(small.names) != 1:
        return False
    asname = small.names[0].asname
    return asname is not None and isinstance(asname.name, cst.Name) and asname.name.value == marker


def _attr_path(node: cst.BaseExpression) -> list[str] | None:
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if not isinstance(node, cst.Name):
        return None
    parts.append(node.value)
    return list(reversed(parts))


class _Strip(cst.CSTTransformer, _format.IndentTracker):
    def __init__(self, marker: str, style: _format.BlackStyle | None = None) -> None:
        cst.CSTTransformer.__init__(self)
        _format.IndentTracker.__init__(self)
        self.marker = marker
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

    def _touch(self) -> None:
        self.removed += 1
        if self.touched:
            self.touched[-1] = True

    def _is_traced(self, node: cst.BaseExpression) -> bool:
        return (
            isinstance(node, cst.Call)
            and _attr_path(node.func) == [self.marker, "traced"]
            and len(node.args) >= 1
        )

    def _hook_call(self, node: cst.BaseExpression) -> bool:
        if not isinstance(node, cst.Call) or len(node.args) != 1:
            return False
        path = _attr_path(node.func)
        return path is not None and len(path) == 3 and path[:2] == [self.marker, "hooks"]

    def is_injected_statement(self, statement: cst.CSTNode) -> bool:
        if is_runtime_import(statement, self.marker):
            return True
        if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
            return False
        small = statement.body[0]
        return (
            isinstance(small, cst.Expr)
            and self._hook_call(small.value)
            and isinstance(small.value, cst.Call)
            and not isinstance(small.value.args[0].value, cst.Call)
        )

    def leave_Call(
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.BaseExpression:
        if self._is_traced(updated_node.func):
            assert isinstance(updated_node.func, cst.Call)
            self._touch()
            return updated_node.with_changes(func=updated_node.func.args[0].value)
        if self._hook_call(updated_node):
            inner = updated_node.args[0].value
            if isinstance(inner, cst.Call) and not inner.lpar:
                self._touch()
                return inner.with_changes(lpar=updated_node.lpar, rpar=updated_node.rpar)
        return updated_node

    def _filter(
        self, body: Sequence[cst.BaseStatement]
    ) -> tuple[list[cst.BaseStatement], list[cst.EmptyLine]]:
        kept: list[cst.BaseStatement] = []
        carried: list[cst.EmptyLine] = []
        for statement in body:
            if self.is_injected_statement(statement):
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
        kept, carried = self._filter(updated_node.body)
        return updated_node.with_changes(body=kept, footer=[*carried, *updated_node.footer])

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        self.pop_indent()
        kept, carried = self._filter(updated_node.body)
        if not kept:
            kept = [cst.SimpleStatementLine([cst.Pass()])]
        return updated_node.with_changes(body=kept, footer=[*carried, *updated_node.footer])


def strip_module(
    module: cst.Module, marker: str, style: _format.BlackStyle | None = None
) -> tuple[cst.Module, int]:
    """The module without codetrace's constructs, and how many were removed."""
    stripper = _Strip(marker, style)
    return module.visit(stripper), stripper.removed


def unwrap_statement(statement: cst.SimpleStatementLine, marker: str) -> cst.SimpleStatementLine:
    """One statement with the call-site constructs undone (no formatting)."""
    result = statement.visit(_Strip(marker))
    assert isinstance(result, cst.SimpleStatementLine)
    return result

