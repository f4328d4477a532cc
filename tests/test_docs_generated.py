"""The generated parts of the docs are what docs/generate.py makes from the code today.

The configuration keys (``codetrace._config.KEYS``), the command line (the Typer app), the rule
schema's advice kinds (the advice registry, the runtime's catalogue) and the bundled rules
(``rules/*.toml``, read now: a new rule file fails this test until the docs are regenerated).
"""

from __future__ import annotations

import difflib
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


generate = _generator()
PAGES = [*generate.SECTIONS, *generate.PAGES]


@pytest.mark.parametrize("page", PAGES)
def test_generated_docs_match_the_code(page: str) -> None:
    path = ROOT / "docs" / page
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    expected = generate.expected(page)
    if current != expected:
        diff = "".join(list(difflib.unified_diff(
            current.splitlines(keepends=True), expected.splitlines(keepends=True),
            f"docs/{page}", "what the code says"))[:60])
        pytest.fail(f"docs/{page} is out of date: run `python docs/generate.py` and commit "
                    f"the result\n{diff}", pytrace=False)


def test_a_new_rule_file_appears_in_the_rules_table(tmp_path: Path) -> None:
    """The table is read from the rule files, so another library's file is one regenerate."""
    extra = tmp_path / "acme.toml"
    extra.write_text(
        '[library]\nname = "acme"\ndescription = "ACME queues"\ntested = ">=1,<2"\n\n'
        '[[rule]]\nid = "acme.send"\ndescription = "A message is sent"\n'
        '[rule.match]\ncall = ["acme.Queue.send"]\n[rule.do]\nadvice = "wrap-call"\n',
        encoding="utf-8")
    table = generate.bundled_rules([*sorted((ROOT / "rules").glob("*.toml")), extra])
    assert ("| [`acme.send`](#acme) | `acme` | `wrap-call` (a span named by the id) "
            "| A message is sent |") in table
    assert "### acme\n\n`rules/acme.toml`: ACME queues. Tested with versions `>=1,<2`." in table
    assert "- `acme.send`: `acme.Queue.send`" in table


def test_a_page_without_its_markers_is_an_error() -> None:
    with pytest.raises(ValueError, match="config-keys"):
        generate.fill("# a page\n", {"config-keys": generate.config_keys})


def test_check_mode_names_a_stale_page_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    stale = (docs / "configuration.md").read_text(encoding="utf-8").replace(
        "| list of patterns |", "| list of globs |", 1)
    (docs / "configuration.md").write_text(stale, encoding="utf-8")
    monkeypatch.setattr(generate, "DOCS", docs)
    for page in PAGES:  # the rest as the code says, whatever the checkout holds
        if page != "configuration.md":
            (docs / page).write_text(generate.expected(page), encoding="utf-8")
    assert generate.main(["--check"]) == 1
    assert "docs/configuration.md is out of date: run `python docs/generate.py`" in \
        capsys.readouterr().err
    assert (docs / "configuration.md").read_text(encoding="utf-8") == stale
    assert generate.main([]) == 0
    assert generate.main(["--check"]) == 0
