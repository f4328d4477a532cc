"""Real code written by others: requests-oauthlib's source distribution and its test suite.

Its sdist is downloaded from the package registry (the test is skipped, saying so, where the
registry cannot be reached), instrumented in place, and its own tests run against the
instrumented package: every test whose outcome is stable on the original (two runs agree;
one upstream test depends on timing) must have the same outcome instrumented (a few need the
internet and fail in every run). Then strip must give back every byte of every file.

Both tests download, so they are marked ``slow``: not in the default run (``pytest -m slow``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetrace.cli import app
from codetrace.runtime._otlp._json_records import read_json_lines

PROJECT = "requests-oauthlib==2.0.0"


def _download(into: Path, project: str = PROJECT) -> Path:
    pytest.importorskip("requests_mock", reason="requests-mock is in the test extra")
    pytest.importorskip("oauthlib", reason="oauthlib is in the test extra")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         "--dest", str(into), project],
        capture_output=True, text=True, timeout=180, check=False,
    )
    archives = list(into.glob("*.tar.gz"))
    if result.returncode != 0 or not archives:
        pytest.skip(f"cannot download {project}: {result.stderr.strip()[-200:]}")
    with tarfile.open(archives[0]) as archive:
        archive.extractall(into, filter="data")
    return next(p for p in into.iterdir() if p.is_dir())


def _outcomes(root: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-W", "error",
         "--ignore=tests/examples", "tests"],
        cwd=root, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, **(env or {})},
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


@pytest.mark.slow  # downloads the sdist and runs its suite three times
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


@pytest.mark.slow  # downloads flask's sdist
def test_flask_tutorial_flaskr_traced_end_to_end(tmp_path: Path) -> None:
    """Flask's own tutorial app (sqlite3 through ``get_db()``/``g.db``, an app factory) and its
    tests: the same outcomes instrumented, and the spans show each request with its queries."""
    root = _download(tmp_path, "flask==3.1.3") / "examples" / "tutorial"
    original = _tree(root)
    before = _outcomes(root)
    result = CliRunner().invoke(app, ["apply", "--no-cache", str(root / "flaskr"),
                                      str(root / "tests")])
    assert result.exit_code == 0, result.stderr
    assert "1 hook" in result.stderr and "unresolved" in result.stderr
    spans_file = tmp_path / "spans.jsonl"
    after = _outcomes(root, {"OTEL_TRACES_EXPORTER": "jsonl",
                             "CODETRACE_JSONL_PATH": str(spans_file)})
    assert after == before
    assert sum(1 for word in before.values() if word == "PASSED") >= 20
    spans = read_json_lines(spans_file)
    by_id = {span["span_id"]: span for span in spans}
    servers = [s for s in spans if s["kind"] == "SERVER"]
    assert {"POST /auth/login", "POST /<int:id>/update", "GET /"} <= {s["name"] for s in servers}
    queries = [s for s in spans if s["kind"] == "CLIENT"
               and "db.query.text" in s["attributes"]]
    under_requests = [q for q in queries if q["parent_span_id"] in by_id
                      and by_id[q["parent_span_id"]]["kind"] == "SERVER"]
    assert under_requests, "queries made while handling a request are its children"
    texts = " ".join(q["attributes"]["db.query.text"] for q in under_requests)
    assert "WHERE username = ?" in texts
    assert "'test'" not in texts and "'other'" not in texts  # parameter values never recorded
    result = CliRunner().invoke(app, ["strip", "--no-cache", str(root / "flaskr"),
                                      str(root / "tests")])
    assert result.exit_code == 0, result.stderr
    assert {k: v for k, v in _tree(root).items() if not k.startswith("instance/")} == original
