"""The hard-cases project: receivers that only resolve across scopes, classes and modules.

``fixtures/hardcases`` is instrumented as a whole (the project index resolves imports between
its modules) and compared with ``fixtures/hardcases_expected`` file by file; then the usual
invariants: applying again changes nothing, strip gives every original byte back.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from codetrace.cli import app

FIXTURES = Path(__file__).parent.parent / "fixtures"
SOURCE = FIXTURES / "hardcases"
EXPECTED = FIXTURES / "hardcases_expected"


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout


def test_apply_matches_expected_tree_and_round_trips(tmp_path: Path) -> None:
    work = tmp_path / "hardcases"
    shutil.copytree(SOURCE, work)
    assert _cli("apply", str(work))[0] == 0
    assert _tree(work) == _tree(EXPECTED)
    assert _cli("apply", "--check", str(work))[0] == 0  # idempotent
    for name, data in _tree(work).items():
        compile(data, name, "exec")
    assert _cli("strip", str(work))[0] == 0
    assert _tree(work) == _tree(SOURCE)


def test_explain_resolves_everything_and_nothing_wrong() -> None:
    code, out = _cli("explain", "--json", str(SOURCE))
    assert code == 0
    documents = json.loads(out)
    unresolved = [u for d in documents for u in d["unresolved"]]
    assert unresolved == []
    sites = {(Path(d["path"]).name, s["line"]): s for d in documents for s in d["sites"]}
    callees = sorted(s["callee"] for s in sites.values())
    assert callees == sorted([
        "sqlite3.connect", "sqlite3.connect", "sqlite3.connect",
        "requests.Session", "requests.Session", "hardapp.http.Api",  # traced where built
        "requests.Session.get", "requests.Session.post",
        "requests.Session.head", "sqlite3.Connection.execute",
        "requests.Session.get", "sqlite3.Connection.execute", "sqlite3.Cursor.executemany",
        "sqlite3.Connection.commit", "sqlite3.Connection.execute",
        "sqlite3.Connection.execute", "sqlite3.Connection.execute",
    ])
    tiers = {s["resolved_by"] for s in sites.values()}
    assert tiers == {"imports", "self/class attribute", "return type", "cross-module"}
    # the look-alikes stay untouched: Runner.execute and dict.get in views.not_a_database
    views = (SOURCE / "hardapp" / "views.py").read_text().splitlines()
    lookalike_lines = {i + 1 for i, line in enumerate(views)
                       if "Runner().execute" in line or "cache.get" in line}
    assert lookalike_lines and not {("views.py", n) for n in lookalike_lines} & set(sites)
