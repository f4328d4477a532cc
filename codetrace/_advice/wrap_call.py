"""``wrap-call``: ``session.get(url)`` becomes ``_codetrace.traced(session.get, "rule")(url)``.

Only the callee is wrapped, so the argument list keeps its bytes, Python's evaluation order holds
(callee, then arguments, each once), it works in every expression context, and the callee is
looked up at call time (``mock.patch`` keeps working).
"""

from __future__ import annotations

import libcst as cst

from codetrace import _snippets
from codetrace._advice import Options, Plan, Skip, register, string_quote
from codetrace._match import Site


@register("wrap-call")
def wrap_call(site: Site, options: Options) -> Plan | Skip:
    quote = string_quote(site)
    if quote is None:
        return Skip("inside nested f-strings that use both quote characters")

    def build(call: cst.Call) -> cst.BaseExpression:
        wrapper = _snippets.expression(
            "wrap_call.py.j2",
            {"marker": options.marker, "rule_id": site.rule.id},
            {"__codetrace_callee__": call.func},
            quote=quote,
            line_length=options.line_length,
        )
        return call.with_changes(func=wrapper)

    plan = Plan()
    plan.replace_call[id(site.call.node)] = build
    return plan
