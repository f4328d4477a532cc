"""Whether the installed libraries are versions their rules were tested with.

OpenTelemetry's users most often complain that a library upgrade silently disabled their
instrumentation: a patched function renamed, a hook moved. Static rules have the same failure
mode, so each rule file declares the versions it was tested with (``[library] tested``) and a
run says so, loudly, when a library it instrumented (now, or in an earlier run) is installed at
a version outside that range: a warning above the summary, a section in ``explain``, an entry
in the JSON output.

"Installed" means in the interpreter codetrace runs in, which in CI is usually the project's.
Where the library is not installed there (pre-commit's isolated environment), nothing can be
said and nothing is: ``explain`` shows it as not installed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata

from codetrace._ruleset import Library


@dataclass(frozen=True)
class VersionCheck:
    """One library the run used, its installed version and whether its rules were tested on it.

    ``within`` is None when there is nothing to compare (not installed here, no range declared,
    or a version string PEP 440 cannot read).
    """

    library: Library
    installed: str | None
    distribution: str | None
    within: bool | None

    @property
    def outside(self) -> bool:
        return self.within is False

    def warning(self) -> str:
        """The one line a run prints for a version outside the tested range."""
        return (f"{self.distribution} {self.installed} is installed, but the {self.library.name} "
                f"rules ({self.library.source.name}) were tested with {self.library.tested}: "
                "check its spans (the recall benchmark, or a test run with "
                "OTEL_TRACES_EXPORTER=console) before relying on them")

    def describe(self) -> str:
        """``explain``'s line for it."""
        tested = self.library.tested or "no range declared"
        if self.installed is None:
            return f"{self.library.name}: not installed here (tested with {tested})"
        verdict = {True: "ok", False: "OUTSIDE the tested range", None: "not compared"}
        return (f"{self.library.name}: {self.distribution} {self.installed}, tested with "
                f"{tested}: {verdict[self.within]}")

    def as_json(self) -> dict[str, object]:
        return {"library": self.library.name, "distribution": self.distribution,
                "installed": self.installed, "tested": self.library.tested or None,
                "within": self.within}


def check(libraries: Sequence[Library], uses: Iterable[str]) -> list[VersionCheck]:
    """The libraries whose rule ids or adapter names appear in ``uses``, checked, by name
    (not the standard library's: it comes with the Python that runs the code)."""
    used = set(uses)
    return [_check(library) for library in sorted(libraries, key=lambda lib: lib.name)
            if library.distributions and library.names & used]


def _check(library: Library) -> VersionCheck:
    for distribution in library.distributions:
        try:
            installed = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
        return VersionCheck(library, installed, distribution, _within(installed, library.tested))
    return VersionCheck(library, None, None, None)


def _within(installed: str, tested: str) -> bool | None:
    if not tested:
        return None
    from packaging.specifiers import SpecifierSet
    from packaging.version import InvalidVersion, Version

    try:
        version = Version(installed)
    except InvalidVersion:
        return None
    # a pre-release of a tested version is that version, as far as its API goes
    return SpecifierSet(tested).contains(version, prereleases=True)
