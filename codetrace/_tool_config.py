"""Other tools' configuration files, found the way those tools find them.

ruff (``.ruff.toml``, ``ruff.toml``, ``pyproject.toml`` with ``[tool.ruff]``; ``extend`` followed)
and isort (``.isort.cfg``, ``[tool.isort]``, ``setup.cfg``/``tox.ini`` ``[isort]``) are read so
that what codetrace adds to a file is what those tools would have written: the import sorted in
(``_import_settings``), the statements formatted (``_format``).
"""

from __future__ import annotations

import configparser
import os
from pathlib import Path
from typing import Any

from codetrace import _toml

_RUFF_FILES = (".ruff.toml", "ruff.toml", "pyproject.toml")
_ISORT_FILES = (".isort.cfg", "pyproject.toml", "setup.cfg", "tox.ini")
_ROOT_MARKERS = (".git", ".hg")


def read_toml(path: Path) -> dict[str, Any] | None:
    try:
        return _toml.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, _toml.TOMLDecodeError):
        return None


def ancestors(folder: Path) -> list[Path]:
    """``folder`` and its parents, up to and including the first with ``.git`` or ``.hg``."""
    found: list[Path] = []
    for directory in (folder, *folder.parents):
        found.append(directory)
        if any((directory / marker).exists() for marker in _ROOT_MARKERS):
            break
    return found


def project_root(folder: Path) -> Path:
    for directory in ancestors(folder):
        if (directory / "pyproject.toml").is_file() or any(
                (directory / marker).exists() for marker in _ROOT_MARKERS):
            return directory
    return folder


def nearest_ruff(folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """ruff's own discovery: the closest of its files, a pyproject only with ``[tool.ruff]``."""
    for directory in (folder, *folder.parents):
        for name in _RUFF_FILES:
            path = directory / name
            if not path.is_file():
                continue
            data = read_toml(path)
            if data is None:
                continue
            if name == "pyproject.toml":
                settings = data.get("tool", {}).get("ruff")
                if not isinstance(settings, dict):
                    continue
            else:
                settings = data
            return path, _extended(path, settings, depth=0)
    return None


def _extended(path: Path, settings: dict[str, Any], depth: int) -> dict[str, Any]:
    """Settings with ruff's ``extend`` applied: the extended file's tables, overridden by ours."""
    target = settings.get("extend")
    if not isinstance(target, str) or depth > 8:
        return settings
    base_path = (path.parent / os.path.expanduser(target)).resolve()
    data = read_toml(base_path)
    if data is None:
        return settings
    base = data.get("tool", {}).get("ruff", {}) if base_path.name == "pyproject.toml" else data
    if not isinstance(base, dict):
        return settings
    return _merge(_extended(base_path, base, depth + 1), settings)


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def nearest_isort(folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """isort's own discovery: the first of its files with isort settings, up to the VCS root."""
    for directory in ancestors(folder):
        for name in _ISORT_FILES:
            path = directory / name
            if path.is_file():
                values = _isort_values(path)
                if values:
                    return path, values
    return None


def _isort_values(path: Path) -> dict[str, Any]:
    if path.suffix == ".toml":
        data = read_toml(path) or {}
        table = data.get("tool", {}).get("isort")
        return dict(table) if isinstance(table, dict) else {}
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return {}
    sections = ("settings", "isort") if path.name == ".isort.cfg" else ("isort", "tool:isort")
    values: dict[str, Any] = {}
    for name in sections:
        if parser.has_section(name):
            values.update(parser.items(name))
    return values
