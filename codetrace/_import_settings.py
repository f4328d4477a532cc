"""The import-sorting settings that govern a file: ruff's ``I`` rules or isort, as configured.

codetrace adds one line, ``import codetrace.runtime as _codetrace``, and a project that sorts its
imports with ruff (``I001``) or isort must find it where its sorter would have put it, or every
changed file fails the sorter's check. So the sorter's settings are read the way the sorter reads
them, from the configuration nearest to the file (searching upward from the file's folder):

* ruff: the nearest ``.ruff.toml``, ``ruff.toml``, or ``pyproject.toml`` with a ``[tool.ruff]``
  table; its ``[lint.isort]`` (or the older ``[isort]``) table and ``src``; ``extend`` is
  followed. It governs when it selects the ``I`` rules or has an isort table.
* isort: the nearest ``.isort.cfg``, ``pyproject.toml`` ``[tool.isort]``, ``setup.cfg`` or
  ``tox.ini`` ``[isort]`` section, with its ``profile``.
* neither: the defaults both tools share.

Only the settings that move one straight ``import a.b as c`` line are kept (sections, their order
and spacing, how a section is sorted, where the first-party code lives); wrapping, member order and
``combine-as`` do not change that line and are not read.
"""

from __future__ import annotations

import fnmatch
import functools
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from codetrace._tool_config import nearest_isort, nearest_ruff, project_root

FUTURE = "future"
STDLIB = "standard-library"
THIRD_PARTY = "third-party"
FIRST_PARTY = "first-party"
LOCAL_FOLDER = "local-folder"
DEFAULT_ORDER = (FUTURE, STDLIB, THIRD_PARTY, FIRST_PARTY, LOCAL_FOLDER)

#: isort's section names, as ruff spells them
_ISORT_SECTIONS = {
    "FUTURE": FUTURE, "STDLIB": STDLIB, "THIRDPARTY": THIRD_PARTY, "FIRSTPARTY": FIRST_PARTY,
    "LOCALFOLDER": LOCAL_FOLDER,
}

#: what each isort profile sets among the settings kept here (isort's ``profiles`` module)
_PROFILES: dict[str, dict[str, Any]] = {
    "black": {"ensure_newline_before_comments": True},
    "django": {},
    "pycharm": {"lines_after_imports": 2},
    "google": {"force_sort_within_sections": True, "order_by_type": False},
    "open_stack": {"force_sort_within_sections": True},
    "plone": {"ensure_newline_before_comments": True, "force_alphabetical_sort": True},
    "attrs": {"lines_after_imports": 2, "lines_between_types": 1},
    "hug": {},
    "wemake": {},
    "appnexus": {"ensure_newline_before_comments": True, "force_sort_within_sections": True,
                 "no_lines_before": "LOCALFOLDER", "order_by_type": False,
                 "reverse_relative": True,
                 "sections": "FUTURE,STDLIB,THIRDPARTY,FIRSTPARTY,APPLICATION,LOCALFOLDER"},
}


@dataclass(frozen=True)
class ImportStyle:
    """How the project's import sorter orders and spaces one import block.

    Section names are ruff's (``"third-party"``...); custom sections keep their own name.
    """

    #: "ruff" or "isort": where the two differ (isort's force-sorted sections compare case)
    tool: str = "ruff"
    section_order: tuple[str, ...] = DEFAULT_ORDER
    #: (section, module patterns) in the order they are tried; globs as ruff and isort allow
    known: tuple[tuple[str, tuple[str, ...]], ...] = ()
    default_section: str = THIRD_PARTY
    no_sections: bool = False
    no_lines_before: frozenset[str] = frozenset()
    lines_between_sections: int = 1
    lines_between_types: int = 0
    #: -1: two before a ``def``/``class``, one before anything else
    lines_after_imports: int = -1
    force_sort_within_sections: bool = False
    from_first: bool = False
    case_sensitive: bool = False
    length_sort: bool = False
    force_to_top: tuple[str, ...] = ()
    #: a blank line before comments above an import that does not head its section
    ensure_newline_before_comments: bool = True
    #: isort's force-sorted sections compare lines, lowercased only without ``order_by_type``
    order_by_type: bool = True
    #: folders whose top-level modules and packages are first-party (absolute paths)
    src: tuple[str, ...] = ()
    #: ruff's ``detect-same-package``: the file's own top-level package is first-party
    detect_same_package: bool = True
    #: the top-level package of the file (set per file)
    package: str | None = None
    #: the configuration file these settings came from, for messages and docs
    source: str | None = field(default=None, compare=False)


def style_for(path: str | os.PathLike[str]) -> ImportStyle:
    """The settings that govern the file at ``path`` (which may not exist yet, as with a file
    given on standard input); the defaults when nothing is configured."""
    file = Path(path).absolute()
    folder = file.parent
    style = _style_for_folder(str(folder))
    return replace(style, package=_top_package(folder))


def _top_package(folder: Path) -> str | None:
    top: str | None = None
    while (folder / "__init__.py").is_file():
        top = folder.name
        if folder.parent == folder:
            break
        folder = folder.parent
    return top


@functools.lru_cache(maxsize=256)
def _style_for_folder(folder: str) -> ImportStyle:
    ruff = nearest_ruff(Path(folder))
    if ruff is not None:
        path, settings = ruff
        table = _ruff_isort_table(settings)
        if table is not None or _ruff_selects_isort(settings):
            return ruff_style(table or {}, path.parent, settings.get("src"), source=str(path))
    found = nearest_isort(Path(folder))
    if found is not None:
        path, values = found
        return isort_style(values, path.parent, source=str(path))
    root = project_root(Path(folder))
    return ImportStyle(src=_src_paths(root, None))


def _ruff_isort_table(settings: dict[str, Any]) -> dict[str, Any] | None:
    lint = settings.get("lint")
    table = lint.get("isort") if isinstance(lint, dict) else None
    if not isinstance(table, dict):
        table = settings.get("isort")
    return table if isinstance(table, dict) else None


def _ruff_selects_isort(settings: dict[str, Any]) -> bool:
    lint = settings.get("lint")
    chosen: list[str] = []
    for table in (settings, lint if isinstance(lint, dict) else {}):
        for key in ("select", "extend-select"):
            value = table.get(key)
            if isinstance(value, list):
                chosen.extend(str(v) for v in value)
    return any(code == "ALL" or code == "I" or code.startswith("I0") for code in chosen)


def _src_paths(root: Path, src: object) -> tuple[str, ...]:
    """ruff's and isort's default (the root and ``root/src``) or the configured folders."""
    if isinstance(src, str):
        src = [part.strip() for part in src.split(",") if part.strip()]
    if isinstance(src, list) and src:
        return tuple(str((root / os.path.expanduser(str(s))).resolve()) for s in src)
    return (str(root.resolve()), str((root / "src").resolve()))


def _strings(value: object) -> tuple[str, ...]:
    """A list setting from TOML (a list) or an ini file (commas or lines)."""
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.replace("\n", ",").split(",")
                     if part.strip())
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return ()


def _bool(value: object, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _int(value: object, default: int) -> int:
    try:
        return int(str(value).strip()) if value is not None else default
    except ValueError:
        return default


def ruff_style(
    table: dict[str, Any], root: Path, src: object = None, *, source: str | None = None
) -> ImportStyle:
    """ruff's ``[lint.isort]`` options (kebab-case keys), for a configuration in ``root``."""
    sections = table.get("sections")
    custom: dict[str, Any] = sections if isinstance(sections, dict) else {}
    known: list[tuple[str, tuple[str, ...]]] = [
        (FUTURE, ()),
        *((str(name), _strings(modules)) for name, modules in custom.items()),
        (FIRST_PARTY, _strings(table.get("known-first-party"))),
        (THIRD_PARTY, _strings(table.get("known-third-party"))),
        (LOCAL_FOLDER, _strings(table.get("known-local-folder"))),
        (STDLIB, _strings(table.get("extra-standard-library"))),
    ]
    order = _strings(table.get("section-order")) or DEFAULT_ORDER
    if custom and "section-order" not in table:
        order = (*DEFAULT_ORDER, *(name for name in custom if name not in DEFAULT_ORDER))
    length_sort = _bool(table.get("length-sort"), False)
    return ImportStyle(
        tool="ruff",
        section_order=tuple(order),
        known=tuple((name, modules) for name, modules in known if modules),
        default_section=str(table.get("default-section", THIRD_PARTY)),
        no_sections=_bool(table.get("no-sections"), False),
        no_lines_before=frozenset(_strings(table.get("no-lines-before"))),
        lines_between_types=_int(table.get("lines-between-types"), 0),
        lines_after_imports=_int(table.get("lines-after-imports"), -1),
        force_sort_within_sections=_bool(table.get("force-sort-within-sections"), False),
        from_first=_bool(table.get("from-first"), False),
        case_sensitive=_bool(table.get("case-sensitive"), False),
        length_sort=length_sort or _bool(table.get("length-sort-straight"), False),
        force_to_top=_strings(table.get("force-to-top")),
        src=_src_paths(root, src),
        detect_same_package=_bool(table.get("detect-same-package"), True),
        source=source,
    )


def isort_style(values: dict[str, Any], root: Path, *, source: str | None = None) -> ImportStyle:
    """isort's options (snake- or kebab-case keys, TOML or ini values), profile applied."""
    options = {key.lstrip("-").replace("-", "_"): value for key, value in values.items()}
    profile = _PROFILES.get(str(options.get("profile", "")).strip(), {})
    options = {**profile, **options}
    if _bool(options.get("force_alphabetical_sort"), False):
        options = {**options, "no_sections": True, "lines_between_types": 1,
                   "from_first": True}

    def section(name: str) -> str:
        return _ISORT_SECTIONS.get(name.upper(), name.lower())

    order = tuple(section(name) for name in _strings(options.get("sections"))) or DEFAULT_ORDER
    known: list[tuple[str, tuple[str, ...]]] = []
    for key, value in options.items():
        if key.startswith("known_") and key not in ("known_standard_library",):
            name = key[len("known_"):]
            mapped = {"first_party": FIRST_PARTY, "third_party": THIRD_PARTY,
                      "local_folder": LOCAL_FOLDER, "future_library": FUTURE}.get(name, name)
            known.append((mapped, _strings(value)))
    extra = _strings(options.get("extra_standard_library")) + _strings(
        options.get("known_standard_library"))
    if extra:
        known.append((STDLIB, extra))
    known.sort(key=lambda item: order.index(item[0]) if item[0] in order else len(order))
    return ImportStyle(
        tool="isort",
        section_order=order,
        known=tuple((name, modules) for name, modules in known if modules),
        default_section=section(str(options.get("default_section", "THIRDPARTY"))),
        no_sections=_bool(options.get("no_sections"), False),
        no_lines_before=frozenset(section(n) for n in _strings(options.get("no_lines_before"))),
        lines_between_sections=_int(options.get("lines_between_sections"), 1),
        lines_between_types=_int(options.get("lines_between_types"), 0),
        lines_after_imports=_int(options.get("lines_after_imports"), -1),
        force_sort_within_sections=_bool(options.get("force_sort_within_sections"), False),
        from_first=_bool(options.get("from_first"), False),
        case_sensitive=_bool(options.get("case_sensitive"), False),
        length_sort=_bool(options.get("length_sort"), False)
        or _bool(options.get("length_sort_straight"), False),
        force_to_top=_strings(options.get("force_to_top")),
        ensure_newline_before_comments=_bool(options.get("ensure_newline_before_comments"),
                                             False),
        order_by_type=_bool(options.get("order_by_type"), True),
        src=_src_paths(root, options.get("src_paths")),
        detect_same_package=False,
        source=source,
    )


def matches(module: str, patterns: tuple[str, ...]) -> bool:
    """Does ``module`` or one of its parent packages match one of ``patterns``?"""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if any(fnmatch.fnmatchcase(prefix, pattern) for pattern in patterns):
            return True
    return False
