"""Rule files declare the library versions they were tested with; a run says so when the
installed version is outside that range (``[library] tested``, ``codetrace/_versions.py``).

The library here is typer (installed with codetrace, so its version is real); the rule file is
the test's own, so the range can be put on either side of it.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetrace._rules import RuleError, builtin_rule_files, load_rules
from codetrace.cli import app

TYPER = metadata.version("typer")
SOURCE = "import typer\n\n\ndef hello():\n    typer.echo('hello')\n"


def rule_file(tmp_path: Path, tested: str, distribution: str = "typer") -> Path:
    path = tmp_path / "rules" / "typer.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        "[library]\n"
        'name = "typer"\n'
        'modules = ["typer"]\n'
        f'distribution = "{distribution}"\n'
        f'tested = "{tested}"\n'
        "\n[[rule]]\n"
        'id = "typer.echo"\n'
        '[rule.match]\ncall = ["typer.echo"]\n'
        '[rule.do]\nadvice = "wrap-call"\n'
    )
    return path


def project(tmp_path: Path, source: str = SOURCE) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "cli_app.py").write_text(source)
    (src / "other.py").write_text(source)
    return src


def run(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "were tested with" in line]


def test_outside_the_tested_range_is_one_warning_and_does_not_change_the_exit_code(
    tmp_path: Path,
) -> None:
    rules = rule_file(tmp_path, ">=999")
    src = project(tmp_path)
    code, _, err = run("apply", "--check", "--rules", rules, src)
    assert code == 1  # would change: the warning does not turn it into an error
    assert warnings_in(err) == [
        f"warning: typer {TYPER} is installed, but the typer rules (typer.toml) were tested "
        "with >=999: check its spans (the recall benchmark, or a test run with "
        "OTEL_TRACES_EXPORTER=console) before relying on them"
    ]


def test_within_the_range_nothing_is_said(tmp_path: Path) -> None:
    rules = rule_file(tmp_path, f"=={TYPER}")
    code, _, err = run("apply", "--check", "--rules", rules, project(tmp_path))
    assert code == 1
    assert warnings_in(err) == []


def test_a_library_no_file_uses_is_not_checked(tmp_path: Path) -> None:
    rules = rule_file(tmp_path, ">=999")
    src = project(tmp_path, "import os\n\n\ndef f():\n    return os.getcwd()\n")
    code, _, err = run("apply", "--check", "--rules", rules, src)
    assert code == 0
    assert warnings_in(err) == []


def test_already_instrumented_code_is_still_checked_cold_and_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODETRACE_CACHE_DIR", str(tmp_path / "cache"))
    rules = rule_file(tmp_path, ">=999")
    src = project(tmp_path)
    code, _, err = run("apply", "--rules", rules, src)
    assert code == 0 and len(warnings_in(err)) == 1
    assert '"typer.echo"' in (src / "cli_app.py").read_text()
    for _ in range(2):  # the first run after writing fills the cache, the second reads it
        code, _, err = run("apply", "--rules", rules, src)
        assert code == 0
        assert "2 files left unchanged" in err
        assert len(warnings_in(err)) == 1


def test_explain_lists_each_used_library_and_json_carries_the_verdict(tmp_path: Path) -> None:
    rules = rule_file(tmp_path, "<0.1")
    src = project(tmp_path)
    code, out, _ = run("explain", "--rules", rules, src)
    assert code == 0
    assert (f"  typer: typer {TYPER}, tested with <0.1: OUTSIDE the tested range"
            in out.splitlines())
    code, out, _ = run("explain", "--output-format", "json", "--rules", rules, src)
    document = json.loads(out)
    assert {"library": "typer", "distribution": "typer", "installed": TYPER,
            "tested": "<0.1", "within": False} in document["totals"]["libraries"]
    assert document["totals"]["warnings"] == 1


def test_github_output_annotates_the_version(tmp_path: Path) -> None:
    rules = rule_file(tmp_path, "<0.1")
    code, out, _ = run("apply", "--check", "--output-format", "github", "--rules", rules,
                       project(tmp_path))
    assert code == 1
    notes = [line for line in out.splitlines() if "library version" in line]
    assert len(notes) == 1 and notes[0].startswith("::warning title=codetrace (library version)::")


def test_not_installed_here_is_said_in_explain_only(tmp_path: Path) -> None:
    rules = rule_file(tmp_path, ">=1", distribution="no-such-distribution-codetrace")
    src = project(tmp_path)
    _, _, err = run("apply", "--check", "--rules", rules, src)
    assert warnings_in(err) == []
    _, out, _ = run("explain", "--rules", rules, src)
    assert "  typer: not installed here (tested with >=1)" in out.splitlines()


def test_a_bad_range_is_a_rule_error_naming_the_line(tmp_path: Path) -> None:
    rules = rule_file(tmp_path, "two point oh")
    with pytest.raises(RuleError) as caught:
        load_rules([rules])
    assert caught.value.line == 5
    assert "not a version specifier" in caught.value.message
    code, _, err = run("apply", "--check", "--rules", rules, project(tmp_path))
    assert code == 2
    assert err.count("\n") == 1 and "typer.toml:5" in err and "Traceback" not in err


def test_every_bundled_library_declares_its_distribution_and_tested_range() -> None:
    libraries = load_rules(builtin_rule_files()).libraries
    assert libraries
    for library in libraries:
        if library.distributions:  # [] is the standard library's
            assert library.tested, f"{library.source.name} declares no tested range"
