"""The cheap text test that keeps most files from ever being parsed (DESIGN.md: the prefilter).

A file can only match a rule if it imports the rule's library, directly or through modules of
the project that do. Both tests are regular expressions over raw bytes: a substring test, then
import lines; the transitive one follows the project's import lines, memoised per run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from codetrace._ruleset import RuleSet
from codetrace._span_directive import DIRECTIVE, RULE_ID

#: ``# codetrace: span`` in raw bytes: such a file is a candidate whatever it imports
_SPAN = re.compile(DIRECTIVE.pattern.encode())


def import_pattern(modules: frozenset[str]) -> re.Pattern[bytes]:
    """Lines that import any of ``modules`` (a file that never imports one cannot match)."""
    names = "|".join(sorted(re.escape(m) for m in modules)) or "(?!)"
    return re.compile(
        rb"^(?:\xef\xbb\xbf)?[ \t]*(?:from[ \t]+(?:" + names.encode() + rb")\b"
        rb"|import[ \t]+[^\n#]*\b(?:" + names.encode() + rb")\b)",
        re.MULTILINE,
    )


def assign_pattern(name: str) -> re.Pattern[bytes]:
    """Lines that may assign ``name`` (``=``, ``: T =``, ``+=``), at any indentation: a
    superset of what the collector records at module level."""
    return re.compile(rb"^[ \t]*" + re.escape(name).encode() + rb"[ \t]*(?::[^\n=]*)?\+?=(?!=)",
                      re.MULTILINE)


#: one ``match.assign`` rule for the prefilter: its names, and the ``alongside`` names
AssignTest = tuple[tuple[re.Pattern[bytes], ...], tuple[re.Pattern[bytes], ...]]


@dataclass(frozen=True)
class Prefilter:
    """Does this file's text import a rule's library? Run on raw bytes before any parse."""

    modules: frozenset[str]
    pattern: re.Pattern[bytes]
    #: the ``# codetrace: span`` directive is in force
    spans: bool = False
    #: ``match.assign`` rules: a settings module imports nothing of its framework, so it
    #: passes when it assigns one of a rule's names and all of its ``alongside`` names
    assigns: tuple[AssignTest, ...] = ()

    @classmethod
    def for_rules(cls, ruleset: RuleSet) -> Prefilter:
        assigns = tuple(
            (tuple(assign_pattern(n) for n in rule.assigns),
             tuple(assign_pattern(n) for n in rule.alongside))
            for rule in ruleset.rules if rule.assigns)
        return cls(ruleset.modules, import_pattern(ruleset.modules),
                   any(rule.id == RULE_ID for rule in ruleset.rules), assigns)

    def may_match(self, source: bytes) -> bool:
        if self.spans and b"codetrace:" in source and _SPAN.search(source):
            return True
        for names, alongside in self.assigns:
            if any(p.search(source) for p in names) and all(p.search(source) for p in alongside):
                return True
        if not any(m.encode() in source for m in self.modules):
            return False
        return self.pattern.search(source) is not None


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


class Reach:
    """The transitive test: does a file import a rule's library through the project's modules?

    ``locate`` finds a module's file in the project (None outside it). The answer is graph
    reachability over import lines, computed one strongly connected component at a time
    (Tarjan), so a module in an import cycle gets the same answer whichever module of the cycle
    is asked first: worker processes that meet modules in different orders must agree, or the
    run's output depends on scheduling. Answers are memoised for the run.
    """

    def __init__(self, prefilter: Prefilter, locate: Callable[[str], Path | None]) -> None:
        self.prefilter = prefilter
        self.locate = locate
        self._modules: dict[str, bool] = {}

    def _direct(self, source: bytes, module_name: str, is_package: bool) -> tuple[bool, set[str]]:
        """Does the text import a library by itself, and the modules it imports. A module of
        the library's own package (``requests/api.py`` importing ``.sessions``) reaches it
        through relative imports the text test does not see."""
        libraries = self.prefilter.modules
        if self.prefilter.may_match(source) or module_name.split(".", 1)[0] in libraries:
            return True, set()
        imports = imported_modules(source, module_name, is_package)
        return any(name.split(".", 1)[0] in libraries for name in imports), imports

    def passes(self, source: bytes, module_name: str, is_package: bool) -> bool:
        direct, imports = self._direct(source, module_name, is_package)
        return direct or any(self.module_passes(name) for name in sorted(imports))

    def _edges(self, name: str) -> tuple[bool, list[str]]:
        """Does module ``name`` reach a library by itself, and the modules it imports."""
        path = self.locate(name)
        if path is None:
            return False, []
        try:
            source = path.read_bytes()
        except OSError:
            return False, []
        direct, imports = self._direct(source, name, path.name == "__init__.py")
        return direct, [] if direct else sorted(imports)

    def module_passes(self, name: str) -> bool:
        known = self._modules.get(name)
        if known is not None:
            return known
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        value: dict[str, bool] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        work: list[tuple[str, Iterator[str]]] = []

        def open_(node: str) -> None:
            index[node] = low[node] = len(index)
            direct, edges = self._edges(node)
            value[node] = direct
            stack.append(node)
            on_stack.add(node)
            work.append((node, iter(edges)))

        open_(name)
        while work:
            node, edges = work[-1]
            child = next(edges, None)
            if child is not None:
                done = self._modules.get(child)
                if done is not None:
                    value[node] = value[node] or done
                elif child not in index:
                    open_(child)
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
                value[parent] = value[parent] or value[node]
            if low[node] == index[node]:  # ``node`` closes a component: all of it is known
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result = any(value[m] for m in component)
                for member in component:
                    self._modules[member] = result
        return self._modules[name]
