"""The cheap text test that keeps most files from ever being parsed (DESIGN.md: the prefilter).

A file can only match a rule if it imports the rule's library, directly or through modules of
the project that do. Both tests are regular expressions over raw bytes: a substring test, then
import lines; the transitive one follows the project's import lines, memoised per run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codetrace._ruleset import RuleSet


def import_pattern(modules: frozenset[str]) -> re.Pattern[bytes]:
    """Lines that import any of ``modules`` (a file that never imports one cannot match)."""
    names = "|".join(sorted(re.escape(m) for m in modules)) or "(?!)"
    return re.compile(
        rb"^(?:\xef\xbb\xbf)?[ \t]*(?:from[ \t]+(?:" + names.encode() + rb")\b"
        rb"|import[ \t]+[^\n#]*\b(?:" + names.encode() + rb")\b)",
        re.MULTILINE,
    )


@dataclass(frozen=True)
class Prefilter:
    """Does this file's text import a rule's library? Run on raw bytes before any parse."""

    modules: frozenset[str]
    pattern: re.Pattern[bytes]

    @classmethod
    def for_rules(cls, ruleset: RuleSet) -> Prefilter:
        return cls(ruleset.modules, import_pattern(ruleset.modules))

    def may_match(self, source: bytes) -> bool:
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

    ``locate`` finds a module's file in the project (None outside it). Answers per module are
    memoised for the run; a cycle of imports counts as "does not reach" while it is open.
    """

    def __init__(self, prefilter: Prefilter, locate: Callable[[str], Path | None]) -> None:
        self.prefilter = prefilter
        self.locate = locate
        self._modules: dict[str, bool] = {}

    def passes(self, source: bytes, module_name: str, is_package: bool) -> bool:
        """A module of the library's own package (``requests/api.py`` importing ``.sessions``)
        reaches it through relative imports the text test does not see."""
        libraries = self.prefilter.modules
        if self.prefilter.may_match(source) or module_name.split(".", 1)[0] in libraries:
            return True
        for name in sorted(imported_modules(source, module_name, is_package)):
            if name.split(".", 1)[0] in libraries or self.module_passes(name):
                return True
        return False

    def module_passes(self, name: str) -> bool:
        if name in self._modules:
            return self._modules[name]
        self._modules[name] = False  # cycles
        path = self.locate(name)
        if path is None:
            return False
        try:
            source = path.read_bytes()
        except OSError:
            return False
        result = self.passes(source, name, path.name == "__init__.py")
        self._modules[name] = result
        return result
