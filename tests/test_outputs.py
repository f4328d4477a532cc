"""CI and editor outputs: --check --diff, --output-format text|json|github|sarif, --fail-under,
and stdin mode (``codetrace apply --stdin-filename PATH -``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from codetrace.cli import app

GOOD = b"import requests\n\n\ndef f(u):\n    return requests.get(u)\n"
MORE = (b"import requests\n\n\ndef g(session):\n    return session.get('u')\n\n\n"
        b"def h(u):\n    return requests.post(u)\n")
BROKEN = b"import requests\n\ndef f(:\n    requests.get(u)\n"


def run(*args: str, input: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_bytes(b"")
    (tmp_path / "pkg" / "client.py").write_bytes(GOOD)
    (tmp_path / "pkg" / "more.py").write_bytes(MORE)
    return tmp_path


# ----- --check --diff ---------------------------------------------------------------------------

def test_check_and_diff_together(tree: Path) -> None:
    code, out, err = run("apply", "--check", "--diff", str(tree))
    assert code == 1
    assert out.count("+++ b/") == 2 and "_codetrace.traced(requests.get" in out
    assert "would instrument" in err
    assert (tree / "pkg" / "client.py").read_bytes() == GOOD  # nothing written
    assert run("apply", str(tree))[0] == 0
    code, out, _ = run("apply", "--check", "--diff", str(tree))
    assert code == 0 and out == ""
    code, out, _ = run("strip", "--check", "--diff", str(tree))
    assert code == 1 and "-import codetrace.runtime as _codetrace" in out


# ----- JSON ---------------------------------------------------------------------------------------

def test_check_json_has_schema_totals_files_and_error_lines(tree: Path) -> None:
    (tree / "pkg" / "broken.py").write_bytes(BROKEN)
    code, out, err = run("apply", "--check", "--output-format", "json", str(tree))
    assert code == 2  # a file error wins over "would change"
    document = json.loads(out)
    assert document["schema_version"] == 1
    assert document["command"] == "apply --check"
    totals = document["totals"]
    assert totals["files"] == 4 and totals["files_would_change"] == 2
    assert totals["files_failed"] == 1
    assert totals["sites_not_instrumented"] == 2 and totals["sites_instrumented"] == 0
    assert totals["unresolved"] == {"strong": 1, "some": 0, "weak": 0}
    assert totals["candidates"] == 3 and totals["coverage_percent"] == 0.0
    assert [Path(e["file"]).name for e in document["errors"]] == ["broken.py"]
    assert document["errors"][0]["line"] == 3 and document["errors"][0]["message"]
    files = {Path(f["path"]).name: f for f in document["files"]}
    assert files["client.py"]["sites"][0] == {
        "line": 5, "column": 12, "rule": "requests.send", "advice": "wrap-call",
        "callee": "requests.get", "resolved_by": "imports", "skipped": None}
    assert files["more.py"]["unresolved"][0]["evidence"] == "strong"
    assert "would instrument" not in err  # machine output: no text lines
    assert "broken.py:3:" in err  # errors always get their one line


def test_explain_json_counts_what_is_already_instrumented(tree: Path) -> None:
    assert run("apply", str(tree / "pkg" / "client.py"))[0] == 0
    code, out, _ = run("explain", "--output-format", "json", str(tree))
    assert code == 0
    totals = json.loads(out)["totals"]
    assert totals["sites_instrumented"] == 1 and totals["sites_not_instrumented"] == 1
    assert totals["candidates"] == 3 and totals["coverage_percent"] == pytest.approx(33.33)


def test_legacy_explain_json_is_a_list(tree: Path) -> None:
    code, out, _ = run("explain", "--json", str(tree))
    assert code == 0 and isinstance(json.loads(out), list)


# ----- GitHub annotations -------------------------------------------------------------------------

_ANNOTATION = re.compile(
    r"^::(error|warning|notice) file=[^,:]+,line=\d+(,col=\d+)?,title=[^:]+::\S.*$")


def test_github_annotations(tree: Path) -> None:
    code, out, _ = run("apply", "--check", "--output-format", "github", str(tree))
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 2 and all(_ANNOTATION.match(line) for line in lines), lines
    client = next(line for line in lines if "client.py" in line)
    assert client.startswith("::error file=") and ",line=5,col=12," in client
    assert "title=codetrace (requests.send)::requests.get() is not instrumented" in client
    code, out, _ = run("explain", "--output-format", "github", str(tree))
    assert code == 0
    unresolved = [line for line in out.splitlines() if "unresolved" in line]
    assert len(unresolved) == 1 and unresolved[0].startswith("::warning file=")
    assert ",line=5,col=12,title=codetrace (codetrace/unresolved)::session.get()" in unresolved[0]


def test_github_escapes_properties_and_data(tmp_path: Path) -> None:
    odd = tmp_path / "a,b%c.py"
    odd.write_bytes(GOOD)
    code, out, _ = run("apply", "--check", "--output-format", "github", str(odd))
    assert code == 1
    assert "a%2Cb%25c.py,line=5" in out


# ----- SARIF --------------------------------------------------------------------------------------

def _require(obj: dict[str, Any], where: str, *keys: str) -> None:
    for key in keys:
        assert key in obj, f"{where}: required property {key!r} missing"


def _message(message: Any, where: str) -> None:
    assert isinstance(message, dict), where
    assert "text" in message or "id" in message, f"{where}: a message needs text or id"


def validate_sarif_2_1_0(log: dict[str, Any]) -> None:
    """The required properties and constrained values of SARIF 2.1.0 (OASIS standard, the
    schema's ``required`` lists and enums) for what codetrace emits."""
    _require(log, "sarifLog", "version", "runs")
    assert log["version"] == "2.1.0"
    assert isinstance(log["runs"], list)
    for run_ in log["runs"]:
        _require(run_, "run", "tool")
        _require(run_["tool"], "tool", "driver")
        driver = run_["tool"]["driver"]
        _require(driver, "toolComponent", "name")
        rules = driver.get("rules", [])
        ids = []
        for rule in rules:
            _require(rule, "reportingDescriptor", "id")
            for key in ("shortDescription", "fullDescription"):
                if key in rule:
                    _require(rule[key], f"{key} (multiformatMessageString)", "text")
            level = rule.get("defaultConfiguration", {}).get("level", "warning")
            assert level in ("none", "note", "warning", "error")
            ids.append(rule["id"])
        assert len(ids) == len(set(ids)), "reporting descriptor ids are unique"
        for base in run_.get("originalUriBaseIds", {}).values():
            assert base["uri"].endswith("/"), "a base URI ends with a slash"
        for invocation in run_.get("invocations", []):
            _require(invocation, "invocation", "executionSuccessful")
        assert run_.get("columnKind", "unicodeCodePoints") in ("utf16CodeUnits",
                                                                "unicodeCodePoints")
        for result in run_.get("results", []):
            _require(result, "result", "message")
            _message(result["message"], "result.message")
            assert result.get("level", "warning") in ("none", "note", "warning", "error")
            if "ruleIndex" in result:
                assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
            for location in result.get("locations", []):
                physical = location["physicalLocation"]
                assert "artifactLocation" in physical or "address" in physical
                uri = physical["artifactLocation"]["uri"]
                assert " " not in uri and "\\" not in uri, "a URI reference"
                region = physical.get("region", {})
                assert region.get("startLine", 1) >= 1
                assert region.get("startColumn", 1) >= 1


def test_sarif_for_check_and_explain(tree: Path) -> None:
    (tree / "pkg" / "broken.py").write_bytes(BROKEN)
    code, out, _ = run("apply", "--check", "--output-format", "sarif", str(tree))
    assert code == 2
    log = json.loads(out)
    validate_sarif_2_1_0(log)
    run_ = log["runs"][0]
    rule_ids = {rule["id"] for rule in run_["tool"]["driver"]["rules"]}
    assert {"requests.send", "sqlite3.query", "codetrace/unresolved",
            "codetrace/file-error"} <= rule_ids
    results = run_["results"]
    assert {r["ruleId"] for r in results} == {"requests.send", "codetrace/file-error"}
    error = next(r for r in results if r["ruleId"] == "codetrace/file-error")
    assert error["level"] == "error"
    location = error["locations"][0]["physicalLocation"]
    assert location["region"]["startLine"] == 3
    assert location["artifactLocation"]["uri"].endswith("pkg/broken.py")
    assert run_["invocations"][0]["executionSuccessful"] is False
    code, out, _ = run("explain", "--output-format", "sarif", str(tree / "pkg" / "more.py"))
    log = json.loads(out)
    validate_sarif_2_1_0(log)
    levels = {r["ruleId"]: r["level"] for r in log["runs"][0]["results"]}
    assert levels == {"requests.send": "note", "codetrace/unresolved": "warning"}


def test_sarif_validator_rejects_what_the_standard_rejects() -> None:
    with pytest.raises(AssertionError):
        validate_sarif_2_1_0({"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]})
    with pytest.raises(AssertionError):
        validate_sarif_2_1_0({"version": "2.1.0", "runs": [
            {"tool": {"driver": {"name": "x"}}, "results": [{"level": "fatal",
                                                             "message": {"text": "m"}}]}]})


def test_relative_uris_under_the_working_folder(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tree)
    code, out, _ = run("apply", "--check", "--output-format", "sarif", "pkg")
    assert code == 1
    log = json.loads(out)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in log["runs"][0]["results"]}
    assert uris == {"pkg/client.py", "pkg/more.py"}
    assert log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"].startswith("file:///")


# ----- --fail-under -------------------------------------------------------------------------------

def test_fail_under_like_coverage(tree: Path) -> None:
    # 3 candidates: requests.get, requests.post (matched), session.get (strong, unresolved)
    assert run("explain", "--fail-under", "0", str(tree))[0] == 0
    code, out, _ = run("explain", "--fail-under", "10", str(tree))
    assert code == 1 and "0.0% of 3 candidate sites instrumented" in out
    assert "below --fail-under 10" in out
    assert run("apply", str(tree / "pkg" / "client.py"))[0] == 0
    code, out, _ = run("explain", "--fail-under", "33.3", str(tree))
    assert code == 0 and "33.3% of 3 candidate sites instrumented" in out
    assert run("explain", "--fail-under", "34", str(tree))[0] == 1
    code, _, err = run("apply", "--check", "--fail-under", "30", str(tree / "pkg" / "client.py"))
    assert code == 0 and "100.0% of 1 candidate site instrumented" in err
    code, _, err = run("apply", "--check", "--fail-under", "50", str(tree))
    assert code == 1 and "33.3% of 3 candidate sites" in err
    code, _, err = run("apply", "--fail-under", "50", str(tree))
    assert code == 2 and "--fail-under goes with --check" in err


def test_output_format_needs_check(tree: Path) -> None:
    code, _, err = run("apply", "--output-format", "json", str(tree))
    assert code == 2 and "goes with --check" in err
    code, _, err = run("apply", "--check", "--diff", "--output-format", "json", str(tree))
    assert code == 2 and "both write to stdout" in err
    assert (tree / "pkg" / "client.py").read_bytes() == GOOD


# ----- stdin --------------------------------------------------------------------------------------

def test_stdin_apply_writes_the_result_to_stdout(tree: Path) -> None:
    path = tree / "pkg" / "client.py"
    code, out, err = run("apply", "--stdin-filename", str(path), "-", input=GOOD)
    assert code == 0 and err == ""
    assert "_codetrace.traced(requests.get" in out
    assert path.read_bytes() == GOOD  # the file named is not touched
    code, back, _ = run("strip", "--stdin-filename", str(path), "-", input=out.encode())
    assert code == 0 and back.encode() == GOOD
    code, out, _ = run("apply", "--stdin-filename", str(path), "-", input=b"import os\n")
    assert code == 0 and out == "import os\n"  # nothing to do: the text as it came


def test_stdin_check_diff_and_errors(tree: Path) -> None:
    path = tree / "pkg" / "new_unsaved.py"  # need not exist
    code, out, _ = run("apply", "--check", "--stdin-filename", str(path), "-", input=GOOD)
    assert code == 1 and out == ""
    code, out, _ = run("apply", "--check", "--diff", "--stdin-filename", str(path), "-",
                       input=GOOD)
    assert code == 1 and "+++ b/" in out and "new_unsaved.py" in out
    code, out, err = run("apply", "--stdin-filename", str(path), "-", input=BROKEN)
    assert code == 2
    assert out.encode() == BROKEN  # an editor replacing its buffer gets it back unchanged
    assert err.count("\n") == 1 and "new_unsaved.py:3:" in err
    code, _, err = run("apply", "-", input=GOOD)
    assert code == 2 and "--stdin-filename" in err


def test_stdin_config_is_resolved_for_the_path(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "src").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[tool.codetrace]\nignore = ["requests"]\nextend-exclude = ["src/gen/"]\n'
        "force-exclude = true\n")
    source = b"import sqlite3\nimport requests\nsqlite3.connect('x')\nrequests.get('u')\n"
    code, out, _ = run("apply", "--stdin-filename", str(project / "src" / "m.py"), "-",
                       input=source)
    assert code == 0
    assert '"sqlite3.connect"' in out and '"requests.send"' not in out
    code, out, _ = run("apply", "--stdin-filename", str(project / "src" / "gen" / "m.py"), "-",
                       input=source)
    assert code == 0 and out.encode() == source  # excluded: passed through


def test_stdin_through_the_console_script(tree: Path) -> None:
    """A real process, as an editor runs it: bytes in, bytes out, exit code."""
    path = tree / "pkg" / "client.py"
    done = subprocess.run(
        [sys.executable, "-m", "codetrace", "apply", "--stdin-filename", str(path), "-"],
        input=GOOD, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert b"_codetrace.traced(requests.get" in done.stdout and done.stderr == b""
