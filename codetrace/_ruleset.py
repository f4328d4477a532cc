"""Rules as values: what the loader (``_rules``) produces and everything else reads.

A leaf module, so the resolver's data model, the matcher and the advice kinds can name a rule
without depending on how rule files are read and validated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from codetrace._paths import rules_dir
from codetrace._span_directive import SpanSpec


class RuleError(Exception):
    """A rule file problem, with the file and line it was found at."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Rule:
    """One ``[[rule]]``: which calls it matches and what advice applies to them."""

    id: str
    calls: tuple[str, ...]
    advice: str
    adapter: str | None
    hook: str | None
    source: Path
    line: int
    description: str = ""
    #: classes whose construction the rule matches, the class itself or any project subclass
    constructs: tuple[str, ...] = ()
    #: globs of the project's functions the rule traces (``match.function``, advice
    #: ``span-function``): matched against the module and the qualified name
    functions: tuple[str, ...] = ()
    #: the span options of a ``span-function`` rule
    span: SpanSpec | None = None
    #: names whose module-level assignment the rule matches (``match.assign``: the value is
    #: wrapped), and names the same module must also assign for it to apply
    #: (``match.alongside``: what tells a settings module from any module using the name)
    assigns: tuple[str, ...] = ()
    alongside: tuple[str, ...] = ()


@dataclass(frozen=True)
class Library:
    """A rule file's ``[library]``: what the rules were tested against.

    ``distributions`` are the installed-package names the library ships as (``redis``;
    ``psycopg2`` and ``psycopg2-binary``), ``tested`` a PEP 440 specifier of the versions its
    rules were tested with (empty: not declared). OpenTelemetry's users most often complain that
    an upgrade silently disabled their instrumentation; a declared range lets ``apply`` say
    so instead (``_versions``). ``names`` are the rule ids and adapter names of the file's rules:
    how a matched site or an already-instrumented call names its library.
    """

    name: str
    source: Path
    line: int = 1
    distributions: tuple[str, ...] = ()
    tested: str = ""
    names: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RuleSet:
    """All loaded rules plus the library knowledge the resolver needs.

    ``returns`` maps a callable's qualified name to the type of instance it returns
    (``requests.Session`` → ``requests.Session``, ``sqlite3.connect`` → ``sqlite3.Connection``);
    ``aliases`` maps a qualified-name prefix to its canonical spelling
    (``requests.sessions.Session`` → ``requests.Session``).
    """

    rules: tuple[Rule, ...]
    returns: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    modules: frozenset[str] = frozenset()
    libraries: tuple[Library, ...] = ()

    def keeping(self, rules: tuple[Rule, ...], modules: frozenset[str] | None = None) -> RuleSet:
        """This rule set with only ``rules`` (and ``modules``): the library knowledge stays."""
        return RuleSet(rules, self.returns, self.aliases,
                       self.modules if modules is None else modules, self.libraries)

    def by_call(self) -> dict[str, Rule]:
        """Qualified callee name → the rule that matches it."""
        table: dict[str, Rule] = {}
        for rule in self.rules:
            for call in rule.calls:
                table[self.canonical(call)] = rule
        return table

    def by_construct(self) -> dict[str, Rule]:
        """Qualified class name → the rule that matches constructing it (or a subclass)."""
        table: dict[str, Rule] = {}
        for rule in self.rules:
            for cls in rule.constructs:
                table[self.canonical(cls)] = rule
        return table

    def by_assign(self) -> dict[str, Rule]:
        """Module-level name → the rule that matches assigning it."""
        return {name: rule for rule in self.rules for name in rule.assigns}

    def method_names(self) -> frozenset[str]:
        """Last components of every matched method: what an unresolved candidate looks like."""
        return frozenset(call.rsplit(".", 1)[-1] for rule in self.rules for call in rule.calls)

    def canonical(self, qname: str) -> str:
        """Rewrite the longest aliased prefix of ``qname`` to its canonical spelling."""
        parts = qname.split(".")
        for end in range(len(parts), 0, -1):
            prefix = ".".join(parts[:end])
            target = self.aliases.get(prefix)
            if target is not None:
                return ".".join([target, *parts[end:]])
        return qname

    def outside(self, module_name: str) -> RuleSet:
        """The rules that may act in ``module_name``: not those of the library it belongs to.

        A library's own modules (``sqlalchemy.orm.session`` for the ``sqlalchemy.engine`` rule)
        are where its operations are implemented, not where they are used: instrumenting them
        would trace each operation twice and parse a whole library for nothing (SQLAlchemy's 258
        modules took a minute on the large-tree benchmark). A rule belongs to the top-level
        packages its targets are named in.

        Only the bundled rules step aside: they are about third-party libraries. A project's own
        rule file about its own package (``myapp.payments.Gateway.charge``) is meant for the
        calls inside that package too.
        """
        top = module_name.partition(".")[0]
        own = [rule for rule in self.rules if (rule.calls or rule.constructs)
               and all(name.partition(".")[0] == top for name in (*rule.calls, *rule.constructs))]
        if not own:
            return self
        bundled = rules_dir()
        dropped = {id(rule) for rule in own if rule.source.parent == bundled}
        if not dropped:
            return self
        kept = tuple(rule for rule in self.rules if id(rule) not in dropped)
        # importing its own package does not make a module of it a candidate any more (unless a
        # project rule about that package stays)
        return self.keeping(kept, self.modules - {top} if len(dropped) == len(own)
                            else self.modules)

    def without(self, disabled: Iterable[str]) -> RuleSet:
        """The same rule set minus the rules whose ids are listed."""
        drop = set(disabled)
        return self.keeping(tuple(r for r in self.rules if r.id not in drop))
