"""``hook-after``: register a runtime hook on an object right after it is created.

``app = Flask(__name__)`` gets a statement after it, ``_codetrace.hooks.flask(app)``; where the
object is created inside an expression (``return Flask(__name__)``), the creating call is wrapped:
``_codetrace.hooks.flask(Flask(__name__))`` (hooks return their argument). The wrapped call's own
parentheses move to the wrapper, so ``strip`` can move them back exactly.
"""

from __future__ import annotations

import libcst as cst

from codetrace import _snippets
from codetrace._advice import Options, Plan, Skip, register
from codetrace._match import Site


def _simple_target(node: cst.BaseExpression) -> bool:
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name)


@register("hook-after")
def hook_after(site: Site, options: Options) -> Plan | Skip:
    hook = site.rule.hook
    if hook is None:
        return Skip("rule has no hook")
    params = {"marker": options.marker, "hook": hook}
    plan = Plan()
    target = site.call.assigned_to
    statement = site.call.statement
    if target is not None and statement is not None and _simple_target(target):
        plan.insert_after[id(statement)] = _snippets.statement(
            "hook_statement.py.j2", params, {"__codetrace_target__": target.deep_clone()},
            line_length=options.line_length,
        )
        return plan

    def build(call: cst.Call) -> cst.BaseExpression:
        bare = call.with_changes(lpar=(), rpar=())
        wrapper = _snippets.expression(
            "hook_wrap.py.j2", params, {"__codetrace_value__": bare},
            line_length=options.line_length,
        )
        assert isinstance(wrapper, cst.Call)
        return wrapper.with_changes(lpar=call.lpar, rpar=call.rpar)

    plan.replace_call[id(site.call.node)] = build
    return plan
