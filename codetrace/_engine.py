"""The per-file pipeline, pure: bytes and a :class:`FileContext` in, a :class:`FileResult` out.

read → prefilter → libcst parse → collect → match → advice → splice → runtime import →
round-trip check → self-check (compiles, idempotent, strips back to the input). A file that
fails any step comes back as an error result with the line, and its bytes are not to be
written. Neither :func:`instrument` nor :func:`strip` ever raises.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from codetrace import _advice
from codetrace._advice import Plan, Skip
from codetrace._collect import collect
from codetrace._context import FileContext
from codetrace._instrument import apply_plan
from codetrace._marker import MARKER
from codetrace._match import match
from codetrace._model import (
    AssignSite,
    FunctionSite,
    Matches,
    Project,
    SingleModule,
    Site,
    Unresolved,
)
from codetrace._prefilter import Prefilter, import_pattern
from codetrace._result import (
    Failure,
    FileResult,
    SiteReport,
    UnresolvedReport,
    error_result,
)
from codetrace._source import check_round_trip, compile_error, compiles, parse
from codetrace._span_directive import RULE_ID as SPAN_RULE
from codetrace._strip import check_marker_gone, strip_module

Positions = dict[cst.CSTNode, CodeRange]

LEFT_FOR_FORMATTER = ("left as it is: the formatter's layout of this statement with the call "
                      "wrapped would not strip back to it (see docs/formatting.md)")

#: files larger than this are not parsed: libcst takes minutes on tens of megabytes, and a
#: source file that large is generated code (the run goes on; the file is reported)
MAX_BYTES = 2 * 1024 * 1024


def _check_size(source: bytes) -> None:
    if len(source) > MAX_BYTES:
        raise Failure(1, f"{len(source) / 1024 / 1024:.1f} MB is over the "
                      f"{MAX_BYTES // 1024 // 1024} MB codetrace parses; left untouched")


def _positions(module: cst.Module) -> Positions:
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    return dict(wrapper.resolve(PositionProvider))


def _where(positions: Positions, node: cst.CSTNode) -> tuple[int, int]:
    found = positions.get(node)
    return (found.start.line, found.start.column + 1) if found else (0, 0)


AnySite = Site | FunctionSite | AssignSite


def _node(site: AnySite) -> cst.CSTNode:
    """The node a site stands at: the call, the ``def``, or the assigned value."""
    if isinstance(site, AssignSite):
        return site.assignment.value
    return site.call.node if isinstance(site, Site) else site.function.node


def _plan(matches: Matches, file: FileContext) -> tuple[Plan, list[tuple[AnySite, str]]]:
    plan = Plan()
    outcomes: list[tuple[AnySite, str]] = []
    every: tuple[AnySite, ...] = (*matches.sites, *matches.functions, *matches.assignments)
    for site in every:
        advice = _advice.get(site.rule.advice)
        result = advice.plan(site, file.options) if isinstance(site, Site) else \
            advice.plan_assign(site, file.options) if isinstance(site, AssignSite) else \
            advice.plan_function(site, file.options)
        if isinstance(result, Skip):
            outcomes.append((site, result.reason))
            continue
        plan.update(result)
        outcomes.append((site, ""))
    return plan, outcomes


def _span_rule_in_force(file: FileContext) -> bool:
    return any(rule.id == SPAN_RULE for rule in file.ruleset.rules)


def _transform(
    module: cst.Module, source: bytes, file: FileContext, register: bool
) -> tuple[cst.Module | None, Matches, list[tuple[AnySite, str]]]:
    facts = collect(module, module_name=file.module_name, is_package=file.is_package,
                    runtime=file.options.runtime, source=source)
    if facts.file_ignored:
        return None, Matches((), (), 0), []
    if facts.span_errors and _span_rule_in_force(file):
        line, message = facts.span_errors[0]
        raise Failure(line, f"{message}; file left untouched")
    if file.project is not None and register:
        file.project.add(file.module_name, facts, file.path)
    scope: Project = (
        file.project if file.project is not None
        else SingleModule(facts.classes, facts.functions, facts.calls)
    )
    found = match(facts, file.ruleset, scope)
    plan, outcomes = _plan(found, file)
    if plan.empty():
        return None, found, outcomes
    if facts.foreign_marker:  # only a file we would rewrite is a problem
        line, _ = _where(_positions(module), facts.foreign_marker[0])
        raise Failure(
            line or 1,
            f"binds `{MARKER}` itself; codetrace uses that name as its marker "
            "(rename it, or add `# codetrace: ignore` at the top of the file)",
        )
    left: set[int] = set()
    changed = apply_plan(module, plan, file.options, file.options.import_style(file.path), left)
    if left:  # the formatter would not give these statements back: reported, not rewritten
        outcomes = [(site, LEFT_FOR_FORMATTER if id(_node(site)) in left else reason)
                    for site, reason in outcomes]
    return (None if changed is module else changed), found, outcomes


@functools.lru_cache(maxsize=16)
def _direct_prefilter(modules: frozenset[str]) -> Prefilter:
    return Prefilter(modules, import_pattern(modules))


def instrument(source: bytes, file: FileContext, *, self_check: bool = True) -> FileResult:
    """Instrument one file's bytes. Never raises; failures come back as error results.

    With a project, receivers resolve across the project's modules and the prefilter lets
    through files that reach a rule's library through them. ``file.locate`` computes the line
    and column of every site and unresolved candidate (``explain``); without it they are only
    counted, which spares a pass over the tree. ``self_check`` is off only for the self-check's
    own second application.
    """
    try:
        ruleset = file.ruleset.outside(file.module_name)
        if ruleset is not file.ruleset:
            # a module of a rule's own library: only the other libraries' rules, and only if it
            # imports one of them itself (its package's imports of its own modules say nothing)
            if not ruleset.rules or not _direct_prefilter(ruleset.modules).may_match(source):
                return FileResult(file.path, "unchanged")
            file = replace(file, ruleset=ruleset, prefilter=None)
        if not file.passes_prefilter(source):
            return FileResult(file.path, "unchanged")
        _check_size(source)
        module = parse(source, exact=False)
        new_module, found, outcomes = _transform(module, source, file, register=self_check)
        if new_module is not None:
            check_round_trip(module, source)
        wanted = file.locate and (found.sites or found.unresolved or found.functions
                                  or found.assignments)
        skipped = any(reason for _, reason in outcomes)
        positions = _positions(module) if (wanted or skipped) else {}
        sites = tuple(
            SiteReport(*_where(positions, _node(site)), site.rule.id, site.rule.advice,
                       site.qname, site.how, reason,
                       _advice.get(site.rule.advice).counts_as)
            for site, reason in outcomes
        )
        if found.functions or found.assignments:  # in source order, among the calls
            sites = tuple(sorted(sites, key=lambda site: (site.line, site.column)))
        unresolved = tuple(_unresolved_report(positions, u) for u in found.unresolved)
        uses = found.marker_names | {site.rule.id for site in found.sites} | {
            site.rule.id for site in found.assignments}
        if new_module is None:
            return FileResult(file.path, "unchanged", sites=sites, unresolved=unresolved,
                              ignored=found.ignored, instrumented=found.instrumented, uses=uses)
        output = new_module.bytes
        if self_check:
            problem = _self_check(source, output, file)
            if problem:
                # the input itself may be what Python rejects (``import *`` in a function...):
                # compiled only on this rare path, not for every changed file
                original = compile_error(source, file.path)
                if original is not None:
                    line, message = original
                    raise Failure(line or 1, f"Python rejects this file as it is (line {line}: "
                                  f"{message}); left untouched")
                raise Failure(1, f"self-check failed, file left untouched: {problem}")
        return FileResult(file.path, "changed", output=output, sites=sites,
                          unresolved=unresolved, ignored=found.ignored,
                          instrumented=found.instrumented, uses=uses)
    except Failure as exc:
        return error_result(file.path, exc)
    except RecursionError:
        return FileResult(file.path, "error", error="too deeply nested (recursion limit)", line=1)
    except Exception as exc:  # a bug of ours must not stop the run or lose the file
        return FileResult(file.path, "error",
                          error=f"internal error: {type(exc).__name__}: {exc}", line=1)


def _unresolved_report(positions: Positions, item: Unresolved) -> UnresolvedReport:
    line, column = _where(positions, item.call.node)
    return UnresolvedReport(line, column, item.method, item.receiver, item.reason,
                            item.evidence)


def _self_check(source: bytes, output: bytes, file: FileContext) -> str:
    """black's safety net: the output compiles, is stable, and strips back to the input (to
    what the input strips to, when it was instrumented before)."""
    problem = compiles(output, file.path)
    if problem:
        return f"output does not compile ({problem})"
    again = instrument(output, replace(file, prefilter=None, locate=False), self_check=False)
    if again.status == "error":
        return f"output does not re-parse ({again.error})"
    if again.status == "changed":
        return "applying twice changes the file again"
    stripped = strip(output, file, self_check=False)
    # a file instrumented before (and edited since) strips to its original, not to itself
    original = source
    if MARKER.encode() in source:
        before = strip(source, file, self_check=False)
        if before.status == "error":
            return f"the file's earlier instrumentation cannot be stripped ({before.error})"
        original = before.output or source
    if stripped.status == "error" or (stripped.output or output) != original:
        return "strip does not give the original bytes back"
    return ""


def strip(source: bytes, file: FileContext, *, self_check: bool = True) -> FileResult:
    """Remove codetrace's constructs from one file's bytes. Never raises."""
    try:
        if MARKER.encode() not in source:
            return FileResult(file.path, "unchanged")
        _check_size(source)
        module = parse(source)
        stripped, removed = strip_module(module, file.options.runtime, file.options.style,
                                         check=False,
                                         imports=file.options.import_style(file.path))
        if removed == 0:
            return FileResult(file.path, "unchanged")
        output = stripped.bytes
        if MARKER.encode() in output:  # a comment or string, or a use strip cannot undo
            check_marker_gone(module, stripped, file.options.runtime)
        if self_check:
            problem = compiles(output, file.path)
            if problem:
                raise Failure(1, f"self-check failed, file left untouched: {problem}")
            again = strip(output, file, self_check=False)
            if again.status != "unchanged":
                raise Failure(1, "self-check failed: stripping twice changes the file again")
        return FileResult(file.path, "changed", output=output, removed=removed)
    except Failure as exc:
        return error_result(file.path, exc)
    except RecursionError:
        return FileResult(file.path, "error", error="too deeply nested (recursion limit)", line=1)
    except Exception as exc:
        return FileResult(file.path, "error",
                          error=f"internal error: {type(exc).__name__}: {exc}", line=1)
