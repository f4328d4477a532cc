"""Where one straight import goes in a module, as isort and ruff's ``I001`` would put it.

codetrace never moves the user's imports: it finds the first import block at the top of the
module, the section the new line belongs to (third-party unless configured otherwise), and its
sorted place in that section. Blank lines are added to open a section that did not exist (or to
separate a first import from the code after it); the user's own blank lines change only where
the sorter (or black, after a docstring) wants other ones next to the new line, and comments
stay with the import they are above.

:func:`remove` undoes :func:`insert` exactly: it tries the few blank-line layouts the inserted
line could have come from and keeps the one that :func:`insert` maps back to the module at hand.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import libcst as cst

from codetrace._import_settings import (
    FIRST_PARTY,
    FUTURE,
    LOCAL_FOLDER,
    STDLIB,
    THIRD_PARTY,
    ImportStyle,
    matches,
)
from codetrace._model import dotted_name

_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
_DIGITS = re.compile(r"(\d+)")
#: comments that end an import block for the sorters (a new block starts after them)
_SPLIT = re.compile(r"#\s*(isort:\s*(split|off|on)\b|ruff:\s*isort:\s*(split|off|on)\b)")


@dataclass(frozen=True)
class _Entry:
    """One import line of the block, as the sorters see it."""

    section: str
    straight: bool
    module: str


def section_of(module: str, level: int, style: ImportStyle) -> str:
    """The section a module's import belongs in (ruff's categorisation, which isort shares)."""
    if level > 0:
        return LOCAL_FOLDER
    top = module.split(".", 1)[0]
    if top == "__future__":
        return FUTURE
    for section, patterns in style.known:
        if matches(module, patterns):
            return section
    if top in _STDLIB:
        return STDLIB
    if style.detect_same_package and style.package is not None and top == style.package:
        return FIRST_PARTY
    for folder in style.src:
        base = Path(folder)
        if (base / top).is_dir() or (base / f"{top}.py").is_file():
            return FIRST_PARTY
    return style.default_section


def _natural(text: str) -> tuple[str | int, ...]:
    """Natural order (``py3`` before ``py10``), as both sorters compare module names."""
    return tuple(int(part) if index % 2 else part
                 for index, part in enumerate(_DIGITS.split(text)))


def _rank(section: str, style: ImportStyle) -> int:
    """The section's place in the order (a section the order does not name: the default's)."""
    if style.no_sections and section != FUTURE:
        return 1
    order = style.section_order
    for name in (section, style.default_section):
        if name in order:
            return order.index(name)
    return len(order)


def _key(entry: _Entry, style: ImportStyle) -> tuple[object, ...]:
    """The order of an import inside its section."""
    name = entry.module
    if style.tool == "isort" and style.force_sort_within_sections:
        lowered = not style.order_by_type
    else:
        lowered = not style.case_sensitive
    compared = name.lower() if lowered else name
    top = 0 if name in style.force_to_top else 1
    length = len(name) if style.length_sort else 0
    kind = 0 if entry.straight != style.from_first else 1
    if style.force_sort_within_sections:
        return (top, length, _natural(compared), kind)
    return (kind, top, length, _natural(compared), _natural(name))


def _entry(statement: cst.CSTNode, style: ImportStyle) -> _Entry | None:
    if not isinstance(statement, cst.SimpleStatementLine) or not statement.body:
        return None
    first = statement.body[0]
    if isinstance(first, cst.Import):
        module = dotted_name(first.names[0].name) or ""
        return _Entry(section_of(module, 0, style), True, module)
    if isinstance(first, cst.ImportFrom):
        level = len(first.relative)
        name = dotted_name(first.module) if first.module is not None else None
        module = "." * level + (name or "")
        return _Entry(section_of(module.lstrip("."), level, style), False, module)
    return None


def is_import_line(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and bool(statement.body) and all(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )


def is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _splits(statement: cst.CSTNode) -> bool:
    lines = getattr(statement, "leading_lines", ())
    return any(line.comment is not None and _SPLIT.search(line.comment.value) for line in lines)


def _uses(statement: cst.CSTNode, name: str) -> bool:
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Name(self, node: cst.Name) -> bool:
            nonlocal found
            found = found or node.value == name
            return False

    statement.visit(Finder())
    return found


def _block(body: Sequence[cst.BaseStatement], marker: str) -> tuple[int, int]:
    """``(start, end)`` of the import block the line joins; ``start == end`` when it opens one.

    The first run of import lines at the top, unless code before it uses the marker (then the
    line goes before that code, as a block of its own).
    """
    start = 1 if body and is_docstring(body[0]) else 0
    index = start
    while index < len(body) and not is_import_line(body[index]):
        if _uses(body[index], marker):
            return start, start
        index += 1
    if index == len(body):
        return start, start
    end = index + 1
    while end < len(body) and is_import_line(body[end]) and not _splits(body[end]):
        end += 1
    return index, end


def _blank() -> cst.EmptyLine:
    return cst.EmptyLine()


def _blanks(count: int) -> list[cst.EmptyLine]:
    return [_blank() for _ in range(max(count, 0))]


def _is_blank(line: cst.EmptyLine) -> bool:
    return line.comment is None


def _lines_after(style: ImportStyle, statement: cst.CSTNode) -> int:
    if style.lines_after_imports >= 0:
        return style.lines_after_imports
    return 2 if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) else 1


def _section_gap(earlier: _Entry, later: _Entry, style: ImportStyle) -> int:
    """Blank lines between two adjacent non-empty sections. Both sorters skip them only when
    every section from the one after ``earlier`` up to ``later`` is in ``no-lines-before``
    (an empty section in between that is not counts)."""
    first, last = _rank(earlier.section, style), _rank(later.section, style)
    if style.no_sections:
        skipped: tuple[str, ...] = (later.section,)
    else:
        skipped = tuple(style.section_order[first + 1:last + 1])
    if skipped and all(section in style.no_lines_before for section in skipped):
        return 0
    return style.lines_between_sections


def insert(
    module: cst.Module, line: cst.SimpleStatementLine, marker: str, style: ImportStyle,
    *, check: bool = True,
) -> cst.Module:
    """``module`` with ``line`` (a straight ``import a.b as c``) where the sorter puts it.

    ``check``: the layout must be one :func:`remove` undoes exactly; where the user's own
    spacing makes two inputs look alike after the line is added, the line goes in without
    any change to the blank lines around it instead (still removable, not always sorted).
    """
    at, mine, theirs = _layout(module, line, marker, style)
    placed = _with_line(module, at, line.with_changes(leading_lines=mine), theirs)
    if not check or _head(remove(placed, at, marker, style), at + 1) == _head(module, at + 1):
        return placed
    after = module.body[at] if at < len(module.body) else None
    return _with_line(module, at, line.with_changes(leading_lines=()),
                      list(getattr(after, "leading_lines", ())))


def _with_line(
    module: cst.Module, at: int, line: cst.SimpleStatementLine, theirs: list[cst.EmptyLine]
) -> cst.Module:
    body = list(module.body)
    if at < len(body):
        body[at] = body[at].with_changes(leading_lines=theirs)
    body.insert(at, line)
    return module.with_changes(body=body)


def _layout(
    module: cst.Module, line: cst.SimpleStatementLine, marker: str, style: ImportStyle
) -> tuple[int, list[cst.EmptyLine], list[cst.EmptyLine]]:
    """Where the line goes, its leading lines, and the new leading lines of what follows."""
    body = module.body
    start, end = _block(body, marker)
    ours = _entry(line, style)
    assert ours is not None
    entries = [_entry(statement, style) for statement in body[start:end]]
    rank, key = _rank(ours.section, style), _key(ours, style)
    offset = len(entries)
    for position, entry in enumerate(entries):
        assert entry is not None
        there = _rank(entry.section, style)
        if there > rank or (there == rank and _key(entry, style) > key):
            offset = position
            break
    at = start + offset
    previous = entries[offset - 1] if offset > 0 else None
    following = entries[offset] if offset < len(entries) else None
    after = body[at] if at < len(body) else None
    gap = list(getattr(after, "leading_lines", ())) if after is not None else []

    def same_section(entry: _Entry | None) -> bool:
        return entry is not None and _rank(entry.section, style) == rank

    prefix = 0
    while prefix < len(gap) and _is_blank(gap[prefix]):
        prefix += 1
    if previous is None and following is not None:
        # first import of the block: the comments above the block stay above it
        mine = gap
        theirs = _blanks(_within(ours, following, style) if same_section(following)
                         else _section_gap(ours, following, style))
    elif previous is None:
        # no block yet: after the header comments, before what is attached to the code
        last_blank = max((i for i, line in enumerate(gap) if _is_blank(line)), default=-1)
        if last_blank < 0 and start == 0:
            mine, rest = gap, []
        else:
            mine, rest = gap[:last_blank + 1], gap[last_blank + 1:]
        run = 0
        while run < len(mine) and _is_blank(mine[len(mine) - 1 - run]):
            run += 1
        if start == 1 and after is not None and run == _after_docstring(after):
            # black and ruff format want one blank line between a docstring and an import
            mine = mine[:len(mine) - run + 1]
        theirs = _blanks(_lines_after(style, after) if after is not None else 0) + rest
    elif same_section(previous):
        # inside a section, after one of its imports
        assert previous is not None
        mine = _blanks(_within(previous, ours, style))
        theirs = gap
        if following is not None and same_section(following) \
                and prefix == _within(previous, following, style, gap):
            theirs = _blanks(_within(ours, following, style, gap)) + gap[prefix:]
    elif same_section(following):
        assert following is not None
        # the new head of an existing section: the section's blank lines go above it,
        # the comments above the old head stay with it
        mine = gap[:prefix]
        theirs = _blanks(_within(ours, following, style, gap)) + gap[prefix:]
    else:
        # a section of its own after ``previous``; the blank lines before the next section are
        # the sorter's for the new neighbours when the user's were the sorter's for the old
        mine, theirs = _blanks(_section_gap(previous, ours, style)), gap
        if following is not None and prefix == _section_gap(previous, following, style):
            theirs = _blanks(_section_gap(ours, following, style)) + gap[prefix:]
    return at, mine, theirs


def _after_docstring(statement: cst.CSTNode) -> int:
    """The blank lines black and ruff format leave between a module docstring and this."""
    return 2 if isinstance(statement, (cst.FunctionDef, cst.ClassDef)) else 1


def _within(
    earlier: _Entry, later: _Entry, style: ImportStyle, gap: Sequence[cst.EmptyLine] = ()
) -> int:
    """Blank lines between two adjacent imports of one section: ``lines-between-types`` where
    straight imports meet ``from`` imports, and one above comments when the sorter wants it
    (``gap``: the lines above ``later``)."""
    count = 0
    if earlier.straight != later.straight and not style.force_sort_within_sections:
        count = style.lines_between_types
    if style.ensure_newline_before_comments and any(not _is_blank(line) for line in gap):
        count = max(count, 1)
    return count


def remove(module: cst.Module, index: int, marker: str, style: ImportStyle) -> cst.Module:
    """``module`` without the statement at ``index`` (one that :func:`insert` added), with the
    blank lines it added removed too, whenever :func:`insert` explains the layout at hand;
    otherwise the statement's own leading lines are kept for the next statement."""
    body = list(module.body)
    line = body[index]
    assert isinstance(line, cst.SimpleStatementLine)
    mine = list(line.leading_lines)
    after = body[index + 1] if index + 1 < len(body) else None
    theirs = list(getattr(after, "leading_lines", ())) if after is not None else \
        list(module.footer)
    candidates: list[list[cst.EmptyLine]] = [mine + theirs]
    dropped = 0
    while dropped < len(theirs) and _is_blank(theirs[dropped]):
        dropped += 1
        candidates.append(mine + theirs[dropped:])
    candidates.append(theirs)
    expected = _head(module, index + 2)
    bare = line.with_changes(leading_lines=())
    for trying in (style, *_other_sections(style, bare)):
        for candidate in candidates:
            trial = _without(module, body, index, after, candidate)
            again = insert(trial, bare, marker, trying, check=False)
            if _head(again, index + 2) == expected:
                return trial
    return _without(module, body, index, after, candidates[0])


def _other_sections(style: ImportStyle, line: cst.SimpleStatementLine) -> list[ImportStyle]:
    """``style`` with the runtime import in each other section it may have been placed in.

    Tried only when ``style`` explains no layout: the tree was applied where other settings
    held (``apply --out`` from inside a project whose sorter counts ``codetrace`` as
    first-party, stripped elsewhere), and only the runtime's own section differs."""
    statement = line.body[0] if line.body else None
    names = statement.names if isinstance(statement, cst.Import) else ()
    module = dotted_name(names[0].name) if names else None
    if module is None:
        return []
    placed = section_of(module, 0, style)
    return [
        replace(style, known=((section, (module,)), *style.known))
        for section in (THIRD_PARTY, FIRST_PARTY)
        if section != placed
    ]


def _without(
    module: cst.Module,
    body: Sequence[cst.SimpleStatementLine | cst.BaseCompoundStatement],
    index: int,
    after: cst.SimpleStatementLine | cst.BaseCompoundStatement | None,
    leading: list[cst.EmptyLine],
) -> cst.Module:
    rest = list(body)
    del rest[index]
    if after is None:
        return module.with_changes(body=rest, footer=leading)
    rest[index] = after.with_changes(leading_lines=leading)
    return module.with_changes(body=rest)


def _head(module: cst.Module, count: int) -> str:
    """The code of the module's first ``count`` statements (all a placement can change, with
    the one after it)."""
    body = module.body[:count]
    footer = module.footer if count >= len(module.body) else ()
    return module.with_changes(body=body, footer=footer).code
