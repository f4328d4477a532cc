"""``hook-after``: register a runtime hook on an object right after it is created.

``app = Flask(__name__)`` gets a statement after it, ``_codetrace.hooks.flask(app)``; where the
object is created inside an expression (``return Flask(__name__)``), the creating call is wrapped:
``_codetrace.hooks.flask(Flask(__name__))`` (hooks return their argument). The wrapped call's own
parentheses move to the wrapper, so ``unwrap`` can move them back exactly.

The same wrapper takes the value of a module-level assignment a ``match.assign`` rule names
(``MIDDLEWARE = _codetrace.hooks.django_settings([...])``): a value that is not a call keeps its
own bytes and parentheses inside the wrapper. A bare name is not wrapped (``X = BASE``): the
wrapped form would read as the statement form's ``_codetrace.hooks.NAME(x)``, which ``unwrap``
must not take apart; nor is a tuple without parentheses (it would become several arguments).
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from codetrace import _snippets
from codetrace._advice._base import Advice, Plan, Skip, register
from codetrace._marker import MARKER, marker_path
from codetrace._model import AssignSite, Site, dotted_name
from codetrace._options import Options
from codetrace.runtime import _catalogue


def _hook_argument(node: cst.BaseExpression) -> cst.BaseExpression | None:
    """The argument of ``_codetrace.hooks.NAME(argument)``, if ``node`` is that call."""
    if not isinstance(node, cst.Call) or len(node.args) != 1:
        return None
    path = marker_path(node.func)
    if path is None or len(path) != 3 or path[1] != "hooks":
        return None
    arg = node.args[0]
    if arg.keyword is not None or arg.star:
        return None
    return arg.value


def _wrapped_value(node: cst.Call) -> cst.BaseExpression | None:
    """The assigned value inside the wrapper of ``plan_assign`` (not a call, not a name)."""
    inner = _hook_argument(node)
    if inner is None or isinstance(inner, cst.Call) or dotted_name(inner) is not None:
        return None
    return inner


def _wrap(
    value: cst.BaseExpression, params: Mapping[str, str], options: Options
) -> cst.BaseExpression:
    """``_codetrace.hooks.NAME(value)``; a call's own parentheses go outside the wrapper."""
    bare = value.with_changes(lpar=(), rpar=()) if isinstance(value, cst.Call) else value
    wrapper = _snippets.expression(
        "hook_wrap.py.j2", params, {"__codetrace_value__": bare},
        line_length=options.line_length,
    )
    assert isinstance(wrapper, cst.Call)
    return wrapper.with_changes(lpar=value.lpar, rpar=value.rpar) \
        if isinstance(value, cst.Call) else wrapper


def _wrapped_call(node: cst.Call) -> cst.Call | None:
    """The creating call inside the expression form (it never carries its own parentheses)."""
    inner = _hook_argument(node)
    if isinstance(inner, cst.Call) and not inner.lpar:
        return inner
    return None


@register
class HookAfter(Advice):
    name = "hook-after"
    do_keys = ("hook",)
    counts_as = "hook"

    def check(self, do: Mapping[str, object]) -> tuple[str, str] | None:
        hook = do.get("hook")
        if not isinstance(hook, str) or not hook.isidentifier():
            return "hook", "advice 'hook-after' needs hook = \"<name>\""
        if hook not in _catalogue.HOOKS:
            return "hook", (f"unknown hook {hook!r} (the runtime has: "
                            f"{', '.join(sorted(_catalogue.HOOKS))})")
        return None

    def plan(self, site: Site, options: Options) -> Plan | Skip:
        hook = site.rule.hook
        if hook is None:
            return Skip("rule has no hook")
        params = {"marker": MARKER, "hook": hook}
        plan = Plan()
        target = site.call.assigned_to
        statement = site.call.statement
        if target is not None and statement is not None and dotted_name(target) is not None:
            plan.insert_after[id(statement)] = _snippets.statement(
                "hook_statement.py.j2", params, {"__codetrace_target__": target.deep_clone()},
                line_length=options.line_length,
            )
            return plan

        plan.replace_call[id(site.call.node)] = lambda call: _wrap(call, params, options)
        return plan

    def plan_assign(self, site: AssignSite, options: Options) -> Plan | Skip:
        hook = site.rule.hook
        value = site.assignment.value
        if hook is None:
            return Skip("rule has no hook")
        if dotted_name(value) is not None:
            return Skip("the value is a name: instrument the assignment that built it")
        if isinstance(value, cst.Tuple) and not value.lpar:
            return Skip("a tuple without parentheses: add them to instrument it")
        params = {"marker": MARKER, "hook": hook}
        plan = Plan()
        plan.replace_value[id(value)] = lambda node: _wrap(node, params, options)
        return plan

    def unwrap(self, node: cst.Call) -> cst.BaseExpression | None:
        inner = _wrapped_call(node)
        if inner is not None:
            return inner.with_changes(lpar=node.lpar, rpar=node.rpar)
        value = _wrapped_value(node)
        if value is None or not node.lpar:
            return value
        return value.with_changes(lpar=(*node.lpar, *value.lpar), rpar=(*value.rpar, *node.rpar))

    def instrumented(self, node: cst.Call) -> cst.Call | None:
        return _wrapped_call(node)

    def added_target(self, statement: cst.CSTNode) -> cst.BaseExpression | None:
        if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1):
            return None
        small = statement.body[0]
        if not isinstance(small, cst.Expr) or small.semicolon != cst.MaybeSentinel.DEFAULT:
            return None
        target = _hook_argument(small.value)
        if target is None or isinstance(target, cst.Call) or not dotted_name(target) is not None:
            return None
        return target
