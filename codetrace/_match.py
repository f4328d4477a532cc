"""Judge the calls a module makes against the rules: matched sites and unresolved candidates."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

import libcst as cst

from codetrace._collect import ModuleFacts
from codetrace._directives import ignores_rule
from codetrace._model import (
    TIER_NAMES,
    AssignSite,
    Definition,
    FunctionSite,
    Matches,
    Project,
    Ref,
    Site,
    Unknown,
    Unresolved,
    dotted_name,
)
from codetrace._resolve import Resolver
from codetrace._ruleset import Rule, RuleSet
from codetrace._span_directive import RULE_ID

#: words in a receiver's name that suggest a client, session or connection object
_HINTS = re.compile(
    # anywhere in the name, or a whole dotted/underscored part (``self.db``, ``api_cur``)
    r"session|client|conn|cursor"
    r"|(^|[._])(sess|https?|api|con|cur|db|database|engine|sqlite|requests|httpx|transport|"
    r"pool)s?($|[._])",
    re.IGNORECASE,
)
#: method names that mean the same on dicts, sets, queues and sockets as on a library object
_GENERIC_METHODS = frozenset({"get", "send", "request", "delete", "head", "options"})


def evidence(receiver: str, method: str) -> int:
    """How strongly an unresolved ``receiver.method()`` suggests the library: 2 when the
    receiver's name says so (``self.session.get``), 1 when only the method is distinctive
    (``x.executemany``), 0 when only a common name matches (``item.get``)."""
    if _HINTS.search(receiver):
        return 2
    return 0 if method in _GENERIC_METHODS else 1


def match(facts: ModuleFacts, ruleset: RuleSet, project: Project) -> Matches:
    """Every call in ``facts`` that a rule of ``ruleset`` matches, and the near misses."""
    table = ruleset.by_call()
    constructs = ruleset.by_construct()
    methods = ruleset.method_names()
    rules_of_method: dict[str, list[str]] = {}
    for rule in ruleset.rules:
        for name in rule.calls:
            rules_of_method.setdefault(name.rsplit(".", 1)[-1], []).append(rule.id)
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
            if call.ignored or ignores_rule(call.ignored_rules, table[callee.qname].id):
                ignored += 1
                continue
            how = TIER_NAMES[max(resolver.tiers, default=1)]
            sites.append(Site(call, table[callee.qname], callee.qname, how))
            continue
        if isinstance(callee, Ref) and constructs:
            built = resolver.constructed_base(callee.qname, constructs)
            if built is not None:
                if call.ignored or ignores_rule(call.ignored_rules, constructs[built].id):
                    ignored += 1
                    continue
                how = TIER_NAMES[max(resolver.tiers, default=1)]
                sites.append(Site(call, constructs[built], callee.qname, how))
                continue
        func = call.node.func
        if (
            isinstance(callee, Unknown)
            and isinstance(func, cst.Attribute)
            and func.attr.value in methods
            and not call.ignored
            and not call.decorator
            # ``ignore[requests]``: a ``.get()`` only requests' rules could mean is left too
            and not (call.ignored_rules and all(
                ignores_rule(call.ignored_rules, rule_id)
                for rule_id in rules_of_method[func.attr.value]))
        ):
            receiver = dotted_name(func.value) or type(func.value).__name__
            base = resolver.evaluate(func.value, call.scope)
            reason = base.reason if isinstance(base, Unknown) else callee.reason
            unresolved.append(Unresolved(call, func.attr.value, receiver, reason,
                                         evidence(receiver, func.attr.value)))
    functions, skipped = match_functions(facts.definitions, ruleset)
    assigned, kept_out = match_assignments(facts, ruleset)
    return Matches(tuple(sites), tuple(unresolved), ignored + skipped + kept_out,
                   facts.instrumented_sites, facts.marker_names, functions, assigned)


def match_assignments(
    facts: ModuleFacts, ruleset: RuleSet
) -> tuple[tuple[AssignSite, ...], int]:
    """The module-level assignments a ``match.assign`` rule takes, and how many an ignore
    directive kept out. A rule takes a module only if the module also assigns every name of
    its ``match.alongside``: a name like ``MIDDLEWARE`` alone says nothing of the framework."""
    table = ruleset.by_assign()
    if not table:
        return (), 0
    sites: list[AssignSite] = []
    ignored = 0
    module = facts.module_scope.qualname
    for assignment in facts.assignments:
        rule = table.get(assignment.name)
        if rule is None or assignment.instrumented or \
                not facts.module_assigned.issuperset(rule.alongside):
            continue
        if assignment.ignored or ignores_rule(assignment.ignored_rules, rule.id):
            ignored += 1
            continue
        qname = f"{module}.{assignment.name}" if module else assignment.name
        sites.append(AssignSite(assignment, rule, qname))
    return tuple(sites), ignored


def glob_matches(pattern: str, definition: Definition) -> bool:
    """fnmatch, case-sensitive, against the function's full name (``myapp.billing.Charger.
    charge``; ``*`` crosses dots, so ``myapp.services.*`` takes methods and nested functions)
    or its module (``myapp.services`` takes every function of that module)."""
    return fnmatch.fnmatchcase(definition.full_name, pattern) or \
        fnmatch.fnmatchcase(definition.module, pattern)


def match_functions(
    definitions: Sequence[Definition], ruleset: RuleSet
) -> tuple[tuple[FunctionSite, ...], int]:
    """The functions to trace, and how many an ignore directive kept out.

    A ``# codetrace: span`` directive (when its rule is in force) wins over rule globs; an
    ``ignore`` directive on the function, or on a class or function around it, wins over both.
    Functions that never run (overload stubs, ``if TYPE_CHECKING:``) and functions already
    traced are never sites; rule globs skip trivial bodies unless told not to.
    """
    directive: Rule | None = None
    globs: list[Rule] = []
    for rule in ruleset.rules:
        if rule.id == RULE_ID and rule.advice == "span-function" and not rule.functions:
            directive = rule
        elif rule.functions and rule.span is not None:
            globs.append(rule)
    if directive is None and not globs:
        return (), 0
    sites: list[FunctionSite] = []
    ignored = 0
    for definition in definitions:
        if definition.decorated or definition.never_runs:
            continue
        names = definition.ignored_rules
        chosen: FunctionSite | None = None
        kept_out = False
        if definition.directive is not None and directive is not None:
            if ignores_rule(names, directive.id):
                kept_out = True
            else:
                chosen = FunctionSite(definition, directive, definition.directive, "directive")
        else:
            for rule in globs:  # in order; a rule the function's directives ignore steps aside
                assert rule.span is not None
                if rule.span.skip_trivial and definition.trivial:
                    continue
                if not any(glob_matches(pattern, definition) for pattern in rule.functions):
                    continue
                if ignores_rule(names, rule.id):
                    kept_out = True
                    continue
                chosen = FunctionSite(definition, rule, rule.span, "function glob")
                break
        if chosen is not None:
            sites.append(chosen)
        elif kept_out:
            ignored += 1
    return tuple(sites), ignored
