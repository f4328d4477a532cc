"""``codetrace explain --html DIR``: a static report, checked as files and in a real browser.

The project is the example shop (``fixtures/example``) half-instrumented (its client and the
inventory went through ``apply``; the demo script and the shop's app did not), plus a legacy
module, also applied, that keeps two unresolved candidates (strong and some evidence) beside its
instrumented calls and holds source text that must be escaped (``<script>``, ``&``). The
browser test (slow) renders the index and two pages in Debian's headless Chromium, keeps the
screenshots under pytest's ``tmp_path`` (printed with ``-s``), and checks them: PNGs of the asked
size, the highlight colours on screen, the hover reasons in the DOM the browser built.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetrace import _html_report
from codetrace.cli import app

EXAMPLE = Path(__file__).resolve().parent.parent / "fixtures" / "example"

LEGACY = '''\
"""Old helpers kept for the <script>alert("legacy")</script> & friends importer."""

import sqlite3

import requests

BASE = "http://127.0.0.1:5001"


def fetch(client, path):
    # the session comes from a framework: codetrace cannot tell its type
    return client.session.get(BASE + path, timeout=5)  # <b>not bold</b> & "quoted"


def ping():
    return requests.head(BASE, timeout=1)


def report(url):
    return requests.post(url, data="a<b && c>d", timeout=5)


def save(store, rows):
    store.executemany("INSERT INTO t VALUES (?)", rows)
    return sqlite3.connect(":memory:")
'''


def line_number(path: Path, text: str) -> int:
    """The line of ``path`` that holds ``text`` (after ``apply`` moved the lines down)."""
    (number,) = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    return number


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def make_project(root: Path) -> Path:
    """The example shop with its client, the legacy module and the inventory instrumented;
    run from its folder, so reports name files relative to it, as a user's run does."""
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "shop" / "legacy.py").write_text(LEGACY)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        code, _, err = run("apply", "shop/inventory_client.py", "shop/legacy.py", "inventory")
    assert code == 0, err
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project of the test's own (the working folder), for tests that change it."""
    root = make_project(tmp_path / "project")
    monkeypatch.chdir(root)
    return root


@dataclass(frozen=True)
class Built:
    root: Path
    out: Path
    code: int
    stdout: str
    stderr: str


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """One project and its report (``explain --html htmlcov .``), for the tests that read it."""
    base = tmp_path_factory.mktemp("html")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CODETRACE_CACHE_DIR", str(base / "cache"))
        root = make_project(base / "project")
        patch.chdir(root)
        code, out, err = run("explain", "--html", "htmlcov", ".")
    return Built(root, root / "htmlcov", code, out, err)


@pytest.fixture
def here(built: Built, monkeypatch: pytest.MonkeyPatch) -> Built:
    """The shared project as the working folder (for runs that only add reports to it)."""
    monkeypatch.chdir(built.root)
    return built


class _Element:
    def __init__(self, tag: str, attrs: dict[str, str], parent: _Element | None) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[_Element] = []
        self.parts: list[str] = []

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def walk(self) -> Iterator[_Element]:
        yield self
        for child in self.children:
            yield from child.walk()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[_Element]:
        wanted = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
        return [e for e in self.walk() if (tag is None or e.tag == tag)
                and all(e.attrs.get(k) == v for k, v in wanted.items())]


_VOID = {"meta", "link", "br", "hr", "img", "input", "col", "wbr"}


class _Tree(HTMLParser):
    """Just enough of a DOM: elements with attributes, children and their whole text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = _Element(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(element)
        if tag not in _VOID:
            self.current = element

    def handle_endtag(self, tag: str) -> None:
        node: _Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        node: _Element | None = self.current
        while node is not None:
            node.parts.append(data)
            node = node.parent


def parse_html(text: str) -> _Element:
    tree = _Tree()
    tree.feed(text)
    tree.close()
    return tree.root


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def page_of(out: Path, path: str) -> tuple[Path, _Element]:
    """A file's page, found by following the index's link, as a reader does."""
    index = parse_html((out / "index.html").read_text())
    (row,) = index.find_all("tr", data_file=path)
    (link,) = row.find_all("a")
    page = out / link.attrs["href"]
    return page, parse_html(page.read_text())


def line_of(page: _Element, number: int) -> _Element:
    (line,) = page.find_all(id=f"L{number}")
    return line


# ----- the report as files --------------------------------------------------------------------

def test_index_totals_are_the_json_totals(here: Built) -> None:
    assert here.code == 0, here.stderr
    assert "candidate sites instrumented" in here.stdout  # the text report, as without --html
    assert here.stderr.strip().splitlines()[-1] == (
        f"Wrote HTML report to {Path('htmlcov', 'index.html')}")
    code, json_out, _ = run("explain", "--output-format", "json", ".")
    assert code == 0
    totals = json.loads(json_out)["totals"]
    index = parse_html((here.out / "index.html").read_text())
    shown = {e.attrs["data-total"]: e.attrs["data-value"] for e in index.find_all()
             if "data-total" in e.attrs}
    unresolved = totals["unresolved"]
    assert shown == {
        "files": str(totals["files"]),
        "candidates": str(totals["candidates"]),
        "sites_instrumented": str(totals["sites_instrumented"]),
        "sites_not_instrumented": str(totals["sites_not_instrumented"]),
        "sites_skipped": str(totals["sites_skipped"]),
        "unresolved": str(unresolved["strong"] + unresolved["some"]),
        "weak": str(unresolved["weak"]),
        "files_failed": str(totals["files_failed"]),
        "coverage_percent": str(totals["coverage_percent"]),
    }
    # the numbers the reader sees, as the text report prints them
    assert totals["sites_instrumented"] == 10 and totals["sites_not_instrumented"] == 6
    assert unresolved == {"strong": 1, "some": 1, "weak": 1} and totals["candidates"] == 18
    coverage = index.find_all(data_total="coverage_percent")[0]
    assert coverage.text.strip() == f"{totals['coverage_percent']:.1f}%"
    by_rule = {row.attrs["data-rule"]: row for row in index.find_all("tr")
               if "data-rule" in row.attrs}
    assert {rule: int(row.find_all(data_col="matched")[0].text)
            for rule, row in by_rule.items()} == totals["by_rule"]
    assert by_rule["requests.send"].attrs["data-library"] == "requests"
    libraries = {row.attrs["data-library"]: int(row.find_all(data_col="matched")[0].text)
                 for row in index.find_all("tr") if "data-library" in row.attrs
                 and "data-rule" not in row.attrs}
    assert libraries == {"flask": 1, "requests": 5}
    # one row per file with something to show, sorted, each linking to its page
    files = [row.attrs["data-file"] for row in index.find_all("tr") if "data-file" in row.attrs]
    assert files == ["inventory/app.py", "run_demo.py", "shop/app.py",
                     "shop/inventory_client.py", "shop/legacy.py"]


def test_file_page_highlights_sites_with_their_reasons(built: Built) -> None:
    project = built.root
    legacy = project / "shop" / "legacy.py"
    _, page = page_of(built.out, "shop/legacy.py")
    fetch = line_of(page, line_number(legacy, "client.session.get"))
    assert "unresolved" in fetch.classes
    (mark,) = fetch.find_all("mark")
    assert mark.text == "client.session.get" and "unresolved" in mark.classes
    assert mark.attrs["title"].startswith("client.session.get() unresolved (strong evidence): ")
    (note,) = fetch.find_all("span", class_="note unresolved")
    assert note.text.startswith("strong: ") and note.attrs["title"] == mark.attrs["title"]
    save = line_of(page, line_number(legacy, "store.executemany"))
    assert "unresolved" in save.classes
    assert "(some evidence)" in save.find_all("mark")[0].attrs["title"]
    ping = line_of(page, line_number(legacy, "requests.head"))
    assert "instrumented" in ping.classes
    (mark,) = ping.find_all("mark")
    assert mark.text == '_codetrace.traced(requests.head, "requests.send")(BASE, timeout=1)'
    assert mark.attrs["title"] == ("requests.head() is instrumented: codetrace traces it at "
                                   "run time")
    connect = line_of(page, line_number(legacy, "sqlite3.connect"))
    assert "sqlite3.connect() is instrumented" in connect.find_all("mark")[0].attrs["title"]
    plain = line_of(page, line_number(legacy, "def fetch"))
    assert not plain.classes - {"line"} and not plain.find_all("mark")
    # the legend names every colour; the source is all there, numbered, as the file holds it
    legend = page.find_all(class_="legend")[0].text
    for words in ("Instrumented", "codetrace apply", "Unresolved", "reason on hover"):
        assert words in legend
    numbered = numbered_lines(page)
    assert "".join(line.find_all("code")[0].text + "\n" for line in numbered) == (
        legacy.read_text())
    # sites to instrument, with their rule
    _, demo = page_of(built.out, "run_demo.py")
    first = line_of(demo, line_number(project / "run_demo.py", "/health"))
    assert "matched" in first.classes
    (mark,) = first.find_all("mark")
    assert mark.text == "requests.get"
    assert mark.attrs["title"].startswith("requests.get() matched by requests.send (resolved by")
    assert first.find_all("span", class_="note matched")[0].text == "requests.send"
    # already instrumented files show where, though only the count travels in the results
    _, client = page_of(built.out, "shop/inventory_client.py")
    marked = [int(e.attrs["id"][1:]) for e in numbered_lines(client) if "instrumented" in e.classes]
    assert marked == [14, 20, 29, 41, 43, 49]  # the function spans add a line above each def


def numbered_lines(page: _Element) -> list[_Element]:
    return [e for e in page.walk() if re.fullmatch(r"L\d+", e.attrs.get("id", ""))]


def test_source_text_is_escaped(built: Built) -> None:
    path, _ = page_of(built.out, "shop/legacy.py")
    raw = path.read_text()
    assert "<script>alert" not in raw and "<b>not bold</b>" not in raw
    assert "&lt;script&gt;alert(" in raw and "&lt;b&gt;not bold&lt;/b&gt;" in raw
    assert "&amp; friends" in raw and "a&lt;b &amp;&amp; c&gt;d" in raw
    for text in (raw, (built.out / "index.html").read_text()):
        assert "http://" not in text.replace("http://127.0.0.1:5001", "")  # no external URL
        assert "https://" not in text and "<link" not in text and " src=" not in text


def test_same_input_same_bytes(here: Built) -> None:
    first = snapshot(here.out)
    assert run("explain", "--html", "again", "-j", "2", ".")[0] == 0
    assert snapshot(here.root / "again") == first
    assert run("explain", "--html", "again", ".")[0] == 0  # into the existing report
    assert snapshot(here.root / "again") == first
    assert "index.html" in first and len([n for n in first if n.endswith(".html")]) == 6


def test_html_goes_with_the_other_formats_and_keeps_the_exit_code(here: Built) -> None:
    code, out, err = run("explain", "--html", "deep/er/report", "--output-format", "json",
                         "--fail-under", "90", ".")
    assert code == 1  # under --fail-under, as without --html
    assert json.loads(out)["totals"]["candidates"] == 18
    assert (here.root / "deep" / "er" / "report" / "index.html").is_file()
    assert err.strip().splitlines()[-1].startswith("Wrote HTML report to ")


def test_a_file_where_the_report_goes_is_a_one_line_error(here: Built) -> None:
    (here.root / "report.txt").write_text("mine\n")
    code, out, err = run("explain", "--html", "report.txt", ".")
    assert code == 2
    assert err.strip() == (
        "error: report.txt: exists and is not a directory (--html needs a folder)")
    assert "Traceback" not in out + err
    assert (here.root / "report.txt").read_text() == "mine\n"
    assert run("apply", "--html", "x", ".")[0] == 2  # an option of explain only


def leftovers(folder: Path, name: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}"))


def test_no_half_written_report_and_no_temporary_leftovers(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("explain", "--html", "htmlcov", ".")[0] == 0
    assert leftovers(project, "htmlcov") == []
    (project / "htmlcov" / "notes.txt").write_text("kept\n")
    before = snapshot(project / "htmlcov")
    assert before[".gitignore"] == b"# Created by codetrace explain --html\n*\n"

    pages = 0
    render = _html_report._render_file

    def failing(*args: object, **kwargs: object) -> str:
        nonlocal pages
        pages += 1
        if pages >= 3:
            raise OSError(28, "No space left on device")
        return render(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_html_report, "_render_file", failing)
    (project / "shop" / "legacy.py").write_text(LEGACY.replace("client.session", "client.sess"))
    code, _, err = run("explain", "--html", "htmlcov", ".")
    assert code == 2 and pages == 3
    (message,) = err.strip().splitlines()
    assert message.startswith("error: htmlcov: cannot write the HTML report: ")
    assert snapshot(project / "htmlcov") == before  # the old report, whole
    code, _, _ = run("explain", "--html", "fresh", ".")
    assert code == 2 and not (project / "fresh").exists()
    assert leftovers(project, "htmlcov") == [] and leftovers(project, "fresh") == []
    monkeypatch.setattr(_html_report, "_render_file", render)

    # a later report drops the pages of files that no longer have anything to show, and only
    # those: the reader's own files stay
    (project / "run_demo.py").unlink()
    assert run("explain", "--html", "htmlcov", ".")[0] == 0
    after = snapshot(project / "htmlcov")
    assert after["notes.txt"] == b"kept\n"
    assert len([n for n in after if n.endswith(".html")]) == 5
    assert not [n for n in after if n.startswith("run_demo")]


# ----- in a real browser ---------------------------------------------------------------------

CHROMIUM_TIMEOUT_S = 60


def chromium() -> str:
    """Debian's Chromium; the test fails without it (a skipped browser test proves nothing),
    unless ``CODETRACE_SKIP_SERVERS=1`` says to skip the tests that need outside programs."""
    if os.environ.get("CODETRACE_SKIP_SERVERS") == "1":
        pytest.skip("CODETRACE_SKIP_SERVERS=1: no browser")
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is not installed: install it (`apt-get install -y chromium`) or "
                    "set CODETRACE_SKIP_SERVERS=1 to skip the tests that need it")
    return found


def _ours(marker: str) -> list[int]:
    """Processes whose command line names ``marker`` (our own fresh profile folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry.name))
    return found


def headless(browser: str, url: str, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One bounded Chromium run with a fresh profile; its whole process group is stopped
    after, and none of its processes may be left."""
    profile = work / f"profile-{len(list(work.glob('profile-*')))}"
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", f"--user-data-dir={profile}", "--window-size=1280,900",
               "--hide-scrollbars", *args, url]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=CHROMIUM_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"chromium did not finish in {CHROMIUM_TIMEOUT_S} s: {command}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # helpers it left behind, if any
    deadline = time.monotonic() + 10
    while _ours(str(profile)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _ours(str(profile)), "chromium processes left running"
    assert process.returncode == 0, stderr[-2000:]
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGB or RGBA PNG (stdlib only)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, chunks = 8, []
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset:offset + 4])
        kind = data[offset + 4:offset + 8]
        body = data[offset + 8:offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length:offset + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        offset += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc
                                      else corner)) & 0xFF
        rows.append(bytes(line) if channels == 3
                    else b"".join(bytes(line[i:i + 3]) for i in range(0, stride, 4)))
        previous = line
    return width, height, rows


def colours(rows: list[bytes]) -> set[tuple[int, int, int]]:
    return {(row[i], row[i + 1], row[i + 2]) for row in rows for i in range(0, len(row), 3)}


def rgb(css: str) -> tuple[int, int, int]:
    value = int(css.lstrip("#"), 16)
    return (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF


@pytest.mark.slow
def test_the_report_in_a_real_browser(built: Built, tmp_path: Path) -> None:
    browser = chromium()
    project, out = built.root, built.out
    page, _ = page_of(out, "shop/legacy.py")
    app_page, _ = page_of(out, "shop/app.py")  # its site to instrument is near the top
    shots = tmp_path / "screenshots"
    shots.mkdir()
    seen: dict[str, set[tuple[int, int, int]]] = {}
    for name, target in (("index", out / "index.html"), ("legacy", page), ("app", app_page)):
        png = shots / f"{name}.png"
        headless(browser, target.as_uri(), tmp_path, f"--screenshot={png}")
        print(f"screenshot: {png}")
        width, height, rows = png_pixels(png.read_bytes())
        assert (width, height) == (1280, 900)
        seen[name] = colours(rows)
        assert len(seen[name]) > 50, f"{png} looks blank ({len(seen[name])} colours)"
    # the highlight colours are on the screen: the lines' backgrounds, as the CSS gives them
    for name, kind in (("legacy", "instrumented"), ("legacy", "unresolved"), ("app", "matched")):
        assert rgb(_html_report.LINE_COLOURS[kind]) in seen[name], (name, kind)
        assert rgb(_html_report.MARK_COLOURS[kind]) in seen[name], (name, kind)
    assert rgb(_html_report.LINE_COLOURS["matched"]) not in seen["legacy"]
    for kind in ("instrumented", "matched", "unresolved"):
        assert rgb(_html_report.BAR_COLOURS[kind]) in seen["index"], kind
    # the DOM the browser built: the highlighted sites with their reasons to hover over
    dom = parse_html(headless(browser, page.as_uri(), tmp_path, "--dump-dom").stdout)
    titles = {int(line.attrs["id"][1:]): [m.attrs["title"] for m in line.find_all("mark")]
              for line in numbered_lines(dom)}
    legacy = project / "shop" / "legacy.py"
    assert titles[line_number(legacy, "client.session.get")][0].startswith(
        "client.session.get() unresolved (strong evidence)")
    assert "is instrumented" in titles[line_number(legacy, "requests.head")][0]
    index_dom = parse_html(headless(browser, (out / "index.html").as_uri(), tmp_path,
                                    "--dump-dom").stdout)
    assert index_dom.find_all(data_total="coverage_percent")[0].text.strip() == "55.6%"
