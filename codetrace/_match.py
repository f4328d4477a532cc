"""Judge the calls a module makes against the rules: matched sites and unresolved candidates."""

from __future__ import annotations

import libcst as cst

from codetrace._collect import ModuleFacts
from codetrace._model import (
    TIER_NAMES,
    Matches,
    Project,
    Ref,
    Site,
    Unknown,
    Unresolved,
    dotted_name,
)
from codetrace._resolve import Resolver
from codetrace._ruleset import RuleSet


def match(facts: ModuleFacts, ruleset: RuleSet, project: Project) -> Matches:
    """Every call in ``facts`` that a rule of ``ruleset`` matches, and the near misses."""
    table = ruleset.by_call()
    methods = ruleset.method_names()
    resolver = Resolver(ruleset, project)
    sites: list[Site] = []
    unresolved: list[Unresolved] = []
    ignored = 0
    for call in facts.calls:
        if call.instrumented:
            continue
        resolver.begin()
        callee = resolver.evaluate(call.node.func, call.scope)
        if isinstance(callee, Ref) and callee.qname in table:
            if call.ignored:
                ignored += 1
                continue
            how = TIER_NAMES[max(resolver.tiers, default=1)]
            sites.append(Site(call, table[callee.qname], callee.qname, how))
            continue
        func = call.node.func
        if (
            isinstance(callee, Unknown)
            and isinstance(func, cst.Attribute)
            and func.attr.value in methods
            and not call.ignored
        ):
            receiver = dotted_name(func.value) or type(func.value).__name__
            base = resolver.evaluate(func.value, call.scope)
            reason = base.reason if isinstance(base, Unknown) else callee.reason
            unresolved.append(Unresolved(call, func.attr.value, receiver, reason))
    return Matches(tuple(sites), tuple(unresolved), ignored)
