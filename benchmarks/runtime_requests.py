"""Time a traced ``requests`` call adds: codetrace vs OpenTelemetry's requests instrumentation.

    .venv/bin/python benchmarks/runtime_requests.py                 # 9 rounds of 2,000 calls
    .venv/bin/python benchmarks/runtime_requests.py --rounds 15 --calls 1000
    .venv/bin/python benchmarks/runtime_requests.py --profile       # cProfile of codetrace's call

Setup: a ``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive on 127.0.0.1, in a separate
process (so serving does not compete with the client for the GIL), answering every GET with a
small fixed body; one ``requests.Session`` reused for every call, so after the first call each
GET is one request on an open connection. Variants, per call:

* plain: ``session.get(url)``;
* plain + a traceparent header: ``session.get(url, headers={"traceparent": ...})``, for
  reference: what carrying the trace context costs by itself (requests merging the headers,
  one more header line to send and for the server to parse), paid by both tracers;
* codetrace: ``traced(session.get, "requests.send")(url)``, what ``codetrace apply`` writes, with
  ``configure(exporter=NoopExporter())``: every span sampled, recorded (method, URL, server,
  status) and handed to an exporter that does nothing, trace headers injected;
* OpenTelemetry: ``RequestsInstrumentor().instrument(tracer_provider=provider)`` on an SDK
  ``TracerProvider`` with a ``SimpleSpanProcessor`` around the same kind of no-op exporter
  (instrumented for its batch, uninstrumented after);
* codetrace bridged: codetrace's call through the OpenTelemetry API on that SDK provider.

Rounds are interleaved (plain, codetrace, OpenTelemetry, bridged, plain, ...) so drift and
noise hit every variant alike. Every call is timed (wall clock, ``perf_counter_ns``); the table
shows the median of a variant's per-call times over all rounds and what it adds to plain's.
It also shows this process's CPU time per call (batch CPU time over the number of calls, median
over rounds, and the median over rounds of variant - plain of the same round): what the client
itself spends, less disturbed by other processes on a busy machine, but blind to the server's
extra work for the extra header. The
OpenTelemetry rows are skipped with a message when ``opentelemetry-sdk`` or
``opentelemetry-instrumentation-requests`` is missing.

Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from time import perf_counter_ns
from typing import Any

import requests

import codetrace.runtime as rt

SERVER = r"""
import http.server, sys

BODY = b'{"ok": true}'

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    # Headers and body leave in separate writes: with Nagle's algorithm on, the body waits for
    # the client's delayed ACK (~40 ms) and every variant measures that instead.
    disable_nagle_algorithm = True

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class NoopExporter:
    """An exporter that accepts everything and does nothing (codetrace and the SDK alike)."""

    def export(self, spans: Sequence[Any]) -> Any:
        return True

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def start_server() -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    port = int(server.stdout.readline())
    return server, f"http://127.0.0.1:{port}/items?id=7"


def batch(call: Callable[[str], Any], url: str, calls: int) -> tuple[list[int], float]:
    """Each call's wall-clock time (ns), and this process's CPU seconds per call."""
    times: list[int] = []
    append = times.append
    cpu = time.process_time()
    for _ in range(calls):
        start = perf_counter_ns()
        call(url)
        append(perf_counter_ns() - start)
    return times, (time.process_time() - cpu) / calls


def otel_setup() -> tuple[Any, Any] | None:
    try:
        from opentelemetry import trace
        from opentelemetry.instrumentation.requests import RequestsInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    except ImportError as exc:
        print(
            f"OpenTelemetry rows skipped: {exc} (pip install opentelemetry-sdk "
            "opentelemetry-instrumentation-requests)",
            file=sys.stderr,
        )
        return None
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(NoopExporter()))  # type: ignore[arg-type]
    trace.set_tracer_provider(provider)  # for the bridged row
    return provider, RequestsInstrumentor()


def run(rounds: int, calls: int) -> None:
    server, url = start_server()
    try:
        session = requests.Session()
        assert session.get(url).status_code == 200  # open the connection

        def plain(u: str) -> Any:
            return session.get(u)

        def codetrace(u: str) -> Any:
            return rt.traced(session.get, "requests.send")(u)

        header = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}

        def with_header(u: str) -> Any:
            return session.get(u, headers=header)

        variants: list[tuple[str, Callable[[], None], Callable[[str], Any], Callable[[], None]]]
        nothing: Callable[[], None] = lambda: None  # noqa: E731
        variants = [
            ("plain", nothing, plain, nothing),
            ("plain + a traceparent header", nothing, with_header, nothing),
            (
                "codetrace",
                lambda: rt.configure(exporter=NoopExporter(), backend="codetrace"),
                codetrace,
                nothing,
            ),
        ]
        otel = otel_setup()
        if otel is not None:
            provider, instrumentor = otel
            variants.append(
                (
                    "OpenTelemetry instrumentation",
                    lambda: instrumentor.instrument(tracer_provider=provider),
                    plain,
                    instrumentor.uninstrument,
                )
            )
            variants.append(
                (
                    "codetrace bridged to the SDK",
                    lambda: rt.configure(backend="otel"),
                    codetrace,
                    nothing,
                )
            )
        for _label, setup, call, teardown in variants:  # warm-up
            setup()
            batch(call, url, min(calls, 200))
            teardown()
        walls: dict[str, list[int]] = {label: [] for label, *_ in variants}
        cpus: dict[str, list[float]] = {label: [] for label, *_ in variants}
        for _ in range(rounds):
            for label, setup, call, teardown in variants:
                setup()
                times, cpu = batch(call, url, calls)
                teardown()
                walls[label].extend(times)
                cpus[label].append(cpu)
        rt.reset()
    finally:
        server.kill()
        server.wait()
    report(walls, cpus, rounds, calls)


def report(
    walls: dict[str, list[int]], cpus: dict[str, list[float]], rounds: int, calls: int
) -> None:
    wall = {label: statistics.median(times) / 1e3 for label, times in walls.items()}
    cpu = {label: statistics.median(values) * 1e6 for label, values in cpus.items()}
    cpu_added = {
        label: statistics.median(v - p for v, p in zip(values, cpus["plain"], strict=True)) * 1e6
        for label, values in cpus.items()
    }
    wall_added = {label: value - wall["plain"] for label, value in wall.items()}
    print(f"traced requests.get on a keep-alive loopback server: {rounds} rounds x {calls} calls")
    print("(wall: median of the per-call times; added: minus plain's;")
    print(" cpu: this process's CPU time per call, median over rounds; added: median over rounds")
    print(" of variant - plain of the same round. CPU time is disturbed less by other processes.)")
    print(f"| {'':30} | wall µs | added µs | x codetrace | cpu µs | cpu added µs | x codetrace |")
    print(f"|{'-' * 32}|---------|----------|-------------|--------|--------------|-------------|")
    for label in walls:
        if label == "plain":
            ratios = [f"{'-':>11}", f"{'-':>11}"]
        else:
            ratios = [
                f"{wall_added[label] / wall_added['codetrace']:11.2f}",
                f"{cpu_added[label] / cpu_added['codetrace']:11.2f}",
            ]
        print(
            f"| {label:30} | {wall[label]:7.1f} | {wall_added[label]:8.1f} | {ratios[0]} "
            f"| {cpu[label]:6.1f} | {cpu_added[label]:12.1f} | {ratios[1]} |"
        )


def profile(calls: int) -> None:
    import cProfile
    import pstats

    server, url = start_server()
    try:
        session = requests.Session()
        rt.configure(exporter=NoopExporter(), backend="codetrace")
        traced_get = lambda u: rt.traced(session.get, "requests.send")(u)  # noqa: E731
        batch(traced_get, url, 100)
        profiler = cProfile.Profile()
        profiler.enable()
        batch(traced_get, url, calls)
        profiler.disable()
    finally:
        server.kill()
        server.wait()
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats("codetrace", 25)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (median)")
    parser.add_argument("--calls", type=int, default=2000, help="calls per variant per round")
    parser.add_argument("--profile", action="store_true", help="cProfile codetrace's call")
    args = parser.parse_args(argv)
    if args.profile:
        profile(args.calls)
    else:
        run(max(1, args.rounds), max(1, args.calls))


if __name__ == "__main__":
    main()
