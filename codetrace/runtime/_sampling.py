"""Samplers: the keep-or-drop decision made once, when a span starts.

A sampler is a plain function ``sampler(parent, trace_id) -> bool`` (``parent`` is ``None`` for
a root span): a function call is the cheapest thing Python can do on every span. The names are
the ``OTEL_TRACES_SAMPLER`` values: ``always_on``, ``always_off``, ``traceidratio``,
``parentbased_always_on`` (default), ``parentbased_always_off``, ``parentbased_traceidratio``;
``OTEL_TRACES_SAMPLER_ARG`` is the ratio (0..1, default 1).

``traceidratio`` decides from the trace id alone, so every service with the same ratio makes the
same decision for a trace: it keeps a trace when the random low 56 bits of its id are at or
above ``(1 - ratio) * 2**56`` (the rejection threshold of OpenTelemetry's consistent probability
sampling, which relies on the W3C level 2 random flag: the low 7 bytes of the id are random).
The parent-based samplers follow the parent's sampled flag, local or remote, and use their root
sampler only for a root span.
"""

from __future__ import annotations

from ._env import read_number
from ._log import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._protocols import Parent, Sampler

_LOW_56 = (1 << 56) - 1


def always_on(parent: Parent | None, trace_id: int) -> bool:
    return True


def always_off(parent: Parent | None, trace_id: int) -> bool:
    return False


def parentbased_always_on(parent: Parent | None, trace_id: int) -> bool:
    return parent is None or bool(parent.trace_flags & 1)


def parentbased_always_off(parent: Parent | None, trace_id: int) -> bool:
    return parent is not None and bool(parent.trace_flags & 1)


class TraceIdRatio:
    """Keep a fraction ``ratio`` of traces, decided from the trace id (see module docstring)."""

    __slots__ = ("ratio", "threshold")

    def __init__(self, ratio: float) -> None:
        self.ratio = min(1.0, max(0.0, ratio))
        self.threshold = round((1.0 - self.ratio) * (1 << 56))

    def __call__(self, parent: Parent | None, trace_id: int) -> bool:
        return self.ratio > 0.0 and (trace_id & _LOW_56) >= self.threshold

    def __repr__(self) -> str:
        return f"TraceIdRatio({self.ratio})"


class ParentBased:
    """Follow the parent's sampled flag; ask ``root`` for root spans only."""

    __slots__ = ("root",)

    def __init__(self, root: Sampler) -> None:
        self.root = root

    def __call__(self, parent: Parent | None, trace_id: int) -> bool:
        if parent is None:
            return self.root(None, trace_id)
        return bool(parent.trace_flags & 1)

    def __repr__(self) -> str:
        return f"ParentBased({self.root!r})"


def _ratio(arg: str | None) -> float:
    return read_number(
        arg, 1.0, what="OTEL_TRACES_SAMPLER_ARG", at_most=1.0, unit="a ratio in [0, 1]"
    )


def make_sampler(name: str | None, arg: str | None = None) -> Sampler:
    """The sampler called ``name`` (an ``OTEL_TRACES_SAMPLER`` value) with argument ``arg``."""
    key = (name or "parentbased_always_on").strip().lower()
    if key == "always_on":
        return always_on
    if key == "always_off":
        return always_off
    if key == "traceidratio":
        return TraceIdRatio(_ratio(arg))
    if key == "parentbased_always_on":
        return parentbased_always_on
    if key == "parentbased_always_off":
        return parentbased_always_off
    if key == "parentbased_traceidratio":
        return ParentBased(TraceIdRatio(_ratio(arg)))
    warn_once(
        f"sampler:{key}",
        "codetrace: unknown OTEL_TRACES_SAMPLER=%r; using parentbased_always_on",
        name,
    )
    return parentbased_always_on
