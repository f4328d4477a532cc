"""What the user sees: per-file lines on stderr, one summary line, and the exit code.

The report also keeps what machine formats (``_output``) and ``explain`` need: the results of
the files with something to say, and the totals, among them the share of candidate I/O sites
that are instrumented (``--fail-under``).
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import TextIO

from codetrace import _versions
from codetrace._progress import Progress
from codetrace._result import FileResult
from codetrace._ruleset import Library

EXIT_OK = 0
EXIT_WOULD_CHANGE = 1
EXIT_ERROR = 2

#: ``UnresolvedReport.evidence`` → its name in reports
EVIDENCE = {2: "strong", 1: "some", 0: "weak"}


@dataclass
class Report:
    """Counts for one run; ``action`` is ``apply`` or ``strip``, ``check`` is ``--check``.

    ``lines``: print the per-file text lines (off when a machine format is on stdout; errors
    are always printed). ``keep``: keep the results that say something, for ``results``.
    """

    action: str
    check: bool = False
    quiet: bool = False
    verbose: bool = False
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    lines: bool = True
    keep: bool = False
    summary_line: bool = True
    #: ``--fail-under``: exit 1 when ``coverage`` is below it
    fail_under: float | None = None
    progress: Progress | None = None
    changed: int = 0
    unchanged: int = 0
    errors: int = 0
    warnings: int = 0
    calls: int = 0
    hooks: int = 0
    #: functions traced (``span-function``); not candidate I/O sites
    functions: int = 0
    removed: int = 0
    unresolved: int = 0
    skipped_sites: int = 0
    #: sites already instrumented
    instrumented: int = 0
    files: int = 0
    by_rule: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    by_evidence: Counter[int] = field(default_factory=Counter)
    results: list[FileResult] = field(default_factory=list)
    #: the rule files' libraries, for the installed-version check (none: no check)
    libraries: tuple[Library, ...] = ()
    #: rule ids and adapter names the run's files use (``FileResult.uses``)
    uses: set[str] = field(default_factory=set)

    def _print(self, text: str) -> None:
        if self.progress is not None:
            self.progress.write(text + "\n", self.stream)
        else:
            print(text, file=self.stream)

    def _say(self, text: str) -> None:
        if not self.quiet:
            self._print(text)

    def _line(self, text: str) -> None:
        if self.lines:
            self._say(text)

    def error(self, path: str, line: int, message: str) -> None:
        """A one-line error naming the file and line; always shown, even with ``--quiet``."""
        self.errors += 1
        self._print(f"error: {path}:{line or 1}: {message}")

    def warning(self, path: str, line: int, message: str) -> None:
        self.warnings += 1
        self._say(f"warning: {path}:{line or 1}: {message}")

    def file(self, result: FileResult, elapsed: float = 0.0) -> None:
        self.files += 1
        if self.keep and (result.sites or result.unresolved or result.error or result.warnings
                          or result.instrumented):
            self.results.append(result)
        if self.verbose:
            self._line(f"{result.path}: {result.status} ({elapsed * 1000:.1f} ms)")
        for line, message in result.warnings:
            self.warning(result.path, line, message)
        if result.status == "error":
            self.error(result.path, result.line, result.error)
            return
        self.uses |= result.uses
        self.unresolved += len(result.unresolved)
        self.instrumented += result.instrumented
        for unresolved in result.unresolved:
            self.by_evidence[unresolved.evidence] += 1
            self.by_reason[unresolved.reason] += 1
        for site in result.sites:
            if site.skipped:
                self._line(f"{result.path}:{site.line}: skipped {site.rule}: {site.skipped}")
            if site.counts_as == "function":  # a span of the project's own: not an I/O site
                continue
            if site.skipped:
                self.skipped_sites += 1
            else:
                self.by_rule[site.rule] += 1
        if result.status == "unchanged":
            self.unchanged += 1
            return
        self.changed += 1
        self.calls += result.calls
        self.hooks += result.hooks
        self.functions += result.functions
        self.removed += result.removed
        if self.check:
            verb = "instrument" if self.action == "apply" else "strip"
            self._line(f"would {verb} {result.path}")

    # ----- the share of candidate sites that are instrumented ----------------------------------
    @property
    def not_instrumented(self) -> int:
        """Matched sites not instrumented yet: those ``apply`` would wrap, and those it skips."""
        return sum(self.by_rule.values()) + self.skipped_sites

    @property
    def candidates(self) -> int:
        """Candidate I/O sites: every matched site (instrumented, to instrument, or skipped)
        and every unresolved candidate with strong or some evidence (the weak ones, an
        ``item.get()`` on a name that says nothing, are mostly dicts: counting them would make
        the share measure dictionaries)."""
        return (self.instrumented + self.not_instrumented + self.by_evidence[2]
                + self.by_evidence[1])

    @property
    def coverage(self) -> float:
        """Percent of candidate sites instrumented; 100 when there are none (as coverage.py
        reports an empty run)."""
        return 100.0 * self.instrumented / self.candidates if self.candidates else 100.0

    def coverage_line(self) -> str:
        text = (f"{self.coverage:.1f}% of {_plural(self.candidates, 'candidate site')} "
                f"instrumented ({self.instrumented} instrumented, {self.not_instrumented} not, "
                f"{self.by_evidence[2] + self.by_evidence[1]} unresolved)")
        if self.fail_under is not None and self.below:
            text += f": below --fail-under {self.fail_under:g}"
        return text

    @property
    def below(self) -> bool:
        # compared at the precision shown, as coverage.py does, so 89.99 is not "90.0 but failing"
        return self.fail_under is not None and round(self.coverage, 1) < self.fail_under

    def summary(self) -> str:
        files = _plural(self.changed, "file")
        if self.action == "apply":
            verb = "would be instrumented" if self.check else "instrumented"
            parts = [f"{files} {verb}", _plural(self.calls, "call site"),
                     _plural(self.hooks, "hook")]
            if self.functions:
                parts.append(_plural(self.functions, "function"))
            text = ", ".join(parts)
            extra = []
            if self.unresolved:
                extra.append(f"{_plural(self.unresolved, 'site')} unresolved "
                             "(`codetrace explain PATH` says why)")
            if self.skipped_sites:
                extra.append(f"{_plural(self.skipped_sites, 'site')} skipped")
        else:
            verb = "would be stripped" if self.check else "stripped"
            text = f"{files} {verb}, {_plural(self.removed, 'construct')} removed"
            extra = []
        if self.unchanged:
            extra.append(f"{_plural(self.unchanged, 'file')} left unchanged")
        if self.errors:
            extra.append(f"{_plural(self.errors, 'file')} failed")
        return "; ".join([text, *extra])

    def exit_code(self) -> int:
        if self.errors:
            return EXIT_ERROR
        if (self.check and self.changed) or self.below:
            return EXIT_WOULD_CHANGE
        return EXIT_OK

    @property
    def versions(self) -> list[_versions.VersionCheck]:
        """The libraries the run's files use, checked against their rules' tested range."""
        return _versions.check(self.libraries, self.uses)

    def finish(self) -> int:
        if self.action == "apply":
            # loud, --quiet or not: an upgrade that silently breaks tracing is the failure
            # this check exists for
            for checked in self.versions:
                if checked.outside:
                    self.warnings += 1
                    self._print(f"warning: {checked.warning()}")
        if self.summary_line:
            self._say(self.summary())
            if self.fail_under is not None:
                self._say(self.coverage_line())
        return self.exit_code()


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
