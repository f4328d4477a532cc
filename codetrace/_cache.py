"""A cache of files known to come out unchanged, so a second run on an unchanged tree is free.

Like black's and ruff's, it lives in the user's cache folder (``$CODETRACE_CACHE_DIR``, else
``$XDG_CACHE_HOME/codetrace``, else ``~/.cache/codetrace``), one file per (codetrace version,
action, rules, runtime module, project roots). An entry is trusted only while the *project
fingerprint* — the path, size and mtime of every Python file under the project's import roots —
is the one it was written under: resolution crosses modules, so a change anywhere in the project
may change what a file that did not change resolves to. Stat calls only; nothing is read.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pathspec

from codetrace import __version__
from codetrace._paths import cache_dir
from codetrace._result import FileResult, UnresolvedReport


def key(action: str, rule_files: Sequence[Path], disabled: Iterable[str], runtime: str,
        roots: Sequence[Path], layout: str) -> str:
    digest = hashlib.sha256()
    for part in (__version__, action, runtime, layout, *sorted(disabled), *map(str, roots)):
        digest.update(part.encode() + b"\0")
    for rule_file in rule_files:
        try:
            digest.update(rule_file.read_bytes())
        except OSError:
            digest.update(b"<unreadable>")
    return digest.hexdigest()[:32]


def fingerprint(roots: Sequence[Path], exclude: pathspec.GitIgnoreSpec) -> str:
    """Path, size and mtime of every ``.py`` file under ``roots`` (excluded folders skipped).

    A plain ``scandir`` walk: ``.gitignore`` rules are not consulted here — a fingerprint only
    has to change when a file that resolution may read changes, and reading more is safe.
    """
    digest = hashlib.sha256()
    stack = [str(root) for root in roots]
    while stack:
        directory = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != ".git" and not exclude.match_file(entry.name + "/"):
                        stack.append(entry.path)
                elif entry.name.endswith(".py"):
                    info = entry.stat(follow_symlinks=False)
                    digest.update(
                        f"{entry.path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
            except OSError:
                continue
    return digest.hexdigest()


class Cache:
    """Unchanged files (with what the summary counts of them) under one fingerprint."""

    def __init__(self, path: Path, fingerprint: str, entries: dict[str, object]):
        self.path = path
        self.fingerprint = fingerprint
        self.entries = entries

    @classmethod
    def load(cls, name: str, current: str) -> Cache:
        path = cache_dir() / f"{name}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("fingerprint") == current and isinstance(data.get("files"), dict):
                return cls(path, current, data["files"])
        except (OSError, ValueError):
            pass
        return cls(path, current, {})

    def get(self, path: Path) -> FileResult | None:
        """The unchanged result recorded for ``path`` (as its report needs it), or None."""
        found = self.entries.get(os.path.abspath(path))
        if not isinstance(found, dict):  # absent, or written by an earlier layout
            return None
        try:
            return FileResult(
                str(path), "unchanged",
                unresolved=tuple(UnresolvedReport(*item) for item in found["unresolved"]),
                instrumented=int(found["instrumented"]), uses=frozenset(found["uses"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def save(self, new_fingerprint: str, unchanged: Mapping[Path, FileResult]) -> None:
        """Write the cache for the tree as it is now; failures to write are ignored.

        Each entry keeps what the summary counts for a file that is not processed again: its
        unresolved candidates, its already-instrumented sites (``--fail-under``'s share) and the
        rules it uses (the installed-version check).
        """
        files: dict[str, object] = {
            os.path.abspath(path): {
                "unresolved": [[u.line, u.column, u.method, u.receiver, u.reason, u.evidence]
                               for u in result.unresolved],
                "instrumented": result.instrumented,
                "uses": sorted(result.uses),
            }
            for path, result in unchanged.items()
        }
        if new_fingerprint == self.fingerprint:
            files = {**self.entries, **files}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"fingerprint": new_fingerprint, "files": files}, handle)
            os.replace(temporary, self.path)
        except OSError:
            pass
