"""Advice kinds: what a matched rule does to a call site. One module each, found by registry.

An advice turns a :class:`~codetrace._match.Site` into a :class:`Plan` (edits for the transformer)
or a :class:`Skip` with the reason (reported, never silently dropped).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import libcst as cst

from codetrace._format import BlackStyle
from codetrace._match import Site


@dataclass(frozen=True)
class Options:
    """What every advice needs to know besides the site."""

    marker: str = "_codetrace"
    runtime: str = "codetrace.runtime"
    line_length: int = 88
    #: black settings of a black-formatted project (see ``_format``), or None: layout untouched
    style: BlackStyle | None = None


@dataclass
class Plan:
    """Edits, keyed by the identity of original nodes (the transformer sees originals)."""

    replace_call: dict[int, Callable[[cst.Call], cst.BaseExpression]] = field(default_factory=dict)
    insert_after: dict[int, cst.SimpleStatementLine] = field(default_factory=dict)


@dataclass(frozen=True)
class Skip:
    reason: str


Advice = Callable[[Site, Options], "Plan | Skip"]
_REGISTRY: dict[str, Advice] = {}


def register(name: str) -> Callable[[Advice], Advice]:
    """Class the decorated function as the advice called ``name`` in rule files."""

    def decorate(function: Advice) -> Advice:
        _REGISTRY[name] = function
        return function

    return decorate


def get(name: str) -> Advice:
    """The advice registered under ``name`` (rule files are validated against these names)."""
    return _REGISTRY[name]


def names() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def string_quote(site: Site) -> str | None:
    """A quote character injected strings may use where the call stands, or None.

    Before Python 3.12 an expression inside an f-string may not reuse the f-string's quote.
    """
    for quote in ('"', "'"):
        if quote not in site.call.fstring_quotes:
            return quote
    return None


from codetrace._advice import hook_after, wrap_call  # noqa: E402  (registers the advice kinds)

__all__ = ["Options", "Plan", "Skip", "get", "hook_after", "names", "register", "wrap_call"]
