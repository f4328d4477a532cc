"""The command line: every flag, every exit code, and the failure modes of real trees."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetrace.cli import app

GOOD = b'import requests\n\n\ndef f(u):\n    return requests.get(u)\n'
PLAIN = b"import os\n\nprint(os.sep)\n"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_bytes(b"")
    (tmp_path / "pkg" / "client.py").write_bytes(GOOD)
    (tmp_path / "pkg" / "plain.py").write_bytes(PLAIN)
    (tmp_path / "pkg" / "data.txt").write_bytes(b"not python\n")
    return tmp_path


def test_apply_in_place_then_strip_restores_bytes(tree: Path) -> None:
    code, _, err = run("apply", str(tree))
    assert code == 0
    client = (tree / "pkg" / "client.py").read_bytes()
    assert b"_codetrace.traced(requests.get" in client
    assert "1 file instrumented, 1 call site, 0 hooks" in err
    assert (tree / "pkg" / "plain.py").read_bytes() == PLAIN
    code, _, err = run("strip", str(tree))
    assert code == 0
    assert "1 file stripped, 2 constructs removed" in err
    assert (tree / "pkg" / "client.py").read_bytes() == GOOD


def test_check_exit_codes(tree: Path) -> None:
    code, _, err = run("apply", "--check", str(tree))
    assert code == 1
    assert "would instrument" in err and "client.py" in err
    assert (tree / "pkg" / "client.py").read_bytes() == GOOD
    assert run("apply", str(tree))[0] == 0
    assert run("apply", "--check", str(tree))[0] == 0
    assert run("strip", "--check", str(tree))[0] == 1
    assert run("strip", str(tree))[0] == 0
    assert run("strip", "--check", str(tree))[0] == 0


def test_diff_writes_nothing_and_applies_with_patch(tree: Path, tmp_path: Path) -> None:
    code, out, _ = run("apply", "--diff", str(tree / "pkg" / "client.py"))
    assert code == 0
    assert (tree / "pkg" / "client.py").read_bytes() == GOOD
    assert "+import codetrace.runtime as _codetrace" in out
    assert '-    return requests.get(u)' in out
    patch = shutil.which("patch")
    if patch is None:
        pytest.skip("patch(1) not installed")
    copy = tmp_path / "copy.py"
    copy.write_bytes(GOOD)
    subprocess.run([patch, "-s", str(copy)], input=out.encode(), check=True)
    code, _, _ = run("apply", "--check", str(copy))
    assert code == 0  # the patched copy is exactly what apply would write


def test_out_writes_a_full_copy(tree: Path, tmp_path: Path) -> None:
    out = tmp_path.parent / (tmp_path.name + "-out")
    code, _, _ = run("apply", "--out", str(out), str(tree))
    assert code == 0
    assert (tree / "pkg" / "client.py").read_bytes() == GOOD
    assert b"_codetrace.traced" in (out / "pkg" / "client.py").read_bytes()
    assert (out / "pkg" / "plain.py").read_bytes() == PLAIN
    assert (out / "pkg" / "data.txt").read_bytes() == b"not python\n"
    assert (out / "pkg" / "__init__.py").exists()
    back = tmp_path.parent / (tmp_path.name + "-back")
    assert run("strip", "--out", str(back), str(out))[0] == 0
    assert (back / "pkg" / "client.py").read_bytes() == GOOD
    shutil.rmtree(out)
    shutil.rmtree(back)


def test_out_inside_input_is_refused(tree: Path) -> None:
    code, _, err = run("apply", "--out", str(tree / "copy"), str(tree))
    assert code == 2
    assert "must be outside" in err


def test_flags_are_exclusive_and_paths_must_exist(tree: Path) -> None:
    code, _, err = run("apply", "--diff", "--out", str(tree.parent / "o"), str(tree))
    assert code == 2 and "cannot be used together" in err
    code, _, err = run("apply", str(tree / "missing"))
    assert code == 2 and "no such file or folder" in err
    assert run("apply")[0] == 2  # no PATH: usage error


def test_bad_files_are_reported_and_others_processed(tree: Path) -> None:
    bad_syntax = b"import requests\n\ndef f(:\n    requests.get(1)\n"
    bad_bytes = b"import requests\nx = 1\ny = '\xff\xfe'\nrequests.get(y)\n"
    (tree / "pkg" / "broken.py").write_bytes(bad_syntax)
    (tree / "pkg" / "binary.py").write_bytes(bad_bytes)
    code, _, err = run("apply", str(tree))
    assert code == 2
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert any("broken.py:3:" in e and "syntax error" in e for e in errors)
    assert any("binary.py:3:" in e and "cannot decode" in e for e in errors)
    assert "Traceback" not in err
    assert (tree / "pkg" / "broken.py").read_bytes() == bad_syntax
    assert (tree / "pkg" / "binary.py").read_bytes() == bad_bytes
    assert b"_codetrace" in (tree / "pkg" / "client.py").read_bytes()


def test_file_binding_the_marker_is_left_alone(tree: Path) -> None:
    own = b"import requests\n_codetrace = 1\nrequests.get('u')\n"
    (tree / "pkg" / "own.py").write_bytes(own)
    code, _, err = run("apply", str(tree))
    assert code == 2
    assert "own.py:2:" in err and "binds `_codetrace` itself" in err
    assert (tree / "pkg" / "own.py").read_bytes() == own


def test_broken_rule_file_names_file_and_line(tree: Path) -> None:
    rules = tree / "mine.toml"
    rules.write_text('[library]\nname = "x"\n\n[[rule]]\nid = "x.y"\n[rule.match]\n'
                     'call = ["x.f"]\n[rule.do]\nadvice = "wrap-call"\nadvise = 1\n')
    code, _, err = run("apply", "--rules", str(rules), str(tree))
    assert code == 2
    assert err.strip() == (f"error: {rules}:10: unknown key 'advise' in [rule.do] "
                           "(expected one of: advice, adapter, attributes, hook, kind, "
                           "min_duration_ms, name, skip_trivial)")
    rules.write_text('[[rule]\nid = "x"\n')
    code, _, err = run("apply", "--rules", str(rules), str(tree))
    assert code == 2 and f"{rules}:1:" in err
    assert (tree / "pkg" / "client.py").read_bytes() == GOOD


def test_config_include_exclude_and_disable(tree: Path) -> None:
    (tree / "pyproject.toml").write_text(
        '[tool.codetrace]\nextend-exclude = ["plain.py"]\ndisable = ["flask.app"]\n')
    (tree / "pkg" / "web.py").write_bytes(b"from flask import Flask\napp = Flask(__name__)\n")
    code, _, err = run("apply", str(tree))
    assert code == 0
    assert (tree / "pkg" / "web.py").read_bytes().count(b"_codetrace") == 0
    (tree / "pyproject.toml").write_text('[tool.codetrace]\nincludes = ["*.py"]\n')
    code, _, err = run("apply", str(tree))
    assert code == 2 and "pyproject.toml:2: unknown key 'includes'" in err


def test_gitignore_is_respected(tree: Path) -> None:
    (tree / ".git").mkdir()
    (tree / ".gitignore").write_text("generated/\n")
    (tree / "generated").mkdir()
    (tree / "generated" / "gen.py").write_bytes(GOOD)
    assert run("apply", str(tree))[0] == 0
    assert (tree / "generated" / "gen.py").read_bytes() == GOOD
    assert b"_codetrace" in (tree / "pkg" / "client.py").read_bytes()


def test_unwritable_file_is_reported(tree: Path) -> None:
    target = tree / "pkg" / "client.py"
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(target)],
                                        capture_output=True).returncode != 0:
        if os.geteuid() == 0:
            pytest.skip("running as root on a filesystem without chattr +i")
        target.parent.chmod(0o555)
    try:
        code, _, err = run("apply", str(tree))
    finally:
        if chattr:
            subprocess.run([chattr, "-i", str(target)], capture_output=True)
        target.parent.chmod(0o755)
    assert code == 2
    assert "client.py:1: cannot write" in err
    assert target.read_bytes() == GOOD
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".codetrace")]


def test_explain_lists_sites_and_unresolved(tree: Path) -> None:
    (tree / "pkg" / "more.py").write_bytes(
        b"import requests\n\ndef g(session):\n    return session.get('u')\n")
    code, out, _ = run("explain", "--json", str(tree))
    assert code == 0
    documents = {Path(d["path"]).name: d for d in json.loads(out)}
    assert documents["client.py"]["sites"][0]["callee"] == "requests.get"
    assert documents["client.py"]["sites"][0]["line"] == 5
    unresolved = documents["more.py"]["unresolved"][0]
    assert unresolved["receiver"] == "session" and unresolved["line"] == 4
    assert "without an annotation" in unresolved["reason"]
    code, out, _ = run("explain", str(tree))
    assert "unresolved" in out and "session.get()" in out


def test_rules_lists_builtin_rules() -> None:
    code, out, _ = run("rules")
    assert code == 0
    assert "requests.send" in out and "requests.Session.send" in out and "flask.Flask" in out


def test_console_script_and_version() -> None:
    result = subprocess.run([sys.executable, "-m", "codetrace", "--version"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0 and result.stdout.startswith("codetrace ")


def test_quiet_prints_errors_only(tree: Path) -> None:
    code, _, err = run("apply", "--quiet", str(tree))
    assert code == 0 and err == ""


def test_file_libcst_cannot_reproduce_is_left_alone(tree: Path) -> None:
    """LibCST#1457: ``except X :`` loses its space; such a file must not be rewritten."""
    odd = b'import requests\ntry:\n    requests.get("u")\nexcept ValueError :\n    pass\n'
    (tree / "pkg" / "odd.py").write_bytes(odd)
    code, _, err = run("apply", str(tree))
    assert code == 2
    assert "odd.py:1: libcst does not reproduce this file byte for byte" in err
    assert (tree / "pkg" / "odd.py").read_bytes() == odd
    assert b"_codetrace" in (tree / "pkg" / "client.py").read_bytes()


def test_explain_ranks_candidates_and_totals(tmp_path: Path) -> None:
    """Strong candidates first, weak ones counted but listed only with --all, decorators never,
    totals by rule and by reason at the end."""
    source = tmp_path / "m.py"
    source.write_text(
        "import requests\n"
        "from app import bp\n\n"
        "@bp.get('/')\n"
        "def index(item, session, rows):\n"
        "    item.get('k')\n"
        "    rows.executemany('x', [])\n"
        "    session.get('u')\n"
        "    return requests.get('u')\n"
    )
    code, out, _ = run("explain", str(tmp_path))
    assert code == 0
    lines = out.splitlines()
    strong = next(i for i, line in enumerate(lines) if "session.get()" in line)
    some = next(i for i, line in enumerate(lines) if "rows.executemany()" in line)
    assert strong < some and "(strong)" in lines[strong] and "(some)" in lines[some]
    assert "item.get()" not in out and "bp.get" not in out
    assert "1 sites matched:" in out and "3 candidates unresolved (1 strong, 1 some, 1 weak)" in out
    assert "--all lists them" in out
    _, everything, _ = run("explain", "--all", str(tmp_path))
    assert "item.get()" in everything and "(weak)" in everything and "bp.get" not in everything
    _, as_json, _ = run("explain", "--json", str(tmp_path))
    evidence = {u["receiver"]: u["evidence"] for d in json.loads(as_json) for u in d["unresolved"]}
    assert evidence == {"session": "strong", "rows": "some", "item": "weak"}


def test_out_containing_an_input_is_refused(tree: Path) -> None:
    """``--out proj proj/pkg`` would write the "copy" over the originals."""
    code, _, err = run("apply", "--out", str(tree), str(tree / "pkg"))
    assert code == 2 and "must not contain it" in err
    assert (tree / "pkg" / "client.py").read_bytes() == GOOD


def test_a_named_symlink_is_never_replaced(tree: Path) -> None:
    """Folders are walked without following links; a link named on the command line is read
    but never replaced by a regular file (issue 10)."""
    link = tree / "link.py"
    link.symlink_to(tree / "pkg" / "client.py")
    (tree / "pkg" / "linked.py").symlink_to(tree / "pkg" / "client.py")
    code, _, err = run("apply", str(link))
    assert code == 2 and "is a symbolic link" in err
    assert link.is_symlink() and (tree / "pkg" / "client.py").read_bytes() == GOOD
    code, _, err = run("apply", str(tree / "pkg"))
    assert code == 0 and "1 file instrumented" in err  # client.py; linked.py skipped
    assert (tree / "pkg" / "linked.py").is_symlink()


def test_a_huge_file_is_reported_not_parsed(tree: Path) -> None:
    """A 20 MB generated module used to take minutes (issue 10): now one line, and the rest
    of the run goes on."""
    huge = tree / "pkg" / "generated.py"
    huge.write_bytes(b"import requests\n" + b"x = requests.get('u')\n" * 120_000)
    code, _, err = run("apply", str(tree))
    assert code == 2
    assert "generated.py:1: 2.5 MB is over the 2 MB codetrace parses; left untouched" in err
    assert b"_codetrace" in (tree / "pkg" / "client.py").read_bytes()
