"""The project as the resolver sees it: modules found on disk, parsed on demand, once a run.

Cross-module resolution (``from app.http import session``) needs other modules' facts. Parsing
them all up front would cost what the prefilter saves, so a module is read and collected only
when a candidate file's resolution reaches it, and kept for the rest of the run.

With a prefilter, a module is parsed only when it reaches a rule's library (``_prefilter.Reach``):
a module that never does cannot hold, return or subclass anything a rule matches.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from codetrace._collect import ModuleFacts, collect
from codetrace._model import CallSite, ClassInfo, FunctionInfo, Scope
from codetrace._prefilter import Prefilter, Reach
from codetrace._source import parse


class ProjectIndex:
    """Implements the resolver's ``Project``: locate, read and collect modules lazily."""

    def __init__(
        self, roots: Iterable[Path], *, runtime: str, prefilter: Prefilter | None = None,
    ) -> None:
        """``prefilter``: with it, a module is parsed only if it reaches a rule's library,
        which keeps large trees cheap; without it, every module the resolver asks for."""
        self.roots = tuple(dict.fromkeys(r.resolve() for r in roots))
        self.runtime = runtime
        self.reach = Reach(prefilter, self.locate) if prefilter is not None else None
        self._paths: dict[str, Path | None] = {}
        self._facts: dict[str, ModuleFacts | None] = {}

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
    def add(self, name: str, facts: ModuleFacts, path: str | None = None) -> None:
        """Register facts already collected (the file being instrumented, at ``path``).

        Only when ``name`` is that file: where two roots hold a module of the same name (two
        services' ``app.py``), ``name`` resolves to the one :meth:`locate` finds, whichever a
        worker happened to process first, or the run's output would depend on scheduling.
        """
        if path is not None:
            located = self.locate(name)
            try:
                if located is None or not os.path.samefile(located, path):
                    return
            except OSError:  # stdin: the file named need not exist
                return
        self._facts[name] = facts

    def facts(self, name: str) -> ModuleFacts | None:
        if name in self._facts:
            return self._facts[name]
        self._facts[name] = None  # a cycle sees "unreadable", never recursion
        path = self.locate(name)
        if path is None:
            return None
        if self.reach is not None and not self.reach.module_passes(name):
            return None
        try:
            source = path.read_bytes()
            module = parse(source, exact=False)
        except Exception:  # unreadable modules just stay unresolved
            return None
        def collected() -> ModuleFacts:
            return collect(module, module_name=name, is_package=path.name == "__init__.py",
                           runtime=self.runtime, source=source)

        try:
            facts: ModuleFacts | None = collected()
        except RecursionError:
            # deep here (a resolution that crossed several modules), not in that module: read it
            # on a fresh stack, so the facts never depend on where it was first asked for
            facts = _on_fresh_stack(collected)
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

    def calls_in(self, module: str) -> Sequence[CallSite]:
        facts = self.facts(module)
        return facts.calls if facts else ()

    def sibling_classes(self, qname: str) -> Sequence[ClassInfo]:
        facts = self._owner(qname)
        return list(facts.classes.values()) if facts else []


def _on_fresh_stack(work: Callable[[], ModuleFacts]) -> ModuleFacts | None:
    """``work()`` on a new thread (its own recursion depth); None if it is too deep even there."""
    result: list[ModuleFacts] = []

    def run() -> None:
        with contextlib.suppress(RecursionError):
            result.append(work())

    thread = threading.Thread(target=run, name="codetrace-collect")
    thread.start()
    thread.join()
    return result[0] if result else None
