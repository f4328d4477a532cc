"""``# codetrace: ignore``: the opt-out directive, on a line, a ``def``/``class``, or a file's top.

The one place that knows the directive's spelling; the collector asks it where a directive
applies. ``# codetrace: ignore`` ignores every rule; ``# codetrace: ignore[requests.send,
sqlite3]`` only the rules those names select (a rule id, or a library's prefix of ids, the
same names ``--select``/``--ignore`` take: :func:`selects` is that one meaning).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

import libcst as cst

DIRECTIVE = re.compile(r"#\s*codetrace:\s*ignore\b(?:\s*\[([^\]\n]*)\])?")

#: what a directive without brackets ignores: everything
EVERY = "*"
NOTHING: frozenset[str] = frozenset()
_ALL = frozenset({EVERY})

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def selects(name: str, rule_id: str) -> bool:
    """``requests`` selects ``requests.send``; ``requests.send`` selects itself; ``flask``
    does not select ``flask_sqlalchemy.extension`` (whole dotted parts only)."""
    return rule_id == name or rule_id.startswith(name + ".")


def ignores_rule(names: Iterable[str], rule_id: str) -> bool:
    return any(name == EVERY or selects(name, rule_id) for name in names)


def _names(found: re.Match[str]) -> frozenset[str]:
    inside = found.group(1)
    if inside is None:
        return _ALL
    return frozenset(name.strip() for name in inside.split(",") if name.strip())


def text_ignores(text: str) -> frozenset[str]:
    """What the directives in ``text`` (a comment) ignore: ``{EVERY}``, some names, or none."""
    found = NOTHING
    for match in DIRECTIVE.finditer(text):
        found = found | _names(match)
    return found


def directive_lines(text: str) -> dict[int, frozenset[str]]:
    """Lines (numbered as libcst numbers them) holding a directive, and what each ignores."""
    lines: dict[int, frozenset[str]] = {}
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        if "#" in line and "codetrace:" in line:
            names = text_ignores(line)
            if names:
                lines[number] = names
    return lines


def bracketed(text: str) -> Iterator[tuple[int, str, list[str]]]:
    """Every ``ignore[...]`` directive: its line, the bracket as written, and the names in it
    (the runner checks them against the rules it knows)."""
    for number, line in enumerate(_LINE_BREAK.split(text), start=1):
        if "codetrace:" not in line:
            continue
        for match in DIRECTIVE.finditer(line):
            if match.group(1) is not None:
                names = [n.strip() for n in match.group(1).split(",") if n.strip()]
                yield number, match.group(0), names


def comment_ignores(comment: cst.Comment | None) -> frozenset[str]:
    return text_ignores(comment.value) if comment is not None else NOTHING


def comment_has_directive(comment: cst.Comment | None) -> bool:
    """A directive that ignores every rule."""
    return EVERY in comment_ignores(comment)


def leading_ignores(lines: Sequence[cst.EmptyLine]) -> frozenset[str]:
    """A directive comment on the line right above a statement (or its decorators)."""
    return comment_ignores(lines[-1].comment) if lines else NOTHING


def def_ignores(node: cst.FunctionDef | cst.ClassDef) -> frozenset[str]:
    """A directive above the definition (or its decorators), or after its colon."""
    found = leading_ignores(node.leading_lines)
    if node.decorators:
        found = found | leading_ignores(node.decorators[0].leading_lines)
    body = node.body
    if isinstance(body, cst.IndentedBlock):
        found = found | comment_ignores(body.header.comment)
    elif isinstance(body, cst.SimpleStatementSuite):
        found = found | comment_ignores(body.trailing_whitespace.comment)
    return found


def def_ignored(node: cst.FunctionDef | cst.ClassDef) -> bool:
    """Every rule is ignored in the definition."""
    return EVERY in def_ignores(node)


def leading_directive(lines: Sequence[cst.EmptyLine]) -> bool:
    """A directive ignoring every rule right above a statement (or its decorators)."""
    return EVERY in leading_ignores(lines)
