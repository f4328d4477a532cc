"""The per-file pipeline, pure: bytes in, a :class:`FileResult` out. Never raises.

read → prefilter → libcst parse → round-trip check → collect → match → advice → splice →
runtime import → self-check (compiles, idempotent, strips back to the input). A file that fails
any step comes back as an error result with the line, and its bytes are not to be written.
"""

from __future__ import annotations

import ast
import codecs
import io
import re
import tokenize
import warnings
from dataclasses import dataclass, field
from typing import Literal

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from codetrace import _advice
from codetrace._advice import Options, Plan, Skip
from codetrace._collect import collect
from codetrace._instrument import apply_plan
from codetrace._match import Matches, Site, Unresolved, match
from codetrace._project import ProjectIndex
from codetrace._resolve import SingleModule
from codetrace._rules import RuleSet
from codetrace._strip import strip_module

Status = Literal["changed", "unchanged", "error"]


@dataclass(frozen=True)
class SiteReport:
    """One instrumented (or skipped) site, for reports and ``explain``."""

    line: int
    column: int
    rule: str
    advice: str
    qname: str
    how: str
    skipped: str = ""


@dataclass(frozen=True)
class UnresolvedReport:
    line: int
    column: int
    method: str
    receiver: str
    reason: str


@dataclass(frozen=True)
class FileResult:
    """What happened to one file. ``output`` is set only when ``status == "changed"``."""

    path: str
    status: Status
    output: bytes | None = None
    sites: tuple[SiteReport, ...] = ()
    unresolved: tuple[UnresolvedReport, ...] = ()
    ignored: int = 0
    error: str = ""
    line: int = 0
    removed: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def hooks(self) -> int:
        return sum(1 for s in self.sites if s.advice == "hook-after" and not s.skipped)

    @property
    def calls(self) -> int:
        return sum(1 for s in self.sites if s.advice != "hook-after" and not s.skipped)


class _Failure(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _error(path: str, exc: _Failure) -> FileResult:
    return FileResult(path, "error", error=exc.message, line=exc.line)


# --------------------------------------------------------------------------------------------
# reading


def check_decodable(source: bytes) -> None:
    """Raise :class:`_Failure` with the line when ``source`` is not text Python can read."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except SyntaxError as exc:
        raise _Failure(exc.lineno or 1, f"bad encoding declaration: {exc.msg}") from None
    try:
        codecs.lookup(encoding)
        source.decode(encoding)
    except LookupError:
        raise _Failure(1, f"unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as exc:
        line = source[: exc.start].count(b"\n") + 1
        byte = source[exc.start]
        raise _Failure(line, f"cannot decode byte 0x{byte:02x} as {encoding}") from None


def parse(source: bytes, *, exact: bool = True) -> cst.Module:
    """libcst parse with the failure modes of real code turned into :class:`_Failure`.

    ``exact`` also checks that libcst gives the bytes back (LibCST#1457); a file that will only
    be read, or turns out to need no change, can skip that extra code generation.
    """
    check_decodable(source)
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        # Python's own message and line are what users know; libcst's points past the error.
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(source)
        except SyntaxError as python_error:
            raise _Failure(python_error.lineno or exc.raw_line,
                           f"syntax error: {python_error.msg}") from None
        except ValueError:
            pass
        message = str(exc.message).splitlines()[0] if exc.message else "invalid syntax"
        raise _Failure(exc.raw_line, f"libcst cannot parse this file: {message}") from None
    except RecursionError:
        raise _Failure(1, "too deeply nested for the parser (recursion limit)") from None
    except Exception as exc:  # libcst raises assorted errors on odd input
        raise _Failure(1, f"cannot parse: {type(exc).__name__}: {exc}") from None
    if exact:
        check_round_trip(module, source)
    return module


def check_round_trip(module: cst.Module, source: bytes) -> None:
    if module.bytes != source:
        raise _Failure(1, "libcst does not reproduce this file byte for byte; left untouched")


def compiles(source: bytes, path: str) -> str | None:
    """None when ``source`` compiles, else the error (warnings of the user's code are muted)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None) or 0
        return f"line {line}: {exc.__class__.__name__}: {getattr(exc, 'msg', exc)}"
    return None


# --------------------------------------------------------------------------------------------
# prefilter


def import_pattern(modules: frozenset[str]) -> re.Pattern[bytes]:
    """Lines that import any of ``modules`` (a file that never imports one cannot match)."""
    names = "|".join(sorted(re.escape(m) for m in modules)) or "(?!)"
    return re.compile(
        rb"^(?:\xef\xbb\xbf)?[ \t]*(?:from[ \t]+(?:" + names.encode() + rb")\b"
        rb"|import[ \t]+[^\n#]*\b(?:" + names.encode() + rb")\b)",
        re.MULTILINE,
    )


@dataclass(frozen=True)
class Prefilter:
    """Cheap text test run on raw bytes before anything is parsed."""

    modules: frozenset[str]
    pattern: re.Pattern[bytes]

    @classmethod
    def for_rules(cls, ruleset: RuleSet) -> Prefilter:
        return cls(ruleset.modules, import_pattern(ruleset.modules))

    def may_match(self, source: bytes) -> bool:
        if not any(m.encode() in source for m in self.modules):
            return False
        return self.pattern.search(source) is not None


# --------------------------------------------------------------------------------------------
# apply


def _positions(module: cst.Module) -> dict[cst.CSTNode, CodeRange]:
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    return dict(wrapper.resolve(PositionProvider))


def _where(positions: dict[cst.CSTNode, CodeRange], node: cst.CSTNode) -> tuple[int, int]:
    found = positions.get(node)
    return (found.start.line, found.start.column + 1) if found else (0, 0)


def _plan(matches: Matches, options: Options) -> tuple[Plan, list[tuple[Site, str]]]:
    plan = Plan()
    outcomes: list[tuple[Site, str]] = []
    for site in matches.sites:
        result = _advice.get(site.rule.advice)(site, options)
        if isinstance(result, Skip):
            outcomes.append((site, result.reason))
            continue
        plan.replace_call.update(result.replace_call)
        plan.insert_after.update(result.insert_after)
        outcomes.append((site, ""))
    return plan, outcomes


def _transform(
    module: cst.Module,
    ruleset: RuleSet,
    options: Options,
    module_name: str,
    is_package: bool,
    project: ProjectIndex | None,
    register: bool,
    source: bytes,
) -> tuple[cst.Module | None, Matches, list[tuple[Site, str]]]:
    facts = collect(
        module, module_name=module_name, is_package=is_package,
        marker=options.marker, runtime=options.runtime, source=source,
    )
    if facts.file_ignored:
        return None, Matches((), (), 0), []
    if project is not None and register:
        project.add(module_name, facts)
    scope: ProjectIndex | SingleModule = (
        project if project is not None else SingleModule(facts.classes, facts.functions)
    )
    found = match(facts, ruleset, scope, options.marker)
    plan, outcomes = _plan(found, options)
    if not plan.replace_call and not plan.insert_after:
        return None, found, outcomes
    if facts.foreign_marker:  # only a file we would rewrite is a problem
        positions = _positions(module)
        line, _ = _where(positions, facts.foreign_marker[0])
        raise _Failure(
            line or 1,
            f"binds `{options.marker}` itself; codetrace uses that name as its marker "
            "(rename it, or add `# codetrace: ignore` at the top of the file)",
        )
    return apply_plan(module, plan, options), found, outcomes


def instrument(
    source: bytes,
    path: str,
    ruleset: RuleSet,
    options: Options,
    *,
    module_name: str = "__main__",
    is_package: bool = False,
    prefilter: Prefilter | None = None,
    project: ProjectIndex | None = None,
    self_check: bool = True,
    locate: bool = True,
) -> FileResult:
    """Instrument one file's bytes. Never raises; failures come back as error results.

    With a ``project``, receivers resolve across the project's modules and the prefilter lets
    through files that reach a rule's library through them. ``locate`` computes the line and
    column of every site and unresolved candidate (``explain``); without it they are only
    counted, which spares a pass over the tree.
    """
    try:
        if prefilter is not None:
            passes = (
                project.reaches(source, module_name, is_package, prefilter.may_match,
                                 prefilter.modules)
                if project is not None else prefilter.may_match(source)
            )
            if not passes:
                return FileResult(path, "unchanged")
        module = parse(source, exact=False)
        new_module, found, outcomes = _transform(
            module, ruleset, options, module_name, is_package, project, self_check, source)
        if new_module is not None:
            check_round_trip(module, source)
        wanted = locate and (found.sites or found.unresolved)
        skipped = any(reason for _, reason in outcomes)
        positions = _positions(module) if (wanted or skipped) else {}
        sites = tuple(
            SiteReport(*_where(positions, site.call.node), site.rule.id, site.rule.advice,
                       site.qname, site.how, skipped)
            for site, skipped in outcomes
        )
        unresolved = tuple(_unresolved_report(positions, u) for u in found.unresolved)
        if new_module is None:
            return FileResult(path, "unchanged", sites=sites, unresolved=unresolved,
                              ignored=found.ignored)
        output = new_module.bytes
        if self_check:
            problem = _self_check(source, output, path, ruleset, options, module_name,
                                  is_package, project)
            if problem:
                raise _Failure(1, f"self-check failed, file left untouched: {problem}")
        return FileResult(path, "changed", output=output, sites=sites, unresolved=unresolved,
                          ignored=found.ignored)
    except _Failure as exc:
        return _error(path, exc)
    except RecursionError:
        return FileResult(path, "error", error="too deeply nested (recursion limit)", line=1)
    except Exception as exc:  # a bug of ours must not stop the run or lose the file
        return FileResult(path, "error", error=f"internal error: {type(exc).__name__}: {exc}",
                          line=1)


def _unresolved_report(
    positions: dict[cst.CSTNode, CodeRange], item: Unresolved
) -> UnresolvedReport:
    line, column = _where(positions, item.call.node)
    return UnresolvedReport(line, column, item.method, item.receiver, item.reason)


def _self_check(
    source: bytes,
    output: bytes,
    path: str,
    ruleset: RuleSet,
    options: Options,
    module_name: str,
    is_package: bool,
    project: ProjectIndex | None,
) -> str:
    problem = compiles(output, path)
    if problem:
        return f"output does not compile ({problem})"
    again = instrument(output, path, ruleset, options, module_name=module_name,
                       is_package=is_package, project=project, self_check=False)
    if again.status == "error":
        return f"output does not re-parse ({again.error})"
    if again.status == "changed":
        return "applying twice changes the file again"
    stripped = strip(output, path, options, self_check=False)
    if stripped.status == "error" or (stripped.output or output) != source:
        return "strip does not give the original bytes back"
    return ""


# --------------------------------------------------------------------------------------------
# strip


def strip(source: bytes, path: str, options: Options, *, self_check: bool = True) -> FileResult:
    """Remove codetrace's constructs from one file's bytes. Never raises."""
    try:
        if options.marker.encode() not in source:
            return FileResult(path, "unchanged")
        module = parse(source)
        stripped, removed = strip_module(module, options.marker, options.style)
        if removed == 0:
            return FileResult(path, "unchanged")
        output = stripped.bytes
        if self_check:
            problem = compiles(output, path)
            if problem:
                raise _Failure(1, f"self-check failed, file left untouched: {problem}")
            again = strip(output, path, options, self_check=False)
            if again.status != "unchanged":
                raise _Failure(1, "self-check failed: stripping twice changes the file again")
        return FileResult(path, "changed", output=output, removed=removed)
    except _Failure as exc:
        return _error(path, exc)
    except RecursionError:
        return FileResult(path, "error", error="too deeply nested (recursion limit)", line=1)
    except Exception as exc:
        return FileResult(path, "error", error=f"internal error: {type(exc).__name__}: {exc}",
                          line=1)
