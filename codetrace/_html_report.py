"""``codetrace explain --html DIR``: the explain report as static pages, coverage.py's way.

An index (the totals ``--output-format json`` gives, by rule, by library, by reason, and a row
per file) and a page per file: its source, numbered, with every site coloured by what codetrace
makes of it and the reason on hover. Pages are rendered from ``templates/explain_*.html.j2``
with autoescaping; the source lines are escaped here, character runs at a time.

The report is a set of files a reviewer opens from disk or a CI artifact: inline CSS, one tiny
optional script (sorting the file table), no external URL, no timestamp, files in sorted order,
so the same tree gives the same bytes. It is rendered into a folder beside ``DIR`` and moved
into place only when complete: a run that fails leaves the previous report (or none) whole.

Results carry the place of every matched site and unresolved candidate, but only the count of
the sites already instrumented; their places are found again here, by the collector, which
asks the advice kinds (the owners of the injected shapes) what each construct instruments.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import itertools
import keyword
import os
import re
import secrets
import shutil
import tokenize
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from codetrace import __version__, _advice, _paths
from codetrace._collect import collect
from codetrace._marker import is_marker_rooted
from codetrace._output import site_message, totals, unresolved_message
from codetrace._report import EVIDENCE, Report
from codetrace._result import Failure, FileResult
from codetrace._source import parse

if TYPE_CHECKING:
    import jinja2

INDEX = "index.html"
#: every page says it was written by this report: a later report removes only such pages
GENERATOR = "codetrace explain --html"
GITIGNORE = f"# Created by {GENERATOR}\n*\n"

#: what a highlighted line is, strongest first: a line with several sites takes the first
KINDS = ("problem", "unresolved", "skipped", "matched", "instrumented", "weak")
#: a highlighted line's background (tests look for these colours on the screenshots)
LINE_COLOURS = {
    "instrumented": "#e3f6e8", "matched": "#e3efff", "skipped": "#fde7ea",
    "unresolved": "#fff3cd", "weak": "#f1f3f5", "problem": "#fde7ea",
}
#: a site's own mark, and the edge of its line
MARK_COLOURS = {
    "instrumented": "#a8e6b8", "matched": "#b6d4ff", "skipped": "#f8b4bd",
    "unresolved": "#ffd866", "weak": "#dde1e6", "problem": "#f8b4bd",
}
ACCENTS = {
    "instrumented": "#1a7f37", "matched": "#0969da", "skipped": "#cf222e",
    "unresolved": "#b07d00", "weak": "#8c959f", "problem": "#cf222e",
}
#: the index's coverage bar: instrumented, still to instrument (with skipped), unresolved
BAR_COLOURS = {"instrumented": ACCENTS["instrumented"], "matched": ACCENTS["matched"],
               "unresolved": "#e8b400"}
#: what the findings table calls each kind
LABELS = {"instrumented": "instrumented", "matched": "to instrument", "skipped": "skipped",
          "unresolved": "unresolved", "weak": "weak", "problem": "error"}
LEGEND = (
    ("instrumented", "Instrumented", "traced at run time (codetrace wrote it)"),
    ("matched", "To instrument", "a rule matches: `codetrace apply` instruments it"),
    ("skipped", "Skipped", "a rule matches, but codetrace cannot instrument it there"),
    ("unresolved", "Unresolved", "looks like a library call; codetrace cannot tell (reason on "
                                 "hover)"),
    ("weak", "Weak candidate", "only a common method name matches (listed with --all; not "
                               "counted)"),
)


class ReportError(Exception):
    """The report cannot be written; the message is one line."""


def check_directory(directory: Path) -> str | None:
    """Why ``directory`` cannot take the report, before any work is done; None if it can."""
    if directory.exists() and not directory.is_dir():
        return f"{directory}: exists and is not a directory (--html needs a folder)"
    return None


# ----- what is on a line ------------------------------------------------------------------------

@dataclass(frozen=True)
class _Item:
    """One thing to highlight: where it starts (1-based line and column; column 0 for a whole
    line), where its mark ends on that line (None: the callee's dotted name), its kind, the
    reason shown on hover and the short note shown beside the line."""

    line: int
    column: int
    end: int | None
    kind: str
    title: str
    note: str


@dataclass(frozen=True)
class _Counts:
    instrumented: int = 0
    matched: int = 0
    skipped: int = 0
    unresolved: int = 0
    weak: int = 0

    @property
    def candidates(self) -> int:
        """As the report counts them (``Report.candidates``): weak candidates are not."""
        return self.instrumented + self.matched + self.skipped + self.unresolved

    @property
    def coverage(self) -> float | None:
        return 100.0 * self.instrumented / self.candidates if self.candidates else None


def _counts(result: FileResult) -> _Counts:
    return _Counts(
        instrumented=result.instrumented,
        matched=sum(1 for s in result.sites if not s.skipped),
        skipped=sum(1 for s in result.sites if s.skipped),
        unresolved=sum(1 for u in result.unresolved if u.evidence),
        weak=sum(1 for u in result.unresolved if not u.evidence),
    )


def _shown(result: FileResult, show_all: bool) -> bool:
    """The files ``explain`` lists (a file with weak candidates only, when they are hidden,
    has nothing to show)."""
    return bool(result.sites or result.error or result.warnings or result.instrumented
                or any(u.evidence or show_all for u in result.unresolved))


def _items(result: FileResult, source: bytes | None, runtime: str, show_all: bool) -> list[_Item]:
    items: list[_Item] = []
    if result.error:
        message = f"error: {result.error}"
        items.append(_Item(result.line or 1, 0, None, "problem", message, message))
    for line, message in result.warnings:
        items.append(_Item(line or 1, 0, None, "problem", f"warning: {message}",
                           f"warning: {message}"))
    for site in result.sites:
        kind = "skipped" if site.skipped else "matched"
        note = f"skipped: {site.skipped}" if site.skipped else site.rule
        items.append(_Item(site.line, site.column, None, kind, site_message(site, False), note))
    for item in result.unresolved:
        if item.evidence or show_all:
            kind = "unresolved" if item.evidence else "weak"
            items.append(_Item(item.line, item.column, None, kind, unresolved_message(item),
                               f"{EVIDENCE[item.evidence]}: {item.reason}"))
    if result.instrumented and source is not None and result.status != "error":
        items.extend(_instrumented(result.path, source, runtime))
    return sorted(items, key=lambda i: (i.line, i.column, KINDS.index(i.kind), i.title))


def _instrumented(path: str, source: bytes, runtime: str) -> list[_Item]:
    """Where the already instrumented sites are: the calls the collector marks as done (an
    advice kind recognised the construct around them), not the runtime's own calls."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    try:
        module = parse(source, exact=False)
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        positions = wrapper.resolve(PositionProvider)
        facts = collect(module, module_name=Path(path).stem, is_package=False,
                        runtime=runtime, source=source)
    except (Failure, RecursionError):  # changed on disk since the run: show what is known
        return []
    items = []
    for call in facts.calls:
        if not call.instrumented or is_marker_rooted(call.node.func):
            continue
        where = positions.get(call.node)
        if where is None:
            continue
        user = _advice.unwrap(call.node) or call.node
        callee = module.code_for_node(user.func) if isinstance(user, cst.Call) else "the call"
        end = where.end.column + 1 if where.end.line == where.start.line else None
        items.append(_Item(
            where.start.line, where.start.column + 1, end or -1, "instrumented",
            f"{callee}() is instrumented: codetrace traces it at run time", "traced"))
    return items


# ----- the source, escaped and coloured ---------------------------------------------------------

_NEWLINE = re.compile(r"\r\n|\r|\n")
_CALLEE = re.compile(r"[\w.]+")


def _decode(source: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        return source.decode(encoding, errors="replace")
    except (SyntaxError, LookupError):
        return source.decode("utf-8", errors="replace")


def _syntax(lines: Sequence[str]) -> list[list[tuple[int, int, str]]]:
    """Per line, (start, end, CSS class) of the keywords, strings, comments and numbers: the
    colours a reader's editor gives (nothing, for a file Python cannot tokenize)."""
    spans: list[list[tuple[int, int, str]]] = [[] for _ in lines]
    soft = set(keyword.softkwlist)
    tokens: list[tokenize.TokenInfo] = []
    reader = tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline)
    with contextlib.suppress(tokenize.TokenError, SyntaxError):  # colour up to the error
        tokens.extend(reader)
    kinds = {tokenize.STRING: "s", tokenize.COMMENT: "c", tokenize.NUMBER: "m"}
    for name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END"):
        if hasattr(tokenize, name):
            kinds[getattr(tokenize, name)] = "s"
    for token in tokens:
        css = kinds.get(token.type)
        if token.type == tokenize.NAME and (keyword.iskeyword(token.string)
                                            or token.string in soft):
            css = "k"
        if css is None:
            continue
        (first, start), (last, end) = token.start, token.end
        for number in range(first, min(last, len(lines)) + 1):
            text = lines[number - 1]
            spans[number - 1].append((start if number == first else 0,
                                      end if number == last else len(text), css))
    return spans


def _mark_span(text: str, item: _Item) -> tuple[int, int] | None:
    if item.column <= 0 or item.column > len(text):
        return None
    start = item.column - 1
    if item.end is not None:
        end = len(text.rstrip()) if item.end < 0 else min(item.end - 1, len(text))
        return (start, end) if end > start else None
    found = _CALLEE.match(text, start)
    if found and found.end() > start:
        return start, found.end()
    paren = text.find("(", start)
    return start, (paren if paren > start else len(text.rstrip()))


def _line_html(text: str, syntax: Iterable[tuple[int, int, str]], items: Sequence[_Item]) -> Markup:
    """One source line, escaped; runs of one syntax class in a span, the sites in marks with
    their reasons as the title (overlapping sites share a mark and list every reason)."""
    css: list[str | None] = [None] * len(text)
    for start, end, name in syntax:
        css[start:end] = [name] * (max(0, min(end, len(text)) - start))
    covering: list[tuple[int, ...]] = [()] * len(text)
    for number, item in enumerate(items):
        span = _mark_span(text, item)
        if span is not None:
            for i in range(*span):
                covering[i] = (*covering[i], number)
    out: list[str] = []
    position = 0
    for cover, group in itertools.groupby(range(len(text)), key=lambda i: covering[i]):
        run = list(group)
        chunk_end = run[-1] + 1
        inner: list[str] = []
        for name, chars in itertools.groupby(range(position, chunk_end), key=lambda i: css[i]):
            piece = escape("".join(text[i] for i in chars))
            inner.append(f'<span class="{name}">{piece}</span>' if name else str(piece))
        if cover:
            kind = min((items[n].kind for n in cover), key=KINDS.index)
            title = escape("\n".join(items[n].title for n in cover))
            out.append(f'<mark class="{kind}" title="{title}">{"".join(inner)}</mark>')
        else:
            out.extend(inner)
        position = chunk_end
    return Markup("".join(out))


@dataclass(frozen=True)
class _Line:
    number: int
    kind: str
    html: Markup
    notes: tuple[_Item, ...]


def _lines(text: str, items: Sequence[_Item]) -> list[_Line]:
    lines = _NEWLINE.split(text)
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the file opens no line
    syntax = _syntax(lines)
    by_line: dict[int, list[_Item]] = {}
    for item in items:
        by_line.setdefault(item.line, []).append(item)
    out = []
    for number, line in enumerate(lines, 1):
        here = by_line.get(number, [])
        kind = min((i.kind for i in here), key=KINDS.index) if here else ""
        out.append(_Line(number, kind, _line_html(line, syntax[number - 1], here), tuple(here)))
    return out


# ----- pages ------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_paths.templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(
        generator=GENERATOR, version=__version__, kinds=KINDS, labels=LABELS, legend=LEGEND,
        line_colours=LINE_COLOURS, mark_colours=MARK_COLOURS, accents=ACCENTS,
        bar_colours=BAR_COLOURS,
    )
    env.filters["percent"] = lambda value: "n/a" if value is None else f"{value:.1f}%"
    return env


def _page_name(path: str) -> str:
    """A file name for ``path``'s page: readable, and unique by a digest of the path."""
    readable = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")[-60:] or "file"
    return f"{readable}_{hashlib.sha256(path.encode()).hexdigest()[:10]}.html"


@dataclass(frozen=True)
class _File:
    path: str
    page: str
    status: str
    error: str
    counts: _Counts


def _render_file(entry: _File, result: FileResult, runtime: str, show_all: bool) -> str:
    problem = ""
    try:
        source: bytes | None = Path(result.path).read_bytes()
    except OSError as exc:
        source, problem = None, f"the source cannot be read now: {exc.strerror or exc}"
    items = _items(result, source, runtime, show_all)
    lines = _lines(_decode(source), items) if source is not None else []
    return _environment().get_template("explain_file.html.j2").render(
        file=entry, lines=lines, items=items, problem=problem, show_all=show_all)


@dataclass
class _Library:
    """A library is a rule id's first part, as ``--select requests`` selects it."""

    name: str
    rules: list[str]
    matched: int = 0
    skipped: int = 0


def _by_library(by_rule: dict[str, int], skipped: Counter[str]) -> list[_Library]:
    libraries: dict[str, _Library] = {}
    for rule in sorted(set(by_rule) | set(skipped)):
        name = rule.split(".", 1)[0]
        entry = libraries.setdefault(name, _Library(name, []))
        entry.rules.append(rule)
        entry.matched += by_rule.get(rule, 0)
        entry.skipped += skipped[rule]
    return list(libraries.values())


def _render_index(report: Report, files: Sequence[_File], paths: Sequence[str],
                  show_all: bool) -> str:
    figures = totals(report)
    by_rule: dict[str, int] = dict(report.by_rule)
    skipped: Counter[str] = Counter(s.rule for r in report.results for s in r.sites if s.skipped)
    reasons: Counter[str] = Counter(u.reason for r in report.results for u in r.unresolved
                                    if u.evidence or show_all)
    candidates = report.candidates
    unresolved = report.by_evidence[2] + report.by_evidence[1]

    def share(count: int) -> float:
        return 100.0 * count / candidates if candidates else 0.0

    bar = [("instrumented", share(report.instrumented)),
           ("matched", share(report.not_instrumented)),
           ("unresolved", share(unresolved))]
    return _environment().get_template("explain_index.html.j2").render(
        totals=figures, unresolved=unresolved, weak=report.by_evidence[0], bar=bar,
        rules=[{"rule": rule, "library": rule.split(".", 1)[0], "matched": by_rule.get(rule, 0),
                "skipped": skipped[rule]} for rule in sorted(set(by_rule) | set(skipped))],
        libraries=_by_library(by_rule, skipped),
        reasons=sorted(reasons.items(), key=lambda item: (-item[1], item[0])),
        files=files, paths=paths, show_all=show_all)


# ----- writing ----------------------------------------------------------------------------------

def write_report(report: Report, directory: Path, *, runtime: str, show_all: bool,
                 paths: Sequence[str]) -> Path:
    """Write the report into ``directory`` (created if missing) and return its index.

    Everything is rendered into a fresh folder beside ``directory`` first; only then are the
    files moved into place (the folder itself, when ``directory`` did not exist), and the pages
    an earlier report wrote for files no longer listed are removed. A failure removes the
    fresh folder and leaves ``directory`` as it was. Raises :class:`ReportError`.
    """
    problem = check_directory(directory)
    if problem:
        raise ReportError(problem)
    staging: Path | None = None
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = _staging(directory)
        results = sorted((r for r in report.results if _shown(r, show_all)),
                         key=lambda r: r.path)
        files = [_File(r.path, _page_name(r.path), r.status, r.error, _counts(r))
                 for r in results]
        for entry, result in zip(files, results, strict=True):
            _write(staging / entry.page, _render_file(entry, result, runtime, show_all))
        _write(staging / INDEX, _render_index(report, files, paths, show_all))
        if not directory.is_dir():
            _write(staging / ".gitignore", GITIGNORE)
            os.rename(staging, directory)
            staging = None
        else:
            _replace_into(staging, directory, {entry.page for entry in files})
            staging.rmdir()
            staging = None
    except OSError as exc:
        raise ReportError(f"{directory}: cannot write the HTML report: {exc}") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return directory / INDEX


def _staging(directory: Path) -> Path:
    """A new folder beside ``directory`` (same file system, so moving is a rename), made with
    the user's umask like any folder they create."""
    for _ in range(100):
        candidate = directory.parent / f".{directory.name}.{secrets.token_hex(4)}.tmp"
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"no free temporary name beside {directory}")


def _write(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def _ours(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(1024)
    except OSError:
        return False
    return f'<meta name="generator" content="{GENERATOR}'.encode() in head


def _replace_into(staging: Path, directory: Path, pages: set[str]) -> None:
    for path in sorted(staging.iterdir()):
        os.replace(path, directory / path.name)
    for path in sorted(directory.glob("*.html")):
        if path.name != INDEX and path.name not in pages and path.is_file() and _ours(path):
            path.unlink()


__all__ = ["ReportError", "check_directory", "write_report"]
