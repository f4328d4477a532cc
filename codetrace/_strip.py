"""Undo exactly what ``apply`` did, and nothing else.

Each advice kind recognises and undoes its own shape (``_advice``); this module walks the tree,
asks the registry, and removes the runtime import (``_marker``). It acts only in a file that has
the runtime import of the configured module under the marker: there, the marker is provably
codetrace's. User code that binds or mentions the marker in other ways is left as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from codetrace import _advice, _format
from codetrace._import_settings import ImportStyle
from codetrace._marker import (
    MARKER,
    has_runtime_import,
    is_runtime_import,
    remove_runtime_import,
)
from codetrace._result import Failure

U = TypeVar("U", bound=cst.CSTNode)
#: statements whose own line or header is one unit of change: a call in an ``if`` test belongs
#: to the ``if``, a call in its body to the statement of the body that holds it
FRAMES = (cst.SimpleStatementLine, cst.BaseCompoundStatement, cst.ExceptHandler,
           cst.ExceptStarHandler, cst.MatchCase)
_UNITS = (cst.SimpleStatementLine, *_format.HEADERS)


class _Strip(cst.CSTTransformer, _format.IndentTracker):
    def __init__(self, runtime: str | None, style: _format.Style | None = None) -> None:
        """``runtime`` None: undo call-site constructs only (one statement, no import)."""
        cst.CSTTransformer.__init__(self)
        _format.IndentTracker.__init__(self)
        self.runtime = runtime
        self.style = style
        self.removed = 0
        self.touched: list[bool] = []
        self.elifs: set[int] = set()

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, FRAMES):
            self.touched.append(False)
        if isinstance(node, cst.If) and isinstance(node.orelse, cst.If):
            self.elifs.add(id(node.orelse))
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode) -> Any:
        """In a formatter mode a unit strip changed is formatted back (``_format.strip_unit``)."""
        undecorated = None
        if isinstance(updated_node, cst.FunctionDef):
            # before the layout step: a decorator is part of the def's header unit
            undecorated = _advice.undecorate(updated_node)
            if undecorated is not None:
                self.removed += 1
                updated_node = undecorated
        if isinstance(original_node, FRAMES) and (self.touched.pop() or undecorated) and \
                self.style is not None and isinstance(original_node, _UNITS):
            updated_node = _format.strip_unit(original_node, updated_node, self.style,
                                              self.width(),
                                              is_elif=id(original_node) in self.elifs)
        return super().on_leave(original_node, updated_node)

    def visit_Module(self, node: cst.Module) -> None:
        self.module_indent = node.default_indent

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        self.push_indent(node)

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
    module: cst.Module, runtime: str, style: _format.Style | None = None,
    *, check: bool = True, imports: ImportStyle | None = None,
) -> tuple[cst.Module, int]:
    """The module without codetrace's constructs, and how many were removed.

    Without the runtime import of ``runtime`` under the marker nothing is provably ours, and the
    module comes back as it is. ``imports``: the import-sorting settings the runtime import was
    placed with, so that the blank lines added with it go too.
    """
    if not has_runtime_import(module, runtime):
        return module, 0
    stripper = _Strip(runtime, style)
    stripped = remove_runtime_import(module, runtime, imports or ImportStyle()).visit(stripper)
    if check:
        check_marker_gone(module, stripped, runtime)
    return stripped, stripper.removed + 1


def check_marker_gone(module: cst.Module, stripped: cst.Module, runtime: str) -> None:
    """Raise :class:`Failure` when ``stripped`` still uses the marker whose import strip
    removed (a use no advice kind recognises), with the line of that use in ``module``.

    Callers holding the stripped text call this only when the marker's name is in it.
    """
    if _marker_names(stripped):  # finding the line is the rare, costly path
        leftover = _foreign_marker_line(module, runtime) or 1
        raise Failure(leftover, f"`{MARKER}` is used here in a way codetrace does not write; "
                      "strip would leave it unbound, so the file is left untouched")


def _marker_names(node: cst.CSTNode) -> list[cst.Name]:
    found: list[cst.Name] = []

    class Names(cst.CSTVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            if name.value == MARKER:
                found.append(name)

    node.visit(Names())
    return found


def _foreign_marker_line(module: cst.Module, runtime: str) -> int:
    """The line of the first use of the marker that no injected construct accounts for, or 0.

    An advice's ``unwrap`` hands back the user's own nodes, so the construct's own marker names
    are those of the construct minus those of what it wraps (by identity).
    """
    uses = _marker_names(module)
    if not uses:
        return 0
    ours: set[int] = set()

    class Constructs(cst.CSTVisitor):
        def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
            target = _advice.added_target(node)
            if target is not None or is_runtime_import(node, runtime):
                inner = {id(n) for n in _marker_names(target)} if target is not None else set()
                ours.update(id(n) for n in _marker_names(node) if id(n) not in inner)

        def visit_Decorator(self, node: cst.Decorator) -> None:
            if _advice.added_decorator(node):
                ours.update(id(n) for n in _marker_names(node))

        def visit_Call(self, node: cst.Call) -> None:
            inner = _advice.unwrap(node)
            if inner is not None:
                kept = {id(n) for n in _marker_names(inner)}
                ours.update(id(n) for n in _marker_names(node) if id(n) not in kept)

    module.visit(Constructs())
    foreign = [n for n in uses if id(n) not in ours]
    if not foreign:
        return 0
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    where = positions.get(foreign[0])
    return where.start.line if where is not None else 1


def unwrap_unit(unit: U) -> U:
    """One statement (or compound header) with the call-site constructs undone, no formatting."""
    result = unit.visit(_Strip(None))
    assert isinstance(result, type(unit))
    return result
