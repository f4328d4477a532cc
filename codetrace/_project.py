"""The project as the resolver sees it: modules found on disk, parsed on demand, once a run.

Cross-module resolution (``from app.http import session``) needs other modules' facts. Parsing
them all up front would cost what the prefilter saves, so a module is read and collected only
when a candidate file's resolution reaches it, and kept for the rest of the run.

The prefilter gets the same treatment: a file passes when it imports a rule's library, or
imports a module of the project that (transitively) does; the import scan is a regex over bytes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from codetrace._collect import ModuleFacts, collect
from codetrace._resolve import ClassInfo, FunctionInfo, Scope

_FROM = re.compile(
    rb"^(?:\xef\xbb\xbf)?[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]*)",
    re.MULTILINE,
)
_IMPORT = re.compile(rb"^(?:\xef\xbb\xbf)?[ \t]*import[ \t]+([^\n#;]+)", re.MULTILINE)
_AS = re.compile(r"\s+as\s+\w+")


def imported_modules(source: bytes, module_name: str, is_package: bool) -> set[str]:
    """Module names a file's import lines mention (``from a import b`` gives ``a`` and ``a.b``)."""
    package = module_name if is_package else module_name.rpartition(".")[0]
    found: set[str] = set()
    for match in _FROM.finditer(source):
        dots, base, names = (g.decode("utf-8", "replace") for g in match.groups())
        if dots:
            anchor = package
            for _ in range(len(dots) - 1):
                anchor = anchor.rpartition(".")[0]
            base = ".".join(p for p in (anchor, base) if p)
        if base:
            found.add(base)
        for name in _AS.sub("", names.strip("()")).replace("\n", " ").split(","):
            name = name.strip()
            if name and name != "*":
                found.add(f"{base}.{name}" if base else name)
    for match in _IMPORT.finditer(source):
        for name in _AS.sub("", match.group(1).decode("utf-8", "replace")).split(","):
            if name.strip():
                found.add(name.strip())
    return found


class ProjectIndex:
    """Implements the resolver's ``Project``: locate, read and collect modules lazily."""

    def __init__(
        self,
        roots: Iterable[Path],
        *,
        marker: str,
        runtime: str,
        gate: tuple[Callable[[bytes], bool], frozenset[str]] | None = None,
    ) -> None:
        """``gate``: the rules' text test and library names. With it, a module is parsed only
        if it reaches a rule's library (a module that never does cannot hold, return or
        subclass anything a rule matches), which keeps large trees cheap."""
        self.roots = tuple(dict.fromkeys(r.resolve() for r in roots))
        self.marker = marker
        self.runtime = runtime
        self.gate = gate
        self._paths: dict[str, Path | None] = {}
        self._facts: dict[str, ModuleFacts | None] = {}
        self._reaches: dict[str, bool] = {}

    # ----- locating ------------------------------------------------------------------------
    def locate(self, name: str) -> Path | None:
        """The file of module ``name`` under the roots (``a.b`` only inside package ``a``).

        Memoised, and hierarchical so that each distinct name costs at most two stat calls:
        import scans of a large tree ask for tens of thousands of names.
        """
        if name in self._paths:
            return self._paths[name]
        parent, _, leaf = name.rpartition(".")
        if parent:
            package = self.locate(parent)
            directories = [package.parent] if package and package.name == "__init__.py" else []
        else:
            directories = list(self.roots)
        found: Path | None = None
        for directory in directories:
            module = os.path.join(directory, leaf + ".py")
            if os.path.isfile(module):
                found = Path(module)
                break
            init = os.path.join(directory, leaf, "__init__.py")
            if os.path.isfile(init):
                found = Path(init)
                break
        self._paths[name] = found
        return found

    def module_exists(self, name: str) -> bool:
        return self.locate(name) is not None

    # ----- facts ---------------------------------------------------------------------------
    def add(self, name: str, facts: ModuleFacts) -> None:
        """Register facts already collected (the file being instrumented)."""
        self._facts[name] = facts

    def facts(self, name: str) -> ModuleFacts | None:
        if name in self._facts:
            return self._facts[name]
        self._facts[name] = None  # a cycle sees "unreadable", never recursion
        path = self.locate(name)
        if path is None:
            return None
        if self.gate is not None and not self._module_reaches(name, *self.gate):
            return None
        from codetrace._engine import parse  # the engine's parse: same failure handling

        try:
            source = path.read_bytes()
            module = parse(source, exact=False)
        except Exception:  # unreadable modules just stay unresolved
            return None
        facts = collect(module, module_name=name, is_package=path.name == "__init__.py",
                        marker=self.marker, runtime=self.runtime, source=source)
        self._facts[name] = facts
        return facts

    def module_scope(self, name: str) -> Scope | None:
        facts = self.facts(name)
        return facts.module_scope if facts else None

    def _owner(self, qname: str) -> ModuleFacts | None:
        parts = qname.split(".")
        for end in range(len(parts) - 1, 0, -1):
            module = ".".join(parts[:end])
            if module in self._facts or self.module_exists(module):
                return self.facts(module)
        return None

    def class_info(self, qname: str) -> ClassInfo | None:
        facts = self._owner(qname)
        return facts.classes.get(qname) if facts else None

    def function_info(self, qname: str) -> FunctionInfo | None:
        facts = self._owner(qname)
        return facts.functions.get(qname) if facts else None

    def sibling_classes(self, qname: str) -> Sequence[ClassInfo]:
        facts = self._owner(qname)
        return list(facts.classes.values()) if facts else []

    # ----- prefilter -------------------------------------------------------------------------
    def reaches(self, source: bytes, module_name: str, is_package: bool,
                direct: Callable[[bytes], bool], libraries: frozenset[str]) -> bool:
        """Does this file import a rule library, directly or through project modules?

        A module of the library's own package (``requests/api.py`` importing ``.sessions``)
        reaches it through relative imports the text test does not see.
        """
        if direct(source) or module_name.split(".", 1)[0] in libraries:
            return True
        for name in sorted(imported_modules(source, module_name, is_package)):
            if name.split(".", 1)[0] in libraries or self._module_reaches(name, direct, libraries):
                return True
        return False

    def _module_reaches(
        self, name: str, direct: Callable[[bytes], bool], libraries: frozenset[str]
    ) -> bool:
        if name in self._reaches:
            return self._reaches[name]
        self._reaches[name] = False  # cycles
        path = self.locate(name)
        if path is None:
            return False
        try:
            source = path.read_bytes()
        except OSError:
            return False
        result = self.reaches(source, name, path.name == "__init__.py", direct, libraries)
        self._reaches[name] = result
        return result

