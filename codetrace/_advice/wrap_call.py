"""``wrap-call``: ``session.get(url)`` becomes ``_codetrace.traced(session.get, "name")(url)``.

Only the callee is wrapped, so the argument list keeps its bytes, Python's evaluation order holds
(callee, then arguments, each once), it works in every expression context, and the callee is
looked up at call time (``mock.patch`` keeps working). ``name`` is the rule's runtime adapter
(or the rule id when the rule names none): the runtime picks its behaviour by it.
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from codetrace import _snippets
from codetrace._advice._base import Advice, Plan, Skip, register, string_quote
from codetrace._marker import MARKER, marker_path
from codetrace._model import Site
from codetrace._options import Options
from codetrace.runtime import _catalogue


def _wrapper(node: cst.Call) -> cst.Call | None:
    """The ``_codetrace.traced(callee, "name")`` part of ``node``'s callee, if it is one."""
    func = node.func
    if not (isinstance(func, cst.Call) and marker_path(func.func) == [MARKER, "traced"]):
        return None
    if len(func.args) != 2 or func.lpar or any(a.keyword or a.star for a in func.args):
        return None
    if not isinstance(func.args[1].value, cst.SimpleString):
        return None
    return func


@register
class WrapCall(Advice):
    name = "wrap-call"
    do_keys = ("adapter",)

    def check(self, do: Mapping[str, object]) -> tuple[str, str] | None:
        adapter = do.get("adapter")
        if adapter is None:
            return None
        if not isinstance(adapter, str) or adapter not in _catalogue.ADAPTERS:
            return "adapter", (
                f"unknown adapter {adapter!r} (the runtime has: "
                f"{', '.join(sorted(_catalogue.ADAPTERS))}); leave 'adapter' out for a span "
                "named by the rule id, or register one at run time with "
                "codetrace.runtime.register_adapter(rule id, ...)"
            )
        return None

    def plan(self, site: Site, options: Options) -> Plan | Skip:
        quote = string_quote(site)
        if quote is None:
            return Skip("inside nested f-strings that use both quote characters")
        adapter = site.rule.adapter or site.rule.id

        def build(call: cst.Call) -> cst.BaseExpression:
            wrapper = _snippets.expression(
                "wrap_call.py.j2",
                {"marker": MARKER, "adapter": adapter},
                {"__codetrace_callee__": call.func},
                quote=quote,
                line_length=options.line_length,
            )
            return call.with_changes(func=wrapper)

        plan = Plan()
        plan.replace_call[id(site.call.node)] = build
        return plan

    def unwrap(self, node: cst.Call) -> cst.BaseExpression | None:
        wrapper = _wrapper(node)
        return None if wrapper is None else node.with_changes(func=wrapper.args[0].value)

    def instrumented(self, node: cst.Call) -> cst.Call | None:
        return node if _wrapper(node) is not None else None
