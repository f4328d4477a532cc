"""Real code written by others: requests-oauthlib's source distribution and its test suite.

Its sdist is downloaded from the package registry (the test is skipped, saying so, where the
registry cannot be reached), instrumented in place, and its own tests run against the
instrumented package: every test whose outcome is stable on the original (two runs agree;
one upstream test depends on timing) must have the same outcome instrumented (a few need the
internet and fail in every run). Then strip must give back every byte of every file.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetrace.cli import app

PROJECT = "requests-oauthlib==2.0.0"


def _download(into: Path) -> Path:
    pytest.importorskip("requests_mock", reason="requests-mock is in the test extra")
    pytest.importorskip("oauthlib", reason="oauthlib is in the test extra")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         "--dest", str(into), PROJECT],
        capture_output=True, text=True, timeout=180, check=False,
    )
    archives = list(into.glob("*.tar.gz"))
    if result.returncode != 0 or not archives:
        pytest.skip(f"cannot download {PROJECT}: {result.stderr.strip()[-200:]}")
    with tarfile.open(archives[0]) as archive:
        archive.extractall(into, filter="data")
    return next(p for p in into.iterdir() if p.is_dir())


def _outcomes(root: Path) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-W", "error",
         "--ignore=tests/examples", "tests"],
        cwd=root, capture_output=True, text=True, timeout=300, check=False,
    )
    outcomes = {}
    for line in result.stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("PASSED", "FAILED", "ERROR", "SKIPPED"):
            # skip reasons carry a line number, and the added import moves lines by one
            outcomes[re.sub(r":\d+:", ":", rest.split(" - ")[0])] = word
    assert outcomes, result.stdout[-2000:] + result.stderr[-2000:]
    return outcomes


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def test_requests_oauthlib_suite_is_unchanged_by_instrumentation(tmp_path: Path) -> None:
    root = _download(tmp_path)
    original = _tree(root)
    # a few upstream tests depend on timing: only outcomes stable over two runs are compared
    first, second = _outcomes(root), _outcomes(root)
    before = {name: word for name, word in first.items() if second.get(name) == word}
    result = CliRunner().invoke(app, ["apply", "--no-cache", str(root / "requests_oauthlib"),
                                      str(root / "tests")])
    assert result.exit_code == 0, result.stderr
    instrumented = _tree(root)
    changed = [name for name in original if instrumented[name] != original[name]]
    assert len(changed) >= 3  # the library's own session code and the tests' calls
    assert b"_codetrace.traced(" in instrumented["requests_oauthlib/oauth2_session.py"]
    after = _outcomes(root)
    assert {name: after.get(name) for name in before} == before
    assert sum(1 for word in before.values() if word == "PASSED") > 50
    result = CliRunner().invoke(app, ["strip", "--no-cache", str(root / "requests_oauthlib"),
                                      str(root / "tests")])
    assert result.exit_code == 0, result.stderr
    assert _tree(root) == original
