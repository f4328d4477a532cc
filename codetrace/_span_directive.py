"""``# codetrace: span``: the opt-in directive on a ``def``, and the span options rules share.

The one place that knows the directive's spelling (``_directives`` owns ``ignore``). A function
is traced by a comment on its ``def`` line (or after the colon of a signature written over
several lines), on the comment line directly above the ``def``, or on the comment line above
its first decorator::

    # codetrace: span name="orders.create" kind=server order.kind=web min_duration_ms=50

Options are ``key=value`` words: ``name`` (the span name; default the function's qualified
name), ``kind`` (``internal``, ``server``, ``client``, ``producer``, ``consumer``),
``min_duration_ms`` (adaptive tracing, a number), and any other dotted key is a static
attribute. Values are quoted strings, integers, floats, ``true``/``false``, or bare words
(strings). A directive that does not parse is an error naming the file and line: a typo must
not silently leave a function untraced.

Comments are found with :mod:`tokenize`, so the spelling inside a string or a docstring
(documentation about the directive) is not a directive.
"""

from __future__ import annotations

import io
import math
import re
import string
import tokenize
from collections.abc import Mapping
from dataclasses import dataclass

#: the spelling; ``span`` must end there (``# codetrace: spans`` is not it)
DIRECTIVE = re.compile(r"#\s*codetrace:\s*span(?![\w-])")
#: the rule id of the directive, for ``--select``/``--ignore`` and ``ignore[...]``
RULE_ID = "codetrace.span"
KINDS = ("internal", "server", "client", "producer", "consumer")
#: the placeholders of a rule's span name template
PLACEHOLDERS = ("module", "qualname", "name")
DEFAULT_TEMPLATE = "{module}.{qualname}"

AttributeValue = str | int | float | bool

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_WORD = re.compile(r"""[^\s#"'=]+""")
_NUMBER = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class SpanSpec:
    """What a traced function's decorator says besides the name: from a directive or a rule.

    ``name`` is the span name as given (a directive's ``name=``) or a template with
    :data:`PLACEHOLDERS` (a rule's ``name``); None: the function's qualified name.
    """

    name: str | None = None
    kind: str = "internal"
    attributes: tuple[tuple[str, AttributeValue], ...] = ()
    min_duration_ms: float | None = None
    #: leave out functions whose body does nothing worth a span (rules only; default on)
    skip_trivial: bool = False
    #: ``name`` is a template (a rule's) rather than the literal name (a directive's)
    template: bool = False

    def span_name(self, module: str, qualname: str) -> str:
        """The span name for the function ``qualname`` of ``module``."""
        full = f"{module}.{qualname}" if module else qualname
        if self.name is None:
            return full
        if not self.template:
            return self.name
        return self.name.format(module=module, qualname=qualname,
                                name=qualname.rpartition(".")[2])


class DirectiveError(ValueError):
    """A directive or a rule option that does not say something codetrace can do."""


def comments(text: str) -> dict[int, tuple[str, bool]]:
    """The directive comments of ``text``: line → (the comment, alone on its line).

    Empty when tokenizing fails (the parser reports such a file better than we can).
    """
    found: dict[int, tuple[str, bool]] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT and DIRECTIVE.search(token.string):
                alone = not token.line[: token.start[1]].strip()
                found[token.start[0]] = (token.string, alone)
    except (tokenize.TokenError, SyntaxError, ValueError):
        return {}
    return found


def parse(comment: str) -> SpanSpec:
    """The options of the directive in ``comment``; :class:`DirectiveError` if malformed."""
    found = DIRECTIVE.search(comment)
    if found is None:
        raise DirectiveError("not a `# codetrace: span` directive")
    rest = comment[found.end():]
    options: dict[str, AttributeValue] = {}
    at = 0
    while True:
        while at < len(rest) and rest[at].isspace():
            at += 1
        if at >= len(rest) or rest[at] == "#":  # the end, or another comment after it
            break
        key = _KEY.match(rest, at)
        if key is None or key.end() >= len(rest) or rest[key.end()] != "=":
            word = _WORD.match(rest, at)
            shown = word.group(0) if word else rest[at:].split()[0]
            raise DirectiveError(
                f"`# codetrace: span` expects key=value options, not {shown!r} "
                '(e.g. name="orders.create" kind=server order.kind=web)')
        if key.group(0) in options:
            raise DirectiveError(f"`# codetrace: span` sets {key.group(0)!r} twice")
        value, at = _value(rest, key.end() + 1)
        options[key.group(0)] = value
    return _spec(options, "`# codetrace: span`")


def _value(text: str, at: int) -> tuple[AttributeValue, int]:
    if at < len(text) and text[at] in "\"'":
        quote = text[at]
        end = text.find(quote, at + 1)
        if end < 0:
            raise DirectiveError("`# codetrace: span`: a quoted value is not closed")
        if "\\" in text[at + 1:end]:
            raise DirectiveError("`# codetrace: span`: quoted values take no backslashes")
        return text[at + 1:end], end + 1
    word = _WORD.match(text, at)
    if word is None:
        raise DirectiveError("`# codetrace: span`: an option has no value after `=`")
    raw = word.group(0)
    if raw in ("true", "false"):
        return raw == "true", word.end()
    if _INTEGER.fullmatch(raw):
        return int(raw), word.end()
    if _NUMBER.fullmatch(raw):
        return float(raw), word.end()
    return raw, word.end()


def _spec(options: Mapping[str, object], where: str) -> SpanSpec:
    name = options.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise DirectiveError(f"{where}: name must be a non-empty string")
    kind = options.get("kind", "internal")
    if kind not in KINDS:
        raise DirectiveError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    minimum = options.get("min_duration_ms")
    if minimum is not None and (isinstance(minimum, bool) or not isinstance(
            minimum, (int, float)) or not math.isfinite(minimum) or minimum < 0):
        raise DirectiveError(f"{where}: min_duration_ms must be a number of milliseconds "
                             f">= 0, not {minimum!r}")
    attributes = {k: v for k, v in options.items()
                  if k not in ("name", "kind", "min_duration_ms")}
    checked = attribute_items(attributes, where)
    for value in (name, *(v for _, v in checked)):
        if isinstance(value, str) and any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise DirectiveError(f"{where}: strings may not hold control characters")
    return SpanSpec(name=name if isinstance(name, str) else None, kind=str(kind),
                    attributes=checked,
                    min_duration_ms=None if minimum is None else float(minimum))


def attribute_items(table: Mapping[str, object], where: str
                    ) -> tuple[tuple[str, AttributeValue], ...]:
    """Static attributes, checked: dotted keys, scalar values (as OpenTelemetry takes them)."""
    items: list[tuple[str, AttributeValue]] = []
    for key, value in table.items():
        if not _KEY.fullmatch(key):
            raise DirectiveError(f"{where}: attribute name {key!r} is not a dotted name")
        if not isinstance(value, (str, int, float, bool)) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise DirectiveError(f"{where}: attribute {key!r} must be a string, an integer, "
                                 f"a float or a boolean, not {value!r}")
        items.append((key, value))
    return tuple(sorted(items))


#: the ``[rule.do]`` keys of the ``span-function`` advice
DO_KEYS = ("kind", "name", "attributes", "min_duration_ms", "skip_trivial")


def from_rule(do: Mapping[str, object]) -> SpanSpec:
    """A rule's ``[rule.do]`` options as a spec; :class:`DirectiveError` names the bad key
    as its first word (``kind: ...``) so the loader can point at its line."""
    kind = do.get("kind", "internal")
    if kind not in KINDS:
        raise DirectiveError(f"kind: must be one of {', '.join(KINDS)}, not {kind!r}")
    template = do.get("name", DEFAULT_TEMPLATE)
    if not isinstance(template, str) or not template.strip():
        raise DirectiveError("name: must be a non-empty string (a template such as "
                             '"{module}.{qualname}")')
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise DirectiveError(f"name: {exc} in {template!r}") from None
    for _, field, spec, conversion in fields:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            raise DirectiveError(
                f"name: unknown placeholder {{{field}}} in {template!r} (known: "
                f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)})")
    if any(ord(ch) < 32 for ch in template):
        raise DirectiveError("name: may not hold control characters")
    table = do.get("attributes", {})
    if not isinstance(table, Mapping):
        raise DirectiveError('attributes: must be a table ({ "order.kind" = "web" })')
    try:
        attributes = attribute_items(table, "attributes")
    except DirectiveError as exc:
        raise DirectiveError(str(exc)) from None
    minimum = do.get("min_duration_ms")
    if minimum is not None and (isinstance(minimum, bool) or not isinstance(
            minimum, (int, float)) or not math.isfinite(minimum) or minimum < 0):
        raise DirectiveError(f"min_duration_ms: must be a number of milliseconds >= 0, "
                             f"not {minimum!r}")
    skip = do.get("skip_trivial", True)
    if not isinstance(skip, bool):
        raise DirectiveError("skip_trivial: must be true or false")
    return SpanSpec(name=template, kind=str(kind), attributes=attributes,
                    min_duration_ms=None if minimum is None else float(minimum),
                    skip_trivial=skip, template=True)
