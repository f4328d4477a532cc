"""What the user sees: per-file lines on stderr, one summary line, and the exit code."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TextIO

from codetrace._result import FileResult

EXIT_OK = 0
EXIT_WOULD_CHANGE = 1
EXIT_ERROR = 2


@dataclass
class Report:
    """Counts for one run; ``action`` is ``apply`` or ``strip``, ``check`` is ``--check``."""

    action: str
    check: bool = False
    quiet: bool = False
    verbose: bool = False
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    changed: int = 0
    unchanged: int = 0
    errors: int = 0
    calls: int = 0
    hooks: int = 0
    removed: int = 0
    unresolved: int = 0
    skipped_sites: int = 0

    def _say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream)

    def error(self, path: str, line: int, message: str) -> None:
        """A one-line error naming the file and line; always shown, even with ``--quiet``."""
        self.errors += 1
        print(f"error: {path}:{line or 1}: {message}", file=self.stream)

    def file(self, result: FileResult, elapsed: float = 0.0) -> None:
        if self.verbose:
            self._say(f"{result.path}: {result.status} ({elapsed * 1000:.1f} ms)")
        if result.status == "error":
            self.error(result.path, result.line, result.error)
            return
        self.unresolved += len(result.unresolved)
        for site in result.sites:
            if site.skipped:
                self.skipped_sites += 1
                self._say(f"{result.path}:{site.line}: skipped {site.rule}: {site.skipped}")
        if result.status == "unchanged":
            self.unchanged += 1
            return
        self.changed += 1
        self.calls += result.calls
        self.hooks += result.hooks
        self.removed += result.removed
        if self.check:
            verb = "instrument" if self.action == "apply" else "strip"
            self._say(f"would {verb} {result.path}")

    def summary(self) -> str:
        files = _plural(self.changed, "file")
        if self.action == "apply":
            verb = "would be instrumented" if self.check else "instrumented"
            parts = [f"{files} {verb}", _plural(self.calls, "call site"),
                     _plural(self.hooks, "hook")]
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

    def finish(self) -> int:
        self._say(self.summary())
        if self.errors:
            return EXIT_ERROR
        if self.check and self.changed:
            return EXIT_WOULD_CHANGE
        return EXIT_OK


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")
