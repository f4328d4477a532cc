"""An asyncpg statement on a connection traced where it was opened, vs OpenTelemetry's.

    .venv/bin/python benchmarks/runtime_asyncpg.py                  # 9 rounds x 2000 calls
    .venv/bin/python benchmarks/runtime_asyncpg.py --rounds 15 --calls 3000
    .venv/bin/python benchmarks/runtime_asyncpg.py --processor simple

A real PostgreSQL server (Debian's ``postgresql``), started on 127.0.0.1 with a free port in a
temporary folder by ``tests/runtime_adapters/conftest_postgres.py``'s ``start_postgres`` and
stopped by pid here. Per call, ``await conn.fetchrow("SELECT id, name FROM items WHERE id =
$1", 1)`` on one connection per variant, all in one event loop:

* plain: ``asyncpg.connect(dsn)``;
* codetrace construction: ``traced(asyncpg.connect, "asyncpg.connect")(dsn)``, every span
  sampled, recorded and handed to the span processor (``runtime_construction.py``'s pipeline);
* OpenTelemetry: the plain connection while ``AsyncPGInstrumentor``
  (``opentelemetry-instrumentation-asyncpg``, stable database conventions opted in) is
  instrumented on an SDK ``TracerProvider`` with the same kind of processor. It wraps asyncpg's
  class, so it is instrumented for its rows only and uninstrumented after each.

Rounds are interleaved. Reported: medians of per-call wall time and of the event loop thread's
CPU time (``thread_time_ns``: what the client adds, less disturbed by a busy machine), and what
each variant adds over plain.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from time import perf_counter_ns, thread_time_ns
from typing import Any

os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "database"

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "runtime_adapters"))
import runtime_construction
from conftest_postgres import start_postgres
from runtime_construction import _codetrace_on, otel_provider
from server_process import stop

import codetrace.runtime as rt

QUERY = "SELECT id, name FROM items WHERE id = $1"
LABELS = ("plain", "codetrace construction", "OpenTelemetry")


async def timed(conn: Any, calls: int, walls: list[int], cpus: list[int]) -> None:
    fetchrow = conn.fetchrow
    for _ in range(calls):
        wall, cpu = perf_counter_ns(), thread_time_ns()
        await fetchrow(QUERY, 1)
        cpus.append(thread_time_ns() - cpu)
        walls.append(perf_counter_ns() - wall)


async def measure(dsn: str, rounds: int, calls: int) -> dict[str, tuple[list[int], list[int]]]:
    _codetrace_on()
    plain = await asyncpg.connect(dsn)
    traced = await rt.traced(asyncpg.connect, "asyncpg.connect")(dsn)
    await plain.execute("CREATE TABLE items (id integer PRIMARY KEY, name text)")
    await plain.execute("INSERT INTO items VALUES (1, 'pen')")
    instrumentor: Any = None
    try:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        instrumentor, provider = AsyncPGInstrumentor(), otel_provider()
    except ImportError as exc:
        print(f"OpenTelemetry row skipped: {exc}", file=sys.stderr)
    found: dict[str, tuple[list[int], list[int]]] = {label: ([], []) for label in LABELS}
    for number in range(rounds + 1):  # the first round warms up, and is not kept
        for label in LABELS:
            walls, cpus = found[label] if number else ([], [])
            if label == "OpenTelemetry":
                if instrumentor is None:
                    continue
                instrumentor.instrument(tracer_provider=provider, skip_dep_check=True)
                try:
                    await timed(plain, calls, walls, cpus)
                finally:
                    instrumentor.uninstrument()
            else:
                await timed(traced if label != "plain" else plain, calls, walls, cpus)
    await plain.close()
    await traced.close()
    rt.reset()
    return {label: times for label, times in found.items() if times[0]}


def table(title: str, found: dict[str, tuple[list[int], list[int]]]) -> None:
    print(title)
    print(f"| {'':24} | wall µs | added µs | cpu µs | added cpu µs | x codetrace (cpu) |")
    print(f"|{'-' * 26}|---------|----------|--------|--------------|-------------------|")
    wall = {label: statistics.median(times[0]) / 1e3 for label, times in found.items()}
    cpu = {label: statistics.median(times[1]) / 1e3 for label, times in found.items()}
    ours = cpu.get("codetrace construction", 0.0) - cpu["plain"]
    for label in found:
        added_cpu = cpu[label] - cpu["plain"]
        ratio = "-" if label == "plain" or ours <= 0 else f"{added_cpu / ours:.2f}"
        print(f"| {label:24} | {wall[label]:7.1f} | {wall[label] - wall['plain']:8.1f} | "
              f"{cpu[label]:6.1f} | {added_cpu:12.1f} | {ratio:>17} |")
    print()


def run(rounds: int, calls: int) -> None:
    with tempfile.TemporaryDirectory(prefix="codetrace-bench-") as directory:
        os.chmod(directory, 0o755)  # the server may run as its own account
        process, server = start_postgres(Path(directory))
        try:
            found = asyncio.run(measure(server.url, rounds, calls))
        finally:
            stop(process)
    print(f"span processor: {runtime_construction.PROCESSOR}, on both sides")
    table(f"asyncpg fetchrow, loopback PostgreSQL: {rounds} rounds x {calls} calls", found)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--processor", choices=("batch", "simple"), default="batch")
    options = parser.parse_args(argv)
    runtime_construction.PROCESSOR = options.processor
    run(options.rounds, options.calls)


if __name__ == "__main__":
    main()
