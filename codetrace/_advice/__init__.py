"""The advice kinds, found by discovery: every public module of this package registers one.

Callers ask the registry, never a shape: :func:`unwrap` (strip, the resolver), :func:`instrumented`
and :func:`added_target` (the collector), :func:`get` (the planner), :func:`names` (rule file
validation).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from typing import TypeVar

import libcst as cst

from codetrace._advice._base import REGISTRY, Advice, Plan, Skip

T = TypeVar("T")


@functools.cache
def _registry() -> dict[str, Advice]:
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return REGISTRY


def get(name: str) -> Advice:
    """The advice registered under ``name`` (rule files are validated against these names)."""
    return _registry()[name]


def names() -> tuple[str, ...]:
    return tuple(sorted(_registry()))


@functools.cache
def all_advice() -> tuple[Advice, ...]:
    """Every advice kind, in name order (asked once per call node: kept, not rebuilt)."""
    return tuple(_registry()[name] for name in names())


def _first(ask: Callable[[Advice], T | None]) -> T | None:
    """The first answer an advice kind gives that is not None (shapes never overlap)."""
    for advice in all_advice():
        found = ask(advice)
        if found is not None:
            return found
    return None


def unwrap(node: cst.Call) -> cst.BaseExpression | None:
    """The user's expression inside an injected expression, or None when ``node`` is not one."""
    return _first(lambda advice: advice.unwrap(node))


def instrumented(node: cst.Call) -> cst.Call | None:
    """The call an injected expression instruments, or None when ``node`` is not one."""
    return _first(lambda advice: advice.instrumented(node))


def added_target(statement: cst.CSTNode) -> cst.BaseExpression | None:
    """What an injected statement instruments, or None when ``statement`` is not one."""
    return _first(lambda advice: advice.added_target(statement))


def added_decorator(decorator: cst.Decorator) -> bool:
    """``decorator`` is one an advice adds above a ``def``."""
    return any(advice.added_decorator(decorator) for advice in all_advice())


def undecorate(node: cst.FunctionDef) -> cst.FunctionDef | None:
    """``node`` without the decorators advice kinds added, or None when it has none."""
    return _first(lambda advice: advice.undecorate(node))


__all__ = ["Advice", "Plan", "Skip", "added_decorator", "added_target", "all_advice", "get",
           "instrumented", "names", "undecorate", "unwrap"]
