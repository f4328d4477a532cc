"""Which files a run looks at: include/exclude patterns and every ``.gitignore`` on the way."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
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


def iter_sources(paths: Sequence[Path], config: Config) -> Iterator[Source]:
    """Files to process, in a stable order. Files named explicitly are always taken."""
    include = pathspec.GitIgnoreSpec.from_lines(config.include)
    exclude = pathspec.GitIgnoreSpec.from_lines(config.exclude)
    seen: set[str] = set()
    for given in paths:
        if given.is_file():
            resolved = os.path.realpath(given)
            if resolved not in seen:
                seen.add(resolved)
                name, is_package = module_name_for(given)
                yield Source(given, given.parent, name, is_package)
            continue
        base = os.path.realpath(given)
        for path in walk(given, include, exclude):
            # the walk follows no links, so the real path is the real folder joined with names
            resolved = os.path.join(base, os.path.relpath(path, given))
            if resolved in seen:
                continue
            seen.add(resolved)
            name, is_package = module_name_for(path)
            yield Source(path, given, name, is_package)


def walk(
    root: Path, include: pathspec.GitIgnoreSpec | None, exclude: pathspec.GitIgnoreSpec
) -> Iterator[Path]:
    """Walk ``root`` depth-first in sorted order, honouring excludes and ``.gitignore`` files.

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
    yield from _walk(root, resolved, include, exclude, ignores)


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
    include: pathspec.GitIgnoreSpec | None,
    exclude: pathspec.GitIgnoreSpec,
    ignores: list[tuple[Path, pathspec.GitIgnoreSpec]],
) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        real = resolved / entry.name
        is_dir = entry.is_dir(follow_symlinks=False)
        if entry.name == ".git" or exclude.match_file(entry.name + ("/" if is_dir else "")):
            continue
        if _ignored(real, is_dir, ignores):
            continue
        if is_dir:
            local = _gitignore(real)
            inner = ignores if local is None else [*ignores, (real, local)]
            yield from _walk(path, real, include, exclude, inner)
        elif entry.is_file(follow_symlinks=False) and (
            include is None or include.match_file(entry.name)
        ):
            yield path
