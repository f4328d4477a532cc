"""Output formats for ``apply --check`` and ``explain``: text, JSON, GitHub annotations, SARIF.

Everything is rendered from the :class:`~codetrace._report.Report` after the run, from results
kept in input order and lists sorted by position, so the same tree gives the same bytes
whatever the number of workers. The JSON document carries ``schema_version``; a change that
removes or renames a key raises it, an added key does not.
"""

from __future__ import annotations

import enum
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from codetrace import __version__
from codetrace._report import EVIDENCE, Report
from codetrace._result import FileResult, SiteReport, UnresolvedReport

SCHEMA_VERSION = 1

#: ids of what codetrace reports that no rule file defines
UNRESOLVED = "codetrace/unresolved"
FILE_ERROR = "codetrace/file-error"
DIRECTIVE = "codetrace/directive"

BUILT_IN_DESCRIPTIONS = {
    UNRESOLVED: "A call that looks like a rule's library call on a receiver whose type "
                "codetrace could not tell (`codetrace explain` says why).",
    FILE_ERROR: "A file codetrace could not read, parse or safely rewrite; it is left untouched.",
    DIRECTIVE: "A `# codetrace: ignore[...]` directive naming no known rule or library.",
}


class OutputFormat(str, enum.Enum):
    TEXT = "text"
    JSON = "json"
    GITHUB = "github"
    SARIF = "sarif"


@dataclass(frozen=True)
class Finding:
    """One thing to point at: a file position, the rule it is about, a level and a message.
    Levels are SARIF's (``error``, ``warning``, ``note``)."""

    path: str
    line: int
    column: int
    rule: str
    level: str
    message: str


def site_message(site: SiteReport, checking: bool) -> str:
    if site.skipped:
        return f"{site.qname}() matched by {site.rule} but left alone: {site.skipped}"
    if checking:
        return (f"{site.qname}() is not instrumented (rule {site.rule}, resolved by "
                f"{site.how}): run `codetrace apply`")
    return f"{site.qname}() matched by {site.rule} (resolved by {site.how}); not instrumented yet"


def unresolved_message(item: UnresolvedReport) -> str:
    return (f"{item.receiver}.{item.method}() unresolved ({EVIDENCE[item.evidence]} evidence): "
            f"{item.reason}")


def findings(report: Report, *, explain: bool, show_all: bool = False) -> list[Finding]:
    """What a CI annotation or a SARIF result is made of. ``apply --check`` points at the
    sites it would instrument (errors: they fail the check); ``explain`` at matched sites
    (notes) and unresolved candidates (warnings; the weak ones, as notes, with ``--all``)."""
    found: list[Finding] = []
    for result in report.results:
        path = result.path
        if result.status == "error":
            found.append(Finding(path, result.line or 1, 0, FILE_ERROR, "error", result.error))
        for line, message in result.warnings:
            found.append(Finding(path, line or 1, 0, DIRECTIVE, "warning", message))
        items: list[tuple[int, int, int, Finding]] = []
        for site in result.sites:
            level = "warning" if site.skipped else ("error" if not explain else "note")
            items.append((site.line, site.column, 0, Finding(
                path, site.line, site.column, site.rule, level,
                site_message(site, not explain))))
        if explain:
            for item in result.unresolved:
                if item.evidence == 0 and not show_all:
                    continue
                level = "warning" if item.evidence else "note"
                items.append((item.line, item.column, 1, Finding(
                    path, item.line, item.column, UNRESOLVED, level, unresolved_message(item))))
        found.extend(finding for *_, finding in sorted(items, key=lambda i: i[:3]))
    return found


# ----- JSON -----------------------------------------------------------------------------------

def _site_json(site: SiteReport) -> dict[str, object]:
    return {"line": site.line, "column": site.column, "rule": site.rule, "advice": site.advice,
            "callee": site.qname, "resolved_by": site.how, "skipped": site.skipped or None}


def _unresolved_json(item: UnresolvedReport) -> dict[str, object]:
    return {"line": item.line, "column": item.column, "method": item.method,
            "receiver": item.receiver, "reason": item.reason,
            "evidence": EVIDENCE[item.evidence]}


def legacy_explain_document(result: FileResult) -> dict[str, object]:
    """One file as ``explain --json`` printed it before ``--output-format`` (a list of these)."""
    return {
        "path": result.path,
        "status": result.status,
        "error": result.error or None,
        "sites": [_site_json(s) for s in result.sites],
        "unresolved": [_unresolved_json(u) for u in result.unresolved],
    }


def totals(report: Report) -> dict[str, object]:
    return {
        "files": report.files,
        "files_would_change": report.changed,
        "files_failed": report.errors,
        "sites_instrumented": report.instrumented,
        "sites_not_instrumented": report.not_instrumented,
        "sites_skipped": report.skipped_sites,
        "unresolved": {EVIDENCE[level]: report.by_evidence[level] for level in (2, 1, 0)},
        "candidates": report.candidates,
        "coverage_percent": round(report.coverage, 2),
        "fail_under": report.fail_under,
        "by_rule": dict(sorted(report.by_rule.items())),
        "warnings": report.warnings,
        "libraries": [checked.as_json() for checked in report.versions],
    }


def json_document(report: Report, command: str) -> str:
    files: list[dict[str, object]] = []
    errors: list[dict[str, object]] = []
    warnings: list[dict[str, object]] = []
    for result in report.results:
        document = legacy_explain_document(result)
        document["instrumented"] = result.instrumented
        document["warnings"] = [{"line": line, "message": message}
                                for line, message in result.warnings]
        files.append(document)
        if result.status == "error":
            errors.append({"file": result.path, "line": result.line or 1,
                           "message": result.error})
        warnings.extend({"file": result.path, "line": line, "message": message}
                        for line, message in result.warnings)
    document_all = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "codetrace", "version": __version__},
        "command": command,
        "totals": totals(report),
        "files": files,
        "errors": errors,
        "warnings": warnings,
    }
    return json.dumps(document_all, indent=2) + "\n"


# ----- GitHub Actions workflow commands -------------------------------------------------------

def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


_GITHUB_LEVEL = {"error": "error", "warning": "warning", "note": "notice"}


def github(found: Sequence[Finding]) -> str:
    """``::warning file=app.py,line=3,col=5,title=codetrace (requests.send)::message``: GitHub
    shows each as an annotation on the pull request's diff."""
    lines = []
    for item in found:
        where = f"file={_escape_property(item.path)},line={item.line}"
        if item.column:
            where += f",col={item.column}"
        title = _escape_property(f"codetrace ({item.rule})")
        lines.append(f"::{_GITHUB_LEVEL[item.level]} {where},title={title}::"
                     f"{_escape_data(item.message)}")
    return "".join(line + "\n" for line in lines)


def github_versions(report: Report) -> str:
    """A workflow-level annotation per library installed outside its rules' tested range."""
    return "".join(
        f"::warning title={_escape_property('codetrace (library version)')}::"
        f"{_escape_data(checked.warning())}\n"
        for checked in report.versions if checked.outside)


# ----- text -------------------------------------------------------------------------------------

def explain_text(report: Report, show_all: bool) -> str:
    """Per file, the matched sites and the candidates (strongest first), then the totals."""
    out: list[str] = []
    by_reason: Counter[str] = Counter()
    for result in report.results:
        shown = sorted((u for u in result.unresolved if u.evidence or show_all),
                       key=lambda u: (-u.evidence, u.line, u.column))
        by_reason.update(u.reason for u in shown)
        if not (result.sites or shown or result.error or result.warnings):
            continue
        out.append(result.path)
        if result.error:
            out.append(f"  error: line {result.line}: {result.error}")
        for line, message in result.warnings:
            out.append(f"  warning: line {line}: {message}")
        for s in result.sites:
            state = f"skipped: {s.skipped}" if s.skipped else s.advice
            out.append(f"  {s.line}:{s.column}  {s.rule:<16} {s.qname}  (by {s.how}; {state})")
        for u in shown:
            out.append(f"  {u.line}:{u.column}  unresolved ({EVIDENCE[u.evidence]})  "
                       f"{u.receiver}.{u.method}()  {u.reason}")
    matched = sum(report.by_rule.values())
    out.append(f"\n{matched} sites matched" + (":" if matched else ""))
    for rule, count in sorted(report.by_rule.items(), key=lambda item: (-item[1], item[0])):
        out.append(f"  {count:>5}  {rule}")
    if report.instrumented:
        out.append(f"{report.instrumented} sites already instrumented")
    strength = report.by_evidence
    unresolved = sum(strength.values())
    parts = [f"{strength[level]} {EVIDENCE[level]}" for level in (2, 1, 0) if strength[level]]
    out.append(f"{unresolved} candidates unresolved" + (f" ({', '.join(parts)})" if parts else ""))
    if strength[0] and not show_all:
        out.append(f"  the {strength[0]} weak ones (only a common method name matches) are not "
                   "listed: --all lists them")
    for reason, count in sorted(by_reason.items(), key=lambda item: (-item[1], item[0]))[:15]:
        out.append(f"  {count:>5}  {reason}")
    out.append(report.coverage_line())
    versions = report.versions
    if versions:
        out.append("\nlibrary versions (installed here, against the versions the rules were "
                   "tested with):")
        out.extend(f"  {checked.describe()}" for checked in versions)
    return "".join(line + "\n" for line in out)
