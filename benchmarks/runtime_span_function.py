"""What ``@span_function`` adds to a call of a project's function, vs OpenTelemetry's decorator.

    .venv/bin/python benchmarks/runtime_span_function.py            # 7 rounds of 200,000 calls
    .venv/bin/python benchmarks/runtime_span_function.py --rounds 9 --number 100000
    .venv/bin/python benchmarks/runtime_span_function.py --profile  # cProfile of the traced call

The function is ``def work(x): return x`` (a call that does nothing, so the figure is the
decorator's cost alone). Rows, side by side in one process, one after the other in each round
(so drift hits every row):

* untraced: ``work(1)``, the function itself.
* wrapper floor: a ``def wrapper(*args, **kwargs): return work(*args, **kwargs)`` closure, the
  least any decorator adds (one Python frame and the argument packing).
* codetrace, recording: ``@span_function("bench.work")`` with ``configure(exporter=Noop)`` (the
  ``SimpleSpanProcessor`` path: every span sampled, given its ``code.*`` attributes, exported).
* codetrace, default: the same with no exporter configured (``OTEL_TRACES_EXPORTER`` unset:
  spans carry ids for propagation and record nothing).
* codetrace, ``min_duration_ms=1000``, fast call: the adaptive path while the function has never
  been slow (timed with ``perf_counter_ns``, no span).
* OpenTelemetry SDK: ``@tracer.start_as_current_span("bench.work")`` used as a decorator, on a
  ``TracerProvider`` with a ``SimpleSpanProcessor`` around a no-op exporter (not installed
  globally), the hand-written equivalent. Skipped with a message without ``opentelemetry-sdk``.

Each round times ``--number`` calls per row with :mod:`timeit` (the collector off, as timeit
does, for every row alike); the clock is this process's CPU time (``time.process_time``;
``--wall`` for ``perf_counter``). The table shows the median per call over the rounds, min and
max, and the median minus the untraced row's (what the decorator adds). Targets (issue 14): a
traced call adds at most 1.5 µs, an untraced fast call with ``min_duration_ms`` at most 0.3 µs.

Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import timeit
from collections.abc import Callable, Sequence
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


def work(x: int) -> int:
    return x


def wrapped(func: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


def sdk_decorated() -> Callable[..., Any] | None:
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    except ImportError:
        return None
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(NoopExporter()))  # type: ignore[arg-type]
    tracer = provider.get_tracer("benchmark")
    decorated: Callable[..., Any] = tracer.start_as_current_span("bench.work")(work)
    return decorated


TIMER = time.process_time
STMT = "f(1)"


def time_per_call(func: Callable[..., Any], number: int) -> float:
    """Seconds per ``func(1)`` over ``number`` calls (by :data:`TIMER`)."""
    return timeit.Timer(STMT, timer=TIMER, globals={"f": func}).timeit(number) / number


def rows() -> list[tuple[str, Callable[[], None], Callable[..., Any]]]:
    """(label, setup run before each timing, the function called)."""

    def recording() -> None:
        rt.configure(exporter=NoopExporter(), backend="codetrace")

    def default() -> None:
        rt.reset()

    recording()  # decorate with tracing enabled
    traced = rt.span_function("bench.work")(work)
    adaptive = rt.span_function("bench.work", min_duration_ms=1000.0)(work)
    result = [
        ("untraced", default, work),
        ("wrapper floor (*args, **kwargs)", default, wrapped(work)),
        ("codetrace, recording", recording, traced),
        ("codetrace, default (no exporter)", default, traced),
        ("codetrace, min_duration_ms, fast", recording, adaptive),
    ]
    sdk = sdk_decorated()
    if sdk is None:
        print("opentelemetry-sdk is not installed: the SDK row is skipped", file=sys.stderr)
    else:
        result.append(("OpenTelemetry SDK decorator", default, sdk))
    return result


def run(rounds: int, number: int) -> None:
    table = rows()
    results: dict[str, list[float]] = {label: [] for label, *_ in table}
    for _label, setup, func in table:  # warm-up
        setup()
        time_per_call(func, min(number, 10_000))
    for _ in range(rounds):
        for label, setup, func in table:
            setup()
            results[label].append(time_per_call(func, number))
    rt.reset()
    base = statistics.median(results["untraced"])
    print(f"one call of a traced `def work(x): return x`: {rounds} rounds x {number} calls")
    print(f"| {'':34} | median µs | min µs | max µs | added µs |")
    print(f"|{'-' * 36}|-----------|--------|--------|----------|")
    for label, values in results.items():
        median = statistics.median(values)
        print(
            f"| {label:34} | {median * 1e6:9.3f} | {min(values) * 1e6:6.3f} "
            f"| {max(values) * 1e6:6.3f} | {(median - base) * 1e6:8.3f} |"
        )


def profile(number: int) -> None:
    import cProfile
    import pstats

    rt.configure(exporter=NoopExporter(), backend="codetrace")
    traced = rt.span_function("bench.work")(work)
    profiler = cProfile.Profile()
    profiler.enable()
    time_per_call(traced, number)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds (median reported)")
    parser.add_argument("--number", type=int, default=200_000, help="calls per row per round")
    parser.add_argument("--profile", action="store_true", help="cProfile the traced call")
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
