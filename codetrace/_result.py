"""What the pipeline says about one file: values, never exceptions (libcst's codemod style).

A per-file step that cannot go on raises :class:`Failure` with the line; the pipeline turns it
into an error :class:`FileResult`, and the runner counts and reports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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
    #: what the report counts it as: "call", "hook" or "function" (the advice kind says)
    counts_as: str = "call"


@dataclass(frozen=True)
class UnresolvedReport:
    line: int
    column: int
    method: str
    receiver: str
    reason: str
    #: 2 strong, 1 some, 0 only the method's name (``_match.evidence``)
    evidence: int = 0


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
    #: digest of the bytes the result was computed from: a file changed on disk since (an
    #: editor saving it) is not overwritten with a result of its old content
    read_digest: str = ""
    #: sites already instrumented (a second ``apply`` leaves them): the covered part of
    #: ``--fail-under``'s share
    instrumented: int = 0
    #: (line, message) worth a warning that does not stop the file (an unknown rule id in
    #: ``# codetrace: ignore[...]``)
    warnings: tuple[tuple[int, str], ...] = ()
    #: rule ids and adapter names in use in the file, matched now or instrumented before: which
    #: libraries the installed-version check (``_versions``) is about
    uses: frozenset[str] = frozenset()

    @property
    def hooks(self) -> int:
        return sum(1 for s in self.sites if s.counts_as == "hook" and not s.skipped)

    @property
    def calls(self) -> int:
        return sum(1 for s in self.sites if s.counts_as == "call" and not s.skipped)

    @property
    def functions(self) -> int:
        """Functions traced (``span-function``): not I/O sites, so not in the coverage share."""
        return sum(1 for s in self.sites if s.counts_as == "function" and not s.skipped)


class Failure(Exception):
    """A file cannot be processed; ``line`` is where, for the one-line error."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def error_result(path: str, exc: Failure) -> FileResult:
    return FileResult(path, "error", error=exc.message, line=exc.line)
