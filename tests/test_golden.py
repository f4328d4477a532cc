"""Golden cases: ``fixtures/golden/<case>/input.py`` → ``expected.py`` (absent: must not change).

Every case is checked the way black checks itself: the output is exactly the expected bytes,
compiles, applying again changes nothing, and strip gives the input back byte for byte.
A case with ``error.txt`` must fail with that message; ``stripped.py`` is what strip must give.

A case may carry a ``config.toml`` (all keys optional)::

    format = "black"            # black mode, as `[tool.codetrace] format = "black"`
    line-length = 100           # black's own options, as in `[tool.black]`:
    skip-string-normalization = true   # also skip-magic-trailing-comma, preview
    # format = "ruff": ruff's formatter, with `[tool.ruff]`'s line-length and indent-width and
    # `[tool.ruff.format]`'s quote-style, skip-magic-trailing-comma, preview
    module = "pkg.mod"          # the module the input is (default "input")
    package = true              # the input is the package's __init__.py
    rules = ["extra.toml"]      # rule files of the case (relative to it), after the built-in ones
    [isort]                     # ruff's `[lint.isort]` options for the runtime import's place
    known-first-party = ["app"]

In a formatter mode, a case whose input is formatter-clean must give a formatter-clean output.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import black
import pytest

from codetrace._context import FileContext
from codetrace._engine import instrument, strip
from codetrace._format import BlackStyle, Style, black_style, ruff_executable
from codetrace._import_settings import ruff_style
from codetrace._options import Options
from codetrace._rules import RuleSet, builtin_rule_files, load_rules
from codetrace._source import compiles

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden"
CASES = sorted(p for p in GOLDEN.iterdir() if p.is_dir())
BLACK_KEYS = frozenset({"line-length", "skip-string-normalization", "skip-magic-trailing-comma",
                        "preview"})
RUFF_KEYS = frozenset({"line-length", "indent-width", "quote-style", "skip-magic-trailing-comma",
                       "preview"})
CONFIG_KEYS = frozenset({"format", "module", "package", "rules", "isort"}) | BLACK_KEYS | RUFF_KEYS


@dataclass(frozen=True)
class Setup:
    ruleset: RuleSet
    options: Options
    module: str = "input"
    package: bool = False


def _setup(case: Path, ruleset: RuleSet, options: Options, scratch: Path) -> Setup:
    """The case's rules and options: the shared ones, changed by its ``config.toml``."""
    path = case / "config.toml"
    if not path.exists():
        return Setup(ruleset, options)
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = sorted(set(config) - CONFIG_KEYS)
    assert not unknown, f"{path}: unknown keys {unknown} (known: {sorted(CONFIG_KEYS)})"
    layout = config.get("format")
    assert layout in (None, "black", "ruff"), f"{path}: format must be \"black\" or \"ruff\""
    keys = BLACK_KEYS if layout == "black" else RUFF_KEYS if layout == "ruff" else frozenset()
    formatter = {k: v for k, v in config.items() if k in BLACK_KEYS | RUFF_KEYS}
    assert set(formatter) <= keys, f"{path}: {sorted(set(formatter) - keys)} need a format"
    style: Style | None = options.style
    if layout is not None:
        # the CLI's own mapping from the formatter's configuration to the style
        pyproject = scratch / "pyproject.toml"
        pyproject.write_text(_pyproject(layout, formatter), encoding="utf-8")
        if layout == "ruff" and ruff_executable() is None:
            pytest.skip("ruff is in the test extra")
        style = black_style(pyproject, layout)
    imports = ruff_style(config["isort"], scratch) if "isort" in config else options.imports
    options = Options(runtime=options.runtime, style=style, imports=imports)
    if "rules" in config:
        ruleset = load_rules([*builtin_rule_files(), *(case / name for name in config["rules"])])
    return Setup(ruleset, options, config.get("module", "input"), config.get("package", False))


def _toml_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else repr(value)


def _pyproject(layout: str, options: dict[str, object]) -> str:
    if layout == "black":
        return "[tool.black]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in options.items())
    top = {k: v for k, v in options.items() if k in ("line-length", "indent-width")}
    return "[tool.ruff]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in top.items()) + \
        "[tool.ruff.format]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in options.items()
                                         if k not in top)


def _file(name: str, setup: Setup) -> FileContext:
    return FileContext(name, setup.ruleset, setup.options, module_name=setup.module,
                       is_package=setup.package)


def _apply(source: bytes, setup: Setup) -> tuple[str, bytes]:
    result = instrument(source, _file("input.py", setup))
    assert result.status != "error", result.error
    return result.status, result.output if result.output is not None else source


def _formatter_clean(source: bytes, style: Style) -> bool:
    """The whole file as the real formatter sees it (not one statement at a time)."""
    text = source.decode("utf-8")
    if isinstance(style, BlackStyle):
        return black.format_str(text, mode=style.mode(0)) == text
    executable = ruff_executable()
    assert executable is not None
    done = subprocess.run([executable, *style.arguments(0)], input=text, capture_output=True,
                          text=True, timeout=60)
    return done.returncode == 0 and done.stdout == text


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Path, ruleset: RuleSet, options: Options, tmp_path: Path) -> None:
    setup = _setup(case, ruleset, options, tmp_path)
    source = (case / "input.py").read_bytes()
    error = case / "error.txt"
    if error.exists():
        result = instrument(source, _file("input.py", setup))
        assert result.status == "error"
        assert error.read_text().strip() in result.error
        assert result.output is None
        return
    expected_path = case / "expected.py"
    status, output = _apply(source, setup)
    if expected_path.exists():
        expected = expected_path.read_bytes()
        assert status == "changed"
        assert output == expected
        assert compiles(output, "expected.py") is None
        again_status, again = _apply(output, setup)
        assert again_status == "unchanged" and again == output
        stripped = strip(output, _file("expected.py", setup))
        assert stripped.status == "changed"
        # an input instrumented before (then edited) strips to its own original
        original = case / "stripped.py"
        assert stripped.output == (original.read_bytes() if original.exists() else source)
        style = setup.options.style
        if style is not None and _formatter_clean(source, style):
            assert _formatter_clean(output, style), "formatter-clean input, dirty output"
    else:
        assert status == "unchanged"
        assert compiles(source, "input.py") is None
    stripped_path = case / "stripped.py"
    if stripped_path.exists():
        result = strip(source, _file("input.py", setup))
        assert result.output == stripped_path.read_bytes()


def test_every_case_has_an_expectation() -> None:
    """A case folder with only an input must be an intentional no-change case."""
    unchanged = {c.name for c in CASES if not (c / "expected.py").exists()
                 and not (c / "error.txt").exists()}
    assert unchanged == {
        "already_instrumented", "binds_marker_ignored", "ignore_file", "not_the_library",
        "library_own_module",  # a library's own module: its rules stay out
        "django_settings_not_settings",  # MIDDLEWARE without INSTALLED_APPS: not Django's
    }


def test_config_keys_are_used() -> None:
    """Every config key is exercised by some case (a key no case uses is not tested)."""
    used: set[str] = set()
    for case in CASES:
        if (case / "config.toml").exists():
            used |= set(tomllib.loads((case / "config.toml").read_text(encoding="utf-8")))
    assert used >= {"format", "line-length", "module", "rules", "isort", "quote-style",
                    "skip-magic-trailing-comma", "indent-width"}
