"""Where the built-in rules and templates live.

The repository keeps them at the top level (``rules/``, ``templates/``) so they are easy to find and
review; the wheel ships them inside the package as ``codetrace/_data/``. Look in the package first
(an installed codetrace), then next to it (a source checkout or an editable install).
"""

from __future__ import annotations

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
