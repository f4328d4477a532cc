"""The advice kinds, found by discovery: every public module of this package registers one.

Callers ask the registry, never a shape: :func:`unwrap` (strip, the resolver), :func:`instrumented`
and :func:`added_target` (the collector), :func:`get` (the planner), :func:`names` (rule file
validation).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

import libcst as cst

from codetrace._advice._base import REGISTRY, Advice, Plan, Skip


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


def unwrap(node: cst.Call) -> cst.BaseExpression | None:
    """The user's expression inside an injected expression, or None when ``node`` is not one."""
    for advice in all_advice():
        inner = advice.unwrap(node)
        if inner is not None:
            return inner
    return None


def instrumented(node: cst.Call) -> cst.Call | None:
    """The call an injected expression instruments, or None when ``node`` is not one."""
    for advice in all_advice():
        call = advice.instrumented(node)
        if call is not None:
            return call
    return None


def added_target(statement: cst.CSTNode) -> cst.BaseExpression | None:
    """What an injected statement instruments, or None when ``statement`` is not one."""
    for advice in all_advice():
        target = advice.added_target(statement)
        if target is not None:
            return target
    return None


__all__ = ["Advice", "Plan", "Skip", "added_target", "all_advice", "get", "instrumented",
           "names", "unwrap"]
