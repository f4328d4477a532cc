"""Path patterns like ruff's: gitignore-style, anchored at the pyproject; force-exclude."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetrace.cli import app

GOOD = b"import requests\n\n\ndef f(u):\n    return requests.get(u)\n"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _tree(root: Path, config: str) -> Path:
    for name in ("src/app/main.py", "src/legacy/old.py", "src/app/legacy/keep.py",
                 "tools/x.py", "src/app/x.py", "legacy/a.py", "legacy/sub/b.py"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(GOOD)
    (root / "pyproject.toml").write_text(f"[tool.codetrace]\n{config}\n")
    return root


def _changed(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.py")
            if b"_codetrace" in p.read_bytes()}


ALL = {"src/app/main.py", "src/legacy/old.py", "src/app/legacy/keep.py", "tools/x.py",
       "src/app/x.py", "legacy/a.py", "legacy/sub/b.py"}


@pytest.mark.parametrize(("patterns", "left_alone"), [
    # anchored at the pyproject: src/legacy/, not src/app/legacy/
    ('["src/legacy/"]', {"src/legacy/old.py"}),
    # any depth
    ('["**/x.py"]', {"tools/x.py", "src/app/x.py"}),
    # anchored glob: legacy/a.py only, not legacy/sub/b.py nor src/.../legacy
    ('["legacy/*.py"]', {"legacy/a.py"}),
    # a bare name matches at any depth, as before
    ('["legacy"]', {"src/legacy/old.py", "src/app/legacy/keep.py", "legacy/a.py",
                    "legacy/sub/b.py"}),
])
def test_exclude_patterns_are_gitignore_style_anchored_at_the_pyproject(
    tmp_path: Path, patterns: str, left_alone: set[str]
) -> None:
    root = _tree(tmp_path / "proj", f"extend-exclude = {patterns}")
    code, _, err = run("apply", str(root))
    assert code == 0, err
    assert _changed(root) == ALL - left_alone


def test_patterns_are_anchored_at_the_pyproject_when_a_subfolder_is_named(tmp_path: Path) -> None:
    root = _tree(tmp_path / "proj", 'extend-exclude = ["src/legacy/"]')
    code, _, err = run("apply", str(root / "src"))
    assert code == 0, err
    assert _changed(root) == {"src/app/main.py", "src/app/legacy/keep.py", "src/app/x.py"}


def test_include_is_anchored_too(tmp_path: Path) -> None:
    root = _tree(tmp_path / "proj", 'include = ["src/app/*.py"]')
    assert run("apply", str(root))[0] == 0
    assert _changed(root) == {"src/app/main.py", "src/app/x.py"}


def test_files_named_on_the_command_line_need_force_exclude(tmp_path: Path) -> None:
    root = _tree(tmp_path / "proj", 'extend-exclude = ["src/legacy/"]')
    named = root / "src" / "legacy" / "old.py"
    assert run("apply", str(named))[0] == 0
    assert _changed(root) == {"src/legacy/old.py"}  # named: taken, as before
    assert run("strip", str(named))[0] == 0
    # pre-commit names every staged file: --force-exclude keeps the config's excludes
    code, _, err = run("apply", "--force-exclude", str(named), str(root / "tools" / "x.py"))
    assert code == 0, err
    assert _changed(root) == {"tools/x.py"}
    assert run("strip", str(root))[0] == 0
    (root / "pyproject.toml").write_text(
        '[tool.codetrace]\nextend-exclude = ["src/legacy/"]\nforce-exclude = true\n')
    assert run("apply", str(named))[0] == 0
    assert _changed(root) == set()


def test_force_exclude_covers_files_below_an_excluded_folder(tmp_path: Path) -> None:
    root = _tree(tmp_path / "proj", "force-exclude = true")
    venv = root / ".venv" / "lib" / "site.py"
    venv.parent.mkdir(parents=True)
    venv.write_bytes(GOOD)
    assert run("apply", str(venv), str(root / "tools" / "x.py"))[0] == 0
    assert venv.read_bytes() == GOOD
    assert b"_codetrace" in (root / "tools" / "x.py").read_bytes()


@pytest.mark.parametrize("folder", ["__pypackages__", ".venv", "node_modules", "build",
                                    ".direnv", "site-packages"])
def test_default_excludes_like_ruffs(tmp_path: Path, folder: str) -> None:
    root = _tree(tmp_path / "proj", "")
    hidden = root / "src" / folder / "dep.py"
    hidden.parent.mkdir(parents=True)
    hidden.write_bytes(GOOD)
    assert run("apply", str(root))[0] == 0
    assert hidden.read_bytes() == GOOD
    assert _changed(root) == ALL


def test_a_named_folder_inside_an_excluded_one_is_walked(tmp_path: Path) -> None:
    """Naming ``.venv/lib/pkg`` asks for it: the ``.venv`` above it does not exclude its
    files, while excludes still apply inside it."""
    root = _tree(tmp_path / "proj", "")
    package = root / ".venv" / "lib" / "pkg"
    (package / "build").mkdir(parents=True)
    (package / "mod.py").write_bytes(GOOD)
    (package / "build" / "gen.py").write_bytes(GOOD)
    assert run("apply", str(package))[0] == 0
    assert b"_codetrace" in (package / "mod.py").read_bytes()
    assert (package / "build" / "gen.py").read_bytes() == GOOD


def test_force_exclude_must_be_a_boolean(tmp_path: Path) -> None:
    root = _tree(tmp_path / "proj", 'force-exclude = "yes"')
    code, _, err = run("apply", str(root))
    assert code == 2 and "pyproject.toml:2: [tool.codetrace] force-exclude must be" in err


def test_the_pre_commit_hooks_force_the_excludes() -> None:
    """pre-commit names every staged file: without --force-exclude the hooks would instrument
    the files the project excludes (issue 11)."""
    text = (Path(__file__).parent.parent / ".pre-commit-hooks.yaml").read_text()
    entries = [line for line in text.splitlines() if line.startswith("  entry: ")]
    assert entries and all(line.endswith(" --force-exclude") for line in entries)
