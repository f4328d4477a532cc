"""An asyncpg statement on a connection traced where it was opened, vs OpenTelemetry's.

    .venv/bin/python benchmarks/runtime_asyncpg.py                  # 150 batches x 200 calls
    .venv/bin/python benchmarks/runtime_asyncpg.py --rounds 300 --calls 200
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

Paired, interleaved batches (as ``runtime_redis.py``), because the machine these figures come
from is shared and its load moves within seconds: each batch runs every variant once, in a
shuffled order, for ``--calls`` statements. Reported: what a variant adds over plain, its median
per-call time minus plain's median in the same batch, median over the batches, for wall time and
for the event loop thread's CPU time (``thread_time_ns``: what the client adds, less disturbed
by a busy machine). "plain, second connection" is plain asyncpg on another connection: what two
identical connections differ by (each has its own server process), the noise under the figures
(codetrace's row runs on a connection of its own, OpenTelemetry's on plain's).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
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
LABELS = ("plain", "plain, second connection", "codetrace construction", "OpenTelemetry")


async def timed(conn: Any, calls: int, walls: list[int], cpus: list[int]) -> None:
    fetchrow = conn.fetchrow
    for _ in range(calls):
        wall, cpu = perf_counter_ns(), thread_time_ns()
        await fetchrow(QUERY, 1)
        cpus.append(thread_time_ns() - cpu)
        walls.append(perf_counter_ns() - wall)


async def measure(
    dsn: str, rounds: int, calls: int
) -> tuple[dict[str, tuple[list[float], list[float]]], dict[str, tuple[list[int], list[int]]]]:
    _codetrace_on()
    plain = await asyncpg.connect(dsn)
    second = await asyncpg.connect(dsn)
    traced = await rt.traced(asyncpg.connect, "asyncpg.connect")(dsn)
    await plain.execute("CREATE TABLE items (id integer PRIMARY KEY, name text)")
    await plain.execute("INSERT INTO items VALUES (1, 'pen')")
    instrumentor: Any = None
    try:
        from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor

        instrumentor, provider = AsyncPGInstrumentor(), otel_provider()
    except ImportError as exc:
        print(f"OpenTelemetry row skipped: {exc}", file=sys.stderr)
    labels = [label for label in LABELS if label != "OpenTelemetry" or instrumentor is not None]
    connection = {"plain": plain, "plain, second connection": second,
                  "codetrace construction": traced, "OpenTelemetry": plain}
    found: dict[str, tuple[list[int], list[int]]] = {label: ([], []) for label in labels}
    paired: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label in labels}
    shuffle = random.Random(1).shuffle
    for number in range(rounds + 1):  # the first batch warms up, and is not kept
        order = list(labels)
        shuffle(order)
        medians: dict[str, tuple[float, float]] = {}
        for label in order:
            walls: list[int] = []
            cpus: list[int] = []
            if label == "OpenTelemetry":
                instrumentor.instrument(tracer_provider=provider, skip_dep_check=True)
                try:
                    await timed(plain, calls, walls, cpus)
                finally:
                    instrumentor.uninstrument()
            else:
                await timed(connection[label], calls, walls, cpus)
            medians[label] = (statistics.median(walls) / 1e3, statistics.median(cpus) / 1e3)
            if number:
                found[label][0].extend(walls)
                found[label][1].extend(cpus)
        if number:
            for label in labels:
                paired[label][0].append(medians[label][0] - medians["plain"][0])
                paired[label][1].append(medians[label][1] - medians["plain"][1])
    for opened in (plain, second, traced):
        await opened.close()
    rt.reset()
    return paired, found


def table(
    title: str,
    paired: dict[str, tuple[list[float], list[float]]],
    found: dict[str, tuple[list[int], list[int]]],
) -> None:
    print(title)
    print(f"| {'':26} | wall µs | added µs | cpu µs | added cpu µs | x codetrace (cpu) |")
    print(f"|{'-' * 28}|---------|----------|--------|--------------|-------------------|")
    wall = {label: statistics.median(times[0]) / 1e3 for label, times in found.items()}
    cpu = {label: statistics.median(times[1]) / 1e3 for label, times in found.items()}
    added_wall = {label: statistics.median(values[0]) for label, values in paired.items()}
    added_cpu = {label: statistics.median(values[1]) for label, values in paired.items()}
    ours = added_cpu.get("codetrace construction", 0.0)
    for label in found:
        ratio = "-" if label == "plain" or ours <= 0 else f"{added_cpu[label] / ours:.2f}"
        print(f"| {label:26} | {wall[label]:7.1f} | {added_wall[label]:8.1f} | "
              f"{cpu[label]:6.1f} | {added_cpu[label]:12.1f} | {ratio:>17} |")
    print()


def run(rounds: int, calls: int) -> None:
    with tempfile.TemporaryDirectory(prefix="codetrace-bench-") as directory:
        os.chmod(directory, 0o755)  # the server may run as its own account
        process, server = start_postgres(Path(directory))
        try:
            paired, found = asyncio.run(measure(server.url, rounds, calls))
        finally:
            stop(process)
    print(f"span processor: {runtime_construction.PROCESSOR}, on both sides")
    table(f"asyncpg fetchrow, loopback PostgreSQL: {rounds} paired batches x {calls} calls",
          paired, found)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=150, help="paired batches")
    parser.add_argument("--calls", type=int, default=200, help="statements per variant per batch")
    parser.add_argument("--processor", choices=("batch", "simple"), default="batch")
    options = parser.parse_args(argv)
    runtime_construction.PROCESSOR = options.processor
    run(options.rounds, options.calls)


if __name__ == "__main__":
    main()
