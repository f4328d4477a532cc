"""Rule selection like ruff's: select / extend-select / ignore by rule id or library prefix,
unknown names an error with the closest known one, and ``# codetrace: ignore[rule.id]``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetrace._rules import builtin_rule_files, load_rules, select_rules, selectors
from codetrace.cli import app

SOURCE = (
    "import sqlite3\n"
    "import requests\n"
    "\n"
    "\n"
    "def f(u):\n"
    "    con = sqlite3.connect(':memory:')\n"
    "    con.execute('select 1')\n"
    "    return requests.get(u)\n"
)


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def _rules_in(path: Path) -> set[str]:
    text = path.read_text()
    return {rule for rule in ("sqlite3.connect", "sqlite3.query", "requests.send")
            if f'"{rule}"' in text}


@pytest.fixture
def module(tmp_path: Path) -> Path:
    path = tmp_path / "m.py"
    path.write_text(SOURCE)
    return path


@pytest.mark.parametrize(("flags", "expected"), [
    ([], {"sqlite3.connect", "sqlite3.query", "requests.send"}),
    (["--select", "requests"], {"requests.send"}),
    (["--select", "sqlite3.query,requests.send"], {"sqlite3.query", "requests.send"}),
    (["--select", "sqlite3.query", "--select", "requests.send"],
     {"sqlite3.query", "requests.send"}),
    (["--ignore", "sqlite3"], {"requests.send"}),
    (["--select", "sqlite3", "--ignore", "sqlite3.connect"], {"sqlite3.query"}),
    (["--select", "requests", "--extend-select", "sqlite3.connect"],
     {"requests.send", "sqlite3.connect"}),
])
def test_select_ignore_extend_select_on_the_command_line(
    module: Path, flags: list[str], expected: set[str]
) -> None:
    code, _, err = run("apply", *flags, str(module))
    assert code == 0, err
    assert _rules_in(module) == expected


def test_config_select_and_cli_override(module: Path) -> None:
    (module.parent / "pyproject.toml").write_text(
        '[tool.codetrace]\nselect = ["sqlite3"]\nignore = ["sqlite3.connect"]\n')
    code, _, err = run("apply", "--diff", str(module))
    assert code == 0, err
    code, out, _ = run("apply", "--diff", str(module))
    assert '"sqlite3.query"' in out and '"requests.send"' not in out
    assert '"sqlite3.connect"' not in out
    # --select replaces the config's select; the config's ignore still holds (as in ruff)
    code, out, _ = run("apply", "--diff", "--select", "requests,sqlite3", str(module))
    assert '"requests.send"' in out and '"sqlite3.query"' in out
    assert '"sqlite3.connect"' not in out


@pytest.mark.parametrize(("config", "line", "wrong", "close"), [
    ('disable = ["flask.ap"]', 2, "flask.ap", "flask.app"),
    ('\nignore = ["reqests"]', 3, "reqests", "requests"),
    ('select = ["sqlite3.qery"]', 2, "sqlite3.qery", "sqlite3.query"),
    ('extend-select = ["httpx.sends"]', 2, "httpx.sends", "httpx.send"),
])
def test_unknown_rule_in_the_config_is_an_error_naming_the_closest(
    module: Path, config: str, line: int, wrong: str, close: str
) -> None:
    pyproject = module.parent / "pyproject.toml"
    pyproject.write_text(f"[tool.codetrace]\n{config}\n")
    code, _, err = run("apply", str(module))
    assert code == 2
    assert err.count("\n") == 1, err  # one line
    assert f"pyproject.toml:{line}: unknown rule or library {wrong!r}" in err
    assert f"did you mean {close!r}" in err
    assert module.read_text() == SOURCE


@pytest.mark.parametrize("flag", ["--select", "--ignore", "--extend-select"])
def test_unknown_rule_on_the_command_line_is_an_error(module: Path, flag: str) -> None:
    code, _, err = run("apply", flag, "requests,sqlite3.qurey", str(module))
    assert code == 2
    assert err == ("error: unknown rule or library 'sqlite3.qurey' (did you mean "
                   f"'sqlite3.query'?) in {flag}\n")
    code, _, err = run("explain", flag, "flask.ap", str(module))
    assert code == 2 and "did you mean 'flask.app'?" in err


def test_explain_and_rules_take_the_selection(module: Path) -> None:
    code, out, _ = run("explain", "--select", "requests", str(module))
    assert code == 0
    assert "requests.send" in out and "sqlite3.query" not in out
    code, out, _ = run("rules", "--ignore", "sqlite3,flask")
    assert code == 0
    assert "requests.send" in out and "sqlite3.query" not in out and "flask.app" not in out


def test_strip_removes_everything_whatever_the_selection(module: Path) -> None:
    assert run("apply", str(module))[0] == 0
    code, _, err = run("strip", "--select", "requests", str(module))
    assert code == 2 and "No such option" in err  # selection does not apply to strip
    assert run("strip", str(module))[0] == 0
    assert module.read_text() == SOURCE


def test_library_prefix_is_whole_dotted_parts() -> None:
    loaded = load_rules(builtin_rule_files())
    assert "flask" in selectors(loaded) and "requests" in selectors(loaded)
    kept = {rule.id for rule in select_rules(loaded, ["flask"]).rules}
    assert kept == {"flask.app"}  # not flask_sqlalchemy.extension


# ----- # codetrace: ignore[...] --------------------------------------------------------------

def test_ignore_with_ids_ignores_only_those_rules(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "import sqlite3\n"
        "import requests\n"
        "\n"
        "\n"
        "def f(u):\n"
        "    con = sqlite3.connect(':memory:')\n"
        "    con.execute(requests.get(u).text)  # codetrace: ignore[sqlite3.query]\n"
        "    con.execute('x')  # codetrace: ignore[sqlite3]\n"
        "    return requests.get(u)  # codetrace: ignore\n"
    )
    code, _, err = run("apply", str(path))
    assert code == 0, err
    lines = path.read_text().splitlines()
    line7 = next(line for line in lines if "ignore[sqlite3.query]" in line)
    assert '"requests.send"' in line7 and "sqlite3.query" not in line7.split("#")[0]
    line8 = next(line for line in lines if "ignore[sqlite3]" in line)
    assert "_codetrace" not in line8
    line9 = next(line for line in lines if line.rstrip().endswith("# codetrace: ignore"))
    assert "_codetrace" not in line9
    assert '"sqlite3.connect"' in path.read_text()


def test_ignore_with_ids_on_a_def_and_at_the_top(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "# codetrace: ignore[sqlite3.connect]\n"
        "\n"
        "import sqlite3\n"
        "import requests\n"
        "\n"
        "\n"
        "def f(u):  # codetrace: ignore[requests]\n"
        "    con = sqlite3.connect(':memory:')\n"
        "    con.execute('x')\n"
        "    return requests.get(u)\n"
    )
    assert run("apply", str(path))[0] == 0
    assert _rules_in(path) == {"sqlite3.query"}


def test_unknown_id_in_brackets_is_a_warning_not_a_blanket_ignore(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "import requests\n"
        "\n"
        "\n"
        "def f(u):\n"
        "    return requests.get(u)  # codetrace: ignore[reqests.send]\n"
    )
    code, _, err = run("apply", str(path))
    assert code == 0
    assert (f"warning: {path}:5: unknown rule or library 'reqests.send' (did you mean "
            "'requests.send'?)") in err
    assert '"requests.send"' in path.read_text()  # not silently ignored
    code, out, _ = run("explain", str(path))  # (apply added an import line above it)
    assert "warning: line 6: unknown rule or library 'reqests.send'" in out


def test_unknown_id_is_reported_in_a_file_the_prefilter_skips(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text("import os\n\nprint(os.sep)  # codetrace: ignore[sqlite3.qery]\n")
    code, _, err = run("apply", "--check", str(path))
    assert code == 0
    assert f"warning: {path}:3: unknown rule or library 'sqlite3.qery'" in err


def test_the_cache_knows_the_selection(tmp_path: Path) -> None:
    """A tree checked with --select sqlite3 is 'unchanged' for sqlite3 only: the next run
    with every rule must not take that from the cache."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("import requests\n\nrequests.get('u')\n")
    assert run("apply", "--check", "--select", "sqlite3", str(tmp_path))[0] == 0
    assert run("apply", "--check", str(tmp_path))[0] == 1
    assert run("apply", "--check", "--ignore", "requests", str(tmp_path))[0] == 0
    assert run("apply", "--check", str(tmp_path))[0] == 1
