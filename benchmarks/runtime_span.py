"""Cost of one span: created, entered, ended, handed to an exporter that does nothing.

    .venv/bin/python benchmarks/runtime_span.py                 # 7 rounds of 200,000 spans
    .venv/bin/python benchmarks/runtime_span.py --rounds 9 --number 100000
    .venv/bin/python benchmarks/runtime_span.py --profile       # cProfile of codetrace's path

Side by side, in one process, one after the other in each round (so drift hits every row):

* floor: the least a span can cost in Python - a ``__slots__`` object with random ids and two
  timestamps, made current in a ``ContextVar`` and reset with its token, handed to a no-op
  exporter. Nothing a real tracer does (sampling, limits, error recording) is in it.
* codetrace: ``with span("op"): pass`` with ``configure(exporter=NoopExporter())`` (the
  ``SimpleSpanProcessor`` path: every span sampled, recorded and exported synchronously).
* OpenTelemetry SDK: ``with tracer.start_as_current_span("op"): pass`` on a ``TracerProvider``
  with a ``SimpleSpanProcessor`` around a no-op exporter (the provider is not installed
  globally). Skipped with a message if ``opentelemetry-sdk`` is not installed.
* codetrace bridged to that SDK provider (``configure(backend="otel")``): what a codetrace span
  costs when it goes through the OpenTelemetry API (the SDK's cost plus the bridge's).

Each round times ``--number`` spans per row with :mod:`timeit` (the statement is compiled into
the timing loop, so no extra function call is measured; the collector is off during timing, as
timeit does, for every row alike). The clock is this process's CPU time (``time.process_time``),
so other processes on a busy machine disturb the figures less; ``--wall`` uses
``time.perf_counter``. The table shows the median per span over the rounds, the min and max,
and each row's ratio to codetrace.

This is the span's cost with everything hot in the CPU's caches. Between the calls of a real
program (a traced HTTP call every few hundred microseconds) the same code runs several times
slower, for codetrace and the SDK alike; ``runtime_requests.py`` measures that situation.

Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import timeit
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from random import getrandbits
from time import time_ns
from typing import Any

import codetrace.runtime as rt


class NoopExporter:
    """An exporter that accepts everything and does nothing (codetrace and the SDK alike)."""

    def export(self, spans: Sequence[Any]) -> Any:
        return True

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


# -- the floor -------------------------------------------------------------------------------

_floor_current: ContextVar[Any] = ContextVar("floor_current", default=None)


class FloorSpan:
    """What any span must do: ids, parent, two timestamps, current while open, then exported."""

    __slots__ = ("end_ns", "name", "parent", "span_id", "start_ns", "token", "trace_id")

    def __init__(self, name: str, exporter: NoopExporter) -> None:
        parent = _floor_current.get()
        self.name = name
        self.parent = parent
        self.trace_id = parent.trace_id if parent is not None else getrandbits(128)
        self.span_id = getrandbits(64)
        self.start_ns = time_ns()
        self.end_ns = 0
        self.token: Any = None

    def __enter__(self) -> FloorSpan:
        self.token = _floor_current.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.end_ns = time_ns()
        _floor_exporter.export((self,))
        _floor_current.reset(self.token)


_floor_exporter = NoopExporter()


# -- rows --------------------------------------------------------------------------------------


def codetrace_row() -> tuple[str, dict[str, Any]]:
    return "with span('op'): pass", {"span": rt.span}


def floor_row() -> tuple[str, dict[str, Any]]:
    return "with FloorSpan('op', exporter): pass", {
        "FloorSpan": FloorSpan,
        "exporter": _floor_exporter,
    }


def sdk_provider() -> Any | None:
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    except ImportError:
        return None
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(NoopExporter()))  # type: ignore[arg-type]
    return provider


def otel_row(provider: Any) -> tuple[str, dict[str, Any]]:
    tracer = provider.get_tracer("benchmark")
    return "with tracer.start_as_current_span('op'): pass", {"tracer": tracer}


TIMER = time.process_time


def time_per_op(stmt: str, namespace: dict[str, Any], number: int) -> float:
    """Seconds per execution of ``stmt`` over ``number`` executions (by :data:`TIMER`)."""
    return timeit.Timer(stmt, timer=TIMER, globals=namespace).timeit(number) / number


def run(rounds: int, number: int) -> None:
    rows: list[tuple[str, Callable[[], None], str, dict[str, Any]]] = []

    def use_codetrace() -> None:
        rt.configure(exporter=NoopExporter(), backend="codetrace")

    def use_nothing() -> None:
        return None

    stmt, ns = floor_row()
    rows.append(("floor (ContextVar span)", use_nothing, stmt, ns))
    stmt, ns = codetrace_row()
    rows.append(("codetrace", use_codetrace, stmt, ns))
    provider = sdk_provider()
    if provider is None:
        print("opentelemetry-sdk is not installed: the SDK rows are skipped", file=sys.stderr)
    else:
        from opentelemetry import trace

        # The bridge needs the provider installed globally (set once per process).
        trace.set_tracer_provider(provider)

        def use_bridge() -> None:
            rt.configure(backend="otel")

        stmt, ns = otel_row(provider)
        rows.append(("OpenTelemetry SDK", use_nothing, stmt, ns))
        rows.append(
            ("codetrace bridged to the SDK", use_bridge, codetrace_row()[0], ns | {"span": rt.span})
        )

    results: dict[str, list[float]] = {label: [] for label, *_ in rows}
    for _label, setup, stmt, ns in rows:  # warm-up: first calls import and build things
        setup()
        time_per_op(stmt, ns, min(number, 10_000))
    for _ in range(rounds):
        for label, setup, stmt, ns in rows:
            setup()
            results[label].append(time_per_op(stmt, ns, number))
    rt.reset()

    base = statistics.median(results["codetrace"])
    print(f"one span, created + entered + ended + exported (no-op): {rounds} rounds x {number}")
    print(f"| {'':30} | median µs | min µs | max µs | x codetrace |")
    print(f"|{'-' * 32}|-----------|--------|--------|-------------|")
    for label, values in results.items():
        median = statistics.median(values)
        print(
            f"| {label:30} | {median * 1e6:9.3f} | {min(values) * 1e6:6.3f} "
            f"| {max(values) * 1e6:6.3f} | {median / base:11.2f} |"
        )


def profile(number: int) -> None:
    import cProfile
    import pstats

    rt.configure(exporter=NoopExporter(), backend="codetrace")
    stmt, ns = codetrace_row()
    profiler = cProfile.Profile()
    profiler.enable()
    time_per_op(stmt, ns, number)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds (median reported)")
    parser.add_argument("--number", type=int, default=200_000, help="spans per row per round")
    parser.add_argument("--profile", action="store_true", help="cProfile codetrace's span path")
    parser.add_argument("--wall", action="store_true", help="time with perf_counter, not CPU")
    args = parser.parse_args(argv)
    if args.wall:
        global TIMER
        TIMER = time.perf_counter
    if args.profile:
        profile(args.number)
    else:
        run(max(1, args.rounds), max(1, args.number))


if __name__ == "__main__":
    main()
