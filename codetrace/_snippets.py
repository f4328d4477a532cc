"""Injected code, rendered from ``templates/*.py.j2`` and formatted by black, once per shape.

Templates hold placeholders (``__codetrace_callee__``...) where original nodes go; the rendered
text is black-formatted, parsed by libcst, and cached, and :func:`splice` puts the user's own
nodes back in. Original code is never re-printed from text, so its bytes are never touched.
black costs ~2 ms a call: the cache makes that once per distinct shape, not once per site.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING

import libcst as cst

from codetrace import __version__, _paths

if TYPE_CHECKING:
    import jinja2


def _pystr(value: object) -> str:
    text = str(value)
    if any(ch in text for ch in "\"\\\n\r{}"):
        raise ValueError(f"not a plain string for injected code: {text!r}")
    return f'"{text}"'


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_paths.templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )
    env.filters["pystr"] = _pystr
    return env


class _DiskCache:
    """Rendered and formatted snippets kept across runs, so a run that finds nothing new (a
    pre-commit hook on one file) imports neither jinja2 nor black (~100 ms).

    Keyed by codetrace's version and the templates' bytes; a lost or unreadable file is just a
    cold cache. Writes are atomic; concurrent workers may overwrite each other's additions.
    """

    def __init__(self) -> None:
        digest = hashlib.sha256(__version__.encode())
        for path in sorted(_paths.templates_dir().glob("*.j2")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        self.path = _paths.cache_dir() / f"snippets-{digest.hexdigest()[:16]}.json"
        try:
            self.entries: dict[str, str] = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}

    def add(self, key: str, value: str) -> None:
        self.entries[key] = value
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.entries, handle)
            os.replace(temporary, self.path)
        except OSError:
            pass


@functools.lru_cache(maxsize=1)
def _disk() -> _DiskCache:
    return _DiskCache()


@functools.lru_cache(maxsize=256)
def _formatted(template: str, params: tuple[tuple[str, str], ...], line_length: int) -> str:
    key = json.dumps([template, params, line_length])
    known = _disk().entries.get(key)
    if known is not None:
        return known
    import black

    rendered = _environment().get_template(template).render(dict(params)).strip() + "\n"
    formatted = black.format_str(rendered, mode=black.Mode(line_length=line_length))
    _disk().add(key, formatted)
    return formatted


@functools.lru_cache(maxsize=256)
def _expression(
    template: str, params: tuple[tuple[str, str], ...], line_length: int
) -> cst.BaseExpression:
    return cst.parse_expression(_formatted(template, params, line_length).strip())


@functools.lru_cache(maxsize=256)
def _statement(
    template: str, params: tuple[tuple[str, str], ...], line_length: int
) -> cst.SimpleStatementLine:
    statement = cst.parse_statement(_formatted(template, params, line_length))
    if not isinstance(statement, cst.SimpleStatementLine):
        raise ValueError(f"template {template} must render one simple statement")
    return statement


class _Splice(cst.CSTTransformer):
    def __init__(self, nodes: Mapping[str, cst.BaseExpression], quote: str) -> None:
        super().__init__()
        self.nodes = nodes
        self.quote = quote

    def leave_Name(
        self, original_node: cst.Name, updated_node: cst.Name
    ) -> cst.BaseExpression:
        return self.nodes.get(original_node.value, updated_node)

    def leave_SimpleString(
        self, original_node: cst.SimpleString, updated_node: cst.SimpleString
    ) -> cst.SimpleString:
        if self.quote == '"':
            return updated_node
        body = updated_node.value[1:-1]
        return updated_node.with_changes(value=f"{self.quote}{body}{self.quote}")


def expression(
    template: str,
    params: Mapping[str, str],
    nodes: Mapping[str, cst.BaseExpression],
    *,
    quote: str = '"',
    line_length: int = 88,
) -> cst.BaseExpression:
    """Render an expression template and splice ``nodes`` in for its placeholders."""
    skeleton = _expression(template, tuple(sorted(params.items())), line_length)
    result = skeleton.visit(_Splice(nodes, quote))
    assert isinstance(result, cst.BaseExpression)
    return result


def statement(
    template: str,
    params: Mapping[str, str],
    nodes: Mapping[str, cst.BaseExpression] | None = None,
    *,
    line_length: int = 88,
) -> cst.SimpleStatementLine:
    """Render a one-line statement template and splice ``nodes`` in for its placeholders."""
    skeleton = _statement(template, tuple(sorted(params.items())), line_length)
    result = skeleton.visit(_Splice(nodes or {}, '"'))
    assert isinstance(result, cst.SimpleStatementLine)
    return result
