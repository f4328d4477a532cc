"""After ``codetrace apply`` a project's own toolchain stays green, and strip gives every byte back.

``fixtures/toolchain_project`` is a small Flask service (application factory, blueprints, a
requests ``Session`` on a class, an httpx ``AsyncClient``, sqlite helpers, fully typed) that is
clean under black, ruff (``E``, ``F`` and the isort rules ``I``), isort, ``mypy --strict`` and
``pyright --strict``. The test copies it, proves it clean with the real tools (the versions
pinned in the ``test`` extra), runs the real ``codetrace`` command, runs the tools again, strips,
and compares bytes. The same for a variant formatted with ``ruff format`` (line length 100,
single quotes) instead of black.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent.parent / "fixtures" / "toolchain_project"
TOOLS = ("black", "ruff", "isort", "mypy", "pyright", "codetrace")


def _tool(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def _run(project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1", "NO_COLOR": "1"}
    return subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=600,
                          env=environment)


def _snapshot(project: Path) -> dict[str, bytes]:
    return {p.relative_to(project).as_posix(): p.read_bytes()
            for p in sorted(project.rglob("*.py"))}


def _ruff_variant(project: Path) -> None:
    """The same project, formatted by ``ruff format`` (its settings, not black's)."""
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    text = text.replace('[tool.black]\nline-length = 88\ntarget-version = ["py310"]\n\n', "")
    text = text.replace("[tool.ruff]\nline-length = 88\n", "[tool.ruff]\nline-length = 100\n")
    text = text.replace("[tool.ruff.lint]\n",
                        '[tool.ruff.format]\nquote-style = "single"\n\n[tool.ruff.lint]\n')
    text = text.replace('profile = "black"\n', 'profile = "black"\nline_length = 100\n')
    assert "[tool.black]" not in text and "[tool.ruff.format]" in text
    pyproject.write_text(text)
    done = _run(project, str(_tool("ruff")), "format", "--no-cache", ".")
    assert done.returncode == 0, done.stderr


def _checks(project: Path, formatter: str) -> dict[str, list[str]]:
    tools = {name: str(_tool(name)) for name in TOOLS}
    mypy_cache = str(project.parent / "mypy_cache")
    return {
        formatter: [tools["black"], "--check", "."] if formatter == "black"
        else [tools["ruff"], "format", "--check", "--no-cache", "."],
        "ruff": [tools["ruff"], "check", "--no-cache", "--select", "I,E,F", "."],
        "isort": [tools["isort"], "--check-only", "--diff", "."],
        "mypy": [tools["mypy"], "--strict", "--cache-dir", mypy_cache, "shop"],
        "pyright": [tools["pyright"], "--pythonpath", sys.executable],
    }


def _failures(project: Path, formatter: str) -> list[str]:
    failed = []
    for name, command in _checks(project, formatter).items():
        done = _run(project, *command)
        if done.returncode != 0:
            failed.append(f"{name}: {done.stdout}{done.stderr}")
    return failed


@pytest.mark.slow
@pytest.mark.parametrize("formatter", ["black", "ruff"])
def test_toolchain_stays_clean(tmp_path: Path, formatter: str) -> None:
    missing = [name for name in TOOLS if _tool(name) is None]
    if missing:
        message = f"not installed: {', '.join(missing)} (pip install '.[test]')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    (project / ".git").mkdir()  # the tools look for their settings no higher than this
    if formatter == "ruff":
        _ruff_variant(project)
    before = _snapshot(project)
    assert _failures(project, formatter) == [], "the fixture itself must be clean"

    done = _run(project, str(_tool("codetrace")), "apply", ".")
    assert done.returncode == 0, done.stderr
    assert "4 files instrumented, 12 call sites, 1 hook" in done.stdout + done.stderr
    after = _snapshot(project)
    assert sum(after[name] != before[name] for name in before) == 4
    assert all(b"import codetrace.runtime as _codetrace\n" in after[name]
               for name in before if after[name] != before[name])
    assert _failures(project, formatter) == []

    done = _run(project, str(_tool("codetrace")), "strip", ".")
    assert done.returncode == 0, done.stderr
    assert _snapshot(project) == before
