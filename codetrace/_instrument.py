"""Apply planned edits to a module and add the one runtime import."""

from __future__ import annotations

from typing import Any

import libcst as cst

from codetrace import _format
from codetrace._advice import Plan
from codetrace._import_settings import ImportStyle
from codetrace._marker import add_runtime_import
from codetrace._options import Options
from codetrace._strip import FRAMES, unwrap_unit

#: the fields of a frame that hold other frames (kept when a frame's own change is undone)
_CHILDREN = ("body", "orelse", "handlers", "finalbody", "cases")


class _Apply(cst.CSTTransformer, _format.IndentTracker):
    """Post-order application: injected code is built from updated nodes, never matched again."""

    def __init__(self, plan: Plan, options: Options) -> None:
        cst.CSTTransformer.__init__(self)
        _format.IndentTracker.__init__(self)
        self.plan = plan
        self.options = options
        self.touched: list[bool] = []
        self.elifs: set[int] = set()
        #: original calls of the plan left as they were (their statement would not format back)
        self.left: set[int] = set()

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, FRAMES):
            self.touched.append(False)
        if isinstance(node, cst.If) and isinstance(node.orelse, cst.If):
            self.elifs.add(id(node.orelse))
        return super().on_visit(node)

    def on_leave(
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> Any:
        decorated = False
        if isinstance(original_node, cst.FunctionDef) and isinstance(updated_node,
                                                                     cst.FunctionDef):
            # before the layout step: a decorator is part of the def's header unit
            build = self.plan.decorate.get(id(original_node))
            if build is not None:
                updated_node = build(updated_node)
                decorated = True
        if isinstance(original_node, FRAMES) and (self.touched.pop() or decorated) \
                and self.options.style is not None:
            updated_node = self._formatted(original_node, updated_node, self.options.style)
        result = super().on_leave(original_node, updated_node)
        wrap = self.plan.replace_value.get(id(original_node))
        if wrap is not None and isinstance(result, cst.BaseExpression):
            if self.touched:
                self.touched[-1] = True
            return wrap(result)
        return result

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

    def leave_SimpleStatementLine(
        self, original_node: cst.SimpleStatementLine, updated_node: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.FlattenSentinel[cst.SimpleStatementLine]:
        extra = self.plan.insert_after.get(id(original_node))
        if extra is None:
            return updated_node
        width = self.width()
        if self.options.style is not None and width is not None:
            # a statement of ours: laid out as the formatter wants (strip removes it whole)
            extra = _format.format_unit(extra, self.options.style, width) or extra
        return cst.FlattenSentinel([updated_node, extra])

    def _formatted(
        self, original: cst.CSTNode, wrapped: cst.CSTNode, style: _format.Style
    ) -> cst.CSTNode:
        """The formatter's layout for a changed unit, where strip can give the original back;
        else the unit as it was, its sites left out (``left``)."""
        if isinstance(original, (cst.SimpleStatementLine, *_format.HEADERS)):
            laid_out = _format.apply_unit(original, wrapped, style, self.width(), unwrap_unit,
                                          is_elif=id(original) in self.elifs)
            if laid_out is not None:
                return laid_out
        # an ``except``/``match`` header, or a unit that would not format back: as it was
        self.left.update(_planned_calls(original, self.plan))
        if id(original) in self.plan.decorate:
            self.left.add(id(original))
        return original.with_changes(**{
            name: getattr(wrapped, name) for name in _children(original)
        })


def _children(unit: cst.CSTNode) -> list[str]:
    """The fields of ``unit`` that hold statements of their own (a one-line body does not)."""
    if isinstance(unit, cst.SimpleStatementLine):
        return []
    one_line = isinstance(getattr(unit, "body", None), cst.SimpleStatementSuite)
    return [name for name in _CHILDREN if hasattr(unit, name)
            and not (name == "body" and one_line)]


def _planned_calls(unit: cst.CSTNode, plan: Plan) -> set[int]:
    """The ids of the plan's calls in ``unit``'s own line or header (not in its body)."""

    def calls(node: cst.CSTNode | None) -> set[int]:
        found: set[int] = set()

        class Calls(cst.CSTVisitor):
            def on_visit(self, node: cst.CSTNode) -> bool:
                if id(node) in plan.replace_call or id(node) in plan.replace_value:
                    found.add(id(node))
                return True

        if node is not None:
            node.visit(Calls())
        return found

    inner: set[int] = set()
    for name in _children(unit):
        value = getattr(unit, name, None)
        for child in value if isinstance(value, (tuple, list)) else [value]:
            if isinstance(child, cst.CSTNode):
                inner |= calls(child)
    return calls(unit) - inner


def apply_plan(
    module: cst.Module, plan: Plan, options: Options, imports: ImportStyle | None = None,
    left: set[int] | None = None,
) -> cst.Module:
    """The module with every edit of ``plan`` applied and the runtime import added where the
    import sorter configured by ``imports`` puts it.

    In a formatter mode a planned call whose statement would not format back is left as it was;
    its id goes into ``left``. When nothing is left to change, ``module`` itself comes back.
    """
    transformer = _Apply(plan, options)
    changed = module.visit(transformer)
    if left is not None:
        left.update(transformer.left)
    if transformer.left and not plan.insert_after and \
            transformer.left >= set(plan.replace_call) | set(plan.decorate) | \
            set(plan.replace_value):
        return module
    return add_runtime_import(changed, options, imports)
