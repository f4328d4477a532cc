"""What every step of a run needs to know besides the file: a small frozen value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codetrace._format import Style
from codetrace._import_settings import ImportStyle, style_for


@dataclass(frozen=True)
class Options:
    """Run-wide settings, read once per run (the project's pyproject) and shared by all files."""

    #: the module the injected import names (``[tool.codetrace] runtime``)
    runtime: str = "codetrace.runtime"
    #: line length injected snippets are rendered for
    line_length: int = 88
    #: the formatter of a black- or ruff-formatted project (see ``_format``), or None: layout
    #: untouched
    style: Style | None = None
    #: how the runtime import is sorted in; None: each file's own sorter settings, found from
    #: its path as ruff and isort find them (``_import_settings``)
    imports: ImportStyle | None = None

    def import_style(self, path: str) -> ImportStyle:
        """The import-sorting settings for the file reported as ``path``.

        A bare name that is not a file here (a test's ``"input.py"``) gets the defaults rather
        than whatever configuration governs the working directory.
        """
        if self.imports is not None:
            return self.imports
        file = Path(path)
        if file.is_file() or (file.parent != Path() and file.parent.is_dir()):
            return style_for(file)
        return ImportStyle()
