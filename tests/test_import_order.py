"""The runtime import lands where ruff's ``I`` rules and isort put it, and strip takes it back.

A family of file shapes (sections present or missing, docstrings, ``__future__``, comments,
``TYPE_CHECKING`` and ``try``/``except ImportError`` blocks, neighbours of ``codetrace`` in the
alphabet...) crossed with the import-sorting configurations people use (ruff's options, isort's
profiles and options, each in the files those tools read). Each input is first sorted by the real
tool, so it is clean under that configuration; codetrace adds its import with the settings it
discovers from the file's path; the real tool must still find the file clean, and removing the
import must give the input back byte for byte. The tools run once per configuration.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import libcst as cst
import pytest

from codetrace._import_settings import (
    FIRST_PARTY,
    THIRD_PARTY,
    ImportStyle,
    isort_style,
    ruff_style,
    style_for,
)
from codetrace._marker import add_runtime_import, remove_runtime_import
from codetrace._options import Options

RUNTIME = "codetrace.runtime"


def _tool(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


RUFF = _tool("ruff")

SHAPES: dict[str, str] = {
    "all_sections": (
        "import os\nimport sys\n\nimport flask\nimport requests\n\nfrom app import config\n"
        "from . import sibling\n\nrequests.get(config.URL, os, sys, flask, sibling)\n"
    ),
    "docstring_future": (
        '"""Doc."""\n\nfrom __future__ import annotations\n\nimport os\n\n'
        "from app import config\n\n\ndef f():\n    return os, config\n"
    ),
    "docstring_no_blank": '"""Doc."""\nimport requests\n\nrequests.get("u")\n',
    "only_stdlib": "import os\nimport sqlite3\n\nsqlite3.connect(os.devnull)\n",
    "only_stdlib_then_def": "import sqlite3\n\n\ndef db():\n    return sqlite3.connect(\"x\")\n",
    "only_first_party": '"""Doc."""\n\nfrom app import config\n\nprint(config)\n',
    "only_first_party_no_docstring": "from app import config\n\n\nclass C:\n    x = config\n",
    "only_local": "from . import sibling\nfrom .sub import thing\n\nprint(sibling, thing)\n",
    "stdlib_and_local": "import os\n\nfrom . import sibling\n\nprint(os, sibling)\n",
    "future_only": "from __future__ import annotations\n\n\ndef f(x: int) -> int:\n    return x\n",
    "no_imports_docstring": '"""Doc."""\n\n\ndef f():\n    return 1\n',
    "no_imports_code": "x = 1\n",
    "no_imports_comment_on_def": '"""Doc."""\n\n\n# about f\ndef f():\n    return 1\n',
    "header_comment": (
        "# Copyright someone\n\nimport os\n\nimport requests\n\nprint(os, requests)\n"),
    "comment_on_first_import": "# third-party\nimport requests\n\nrequests.get(\"u\")\n",
    "section_comments": (
        "import os\n\n# web\nimport flask\n\n# ours\nfrom app import config\n\n"
        "print(os, flask, config)\n"
    ),
    "comment_mid_section": (
        "import attr\n\n# the client\nimport requests\n\nprint(attr, requests)\n"
    ),
    "neighbours": (
        "import attr\nimport click\nimport colorama\nimport cryptography\nimport httpx\n"
        "from click import echo\nfrom colorama import Fore\n\nprint(attr, click, colorama, "
        "cryptography, httpx, echo, Fore)\n"
    ),
    "capitals": "import Crypto\nimport yaml\n\nprint(Crypto, yaml)\n",
    "from_only_third": (
        "from flask import Flask\nfrom requests import Session\n\nprint(Flask, Session)\n"),
    "straight_and_from": (
        "import os\nfrom pathlib import Path\n\nimport requests\nfrom flask import Flask\n\n"
        "print(os, Path, requests, Flask)\n"
    ),
    "type_checking": (
        "from __future__ import annotations\n\nfrom typing import TYPE_CHECKING\n\n"
        "import requests\n\n"
        "if TYPE_CHECKING:\n    from app.config import Settings\n\n\n"
        "def f(s: Settings) -> None:\n    requests.get(s)\n"
    ),
    "try_except_first": (
        "try:\n    import ujson as json\nexcept ImportError:\n    import json\n\n"
        "import requests\n\nprint(json, requests)\n"
    ),
    "try_except_after": (
        "import os\n\ntry:\n    import ujson as json\nexcept ImportError:\n    import json\n\n"
        "print(os, json)\n"
    ),
    "dunder_all_first": (
        '"""Doc."""\n\n__all__ = ["f"]\n\nimport requests\n\n\ndef f():\n    requests.get("u")\n'),
    "code_between_blocks": (
        "import sys\n\nsys.path.insert(0, \".\")\n\nimport requests  # noqa: E402\n\n"
        "print(requests)\n"
    ),
    "decorated_def_after": (
        "import functools\n\n\n@functools.cache\ndef f():\n    return 1\n"
    ),
    "codetrace_already_used": (
        "import codetrace\nimport requests\n\nprint(codetrace, requests)\n"
    ),
}

RUFF_CONFIGS: dict[str, tuple[str, str]] = {
    "default": ("pyproject.toml", "[tool.ruff.lint]\nselect = ['I']\n"),
    "ruff_toml": ("ruff.toml", "[lint]\nselect = ['I']\n"),
    "dot_ruff_toml": (".ruff.toml", "line-length = 100\n[lint]\nextend-select = ['I001']\n"),
    "legacy_table": ("pyproject.toml", "[tool.ruff.isort]\nforce-sort-within-sections = true\n"),
    "codetrace_first_party": (
        "pyproject.toml", "[tool.ruff.lint.isort]\nknown-first-party = ['app', 'codetrace']\n"),
    "force_sort": ("pyproject.toml", "[tool.ruff.lint.isort]\nforce-sort-within-sections = true\n"),
    "lines_between_types": ("pyproject.toml", "[tool.ruff.lint.isort]\nlines-between-types = 1\n"),
    "lines_after_2": ("pyproject.toml", "[tool.ruff.lint.isort]\nlines-after-imports = 2\n"),
    "from_first": ("pyproject.toml", "[tool.ruff.lint.isort]\nfrom-first = true\n"),
    "no_lines_before": (
        "pyproject.toml",
        "[tool.ruff.lint.isort]\nno-lines-before = ['third-party', 'local-folder']\n"),
    "custom_section": (
        "pyproject.toml",
        "[tool.ruff.lint.isort]\nsection-order = ['future', 'standard-library', 'web', "
        "'third-party', 'first-party', 'local-folder']\n[tool.ruff.lint.isort.sections]\n"
        "web = ['flask', 'requests']\n"),
    "case_sensitive": ("pyproject.toml", "[tool.ruff.lint.isort]\ncase-sensitive = true\n"),
    "length_sort": ("pyproject.toml", "[tool.ruff.lint.isort]\nlength-sort = true\n"),
    "force_to_top": ("pyproject.toml", "[tool.ruff.lint.isort]\nforce-to-top = ['requests']\n"),
    "no_sections": ("pyproject.toml", "[tool.ruff.lint.isort]\nno-sections = true\n"),
    "known_third_party_app": (
        "pyproject.toml",
        "[tool.ruff.lint.isort]\nknown-third-party = ['app']\ncombine-as-imports = true\n"
        "force-single-line = true\n"),
    "src_folder": (
        "pyproject.toml", "[tool.ruff]\nsrc = ['lib']\n[tool.ruff.lint]\nselect = ['I']\n"),
}

ISORT_CONFIGS: dict[str, tuple[str, str]] = {
    "default": ("pyproject.toml", "[tool.isort]\nline_length = 88\n"),
    **{f"profile_{name}": ("pyproject.toml", f"[tool.isort]\nprofile = '{name}'\n")
       for name in ("black", "google", "django", "pycharm", "open_stack", "plone", "attrs",
                    "hug", "wemake")},
    # its sections name an APPLICATION section that must be given its modules
    "profile_appnexus": (
        "pyproject.toml", "[tool.isort]\nprofile = 'appnexus'\nknown_application = ['app']\n"),
    "isort_cfg": (".isort.cfg", "[settings]\nprofile = black\nknown_first_party = app,codetrace\n"),
    "setup_cfg": (
        "setup.cfg", "[isort]\nforce_sort_within_sections = true\nlines_after_imports = 2\n"),
    "tox_ini": (
        "tox.ini", "[isort]\nlines_between_types = 1\nensure_newline_before_comments = 1\n"),
    "lines_between_sections": ("pyproject.toml", "[tool.isort]\nlines_between_sections = 2\n"),
    "no_lines_before": ("pyproject.toml", "[tool.isort]\nno_lines_before = ['THIRDPARTY']\n"),
    "custom_section": (
        "pyproject.toml",
        "[tool.isort]\nsections = ['FUTURE', 'STDLIB', 'WEB', 'THIRDPARTY', 'FIRSTPARTY', "
        "'LOCALFOLDER']\nknown_web = ['flask', 'requests']\n"),
    "force_alphabetical": ("pyproject.toml", "[tool.isort]\nforce_alphabetical_sort = true\n"),
    "from_first_case": (
        "pyproject.toml", "[tool.isort]\nfrom_first = true\ncase_sensitive = true\n"),
    "length_sort": ("pyproject.toml", "[tool.isort]\nlength_sort = true\nforce_to_top = ['os']\n"),
    "default_first_party": ("pyproject.toml", "[tool.isort]\ndefault_section = 'FIRSTPARTY'\n"),
}


@dataclass
class Outcome:
    source: str
    output: str
    stripped: str
    clean_before: bool
    clean_after: bool


def _write_config(root: Path, config: tuple[str, str]) -> None:
    """One project per configuration, every shape a module of its package ``app``."""
    name, text = config
    root.mkdir(parents=True)
    (root / name).write_text(text)
    for package in ("app", "lib/applib"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "app" / "config.py").write_text("URL = 'u'\n")
    for shape, source in SHAPES.items():
        (root / "app" / f"{shape}.py").write_text(source)


def _ruff_dirty(tree: Path) -> set[Path]:
    assert RUFF is not None
    result = subprocess.run([RUFF, "check", "--select", "I", "--output-format", "json",
                             "--no-cache", str(tree)], capture_output=True, text=True,
                            timeout=120)
    return {Path(item["filename"]).resolve() for item in json.loads(result.stdout or "[]")}


def _isort_sorted(config: object, path: Path, text: str) -> str:
    """isort's output for the file, with the settings ``isort .`` run in the project uses
    (in-process: a subprocess per file would cost a minute)."""
    import isort

    return isort.code(text, config=config, file_path=path)


def _place(path: Path) -> tuple[str, str, str]:
    source = path.read_text()
    module = cst.parse_module(source)
    style = style_for(path)
    placed = add_runtime_import(module, Options(), style)
    stripped = remove_runtime_import(placed, RUNTIME, style)
    return source, placed.code, stripped.code


def _run_ruff(project: Path) -> dict[str, Outcome]:
    assert RUFF is not None
    subprocess.run([RUFF, "check", "--select", "I", "--fix", "--no-cache", str(project)],
                   capture_output=True, text=True, timeout=120)
    modules = {shape: project / "app" / f"{shape}.py" for shape in SHAPES}
    before = _ruff_dirty(project)
    placed = {shape: _place(path) for shape, path in modules.items()}
    for shape, path in modules.items():
        path.write_text(placed[shape][1])
    after = _ruff_dirty(project)
    return {
        shape: Outcome(*placed[shape], path.resolve() not in before, path.resolve() not in after)
        for shape, path in modules.items()
    }


def _run_isort(project: Path) -> dict[str, Outcome]:
    import isort

    settings = isort.Config(settings_path=str(project))
    found: dict[str, Outcome] = {}
    for shape in SHAPES:
        path = project / "app" / f"{shape}.py"
        path.write_text(_isort_sorted(settings, path, path.read_text()))
        source, output, stripped = _place(path)
        found[shape] = Outcome(source, output, stripped,
                               _isort_sorted(settings, path, source) == source,
                               _isort_sorted(settings, path, output) == output)
    return found


class Sweep:
    """Each configuration's project is built, sorted, instrumented and checked once, when the
    first of its cases asks."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.done: dict[tuple[str, str], dict[str, Outcome]] = {}
        for tool in ("ruff", "isort"):
            (root / tool / ".git").mkdir(parents=True)  # both tools stop looking here

    def outcome(self, tool: str, config: str, shape: str) -> Outcome:
        if (tool, config) not in self.done:
            configs = RUFF_CONFIGS if tool == "ruff" else ISORT_CONFIGS
            project = self.root / tool / config
            _write_config(project, configs[config])
            run = _run_ruff if tool == "ruff" else _run_isort
            self.done[(tool, config)] = run(project)
        return self.done[(tool, config)][shape]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    if RUFF is None:
        pytest.skip("ruff is in the test extra (pip install '.[test]')")
    pytest.importorskip("isort", reason="isort is in the test extra (pip install '.[test]')")
    return Sweep(tmp_path_factory.mktemp("import_order"))


#: the default run: the configurations that move the line the most; the others run with the
#: slow tests (each costs a quarter of a second: the shapes are parsed, placed and checked)
FAST = {
    ("ruff", "default"), ("ruff", "ruff_toml"), ("ruff", "codetrace_first_party"),
    ("ruff", "force_sort"), ("ruff", "lines_between_types"), ("ruff", "no_lines_before"),
    ("ruff", "custom_section"), ("isort", "profile_black"), ("isort", "profile_google"),
    ("isort", "isort_cfg"), ("isort", "lines_between_sections"),
}
CASES = [
    pytest.param(tool, config, id=f"{tool}-{config}",
                 marks=() if (tool, config) in FAST else pytest.mark.slow)
    for tool, configs in (("ruff", RUFF_CONFIGS), ("isort", ISORT_CONFIGS))
    for config in configs
]


@pytest.mark.parametrize(("tool", "config"), CASES)
def test_sorter_stays_clean(sweep: Sweep, tool: str, config: str) -> None:
    """Every shape: clean input, one import added, still clean, strip gives the input back."""
    problems: list[str] = []
    for shape in SHAPES:
        outcome = sweep.outcome(tool, config, shape)
        if not outcome.clean_before:
            problems.append(f"{shape}: the fixture itself is not {tool}-clean:\n{outcome.source}")
        elif outcome.output.count("import codetrace.runtime as _codetrace\n") != 1:
            problems.append(f"{shape}: not one runtime import:\n{outcome.output}")
        elif not outcome.clean_after:
            problems.append(f"{shape}: {tool} rejects:\n{outcome.output}")
        elif outcome.stripped != outcome.source:
            problems.append(f"{shape}: strip gives\n{outcome.stripped}\ninstead of\n"
                            f"{outcome.source}")
    assert not problems, "\n\n".join(problems)


def _insert(source: str, style: ImportStyle) -> str:
    return add_runtime_import(cst.parse_module(source), Options(), style).code


def test_third_party_section_in_sorted_order() -> None:
    source = "import os\n\nimport requests\n\nfrom app import x\n\nx()\n"
    style = ruff_style({"known-first-party": ["app"]}, Path("/nowhere"))
    assert _insert(source, style) == (
        "import os\n\nimport codetrace.runtime as _codetrace\nimport requests\n\n"
        "from app import x\n\nx()\n")


def test_a_section_of_its_own_when_there_is_none() -> None:
    style = ruff_style({"known-first-party": ["app"]}, Path("/nowhere"))
    assert _insert("import os\n\nfrom app import x\n\nx()\n", style) == (
        "import os\n\nimport codetrace.runtime as _codetrace\n\nfrom app import x\n\nx()\n")
    assert _insert('"""Doc."""\n\n\ndef f():\n    pass\n', style) == (
        '"""Doc."""\n\nimport codetrace.runtime as _codetrace\n\n\ndef f():\n    pass\n')


def test_configured_first_party_runtime_goes_with_the_project() -> None:
    style = ruff_style({"known-first-party": ["app", "codetrace"]}, Path("/nowhere"))
    # straight imports before `from` imports in a section (unless from-first)
    assert _insert("import requests\n\nfrom app import x\n\nx()\n", style) == (
        "import requests\n\nimport codetrace.runtime as _codetrace\nfrom app import x\n\nx()\n")


@pytest.mark.parametrize("source", [
    "import os\n\nimport httpx\nfrom pydantic import BaseModel\n\nURL = os.environ\n",
    "import requests\n\nfrom app import x\n\nx()\n",
    '"""Doc."""\n\nimport os\n\n\ndef f():\n    pass\n',
])
def test_strip_is_exact_where_the_runtime_import_belongs_to_another_section(source: str) -> None:
    """Applied where the sorter counts ``codetrace`` as first-party (inside a project that
    says so, e.g. ``apply --out`` run from there), stripped where it is third-party (the
    default): the import's own blank lines still go with it. Found on ``apply --out`` of
    fixtures/services from inside this repository, where strip left a blank line."""
    first_party = ruff_style({"known-first-party": ["app", "codetrace"]}, Path("/nowhere"))
    third_party = ruff_style({"known-first-party": ["app"]}, Path("/nowhere"))
    for applied, stripped in ((first_party, third_party), (third_party, first_party)):
        instrumented = add_runtime_import(cst.parse_module(source), Options(), applied)
        assert instrumented.code != source
        back = remove_runtime_import(instrumented, RUNTIME, stripped)
        assert back.code == source, (applied is first_party, back.code)


def test_settings_are_found_from_the_file(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        "[tool.ruff.lint.isort]\nknown-first-party = ['codetrace']\n"
        "[tool.isort]\nprofile = 'google'\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    ruff = style_for(tmp_path / "pkg" / "m.py")
    assert ruff.tool == "ruff" and ("first-party", ("codetrace",)) in ruff.known
    assert ruff.package == "pkg" and str(tmp_path.resolve()) in ruff.src
    # a nearer isort configuration governs the folder below it (ruff's is not nearer)
    (tmp_path / "pkg" / "sub").mkdir()
    (tmp_path / "pkg" / "sub" / ".isort.cfg").write_text("[settings]\nprofile=black\n")
    assert style_for(tmp_path / "pkg" / "sub" / "m.py").tool == "ruff"
    (tmp_path / "pyproject.toml").write_text("[tool.isort]\nprofile = 'google'\n")
    google = style_for(tmp_path / "other" / "m.py")
    assert google.tool == "isort" and google.force_sort_within_sections


def test_ruff_extend_is_followed(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "base.toml").write_text("[lint.isort]\nforce-sort-within-sections = true\n")
    (tmp_path / "ruff.toml").write_text("extend = 'base.toml'\n[lint]\nselect = ['I']\n")
    assert style_for(tmp_path / "m.py").force_sort_within_sections


def test_isort_profiles_and_ini_values() -> None:
    style = isort_style({"profile": "google", "known_first_party": "app, codetrace",
                         "lines_after_imports": "2"}, Path("/nowhere"))
    assert style.force_sort_within_sections and not style.order_by_type
    assert style.lines_after_imports == 2
    assert (FIRST_PARTY, ("app", "codetrace")) in style.known
    assert isort_style({"default_section": "FIRSTPARTY"}, Path("/x")).default_section == \
        FIRST_PARTY
    assert ImportStyle().default_section == THIRD_PARTY


def test_unconfigured_file_gets_defaults(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    style = style_for(tmp_path / "m.py")
    assert style.tool == "ruff" and style.known == () and style.source is None
    assert Options().import_style("input.py") == ImportStyle()


def _ruff_formatted(text: str) -> str:
    assert RUFF is not None
    return subprocess.run([RUFF, "format", "--isolated", "-"], input=text, capture_output=True,
                          text=True, timeout=60, check=True).stdout


def test_formatters_stay_clean(sweep: Sweep) -> None:
    """The blank lines around the added import are the ones black and ruff format want: a
    formatter-clean file stays formatter-clean (the import block is the sorter's business)."""
    import black

    problems: list[str] = []
    for shape in SHAPES:
        outcome = sweep.outcome("ruff", "default", shape)
        for name, formatted in (("black", lambda t: black.format_str(t, mode=black.Mode())),
                                ("ruff format", _ruff_formatted)):
            if formatted(outcome.source) == outcome.source and \
                    formatted(outcome.output) != outcome.output:
                problems.append(f"{shape}: {name} reformats\n{outcome.output}")
    assert not problems, "\n\n".join(problems)


def test_cli_sorts_the_import_as_the_project_configures(tmp_path: Path) -> None:
    """End to end: the settings are found from each file, the sorter agrees, strip is exact."""
    isort = pytest.importorskip("isort")
    from typer.testing import CliRunner

    from codetrace.cli import app

    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text("[tool.isort]\nprofile = 'google'\n")
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("")
    source = ('"""Orders."""\n\nimport os\nimport sqlite3\n\nfrom shop import settings\n\n\n'
              "def connect():\n    return sqlite3.connect(os.path.join(settings.ROOT, 'db'))\n")
    module = tmp_path / "shop" / "orders.py"
    module.write_text(source)
    config = isort.Config(settings_path=str(tmp_path))
    assert isort.code(source, config=config, file_path=module) == source
    assert CliRunner().invoke(app, ["apply", str(tmp_path)]).exit_code == 0
    output = module.read_text()
    assert "import sqlite3\n\nimport codetrace.runtime as _codetrace\n\nfrom shop" in output
    assert isort.code(output, config=config, file_path=module) == output
    assert CliRunner().invoke(app, ["strip", str(tmp_path)]).exit_code == 0
    assert module.read_text() == source
