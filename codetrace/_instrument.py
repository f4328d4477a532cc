"""Apply planned edits to a module and add the one runtime import."""

from __future__ import annotations

import libcst as cst

from codetrace import _format
from codetrace._advice import Plan
from codetrace._marker import add_runtime_import
from codetrace._options import Options
from codetrace._strip import unwrap_statement


class _Apply(cst.CSTTransformer, _format.IndentTracker):
    """Post-order application: injected code is built from updated nodes, never matched again."""

    def __init__(self, plan: Plan, options: Options) -> None:
        cst.CSTTransformer.__init__(self)
        _format.IndentTracker.__init__(self)
        self.plan = plan
        self.options = options
        self.touched: list[bool] = []

    def visit_Module(self, node: cst.Module) -> None:
        self.module_indent = node.default_indent

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.push_indent(node)

    def leave_IndentedBlock(
        self, original_node: cst.IndentedBlock, updated_node: cst.IndentedBlock
    ) -> cst.IndentedBlock:
        self.pop_indent()
        return updated_node

    def leave_Call(
        self, original_node: cst.Call, updated_node: cst.Call
    ) -> cst.BaseExpression:
        build = self.plan.replace_call.get(id(original_node))
        if build is None:
            return updated_node
        if self.touched:
            self.touched[-1] = True
        return build(updated_node)

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self.touched.append(False)

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.FlattenSentinel[cst.SimpleStatementLine]:
        if self.touched.pop() and self.options.style is not None:
            updated_node = self._formatted(original_node, updated_node, self.options.style)
        extra = self.plan.insert_after.get(id(original_node))
        if extra is None:
            return updated_node
        return cst.FlattenSentinel([updated_node, extra])

    def _formatted(
        self,
        original: cst.SimpleStatementLine,
        wrapped: cst.SimpleStatementLine,
        style: _format.BlackStyle,
    ) -> cst.SimpleStatementLine:
        """Black's layout for a changed statement, where strip can give the original back."""
        indent = self.width()
        if indent is None or not _format.is_clean(original, style, indent):
            return wrapped
        formatted = _format.format_statement(wrapped, style, indent)
        if formatted is None:
            return wrapped
        back = _format.format_statement(unwrap_statement(formatted),
                                        style, indent)
        if back is None or not _format.same(back, original):
            return wrapped
        return formatted


def apply_plan(module: cst.Module, plan: Plan, options: Options) -> cst.Module:
    """The module with every edit of ``plan`` applied and the runtime import added."""
    changed = module.visit(_Apply(plan, options))
    return add_runtime_import(changed, options)
