"""Every relative link in README.md and docs/*.md points at a file that exists, and every
``#anchor`` at a heading of that page (as GitHub makes anchors from headings)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, each space a hyphen."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        heading = re.match(r"(#{1,6}) (.+)", line)
        if heading and not in_code:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def test_slug_follows_github() -> None:
    assert slug("In the source: `# codetrace: ignore`") == "in-the-source--codetrace-ignore"
    assert slug("Reading `codetrace explain`") == "reading-codetrace-explain"
    assert slug("flask_sqlalchemy") == "flask_sqlalchemy"


def _links() -> list[tuple[Path, str]]:
    found = []
    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
        found += [(page, target) for target in LINK.findall(text)
                  if not re.match(r"[a-z]+:", target)]
    return found


@pytest.mark.parametrize("page, target", _links(),
                         ids=lambda v: v.name if isinstance(v, Path) else v)
def test_relative_links_resolve(page: Path, target: str) -> None:
    path, _, anchor = target.partition("#")
    linked = (page.parent / path).resolve() if path else page
    assert linked.exists(), f"{page.name}: {target}: no such file"
    if anchor and linked.suffix == ".md":
        assert anchor in anchors(linked), (
            f"{page.name}: {target}: no heading with that anchor in {linked.name}")
