"""``[tool.codetrace]`` in the nearest ``pyproject.toml``, validated; errors name file and line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from codetrace import _format, _toml

#: folders no project wants instrumented: ruff's default excludes (environments, caches, build
#: output, vendored trees) plus ``__pycache__``. Bare names, so they match at any depth.
DEFAULT_EXCLUDE = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints",
    ".mypy_cache", ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache",
    ".svn", ".tox", ".venv", ".vscode", "__pycache__", "__pypackages__", "_build", "buck-out",
    "build", "dist", "node_modules", "site-packages", "venv",
)
_SELECTION = ("select", "extend-select", "ignore", "disable")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class ConfigError(Exception):
    """A configuration problem with the file and line it was found at."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")


@dataclass(frozen=True)
class Config:
    """Settings for one run. ``root`` is the folder of the pyproject they came from: path
    patterns are anchored there (gitignore-style, as ruff anchors them at its config file)."""

    root: Path | None = None
    source: Path | None = None
    include: tuple[str, ...] = ("*.py",)
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    #: excludes apply to files named on the command line too (pre-commit names every file)
    force_exclude: bool = False
    rules: tuple[Path, ...] = ()
    #: rule ids or library prefixes in force; None: every rule
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    #: rule ids or library prefixes switched off (``ignore`` and its older name ``disable``)
    disable: tuple[str, ...] = ()
    runtime: str = "codetrace.runtime"
    builtin_rules: bool = True
    #: "black", "ruff", "none", or None: detected (``_format.style_for``)
    format: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
    #: the line of each key in the pyproject, for errors found after loading (an unknown rule)
    key_lines: dict[str, int] = field(default_factory=dict)
    #: the rule names each selection key lists, as written (to name the key in an error)
    selection: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _toml_value(value: object) -> str:
    """A default as the user would write it in the pyproject."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return f'"{value}"'


@dataclass(frozen=True)
class Key:
    """One ``[tool.codetrace]`` key. The loader accepts exactly these names, and the key table of
    docs/configuration.md is generated from them (docs/generate.py; a test compares), so what
    the page says about types and defaults is what the code does."""

    name: str
    #: how the value is written
    type: str
    #: the default, as it would be written in the pyproject, or in words
    default: str
    description: str


KEYS = (
    Key("include", "list of patterns", _toml_value(Config.include),
        "The files of a walked folder that codetrace reads (gitignore-style patterns, anchored "
        "at the folder of this pyproject)."),
    Key("exclude", "list of patterns", "the default excludes",
        "Replaces the default excludes (ruff's, listed below the table); prefer "
        "`extend-exclude`."),
    Key("extend-exclude", "list of patterns", "[]", "Patterns added to `exclude`."),
    Key("force-exclude", "boolean", _toml_value(Config.force_exclude),
        "Apply the excludes to files named on the command line too (pre-commit names every "
        "file); `--force-exclude` does the same for one run."),
    Key("rules", "list of paths", _toml_value(Config.rules),
        "Extra rule files, relative to this pyproject, loaded after the built-in ones."),
    Key("builtin-rules", "boolean", _toml_value(Config.builtin_rules),
        "Load the rule files shipped with codetrace."),
    Key("select", "list of rule names", "every loaded rule",
        "The rules in force: rule ids (`requests.send`) or libraries (`requests`); "
        "`--select` replaces it."),
    Key("extend-select", "list of rule names", _toml_value(Config.extend_select),
        "Rule names added to `select` (and to `--select`)."),
    Key("ignore", "list of rule names", _toml_value(Config.disable),
        "Rules switched off; ignoring wins over selecting. `--ignore` adds to it."),
    Key("disable", "list of rule names", _toml_value(Config.disable),
        "The earlier name of `ignore`; both lists count."),
    Key("runtime", "dotted module name", _toml_value(Config.runtime),
        "The module the injected import names (`import codetrace.runtime as _codetrace`)."),
    Key("format", '"black", "ruff" or "none"', "detected",
        "Format each statement codetrace changes with the project's black or ruff settings "
        "(`strip` formats it back); unset: detected from the project's formatter settings."),
)
_KEYS = tuple(key.name for key in KEYS)


def find_pyproject(paths: Sequence[Path]) -> Path | None:
    """The ``pyproject.toml`` nearest to the common parent of ``paths`` (as black finds it)."""
    if not paths:
        paths = [Path.cwd()]
    resolved = [p.resolve() for p in paths]
    common = resolved[0] if resolved[0].is_dir() else resolved[0].parent
    for path in resolved[1:]:
        while common not in (path, *path.parents):
            common = common.parent
    for directory in (common, *common.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            return candidate
        if (directory / ".git").exists():
            break
    return None


def _line_of(text: str, key: str) -> int:
    in_table = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            in_table = stripped.startswith("[tool.codetrace]")
            continue
        if in_table and re.match(rf"^\"?{re.escape(key)}\"?\s*=", stripped):
            return number
    return 1


def load_config(pyproject: Path | None) -> Config:
    """Read ``[tool.codetrace]``; defaults when there is no file or no table."""
    if pyproject is None:
        return Config()
    try:
        text = pyproject.read_text(encoding="utf-8")
        data = _toml.loads(text)
    except OSError as exc:
        raise ConfigError(pyproject, 1, f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(pyproject, 1, "not valid UTF-8") from None
    except _toml.TOMLDecodeError as exc:
        raise ConfigError(pyproject, _toml.error_line(exc), _toml.error_message(exc)) from None
    table = data.get("tool", {}).get("codetrace")
    root = pyproject.parent
    if table is None:
        return Config(root=root, source=pyproject)
    if not isinstance(table, dict):
        raise ConfigError(pyproject, 1, "[tool.codetrace] must be a table")
    for key in table:
        if key not in _KEYS:
            raise ConfigError(pyproject, _line_of(text, key),
                              f"unknown key {key!r} in [tool.codetrace] "
                              f"(expected one of: {', '.join(_KEYS)})")

    def strings(key: str) -> tuple[str, ...] | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(pyproject, _line_of(text, key),
                              f"[tool.codetrace] {key} must be a list of strings")
        return tuple(value)

    include = strings("include") or Config.include
    exclude = strings("exclude")
    extend = strings("extend-exclude") or ()
    rules = tuple(root / r for r in (strings("rules") or ()))
    for rule_file in rules:
        if not rule_file.is_file():
            raise ConfigError(pyproject, _line_of(text, "rules"),
                              f"rule file {rule_file} does not exist")
    runtime = table.get("runtime", Config.runtime)
    if not isinstance(runtime, str) or not _MODULE.match(runtime):
        raise ConfigError(pyproject, _line_of(text, "runtime"),
                          "[tool.codetrace] runtime must be a dotted module name")
    builtin = table.get("builtin-rules", True)
    if not isinstance(builtin, bool):
        raise ConfigError(pyproject, _line_of(text, "builtin-rules"),
                          "[tool.codetrace] builtin-rules must be true or false")
    force_exclude = table.get("force-exclude", False)
    if not isinstance(force_exclude, bool):
        raise ConfigError(pyproject, _line_of(text, "force-exclude"),
                          "[tool.codetrace] force-exclude must be true or false")
    layout = _format_setting(pyproject, text, table.get("format"))
    return Config(
        format=layout,
        root=root,
        source=pyproject,
        include=include,
        exclude=(exclude if exclude is not None else DEFAULT_EXCLUDE) + extend,
        force_exclude=force_exclude,
        rules=rules,
        select=strings("select"),
        extend_select=strings("extend-select") or (),
        disable=(*(strings("ignore") or ()), *(strings("disable") or ())),
        key_lines={key: _line_of(text, key) for key in table},
        selection={key: strings(key) or () for key in _SELECTION if key in table},
        runtime=runtime,
        builtin_rules=builtin,
    )


def _format_setting(pyproject: Path, text: str, layout: object) -> str | None:
    """``format``: "black", "ruff", "none", or unset (detected from the project's formatter
    settings, docs/formatting.md). ruff's formatter runs as the ``ruff`` executable, an optional
    dependency: asking for it without it is an error here, not a surprise per file."""
    if layout is not None and layout not in ("black", "ruff", "none"):
        raise ConfigError(pyproject, _line_of(text, "format"),
                          '[tool.codetrace] format must be "black", "ruff" or "none"')
    if layout == "ruff" and _format.ruff_executable() is None:
        raise ConfigError(pyproject, _line_of(text, "format"),
                          '[tool.codetrace] format = "ruff" needs ruff installed where codetrace '
                          'runs (pip install ruff)')
    return layout if isinstance(layout, str) else None
