"""What every step of a run needs to know besides the file: a small frozen value."""

from __future__ import annotations

from dataclasses import dataclass

from codetrace._format import BlackStyle


@dataclass(frozen=True)
class Options:
    """Run-wide settings, read once per run (the project's pyproject) and shared by all files."""

    #: the module the injected import names (``[tool.codetrace] runtime``)
    runtime: str = "codetrace.runtime"
    #: line length injected snippets are rendered for
    line_length: int = 88
    #: black settings of a black-formatted project (see ``_format``), or None: layout untouched
    style: BlackStyle | None = None
