"""Which files a run looks at: include/exclude patterns and every ``.gitignore`` on the way."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

from codetrace._config import Config


@dataclass(frozen=True)
class Source:
    """A file to process, the root it was found under, and its Python module name."""

    path: Path
    root: Path
    module_name: str
    is_package: bool


def module_name_for(path: Path) -> tuple[str, bool]:
    """``pkg/sub/mod.py`` → ``("pkg.sub.mod", False)``, climbing while ``__init__.py`` exists."""
    absolute = os.path.abspath(path)
    directory, filename = os.path.split(absolute)
    is_package = filename == "__init__.py"
    stem = filename[:-3] if filename.endswith(".py") else os.path.splitext(filename)[0]
    parts = _package_parts(directory)
    if is_package:
        return ".".join(parts) or stem, True
    return ".".join((*parts, stem)), False


@functools.lru_cache(maxsize=4096)
def _package_parts(directory: str) -> tuple[str, ...]:
    """The package names leading to ``directory`` (empty where it holds no ``__init__.py``)."""
    if not os.path.isfile(os.path.join(directory, "__init__.py")):
        return ()
    parent, name = os.path.split(directory)
    if parent == directory:
        return (name,)
    return (*_package_parts(parent), name)


def _gitignore(directory: Path) -> pathspec.GitIgnoreSpec | None:
    ignore = directory / ".gitignore"
    try:
        lines = ignore.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    return pathspec.GitIgnoreSpec.from_lines(lines)


@dataclass(frozen=True)
class Patterns:
    """``include``/``exclude`` as gitignore-style patterns anchored at the config's folder.

    Like ruff's: ``src/legacy/`` and ``legacy/*.py`` are relative to the folder of the
    pyproject that holds them, ``**/x.py`` and a bare name (``build``) match at any depth.
    A pattern is tested against the path from the anchor; inside a folder named on the command
    line that an exclude covers (``codetrace apply .venv/lib/.../django``: asked for
    explicitly), or outside the anchor, against the path from that folder instead, so the
    folders above what was named never exclude it.
    """

    anchor: Path
    include: pathspec.GitIgnoreSpec | None
    exclude: pathspec.GitIgnoreSpec
    force_exclude: bool = False

    @classmethod
    def from_config(cls, config: Config, *, include: bool = True) -> Patterns:
        anchor = (config.root or Path.cwd()).resolve()
        return cls(anchor,
                   pathspec.GitIgnoreSpec.from_lines(config.include) if include else None,
                   pathspec.GitIgnoreSpec.from_lines(config.exclude), config.force_exclude)

    def _from_anchor(self, resolved: Path) -> str | None:
        try:
            return resolved.relative_to(self.anchor).as_posix()
        except ValueError:
            return None

    def prefix(self, resolved_root: Path) -> str:
        """What to put before paths relative to a walked folder to match them."""
        relative = self._from_anchor(resolved_root)
        if relative is None or relative == ".":
            return ""
        if self.exclude.match_file(relative + "/"):
            return ""
        return relative + "/"

    def excluded(self, relative: str, is_dir: bool) -> bool:
        return self.exclude.match_file(relative + ("/" if is_dir else ""))

    def included(self, relative: str) -> bool:
        return self.include is None or self.include.match_file(relative)

    def named_excluded(self, path: Path) -> bool:
        """A path named on the command line: excluded only with ``force-exclude``, and then
        also when a folder above it is (``.venv/lib/x.py`` under ``.venv``), as ruff does."""
        if not self.force_exclude:
            return False
        resolved = Path(os.path.abspath(path))
        relative = self._from_anchor(resolved)
        if relative is None:
            relative = resolved.name
        if relative == ".":
            return False
        return self.excluded(relative, path.is_dir())


def iter_sources(
    paths: Sequence[Path], config: Config, found: Callable[[int], None] | None = None
) -> Iterator[Source]:
    """Files to process, in a stable order. Files named explicitly are taken even where an
    exclude covers them, unless ``force-exclude`` is set. ``found`` is told the count so far
    (progress during discovery)."""
    patterns = Patterns.from_config(config)
    seen: set[str] = set()
    for given in paths:
        if patterns.named_excluded(given):
            continue
        if given.is_file():
            resolved = os.path.realpath(given)
            if resolved not in seen:
                seen.add(resolved)
                name, is_package = module_name_for(given)
                if found is not None:
                    found(len(seen))
                yield Source(given, given.parent, name, is_package)
            continue
        base = os.path.realpath(given)
        for path in walk(given, patterns):
            # the walk follows no links, so the real path is the real folder joined with names
            resolved = os.path.join(base, os.path.relpath(path, given))
            if resolved in seen:
                continue
            seen.add(resolved)
            name, is_package = module_name_for(path)
            if found is not None:
                found(len(seen))
            yield Source(path, given, name, is_package)


def walk(root: Path, patterns: Patterns) -> Iterator[Path]:
    """Walk ``root`` depth-first in sorted order, honouring the patterns and ``.gitignore``.

    The ``.gitignore`` files of ``root``'s parents count up to the repository's top (the folder
    holding ``.git``); outside a repository only ``root``'s own does.
    """
    resolved = root.resolve()
    ignores: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
    for parent in (resolved, *resolved.parents):
        spec = _gitignore(parent)
        if spec is not None:
            ignores.insert(0, (parent, spec))
        if (parent / ".git").exists():
            break
    else:
        ignores = [(base, spec) for base, spec in ignores if base == resolved]
    yield from _walk(root, resolved, patterns.prefix(resolved), patterns, ignores)


def _ignored(path: Path, is_dir: bool, ignores: list[tuple[Path, pathspec.GitIgnoreSpec]]) -> bool:
    for base, spec in ignores:
        try:
            relative = path.relative_to(base).as_posix()
        except ValueError:
            continue
        if spec.match_file(relative + ("/" if is_dir else "")):
            return True
    return False


def _walk(
    directory: Path,
    resolved: Path,
    prefix: str,
    patterns: Patterns,
    ignores: list[tuple[Path, pathspec.GitIgnoreSpec]],
) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        real = resolved / entry.name
        relative = prefix + entry.name
        is_dir = entry.is_dir(follow_symlinks=False)
        if entry.name == ".git" or patterns.excluded(relative, is_dir):
            continue
        if _ignored(real, is_dir, ignores):
            continue
        if is_dir:
            local = _gitignore(real)
            inner = ignores if local is None else [*ignores, (real, local)]
            yield from _walk(path, real, relative + "/", patterns, inner)
        elif entry.is_file(follow_symlinks=False) and patterns.included(relative):
            yield path
