"""A PostgreSQL statement on a psycopg2/psycopg connection traced where opened, vs OpenTelemetry.

    .venv/bin/python benchmarks/runtime_postgres.py                    # 9 rounds
    .venv/bin/python benchmarks/runtime_postgres.py --rounds 15 --calls 3000
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

Rounds are interleaved; medians of per-call wall times, and the time each adds over plain.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from time import perf_counter_ns
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
            "codetrace construction": rt.traced(psycopg2.connect, "psycopg2.connect")(dsn),
        },
        "psycopg": {
            "plain": psycopg.connect(dsn),
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


def execute(cursor: Any, calls: int) -> list[int]:
    times: list[int] = []
    append, call, fetch = times.append, cursor.execute, cursor.fetchone
    for _ in range(calls):
        start = perf_counter_ns()
        call(QUERY, (1,))
        fetch()
        append(perf_counter_ns() - start)
    return times


def table(title: str, walls: dict[str, list[int]]) -> None:
    median = {label: statistics.median(times) / 1e3 for label, times in walls.items()}
    added = {label: value - median["plain"] for label, value in median.items()}
    ours = added["codetrace construction"]
    print(title)
    print(f"| {'':24} | median µs | added µs | x codetrace |")
    print(f"|{'-' * 26}|-----------|----------|-------------|")
    for label, value in median.items():
        ratio = "-" if label == "plain" or not ours else f"{added[label] / ours:.2f}"
        print(f"| {label:24} | {value:9.2f} | {added[label]:8.2f} | {ratio:>11} |")
    print()


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
                    execute(cursor, 200)
                walls: dict[str, list[int]] = {label: [] for label in cursors}
                for _ in range(rounds):
                    for label, cursor in cursors.items():
                        walls[label].extend(execute(cursor, calls))
                table(f"{driver} cursor.execute + fetchone, loopback PostgreSQL: "
                      f"{rounds} rounds x {calls} calls", walls)
                for conn in variants.values():
                    conn.close()
            rt.reset()
        finally:
            stop(process)
    print(f"span processor: {runtime_construction.PROCESSOR}, on both sides")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--calls", type=int, default=2000, help="statements per variant per round")
    parser.add_argument("--processor", choices=("batch", "simple"), default="batch")
    options = parser.parse_args(argv)
    runtime_construction.PROCESSOR = options.processor
    run(options.rounds, options.calls)


if __name__ == "__main__":
    main()
