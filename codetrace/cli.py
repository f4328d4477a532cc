"""The ``codetrace`` command line: a thin layer over ``_run`` (work) and ``_report`` (output).

Exit codes: 0 done or nothing to do, 1 ``--check`` found work, 2 a usage, config or file error.
"""

from __future__ import annotations

import json
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from codetrace import __version__, _config, _rules
from codetrace._report import EXIT_ERROR, Report
from codetrace._result import FileResult
from codetrace._run import (
    Job,
    WriteBack,
    check_out_dir,
    default_jobs,
    new_project,
    process,
    run,
)

app = typer.Typer(
    name="codetrace",
    help="Static tracing instrumentation for Python: spans written into your source, "
    "reviewable in a diff, removable byte for byte.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

PathsArg = Annotated[
    list[Path], typer.Argument(help="Files or folders to process.", show_default=False)
]
DiffOpt = Annotated[bool, typer.Option("--diff", help="Print a unified diff; write nothing.")]
CheckOpt = Annotated[
    bool, typer.Option("--check", help="Write nothing; exit 1 if any file would change.")
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", help="Write a rewritten copy of the tree to DIR; sources untouched.",
                 metavar="DIR"),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Name every file with its outcome and time.")
]
JobsOpt = Annotated[
    int | None,
    typer.Option("--jobs", "-j", min=1, help="Worker processes (default: the cores).",
                 show_default=False),
]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Neither read nor write the cache of unchanged files.")
]
RulesOpt = Annotated[
    list[Path] | None,
    typer.Option("--rules", help="An extra rule file (repeatable).", metavar="FILE"),
]


def _fail(message: str) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(EXIT_ERROR)


def _setup(paths: list[Path], extra_rules: list[Path] | None) -> tuple[_config.Config,
                                                                        _rules.RuleSet]:
    for path in paths:
        if not path.exists():
            raise _fail(f"{path}: no such file or folder")
    try:
        config = _config.load_config(_config.find_pyproject(paths))
    except _config.ConfigError as exc:
        raise _fail(str(exc)) from None
    files = [*(_rules.builtin_rule_files() if config.builtin_rules else []), *config.rules,
             *(extra_rules or [])]
    try:
        ruleset = _rules.load_rules(files).without(config.disable)
    except _rules.RuleError as exc:
        raise _fail(str(exc)) from None
    return config, ruleset


def _write_back(diff: bool, check: bool, out: Path | None) -> WriteBack:
    chosen = [flag for flag, on in (("--diff", diff), ("--check", check), ("--out", out)) if on]
    if len(chosen) > 1:
        raise _fail(f"{' and '.join(chosen)} cannot be used together")
    if diff:
        return WriteBack.DIFF
    if check:
        return WriteBack.CHECK
    if out is not None:
        return WriteBack.OUT
    return WriteBack.YES


def _run(action: str, paths: list[Path], diff: bool, check: bool, out: Path | None,
         quiet: bool, verbose: bool, extra_rules: list[Path] | None,
         jobs: int | None = None, no_cache: bool = False) -> None:
    write_back = _write_back(diff, check, out)
    config, ruleset = _setup(paths, extra_rules)
    if out is not None:
        problem = check_out_dir(out, paths)
        if problem:
            raise _fail(problem)
    job = Job(action, tuple(paths), write_back, config, ruleset, out,
              jobs=jobs or default_jobs(), cache=not no_cache)
    report = Report(action, check=check, quiet=quiet, verbose=verbose)
    raise typer.Exit(run(job, report))


@app.command("apply")
def apply_command(
    paths: PathsArg, diff: DiffOpt = False, check: CheckOpt = False, out: OutOpt = None,
    quiet: QuietOpt = False, verbose: VerboseOpt = False, rules: RulesOpt = None,
    jobs: JobsOpt = None, no_cache: NoCacheOpt = False,
) -> None:
    """Instrument the call sites the rules match (in place unless --diff/--check/--out)."""
    _run("apply", paths, diff, check, out, quiet, verbose, rules, jobs, no_cache)


@app.command("strip")
def strip_command(
    paths: PathsArg, diff: DiffOpt = False, check: CheckOpt = False, out: OutOpt = None,
    quiet: QuietOpt = False, verbose: VerboseOpt = False,
    jobs: JobsOpt = None, no_cache: NoCacheOpt = False,
) -> None:
    """Remove everything codetrace added, giving the original bytes back."""
    _run("strip", paths, diff, check, out, quiet, verbose, None, jobs, no_cache)


@app.command("rules")
def rules_command(
    paths: Annotated[list[Path] | None, typer.Argument(help="Where to look for pyproject.toml.",
                                                       show_default=False)] = None,
    rules: RulesOpt = None,
) -> None:
    """List the rules in force: built-in, configured, and given with --rules."""
    _, ruleset = _setup(paths or [Path.cwd()], rules)
    for rule in ruleset.rules:
        target = f"hook {rule.hook}" if rule.hook else (rule.adapter or "")
        print(f"{rule.id:<20} {rule.advice:<11} {target:<12} {rule.source.name}")
        for call in rule.calls:
            print(f"    {call}")
        for cls in rule.constructs:
            print(f"    {cls}()  (and project subclasses)")


def _explain_json(result: FileResult) -> dict[str, object]:
    return {
        "path": result.path,
        "status": result.status,
        "error": result.error or None,
        "sites": [
            {"line": s.line, "column": s.column, "rule": s.rule, "advice": s.advice,
             "callee": s.qname, "resolved_by": s.how, "skipped": s.skipped or None}
            for s in result.sites
        ],
        "unresolved": [
            {"line": u.line, "column": u.column, "method": u.method, "receiver": u.receiver,
             "reason": u.reason, "evidence": _EVIDENCE[u.evidence]}
            for u in result.unresolved
        ],
    }


@app.command("explain")
def explain_command(
    paths: PathsArg,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    show_all: Annotated[bool, typer.Option(
        "--all", help="Also list the weak candidates (only a common method name matches).",
    )] = False,
    rules: RulesOpt = None,
) -> None:
    """Show, per file, what matched by which rule, and the candidates left unresolved and why.

    Candidates come strongest evidence first; the weak ones (``item.get()``: only a common
    method name matches) are counted, and listed with --all. Totals by rule and by reason end
    the report.
    """
    config, ruleset = _setup(paths, rules)
    job = Job("apply", tuple(paths), WriteBack.CHECK, config, ruleset, locate=True)
    from codetrace import _discover
    from codetrace._prefilter import Prefilter

    prefilter = Prefilter.for_rules(ruleset)
    failed = False
    documents = []
    sources = list(_discover.iter_sources(job.paths, config))
    project = new_project(job, sources)
    by_rule: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    strength: Counter[int] = Counter()
    for source in sources:
        result = process(job, source, prefilter, project)
        failed |= result.status == "error"
        if not (result.sites or result.unresolved or result.error):
            continue
        if as_json:
            documents.append(_explain_json(result))
            continue
        by_rule.update(s.rule for s in result.sites if not s.skipped)
        by_reason.update(u.reason for u in result.unresolved if u.evidence or show_all)
        strength.update(u.evidence for u in result.unresolved)
        shown = sorted((u for u in result.unresolved if u.evidence or show_all),
                       key=lambda u: (-u.evidence, u.line, u.column))
        if not (result.sites or shown or result.error):
            continue
        print(result.path)
        if result.error:
            print(f"  error: line {result.line}: {result.error}")
        for s in result.sites:
            state = f"skipped: {s.skipped}" if s.skipped else s.advice
            print(f"  {s.line}:{s.column}  {s.rule:<16} {s.qname}  (by {s.how}; {state})")
        for u in shown:
            label = _EVIDENCE[u.evidence]
            print(f"  {u.line}:{u.column}  unresolved ({label})  {u.receiver}.{u.method}()  "
                  f"{u.reason}")
    if as_json:
        print(json.dumps(documents, indent=2))
    else:
        _explain_totals(by_rule, by_reason, strength, show_all)
    raise typer.Exit(EXIT_ERROR if failed else 0)


_EVIDENCE = {2: "strong", 1: "some", 0: "weak"}


def _explain_totals(
    by_rule: Counter[str], by_reason: Counter[str], strength: Counter[int], show_all: bool
) -> None:
    matched = sum(by_rule.values())
    print(f"\n{matched} sites matched" + (":" if matched else ""))
    for rule, count in sorted(by_rule.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {count:>5}  {rule}")
    unresolved = sum(strength.values())
    parts = [f"{strength[level]} {_EVIDENCE[level]}" for level in (2, 1, 0) if strength[level]]
    print(f"{unresolved} candidates unresolved" + (f" ({', '.join(parts)})" if parts else ""))
    if strength[0] and not show_all:
        print(f"  the {strength[0]} weak ones (only a common method name matches) are not "
              "listed: --all lists them")
    for reason, count in sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))[:15]:
        print(f"  {count:>5}  {reason}")


def _version(value: bool) -> None:
    if value:
        print(f"codetrace {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Static tracing instrumentation for Python."""


def main() -> None:
    """Console-script entry point. SIGTERM ends the run the way Ctrl-C does: a file being
    written is cleaned up, and the worker processes go with it."""
    signal.signal(signal.SIGTERM, _terminate)
    app(prog_name="codetrace")


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


__all__ = ["app", "main"]
