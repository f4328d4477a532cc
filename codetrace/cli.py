"""The ``codetrace`` command line: a thin layer over ``_run`` (work), ``_report`` (counts) and
``_output`` (formats).

Exit codes: 0 done or nothing to do, 1 ``--check`` found work (or the share of instrumented
sites is below ``--fail-under``), 2 a usage, config or file error.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from codetrace import __version__, _config, _rules
from codetrace._output import (
    OutputFormat,
    explain_text,
    findings,
    github,
    github_versions,
    json_document,
    legacy_explain_document,
)
from codetrace._report import EXIT_ERROR, EXIT_OK, EXIT_WOULD_CHANGE, Report
from codetrace._run import (
    Job,
    WriteBack,
    check_out_dir,
    default_jobs,
    run,
    run_stdin,
)
from codetrace._sarif import sarif

app = typer.Typer(
    name="codetrace",
    help="Static tracing instrumentation for Python: spans written into your source, "
    "reviewable in a diff, removable byte for byte.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

PathsArg = Annotated[
    list[Path], typer.Argument(help="Files or folders to process ('-' with --stdin-filename: "
                               "read stdin).", show_default=False)
]
DiffOpt = Annotated[bool, typer.Option(
    "--diff", help="Print a unified diff; write nothing (with --check: also exit 1 if any file "
    "would change).")]
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
SelectOpt = Annotated[list[str] | None, typer.Option(
    "--select", metavar="RULES",
    help="Only these rule ids or libraries (`requests`, `sqlite3.query`); replaces the "
    "config's select. Comma-separated or repeated.", show_default=False)]
ExtendSelectOpt = Annotated[list[str] | None, typer.Option(
    "--extend-select", metavar="RULES",
    help="Rule ids or libraries to add to the selection.", show_default=False)]
IgnoreOpt = Annotated[list[str] | None, typer.Option(
    "--ignore", metavar="RULES",
    help="Rule ids or libraries to leave out (added to the config's ignore); ignoring wins "
    "over selecting.", show_default=False)]
ForceExcludeOpt = Annotated[bool, typer.Option(
    "--force-exclude",
    help="Apply the excludes to files named on the command line too (pre-commit).")]
FormatOpt = Annotated[OutputFormat, typer.Option(
    "--output-format", case_sensitive=False,
    help="text, json (with schema_version and totals), github (workflow annotations) or "
    "sarif (2.1.0), on stdout. For apply: with --check.")]
FailUnderOpt = Annotated[float | None, typer.Option(
    "--fail-under", min=0, max=100, metavar="PERCENT",
    help="Exit 1 when fewer than PERCENT of the candidate I/O sites (matched sites and "
    "unresolved candidates with strong or some evidence) are instrumented.",
    show_default=False)]
StdinOpt = Annotated[Path | None, typer.Option(
    "--stdin-filename", metavar="PATH",
    help="Read the source from stdin (path '-') and write the result to stdout; PATH names "
    "it for the config, its module name and messages.", show_default=False)]


def _fail(message: str) -> typer.Exit:
    print(f"error: {message}", file=sys.stderr)
    return typer.Exit(EXIT_ERROR)


def _names(values: list[str] | None) -> list[str]:
    """``--select a,b --select c`` → ``[a, b, c]``."""
    return [name.strip() for value in values or () for name in value.split(",") if name.strip()]


def _setup(
    paths: list[Path], extra_rules: list[Path] | None, select: list[str] | None = None,
    extend_select: list[str] | None = None, ignore: list[str] | None = None,
    force_exclude: bool = False, must_exist: bool = True,
) -> tuple[_config.Config, _rules.RuleSet, frozenset[str]]:
    """The config, the rules in force, and every name a selection may use."""
    for path in paths:
        if must_exist and not path.exists():
            raise _fail(f"{path}: no such file or folder")
    try:
        config = _config.load_config(_config.find_pyproject(paths))
    except _config.ConfigError as exc:
        raise _fail(str(exc)) from None
    if force_exclude:
        config = dataclasses.replace(config, force_exclude=True)
    files = [*(_rules.builtin_rule_files() if config.builtin_rules else []), *config.rules,
             *(extra_rules or [])]
    try:
        loaded = _rules.load_rules(files)
    except _rules.RuleError as exc:
        raise _fail(str(exc)) from None
    known = _rules.selectors(loaded)
    for key, names in config.selection.items():
        problem = _rules.unknown_selector(names, known)
        if problem:
            raise _fail(f"{config.source}:{config.key_lines.get(key, 1)}: {problem} in "
                        f"[tool.codetrace] {key}")
    chosen = {"--select": _names(select), "--extend-select": _names(extend_select),
              "--ignore": _names(ignore)}
    for flag, given in chosen.items():
        problem = _rules.unknown_selector(given, known)
        if problem:
            raise _fail(f"{problem} in {flag}")
    ruleset = _rules.select_rules(
        loaded, chosen["--select"] if select else config.select,
        (*config.extend_select, *chosen["--extend-select"]),
        (*config.disable, *chosen["--ignore"]),
    )
    return config, ruleset, known


def _write_back(diff: bool, check: bool, out: Path | None) -> WriteBack:
    if out is not None and (diff or check):
        raise _fail(f"--out and {'--diff' if diff else '--check'} cannot be used together")
    if diff:
        return WriteBack.DIFF  # with --check too: the report's check makes the exit code
    if check:
        return WriteBack.CHECK
    if out is not None:
        return WriteBack.OUT
    return WriteBack.YES


def _run(action: str, paths: list[Path], diff: bool, check: bool, out: Path | None,
         quiet: bool, verbose: bool, extra_rules: list[Path] | None,
         jobs: int | None = None, no_cache: bool = False, *,
         select: list[str] | None = None, extend_select: list[str] | None = None,
         ignore: list[str] | None = None, force_exclude: bool = False,
         output_format: OutputFormat = OutputFormat.TEXT, fail_under: float | None = None,
         stdin_filename: Path | None = None) -> None:
    write_back = _write_back(diff, check, out)
    machine = output_format is not OutputFormat.TEXT
    if machine and not check:
        raise _fail(f"--output-format {output_format.value} goes with --check "
                    "(or see `codetrace explain`)")
    if machine and diff:
        raise _fail(f"--diff and --output-format {output_format.value} both write to stdout: "
                    "choose one")
    if fail_under is not None and not check:
        raise _fail("--fail-under goes with --check (or see `codetrace explain`)")
    if stdin_filename is not None or paths == [Path("-")]:
        _run_stdin(action, paths, write_back, check, out, extra_rules, stdin_filename,
                   select, extend_select, ignore, force_exclude,
                   machine or fail_under is not None)
    config, ruleset, known = _setup(paths, extra_rules, select, extend_select, ignore,
                                    force_exclude)
    if out is not None:
        problem = check_out_dir(out, paths)
        if problem:
            raise _fail(problem)
    # the cache knows unchanged files, not what they hold: per-site reports need every file
    detailed = machine or fail_under is not None
    job = Job(action, tuple(paths), write_back, config, ruleset, out,
              jobs=jobs or default_jobs(), cache=not no_cache and not detailed,
              locate=detailed, known_rules=known)
    report = Report(action, check=check, quiet=quiet, verbose=verbose, lines=not machine,
                    keep=detailed, fail_under=fail_under, libraries=ruleset.libraries)
    code = run(job, report)
    if machine:
        _print_format(report, output_format, "apply --check", ruleset, explain=False)
    raise typer.Exit(code)


def _run_stdin(action: str, paths: list[Path], write_back: WriteBack, check: bool,
               out: Path | None,
               extra_rules: list[Path] | None, stdin_filename: Path | None,
               select: list[str] | None, extend_select: list[str] | None,
               ignore: list[str] | None, force_exclude: bool, reporting: bool) -> None:
    if stdin_filename is None:
        raise _fail("reading stdin ('-') needs --stdin-filename PATH (the file it stands for)")
    if paths != [Path("-")]:
        raise _fail("--stdin-filename reads stdin: give '-' as the only path")
    if out is not None or reporting:
        raise _fail("--stdin-filename writes the result to stdout: no --out, --output-format "
                    "or --fail-under")
    # the file need not exist (an editor's unsaved buffer): its folder finds the config
    config, ruleset, known = _setup([stdin_filename], extra_rules, select, extend_select,
                                    ignore, force_exclude, must_exist=False)
    job = Job(action, (stdin_filename,), write_back, config, ruleset, known_rules=known)
    report = Report(action, check=check, lines=False, summary_line=False)
    data = sys.stdin.buffer.read()
    raise typer.Exit(run_stdin(job, data, stdin_filename, report, sys.stdout.buffer))


def _print_format(report: Report, output_format: OutputFormat, command: str,
                  ruleset: _rules.RuleSet, *, explain: bool, show_all: bool = False) -> None:
    if output_format is OutputFormat.JSON:
        text = json_document(report, command)
    elif output_format is OutputFormat.GITHUB:
        text = github(findings(report, explain=explain, show_all=show_all))
        text += github_versions(report)
    elif output_format is OutputFormat.SARIF:
        text = sarif(report, findings(report, explain=explain, show_all=show_all), ruleset.rules)
    else:
        text = explain_text(report, show_all)
    sys.stdout.write(text)
    sys.stdout.flush()


@app.command("apply")
def apply_command(
    paths: PathsArg, diff: DiffOpt = False, check: CheckOpt = False, out: OutOpt = None,
    quiet: QuietOpt = False, verbose: VerboseOpt = False, rules: RulesOpt = None,
    jobs: JobsOpt = None, no_cache: NoCacheOpt = False, select: SelectOpt = None,
    extend_select: ExtendSelectOpt = None, ignore: IgnoreOpt = None,
    force_exclude: ForceExcludeOpt = False, output_format: FormatOpt = OutputFormat.TEXT,
    fail_under: FailUnderOpt = None, stdin_filename: StdinOpt = None,
) -> None:
    """Instrument the call sites the rules match (in place unless --diff/--check/--out)."""
    _run("apply", paths, diff, check, out, quiet, verbose, rules, jobs, no_cache,
         select=select, extend_select=extend_select, ignore=ignore,
         force_exclude=force_exclude, output_format=output_format, fail_under=fail_under,
         stdin_filename=stdin_filename)


@app.command("strip")
def strip_command(
    paths: PathsArg, diff: DiffOpt = False, check: CheckOpt = False, out: OutOpt = None,
    quiet: QuietOpt = False, verbose: VerboseOpt = False,
    jobs: JobsOpt = None, no_cache: NoCacheOpt = False,
    force_exclude: ForceExcludeOpt = False, stdin_filename: StdinOpt = None,
) -> None:
    """Remove everything codetrace added, giving the original bytes back.

    Rule selection (--select/--ignore, the config's select and ignore) does not apply: strip
    removes every construct codetrace wrote, whichever rule wrote it.
    """
    _run("strip", paths, diff, check, out, quiet, verbose, None, jobs, no_cache,
         force_exclude=force_exclude, stdin_filename=stdin_filename)


@app.command("rules")
def rules_command(
    paths: Annotated[list[Path] | None, typer.Argument(help="Where to look for pyproject.toml.",
                                                       show_default=False)] = None,
    rules: RulesOpt = None, select: SelectOpt = None, extend_select: ExtendSelectOpt = None,
    ignore: IgnoreOpt = None,
) -> None:
    """List the rules in force: built-in, configured, and given with --rules, as selected."""
    _, ruleset, _ = _setup(paths or [Path.cwd()], rules, select, extend_select, ignore)
    for rule in ruleset.rules:
        target = f"hook {rule.hook}" if rule.hook else (rule.adapter or "")
        print(f"{rule.id:<20} {rule.advice:<11} {target:<12} {rule.source.name}")
        for call in rule.calls:
            print(f"    {call}")
        for cls in rule.constructs:
            print(f"    {cls}()  (and project subclasses)")
        for pattern in rule.functions:
            print(f"    {pattern}  (the project's functions)")


@app.command("explain")
def explain_command(
    paths: PathsArg,
    as_json: Annotated[bool, typer.Option(
        "--json", help="The list of per-file documents of earlier versions (prefer "
        "--output-format json).")] = False,
    output_format: FormatOpt = OutputFormat.TEXT,
    show_all: Annotated[bool, typer.Option(
        "--all", help="Also list the weak candidates (only a common method name matches).",
    )] = False,
    rules: RulesOpt = None, select: SelectOpt = None, extend_select: ExtendSelectOpt = None,
    ignore: IgnoreOpt = None, force_exclude: ForceExcludeOpt = False, jobs: JobsOpt = None,
    fail_under: FailUnderOpt = None,
    html: Annotated[Path | None, typer.Option(
        "--html", metavar="DIR",
        help="Also write the report as HTML pages into DIR (created if missing): totals, and "
        "each file's source with its sites highlighted.", show_default=False)] = None,
) -> None:
    """Show, per file, what matched by which rule, and the candidates left unresolved and why.

    Candidates come strongest evidence first; the weak ones (``item.get()``: only a common
    method name matches) are counted, and listed with --all. Totals by rule and by reason,
    and the share of candidate sites instrumented, end the report.
    """
    if as_json and output_format is not OutputFormat.TEXT:
        raise _fail("--json and --output-format cannot be used together")
    if html is not None:
        from codetrace import _html_report  # jinja2 and markupsafe only for --html

        problem = _html_report.check_directory(html)
        if problem:  # before the run, not after minutes of it
            raise _fail(problem)
    config, ruleset, known = _setup(paths, rules, select, extend_select, ignore, force_exclude)
    job = Job("apply", tuple(paths), WriteBack.CHECK, config, ruleset,
              jobs=jobs or default_jobs(), locate=True, known_rules=known)
    report = Report("apply", check=True, lines=False, keep=True, summary_line=False,
                    fail_under=fail_under, libraries=ruleset.libraries)
    code = run(job, report)
    if as_json:
        documents = [legacy_explain_document(r) for r in report.results
                     if r.sites or r.unresolved or r.error]
        print(json.dumps(documents, indent=2))
    else:
        _print_format(report, output_format, "explain", ruleset, explain=True,
                      show_all=show_all)
    if html is not None:
        try:
            index = _html_report.write_report(report, html, runtime=config.runtime,
                                              show_all=show_all, paths=[str(p) for p in paths])
        except _html_report.ReportError as exc:
            raise _fail(str(exc)) from None
        print(f"Wrote HTML report to {index}", file=sys.stderr)
    if code == EXIT_ERROR:
        raise typer.Exit(EXIT_ERROR)
    raise typer.Exit(EXIT_WOULD_CHANGE if report.below else EXIT_OK)


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
