"""A PostgreSQL statement on a psycopg2/psycopg connection traced where opened, vs OpenTelemetry.

    .venv/bin/python benchmarks/runtime_postgres.py                    # 150 paired batches
    .venv/bin/python benchmarks/runtime_postgres.py --rounds 300 --calls 200
    .venv/bin/python benchmarks/runtime_postgres.py --processor simple # export as spans end

A real PostgreSQL server (Debian's ``postgresql``), started on 127.0.0.1 with a free port in a
temporary folder by ``tests/runtime_adapters/conftest_postgres.py``'s ``start_postgres`` and
stopped by pid here; one connection per variant, opened before timing, one cursor each. Per
call, ``cursor.execute("SELECT id, name FROM items WHERE id = %s", (1,))`` and its row fetched,
with psycopg2 and with psycopg 3 (sync), on:

* plain: ``psycopg2.connect(dsn)`` / ``psycopg.connect(dsn)``;
* codetrace construction: ``traced(psycopg2.connect, "psycopg2.connect")(dsn)`` (and
  ``psycopg.connect``), every span sampled, recorded and handed to the span processor
  (``runtime_construction.py``'s pipeline: default sampler, batch processor around an exporter
  that does nothing);
* OpenTelemetry: a connection opened while ``Psycopg2Instrumentor``/``PsycopgInstrumentor``
  (``opentelemetry-instrumentation-psycopg2``/``-psycopg``, stable database conventions opted
  in) is instrumented, on an SDK ``TracerProvider`` with the same kind of processor (its cursor
  factory keeps tracing after ``uninstrument``).

Paired, interleaved batches (as ``runtime_redis.py``), because the machine these figures come
from is shared and its load moves within seconds: each batch runs every variant once, in a
shuffled order, for ``--calls`` statements. Reported: what a variant adds over plain, its median
per-call time minus plain's median in the same batch, median over the batches, for wall time and
for the client thread's CPU time (``thread_time_ns``: what the client adds, less disturbed by a
busy machine). "plain, second connection" is plain again on another connection: what two
identical connections differ by (each has its own server process), the noise under the figures.
"""

from __future__ import annotations

import argparse
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

import psycopg
import psycopg2

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "runtime_adapters"))
import runtime_construction
from conftest_postgres import start_postgres
from runtime_construction import _codetrace_on, otel_provider
from server_process import stop

import codetrace.runtime as rt

QUERY = "SELECT id, name FROM items WHERE id = %s"


def connections(dsn: str) -> dict[str, dict[str, Any]]:
    """``{driver: {variant: connection}}``, each opened the variant's way."""
    _codetrace_on()
    found: dict[str, dict[str, Any]] = {
        "psycopg2": {
            "plain": psycopg2.connect(dsn),
            "plain, second connection": psycopg2.connect(dsn),
            "codetrace construction": rt.traced(psycopg2.connect, "psycopg2.connect")(dsn),
        },
        "psycopg": {
            "plain": psycopg.connect(dsn),
            "plain, second connection": psycopg.connect(dsn),
            "codetrace construction": rt.traced(psycopg.connect, "psycopg.connect")(dsn),
        },
    }
    try:
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
        from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor
    except ImportError as exc:
        print(f"OpenTelemetry rows skipped: {exc}", file=sys.stderr)
        return found
    provider = otel_provider()
    for driver, instrumentor, module in (("psycopg2", Psycopg2Instrumentor(), psycopg2),
                                         ("psycopg", PsycopgInstrumentor(), psycopg)):
        instrumentor.instrument(tracer_provider=provider, skip_dep_check=True)
        found[driver]["OpenTelemetry"] = module.connect(dsn)
        instrumentor.uninstrument()
    return found


def execute(cursor: Any, calls: int, walls: list[int], cpus: list[int]) -> None:
    call, fetch = cursor.execute, cursor.fetchone
    for _ in range(calls):
        wall, cpu = perf_counter_ns(), thread_time_ns()
        call(QUERY, (1,))
        fetch()
        cpus.append(thread_time_ns() - cpu)
        walls.append(perf_counter_ns() - wall)


def table(
    title: str,
    paired: dict[str, tuple[list[float], list[float]]],
    found: dict[str, tuple[list[int], list[int]]],
) -> None:
    print(title)
    print(f"| {'':26} | wall µs | added µs | cpu µs | added cpu µs | x codetrace (wall) |")
    print(f"|{'-' * 28}|---------|----------|--------|--------------|--------------------|")
    wall = {label: statistics.median(times[0]) / 1e3 for label, times in found.items()}
    cpu = {label: statistics.median(times[1]) / 1e3 for label, times in found.items()}
    added_wall = {label: statistics.median(values[0]) for label, values in paired.items()}
    added_cpu = {label: statistics.median(values[1]) for label, values in paired.items()}
    ours = added_wall["codetrace construction"]
    for label in found:
        ratio = "-" if label == "plain" or ours <= 0 else f"{added_wall[label] / ours:.2f}"
        print(f"| {label:26} | {wall[label]:7.1f} | {added_wall[label]:8.1f} | "
              f"{cpu[label]:6.1f} | {added_cpu[label]:12.1f} | {ratio:>18} |")
    print()


def measure(
    cursors: dict[str, Any], rounds: int, calls: int
) -> tuple[dict[str, tuple[list[float], list[float]]], dict[str, tuple[list[int], list[int]]]]:
    found: dict[str, tuple[list[int], list[int]]] = {label: ([], []) for label in cursors}
    paired: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label in cursors}
    shuffle = random.Random(1).shuffle
    for _ in range(rounds):
        order = list(cursors)
        shuffle(order)
        medians: dict[str, tuple[float, float]] = {}
        for label in order:
            walls: list[int] = []
            cpus: list[int] = []
            execute(cursors[label], calls, walls, cpus)
            found[label][0].extend(walls)
            found[label][1].extend(cpus)
            medians[label] = (statistics.median(walls) / 1e3, statistics.median(cpus) / 1e3)
        for label in cursors:
            paired[label][0].append(medians[label][0] - medians["plain"][0])
            paired[label][1].append(medians[label][1] - medians["plain"][1])
    return paired, found


def run(rounds: int, calls: int) -> None:
    with tempfile.TemporaryDirectory(prefix="codetrace-bench-") as directory:
        os.chmod(directory, 0o755)  # the server may run as its own account
        process, server = start_postgres(Path(directory))
        try:
            with psycopg.connect(server.dsn, autocommit=True) as setup:
                setup.execute("CREATE TABLE items (id integer PRIMARY KEY, name text)")
                setup.execute("INSERT INTO items VALUES (1, 'pen')")
            found = connections(server.dsn)
            for driver, variants in found.items():
                cursors = {label: conn.cursor() for label, conn in variants.items()}
                for cursor in cursors.values():  # warm-up
                    execute(cursor, 200, [], [])
                paired, times = measure(cursors, rounds, calls)
                table(f"{driver} cursor.execute + fetchone, loopback PostgreSQL: "
                      f"{rounds} paired batches x {calls} calls", paired, times)
                for conn in variants.values():
                    conn.close()
            rt.reset()
        finally:
            stop(process)
    print(f"span processor: {runtime_construction.PROCESSOR}, on both sides")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=150, help="paired batches")
    parser.add_argument("--calls", type=int, default=200, help="statements per variant per batch")
    parser.add_argument("--processor", choices=("batch", "simple"), default="batch")
    options = parser.parse_args(argv)
    runtime_construction.PROCESSOR = options.processor
    run(options.rounds, options.calls)


if __name__ == "__main__":
    main()
