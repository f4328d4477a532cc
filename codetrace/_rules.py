"""Rule files: load, validate, and index them for matching.

A rule file (``rules/<library>.toml``) splits *where* (``[rule.match]``) from *what*
(``[rule.do]``) and describes the library's types for the resolver (``[types]``, ``[aliases]``).
Every problem is reported as :class:`RuleError` with the file and the line of the offending key,
because a user editing a rule file needs to know where to look, not a traceback.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from codetrace import _advice, _paths, _span_directive, _toml
from codetrace._ruleset import Library, Rule, RuleError, RuleSet

_QNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_RULE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_-]+)*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_TOP_KEYS = ("library", "types", "aliases", "rule")
_LIBRARY_KEYS = ("name", "modules", "description", "distribution", "tested")
_RULE_KEYS = ("id", "description", "match", "do")
_MATCH_KEYS = ("call", "construct", "function", "assign", "alongside")
#: ``match.function``: the top-level package by name (the prefilter needs it), then fnmatch
#: parts (``myapp.services.*``, ``myapp.billing.Charger.*``, ``myapp.*.handle_?``)
_FUNCTION_GLOB = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_*?\[\]!<>-]+)*$")
SPAN_FUNCTION = "span-function"
HOOK_AFTER = "hook-after"


def directive_rule() -> Rule:
    """The rule behind ``# codetrace: span`` comments: always loaded, so that ``--select``,
    ``--ignore``, ``ignore = [...]`` and ``# codetrace: ignore[codetrace.span]`` name it like
    any rule. Its source is the module that reads the directive."""
    return Rule(_span_directive.RULE_ID, (), SPAN_FUNCTION, None, None,
                Path(_span_directive.__file__), 1,
                "A `# codetrace: span` comment on a def: a span around that function")


def builtin_rule_files() -> list[Path]:
    """The rule files shipped with codetrace, sorted by name."""
    return sorted(_paths.rules_dir().glob("*.toml"))


def load_rules(paths: Sequence[Path]) -> RuleSet:
    """Load and validate rule files; the first problem raises :class:`RuleError`."""
    rules: list[Rule] = []
    returns: dict[str, str] = {}
    aliases: dict[str, str] = {}
    modules: set[str] = set()
    libraries: list[Library] = []
    seen: dict[str, Rule] = {}
    for path in paths:
        loaded = _load_file(path)
        libraries.extend(loaded.libraries)
        for rule in loaded.rules:
            if rule.id in seen:
                first = seen[rule.id]
                raise RuleError(
                    path, rule.line,
                    f"duplicate rule id {rule.id!r} (first defined at {first.source}:{first.line})",
                )
            seen[rule.id] = rule
            rules.append(rule)
        returns.update(loaded.returns)
        aliases.update(loaded.aliases)
        modules.update(loaded.modules)
    directive = directive_rule()
    if directive.id not in seen:
        rules.append(directive)
    return RuleSet(tuple(rules), returns, aliases, frozenset(modules), tuple(libraries))


class _Locator:
    """Finds the line of a key in a rule file's text (tomllib does not keep positions)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.rule_starts = [
            i for i, line in enumerate(self.lines) if line.strip().startswith("[[rule]]")
        ]

    def table(self, header: str) -> int:
        for i, line in enumerate(self.lines):
            if line.strip().startswith(f"[{header}]"):
                return i + 1
        return 1

    def in_rule(self, index: int, key: str | None = None, section: str | None = None) -> int:
        if index >= len(self.rule_starts):
            return 1
        start = self.rule_starts[index]
        end = self.rule_starts[index + 1] if index + 1 < len(self.rule_starts) else len(self.lines)
        line_no = start
        if section is not None:
            for i in range(start, end):
                if self.lines[i].strip().startswith(f"[rule.{section}]"):
                    line_no = i
                    break
        if key is None:
            return line_no + 1
        pattern = re.compile(rf"^\s*(\"?){re.escape(key)}\1\s*=")
        for i in range(line_no, end):
            if pattern.match(self.lines[i]):
                return i + 1
        return line_no + 1

    def key_in_table(self, header: str, key: str) -> int:
        start = self.table(header) - 1
        pattern = re.compile(rf"^\s*(\"?){re.escape(key)}\1\s*=")
        for i in range(start, len(self.lines)):
            if pattern.match(self.lines[i]):
                return i + 1
        return start + 1


def _load_file(path: Path) -> RuleSet:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RuleError(path, 1, f"cannot read rule file: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RuleError(path, line, "rule file is not valid UTF-8") from None
    try:
        data = _toml.loads(text)
    except _toml.TOMLDecodeError as exc:
        raise RuleError(path, _toml.error_line(exc), _toml.error_message(exc)) from None
    where = _Locator(text)
    _check_keys(path, data, _TOP_KEYS, "the top level", lambda key: where.table(key))

    library = data.get("library", {})
    if not isinstance(library, dict):
        raise RuleError(path, where.table("library"), "[library] must be a table")
    _check_keys(path, library, _LIBRARY_KEYS, "[library]",
                lambda key: where.key_in_table("library", key))
    modules = library.get("modules", [])
    if not _is_list_of(modules, str) or not all(_IDENT.match(m) for m in modules):
        raise RuleError(path, where.key_in_table("library", "modules"),
                        "[library] modules must be a list of top-level module names")

    returns = _qname_table(path, data.get("types", {}), "types", where)
    aliases = _qname_table(path, data.get("aliases", {}), "aliases", where)

    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise RuleError(path, 1, "'rule' must be an array of tables ([[rule]])")
    rules = tuple(_parse_rule(path, i, item, where) for i, item in enumerate(raw_rules))
    all_modules = set(modules)
    for rule in rules:
        all_modules.update(name.split(".", 1)[0]
                           for name in (*rule.calls, *rule.constructs, *rule.functions))
    declared = _library(path, library, rules, where)
    return RuleSet(rules, returns, aliases, frozenset(all_modules),
                   (declared,) if declared is not None else ())


def _library(
    path: Path, table: Mapping[str, Any], rules: Sequence[Rule], where: _Locator
) -> Library | None:
    """The file's ``[library]`` as a value, its ``distribution`` and ``tested`` checked."""
    name = table.get("name")
    if not isinstance(name, str) or not name:
        return None
    distribution = table.get("distribution", name)
    distributions = [distribution] if isinstance(distribution, str) else distribution
    if not _is_list_of(distributions, str):
        raise RuleError(path, where.key_in_table("library", "distribution"),
                        "[library] distribution must be a package name or a list of them "
                        "([] for the standard library)")
    tested = table.get("tested", "")
    if not isinstance(tested, str):
        raise RuleError(path, where.key_in_table("library", "tested"),
                        "[library] tested must be a version specifier string (\">=2.0,<3\")")
    if tested:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            SpecifierSet(tested)
        except InvalidSpecifier:
            raise RuleError(path, where.key_in_table("library", "tested"),
                            f"[library] tested is not a version specifier: {tested!r} "
                            "(PEP 440, e.g. \">=2.0,<3\")") from None
    names = {rule.id for rule in rules} | {rule.adapter for rule in rules if rule.adapter}
    return Library(name, path, where.table("library"), tuple(distributions), tested,
                   frozenset(names))


def _qname_table(path: Path, table: object, name: str, where: _Locator) -> dict[str, str]:
    if not isinstance(table, dict):
        raise RuleError(path, where.table(name), f"[{name}] must be a table")
    result: dict[str, str] = {}
    for key, value in table.items():
        line = where.key_in_table(name, key)
        if not _QNAME.match(key):
            raise RuleError(path, line, f"[{name}] key {key!r} is not a qualified name")
        if not isinstance(value, str) or not _QNAME.match(value):
            raise RuleError(path, line, f"[{name}] {key!r} must map to a qualified name")
        result[key] = value
    return result


def _parse_rule(path: Path, index: int, item: object, where: _Locator) -> Rule:
    line = where.in_rule(index)
    if not isinstance(item, dict):
        raise RuleError(path, line, "[[rule]] must be a table")
    _check_keys(path, item, _RULE_KEYS, "[[rule]]", lambda key: where.in_rule(index, key))
    rule_id = item.get("id")
    if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
        raise RuleError(path, where.in_rule(index, "id"),
                        "[[rule]] needs an 'id' like \"requests.send\" (lowercase, dotted)")
    match = item.get("match")
    if not isinstance(match, dict):
        raise RuleError(path, line, f"rule {rule_id!r} needs a [rule.match] table")
    _check_keys(path, match, _MATCH_KEYS, "[rule.match]",
                lambda key: where.in_rule(index, key, "match"))
    calls = match.get("call", [])
    constructs = match.get("construct", [])
    for key, names in (("call", calls), ("construct", constructs)):
        if not _is_list_of(names, str):
            raise RuleError(path, where.in_rule(index, key, "match"),
                            f"rule {rule_id!r}: match.{key} must be a list of qualified names")
        for name in names:
            if not _QNAME.match(name) or "." not in name:
                raise RuleError(path, where.in_rule(index, key, "match"),
                                f"rule {rule_id!r}: {name!r} is not a qualified name "
                                "like 'module.func'")
    functions = match.get("function", [])
    function_line = where.in_rule(index, "function", "match")
    if not _is_list_of(functions, str):
        raise RuleError(path, function_line,
                        f"rule {rule_id!r}: match.function must be a list of globs "
                        "(\"myapp.services.*\")")
    for glob in functions:
        if not _FUNCTION_GLOB.match(glob) or glob.count("[") != glob.count("]"):
            raise RuleError(path, function_line,
                            f"rule {rule_id!r}: {glob!r} is not a function glob: the top-level "
                            "package by name, then dotted parts with * ? [...] "
                            "(\"myapp.services.*\", \"myapp.billing.Charger.*\")")
    if functions and (calls or constructs):
        raise RuleError(path, function_line,
                        f"rule {rule_id!r}: match.function goes in a rule of its own "
                        "(not with match.call or match.construct)")
    if functions and path.parent == _paths.rules_dir():
        raise RuleError(path, function_line,
                        f"rule {rule_id!r}: a bundled rule does not select project functions")
    assigns, alongside = _assign_keys(path, rule_id, match, bool(calls or constructs or functions),
                                      lambda key: where.in_rule(index, key, "match"))
    if not calls and not constructs and not functions and not assigns:
        empty = ("call" if "call" in match else "construct" if "construct" in match
                 else "function" if "function" in match else None)
        raise RuleError(path, where.in_rule(index, empty, "match") if empty else line,
                        f"rule {rule_id!r}: match.call must be a non-empty list of qualified names"
                        " (or match.construct, a list of classes, or match.function, globs of "
                        "the project's functions, or match.assign, module-level names)")
    do = item.get("do")
    if not isinstance(do, dict):
        raise RuleError(path, line, f"rule {rule_id!r} needs a [rule.do] table")
    do_keys = ("advice", *sorted({k for a in _advice.all_advice() for k in a.do_keys}))
    _check_keys(path, do, do_keys, "[rule.do]", lambda key: where.in_rule(index, key, "do"))
    advice = do.get("advice")
    kinds = _advice.names()
    if advice not in kinds:
        raise RuleError(path, where.in_rule(index, "advice", "do"),
                        f"rule {rule_id!r}: unknown advice {advice!r} "
                        f"(expected one of: {', '.join(kinds)})")
    owner = _advice.get(str(advice))
    for key in do:
        if key != "advice" and key not in owner.do_keys:
            users = [a.name for a in _advice.all_advice() if key in a.do_keys]
            raise RuleError(path, where.in_rule(index, key, "do"),
                            f"rule {rule_id!r}: '{key}' only goes with advice "
                            f"{' or '.join(repr(u) for u in users)}")
    problem = owner.check(do)
    if problem is not None:
        key, message = problem
        raise RuleError(path, where.in_rule(index, key, "do"),
                        f"rule {rule_id!r}: {message}")
    if functions and advice != SPAN_FUNCTION:
        raise RuleError(path, where.in_rule(index, "advice", "do"),
                        f"rule {rule_id!r}: match.function goes with advice = "
                        f"\"{SPAN_FUNCTION}\"")
    if advice == SPAN_FUNCTION and not functions:
        raise RuleError(path, where.in_rule(index, "advice", "do"),
                        f"rule {rule_id!r}: advice \"{SPAN_FUNCTION}\" needs match.function "
                        "(globs of the project's functions)")
    if assigns and advice != HOOK_AFTER:
        raise RuleError(path, where.in_rule(index, "advice", "do"),
                        f"rule {rule_id!r}: match.assign goes with advice = \"{HOOK_AFTER}\"")
    span = _span_directive.from_rule(do) if advice == SPAN_FUNCTION else None
    adapter = do.get("adapter")
    hook = do.get("hook")
    description = item.get("description", "")
    if not isinstance(description, str):
        raise RuleError(path, where.in_rule(index, "description"),
                        f"rule {rule_id!r}: description must be a string")
    return Rule(rule_id, tuple(calls), str(advice), _text(adapter), _text(hook), path, line,
                description, tuple(constructs), tuple(functions), span, assigns, alongside)


def _assign_keys(
    path: Path, rule_id: str, match: Mapping[str, Any], others: bool, locate: Any
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``match.assign`` and ``match.alongside``, checked: plain names, a rule of their own."""
    assigns = match.get("assign", [])
    alongside = match.get("alongside", [])
    for key, names in (("assign", assigns), ("alongside", alongside)):
        if not _is_list_of(names, str) or not all(_IDENT.match(name) for name in names):
            raise RuleError(path, locate(key),
                            f"rule {rule_id!r}: match.{key} must be a list of names "
                            "assigned at module level (\"MIDDLEWARE\")")
    if assigns and others:
        raise RuleError(path, locate("assign"),
                        f"rule {rule_id!r}: match.assign goes in a rule of its own "
                        "(not with match.call, match.construct or match.function)")
    if alongside and not assigns:
        raise RuleError(path, locate("alongside"),
                        f"rule {rule_id!r}: match.alongside only goes with match.assign")
    return tuple(assigns), tuple(alongside)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _check_keys(
    path: Path, table: Mapping[str, Any], allowed: Sequence[str], where: str, locate: Any
) -> None:
    for key in table:
        if key not in allowed:
            raise RuleError(path, locate(key),
                            f"unknown key {key!r} in {where} "
                            f"(expected one of: {', '.join(allowed)})")


def _is_list_of(value: object, kind: type) -> bool:
    return isinstance(value, list) and all(isinstance(v, kind) for v in value)


# ----- selection: which of the loaded rules are in force ------------------------------------

def selectors(ruleset: RuleSet) -> frozenset[str]:
    """Every name a selection may use: rule ids and their dotted prefixes (``requests`` for
    ``requests.send``: a library's rules, as ruff's ``E`` selects ``E501``)."""
    names: set[str] = set()
    for rule in ruleset.rules:
        parts = rule.id.split(".")
        names.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
    return frozenset(names)


def selects(selector: str, rule_id: str) -> bool:
    """``requests`` selects ``requests.send``; ``requests.send`` selects itself; ``flask``
    does not select ``flask_sqlalchemy.extension`` (whole dotted parts only)."""
    return rule_id == selector or rule_id.startswith(selector + ".")


def unknown_selector(names: Iterable[str], known: Iterable[str]) -> str | None:
    """A one-line message for the first name no rule answers to, with the closest known one."""
    pool = sorted(known)
    for name in names:
        if name in pool:
            continue
        close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else (
            f" (known: {', '.join(pool)})" if len(pool) <= 12 else "")
        return f"unknown rule or library {name!r}{hint}"
    return None


def select_rules(
    ruleset: RuleSet, select: Sequence[str] | None, extend_select: Sequence[str] = (),
    ignore: Sequence[str] = (),
) -> RuleSet:
    """The rules in force: those ``select`` (all when None) or ``extend_select`` names, minus
    those ``ignore`` names. Ignoring wins, whatever the order or specificity (simpler to read
    than ruff's precedence, and a team that ignores a library means it)."""
    wanted = None if select is None else [*select, *extend_select]
    kept = tuple(
        rule for rule in ruleset.rules
        if (wanted is None or any(selects(name, rule.id) for name in wanted))
        and not any(selects(name, rule.id) for name in ignore)
    )
    return ruleset.keeping(kept)


__all__ = ["Library", "Rule", "RuleError", "RuleSet", "builtin_rule_files", "load_rules",
           "select_rules", "selectors", "selects", "unknown_selector"]
