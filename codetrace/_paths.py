"""Where things live: the built-in rules and templates, and the user's cache folder.

The repository keeps them at the top level (``rules/``, ``templates/``) so they are easy to find and
review; the wheel ships them inside the package as ``codetrace/_data/``. Look in the package first
(an installed codetrace), then next to it (a source checkout or an editable install).
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    installed = _PACKAGE / "_data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / name


def rules_dir() -> Path:
    """The folder of built-in rule files."""
    return _data_dir("rules")


def templates_dir() -> Path:
    """The folder of the jinja2 templates that render injected code."""
    return _data_dir("templates")


def cache_dir() -> Path:
    """The user's cache folder, like black's and ruff's: ``$CODETRACE_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/codetrace``, else ``~/.cache/codetrace``."""
    explicit = os.environ.get("CODETRACE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "codetrace"
