"""``span-function``: a span around a project function, one decorator line above its ``def``.

``def create(...)`` gets ``@_codetrace.span_function("myapp.orders.create")`` right above the
``def`` line, below every other decorator (innermost: ``@classmethod``, ``@property`` and
``@app.route(...)`` receive the traced function, so the span covers the call and nothing of
the framework's). The body is never re-indented: the reviewer reads one line, ``strip`` removes
that line. Comment lines between the last decorator and the ``def`` (a
``# codetrace: span`` among them) stay where they are: our line goes between them and the
``def``, and strip gives them back to the ``def``.

Only literals are written (the name, ``kind``, ``attributes``, ``min_duration_ms``), escaped to
ASCII so the line is valid in a file of any encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import libcst as cst

from codetrace import _snippets, _span_directive
from codetrace._advice._base import Advice, Plan, Skip, register
from codetrace._marker import MARKER, marker_path
from codetrace._model import FunctionSite, Site
from codetrace._options import Options

#: the keyword arguments codetrace writes (recognising anything else would claim user code)
_KEYWORDS = frozenset({"kind", "attributes", "min_duration_ms"})
#: wide enough that the decorator stays on one line; a formatter mode lays out the def's
#: header (decorators included) afterwards, as the project's formatter would
_ONE_LINE = 10_000


def _string(text: str) -> str:
    """A double-quoted literal of ``text`` in printable ASCII."""
    out = []
    for ch in text:
        if ch in "\\\"":
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _literal(value: _span_directive.AttributeValue) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return _string(value)
    return repr(value)


def arguments(name: str, spec: _span_directive.SpanSpec) -> str:
    """The decorator's arguments as source text (the runtime's ``span_function`` signature)."""
    parts = [_string(name)]
    if spec.kind != "internal":
        parts.append(f"kind={_string(spec.kind)}")
    if spec.attributes:
        items = ", ".join(f"{_string(k)}: {_literal(v)}" for k, v in spec.attributes)
        parts.append(f"attributes={{{items}}}")
    if spec.min_duration_ms is not None:
        parts.append(f"min_duration_ms={float(spec.min_duration_ms)!r}")
    return ", ".join(parts)


def is_ours(decorator: cst.Decorator) -> bool:
    """``@_codetrace.span_function("name", kind=..., ...)``: the shape this advice writes."""
    call = decorator.decorator
    if not isinstance(call, cst.Call) or marker_path(call.func) != [MARKER, "span_function"]:
        return False
    if not call.args or call.args[0].keyword is not None or call.args[0].star:
        return False
    if not isinstance(call.args[0].value, (cst.SimpleString, cst.ConcatenatedString)):
        return False
    return all(arg.keyword is not None and arg.keyword.value in _KEYWORDS and not arg.star
               for arg in call.args[1:])


def _decorate(expression: cst.BaseExpression) -> Callable[[cst.FunctionDef], cst.FunctionDef]:
    def build(node: cst.FunctionDef) -> cst.FunctionDef:
        # the comment lines between the decorators and the def stay above our line
        added = cst.Decorator(decorator=expression, leading_lines=node.lines_after_decorators)
        return node.with_changes(decorators=[*node.decorators, added],
                                 lines_after_decorators=())
    return build


@register
class SpanFunction(Advice):
    name = "span-function"
    do_keys = _span_directive.DO_KEYS
    counts_as = "function"

    def check(self, do: Mapping[str, object]) -> tuple[str, str] | None:
        try:
            _span_directive.from_rule(do)
        except _span_directive.DirectiveError as exc:
            return str(exc).partition(": ")[0], str(exc)
        return None

    def plan(self, site: Site, options: Options) -> Plan | Skip:
        return Skip("advice 'span-function' traces functions, not calls")

    def plan_function(self, site: FunctionSite, options: Options) -> Plan | Skip:
        expression = _snippets.expression(
            "span_function.py.j2",
            {"marker": MARKER, "arguments": arguments(site.name, site.spec)},
            {}, line_length=_ONE_LINE,
        )
        plan = Plan()
        plan.decorate[id(site.function.node)] = _decorate(expression)
        return plan

    def added_decorator(self, decorator: cst.Decorator) -> bool:
        return is_ours(decorator)

    def undecorate(self, node: cst.FunctionDef) -> cst.FunctionDef | None:
        if not any(is_ours(d) for d in node.decorators):
            return None
        decorators = list(node.decorators)
        after = list(node.lines_after_decorators)
        index = len(decorators) - 1
        while index >= 0:
            decorator = decorators[index]
            if is_ours(decorator):
                del decorators[index]
                if index == len(decorators):  # it was the last: its lines go back above the def
                    after = [*decorator.leading_lines, *after]
                else:
                    following = decorators[index]
                    decorators[index] = following.with_changes(
                        leading_lines=[*decorator.leading_lines, *following.leading_lines])
            index -= 1
        return node.with_changes(decorators=decorators, lines_after_decorators=after)
