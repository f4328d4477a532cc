"""docs/guide.md: its commands run, its `explain` sample is what explain prints, and its tables
name what the code has.

Every ``codetrace`` command in the guide's shell and YAML blocks (CI steps, pre-commit entries)
runs on a small project and is accepted: no usage or configuration error, exit 0 or 1. A
combination the CLI refuses (``--diff`` with ``--output-format github``, say) fails here
before a user copies it into a workflow.
"""

from __future__ import annotations

import re
import shlex
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetrace import _match
from codetrace._model import TIER_NAMES
from codetrace.cli import app

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")

CLIENT = textwrap.dedent('''\
    import requests
    import sqlite3

    API = "http://127.0.0.1:8000"


    def fetch(session, user_id):
        return session.get(f"{API}/users/{user_id}", timeout=5)


    def save(conn, rows):
        conn.executemany("INSERT INTO t VALUES (?)", rows)


    def lookup(cache, key):
        return cache.get(key)


    def ping():
        return requests.get(f"{API}/health", timeout=2)
''')


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE, re.DOTALL)


def guide_commands() -> list[list[str]]:
    """The codetrace command lines of the guide, as argument lists (comments and output
    redirections dropped; a pre-commit ``entry`` gets a file name, as pre-commit passes)."""
    commands = []
    for block in _blocks("sh"):
        for line in block.splitlines():
            if line.startswith("codetrace "):
                commands.append(shlex.split(line, comments=True))
    for block in _blocks("yaml"):
        for line in block.splitlines():
            found = re.match(r"\s*(?:- )?(run|entry): (codetrace .*)", line)
            if found:
                words = shlex.split(found.group(2), comments=True)
                if ">" in words:
                    words = words[:words.index(">")]
                commands.append(words + (["src/shop/client.py"] if found.group(1) == "entry"
                                         else []))
    return commands


COMMANDS = guide_commands()


def test_the_guide_has_its_commands() -> None:
    flat = [" ".join(c) for c in COMMANDS]
    assert "codetrace apply --diff src/" in flat
    assert "codetrace strip src/" in flat
    assert any("--output-format github" in c and "--fail-under" in c for c in flat)
    assert any(c.startswith("codetrace apply --check --force-exclude") for c in flat)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project configured as the guide's "Configure it" section says."""
    config = next(b for b in _blocks("toml") if b.startswith("[tool.codetrace]"))
    (tmp_path / "pyproject.toml").write_text(config, encoding="utf-8")
    (tmp_path / "src" / "shop").mkdir(parents=True)
    (tmp_path / "src" / "shop" / "__init__.py").write_text("")
    (tmp_path / "src" / "shop" / "client.py").write_text(CLIENT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_in_the_guide_is_accepted(command: list[str], project: Path) -> None:
    assert command[0] == "codetrace"
    result = CliRunner().invoke(app, [*command[1:], "--jobs", "1"]
                                if command[1] in ("apply", "strip", "explain") else command[1:])
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
    assert "error:" not in result.stderr


def test_the_explain_sample_is_what_explain_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = next(b for b in _blocks("text") if b.startswith("$ codetrace explain app/"))
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "client.py").write_text(CLIENT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["explain", "--jobs", "1", "app/"])
    assert result.exit_code == 0, result.stderr
    shown = sample.split("\n", 1)[1]
    assert result.stdout.startswith(shown), (
        "docs/guide.md's `codetrace explain` sample is no longer what explain prints; update "
        f"it (and the text around it) to:\n{result.stdout}")


def test_the_tier_table_names_every_tier() -> None:
    section = GUIDE.split('### What does "by imports"', 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| ([a-z/ -]+) \| ", section, re.MULTILINE)
    assert [r for r in rows if r != "tier"] == list(TIER_NAMES.values())


def test_the_weak_methods_are_the_matchers() -> None:
    weak = GUIDE.split("- **weak**", 1)[1].split("\n\n", 1)[0]
    assert set(re.findall(r"`\.([a-z_]+)\(\)`", weak)) == set(_match._GENERIC_METHODS)


def test_the_pre_commit_hooks_table_is_the_hooks_file() -> None:
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    offered = dict(re.findall(r"^- id: (\S+)\n(?:  .*\n)*?  entry: (.+)$", hooks, re.MULTILINE))
    table = dict(re.findall(r"^\| `(codetrace-[a-z]+)` \| `([^`]+)` \|", GUIDE, re.MULTILINE))
    assert table == offered
