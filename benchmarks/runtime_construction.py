"""Objects traced where they are built: what a request or a query costs through them.

    .venv/bin/python benchmarks/runtime_construction.py                # 600 rounds x 30 calls
    .venv/bin/python benchmarks/runtime_construction.py --rounds 300 --calls 20 --queries 200
    .venv/bin/python benchmarks/runtime_construction.py --processor simple  # export as spans end
    .venv/bin/python benchmarks/runtime_construction.py --profile      # cProfile, traced session

The pipeline is the one a production user has, on both sides: the default sampler
(``parentbased_always_on``: every root span sampled), every span recorded and handed to a
*batch* span processor (bounded queue, background export thread: what ``OTEL_TRACES_EXPORTER=otlp``
gives codetrace and what ``opentelemetry-instrument`` gives the SDK) around an exporter that
does nothing. ``--processor simple`` uses the synchronous ``SimpleSpanProcessor`` on both sides
instead (export as each span ends, on the caller's thread). One processor per side for the whole
run (re-installed, not rebuilt, before each batch of calls).

HTTP (the setup of ``runtime_requests.py``, whose server and helpers this reuses: a keep-alive
``ThreadingHTTPServer`` in another process on 127.0.0.1, one session per variant, connection
open before timing), per call ``session.get(url)`` on:

* plain: a ``requests.Session()``;
* codetrace construction: ``traced(requests.Session, "requests.session")()``, every span sampled,
  recorded and exported as above, trace headers injected;
* codetrace call site: ``traced(session.get, "requests.send")(url)`` on a plain session, same
  configuration (the call-site adapter, for reference);
* OpenTelemetry: ``RequestsInstrumentor`` on an SDK ``TracerProvider`` (default sampler) with
  the same kind of processor around a no-op exporter (instrumented for its batch only).

SQLite, per call ``cursor.execute("SELECT ?", (1,))`` on an in-memory database (a cursor:
OpenTelemetry's connection proxy does not trace the ``connection.execute`` shortcut; codetrace's
traced connection does, at the same cost), on: a plain connection;
``traced(sqlite3.connect, "sqlite3.connect")(":memory:")``; OpenTelemetry's
``SQLite3Instrumentor`` (``opentelemetry-instrumentation-sqlite3``; its connection is opened
while instrumented), same setup. Rows whose package is missing are skipped.

Rounds are interleaved, and short (30 calls, about 15 ms per variant; OpenTelemetry is
instrumented and uninstrumented around each, outside the timing), so that a machine whose load
changes from one second to the next disturbs every variant alike. Every call is timed, wall
clock and this thread's CPU time. The table shows the median of a variant's per-call wall
times; *added* is the median over rounds of (the variant's median in the round - plain's in
the same round), paired so that what slows a whole round cancels out; *added cpu* is the same
for the client thread's CPU time, which a busy machine disturbs less, but which does not see
the server's work (parsing one more header).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from time import perf_counter_ns, thread_time_ns
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtime_requests import NoopExporter, batch, start_server

import codetrace.runtime as rt

Variant = tuple[str, Callable[[], None], Callable[[str], Any], Callable[[], None]]

PROCESSOR = "batch"
"""``batch`` or ``simple``: the span processor of both pipelines (``--processor``)."""
_processor: Any = None


def _nothing() -> None:
    return None


def _codetrace_on() -> None:
    """Install codetrace's pipeline: default sampler, one processor kept for the whole run."""
    global _processor
    if _processor is None:
        exporter = NoopExporter()
        _processor = (
            rt.BatchSpanProcessor(exporter)  # type: ignore[arg-type]
            if PROCESSOR == "batch"
            else rt.SimpleSpanProcessor(exporter)  # type: ignore[arg-type]
        )
    rt.configure(processor=_processor, backend="codetrace")


def otel_provider() -> Any:
    """An SDK ``TracerProvider`` (default sampler) with the processor ``PROCESSOR`` names."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider()
    kind = BatchSpanProcessor if PROCESSOR == "batch" else SimpleSpanProcessor
    provider.add_span_processor(kind(NoopExporter()))  # type: ignore[arg-type]
    return provider


def otel_requests() -> tuple[Any, Any] | None:
    try:
        from opentelemetry.instrumentation.requests import RequestsInstrumentor
    except ImportError as exc:
        print(
            f"OpenTelemetry rows skipped: {exc} (pip install opentelemetry-sdk "
            "opentelemetry-instrumentation-requests)",
            file=sys.stderr,
        )
        return None
    return otel_provider(), RequestsInstrumentor()


def http_variants() -> list[Variant]:
    _codetrace_on()
    plain = requests.Session()
    traced = rt.traced(requests.Session, "requests.session")()
    call_site = requests.Session()
    variants: list[Variant] = [
        ("plain", _nothing, plain.get, _nothing),
        ("codetrace construction", _codetrace_on, traced.get, _nothing),
        (
            "codetrace call site",
            _codetrace_on,
            lambda u: rt.traced(call_site.get, "requests.send")(u),
            _nothing,
        ),
    ]
    otel = otel_requests()
    if otel is not None:
        provider, instrumentor = otel
        other = requests.Session()
        variants.append(
            (
                "OpenTelemetry RequestsInstrumentor",
                lambda: instrumentor.instrument(tracer_provider=provider),
                other.get,
                instrumentor.uninstrument,
            )
        )
    return variants


def sql_batch(execute: Callable[..., Any], calls: int) -> Times:
    return timed(lambda _url: execute("SELECT ?", (1,)), "", calls)


def sql_variants() -> list[tuple[str, Callable[[], None], Callable[..., Any], Callable[[], None]]]:
    _codetrace_on()
    plain = sqlite3.connect(":memory:")
    traced = rt.traced(sqlite3.connect, "sqlite3.connect")(":memory:")
    variants = [
        ("plain", _nothing, plain.cursor().execute, _nothing),
        ("codetrace construction", _codetrace_on, traced.cursor().execute, _nothing),
    ]
    try:
        from opentelemetry.instrumentation.sqlite3 import SQLite3Instrumentor
    except ImportError as exc:
        print(f"OpenTelemetry sqlite3 row skipped: {exc}", file=sys.stderr)
        return variants
    provider = otel_provider()
    instrumentor = SQLite3Instrumentor()
    instrumentor.instrument(tracer_provider=provider)
    otel_connection = sqlite3.connect(":memory:")  # opened instrumented: a traced proxy
    instrumentor.uninstrument()  # the proxy checks it at each call: instrumented per batch
    variants.append(
        (
            "OpenTelemetry SQLite3Instrumentor",
            lambda: instrumentor.instrument(tracer_provider=provider),
            otel_connection.cursor().execute,  # its proxy traces cursors only
            instrumentor.uninstrument,
        )
    )
    return variants


Times = tuple[list[int], list[int]]
"""Per-call wall-clock and thread CPU times (ns) of one batch."""


def timed(call: Callable[[str], Any], url: str, calls: int) -> Times:
    """Each call's wall-clock time and this thread's CPU time, in ns."""
    walls: list[int] = []
    cpus: list[int] = []
    for _ in range(calls):
        cpu = thread_time_ns()
        start = perf_counter_ns()
        call(url)
        end = perf_counter_ns()
        cpus.append(thread_time_ns() - cpu)
        walls.append(end - start)
    return walls, cpus


class Results:
    """Per-call times of every variant, and each round's median, for paired differences."""

    def __init__(self, labels: Sequence[str]) -> None:
        self.calls: dict[str, list[int]] = {label: [] for label in labels}
        self.rounds: dict[str, list[float]] = {label: [] for label in labels}
        self.cpu_rounds: dict[str, list[float]] = {label: [] for label in labels}

    def add(self, label: str, times: Times) -> None:
        walls, cpus = times
        self.calls[label].extend(walls)
        self.rounds[label].append(statistics.median(walls))
        self.cpu_rounds[label].append(statistics.median(cpus))

    def added(self, label: str, rounds: dict[str, list[float]]) -> float:
        """Median over rounds of (this variant's median - plain's median in the same round)."""
        pairs = zip(rounds[label], rounds["plain"], strict=True)
        return statistics.median(mine - plain for mine, plain in pairs) / 1e3


def table(title: str, results: Results) -> None:
    median = {label: statistics.median(times) / 1e3 for label, times in results.calls.items()}
    added = {label: results.added(label, results.rounds) for label in median}
    cpu = {label: results.added(label, results.cpu_rounds) for label in median}
    ours = added["codetrace construction"]
    print(title)
    print(f"| {'':36} | median µs | added µs | added cpu µs | x codetrace construction |")
    print(f"|{'-' * 38}|-----------|----------|--------------|--------------------------|")
    for label, value in median.items():
        ratio = "-" if label == "plain" or not ours else f"{added[label] / ours:.2f}"
        print(
            f"| {label:36} | {value:9.2f} | {added[label]:8.2f} | {cpu[label]:12.2f} "
            f"| {ratio:>24} |"
        )
    print()


def run(rounds: int, calls: int, queries: int) -> None:
    server, url = start_server()
    try:
        variants = http_variants()
        for _label, setup, call, teardown in variants:  # warm-up, connections opened
            setup()
            batch(call, url, 200)
            teardown()
        http = Results([label for label, *_ in variants])
        sql = sql_variants()
        sql_results = Results([label for label, *_ in sql])
        for _label, setup, execute, teardown in sql:
            setup()
            sql_batch(execute, 500)
            teardown()
        for _ in range(rounds):
            for label, setup, call, teardown in variants:
                setup()
                times = timed(call, url, calls)
                teardown()
                http.add(label, times)
            for label, setup, execute, teardown in sql:
                setup()
                sql_results.add(label, sql_batch(execute, queries))
                teardown()
        rt.reset()
    finally:
        server.kill()
        server.wait()
    print(f"span processor: {PROCESSOR}, on both sides\n")
    table(f"requests Session.get, keep-alive loopback: {rounds} rounds x {calls} calls", http)
    table(
        f'sqlite3 cursor.execute("SELECT ?", (1,)), in memory: {rounds} rounds x {queries}',
        sql_results,
    )


def profile(calls: int) -> None:
    """cProfile of ``calls`` requests through a traced session, codetrace's functions shown."""
    import cProfile
    import pstats

    server, url = start_server()
    try:
        _codetrace_on()
        session = rt.traced(requests.Session, "requests.session")()
        batch(session.get, url, 200)
        profiler = cProfile.Profile()
        profiler.enable()
        batch(session.get, url, calls)
        profiler.disable()
        rt.reset()
    finally:
        server.kill()
        server.wait()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats("codetrace", 25)


def main(argv: Sequence[str] | None = None) -> None:
    global PROCESSOR
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=600, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=30, help="HTTP calls per variant per round")
    parser.add_argument("--queries", type=int, default=300, help="queries per variant per round")
    parser.add_argument(
        "--processor", choices=("batch", "simple"), default="batch", help="span processor"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the traced session")
    args = parser.parse_args(argv)
    PROCESSOR = args.processor
    if args.profile:
        profile(max(1, args.calls))
        return
    run(max(1, args.rounds), max(1, args.calls), max(1, args.queries))


if __name__ == "__main__":
    main()
