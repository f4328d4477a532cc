"""A MariaDB statement on a PyMySQL/mysqlclient connection traced where opened, vs OpenTelemetry.

    .venv/bin/python benchmarks/runtime_mysql.py                    # 150 paired batches
    .venv/bin/python benchmarks/runtime_mysql.py --rounds 300 --calls 200
    .venv/bin/python benchmarks/runtime_mysql.py --processor simple # export as spans end
    .venv/bin/python benchmarks/runtime_mysql.py --profile          # cProfile, codetrace's path

A real MariaDB server (Debian's ``mariadb-server``), started on 127.0.0.1 with a free port in a
private folder by ``tests/runtime_adapters/conftest_mariadb.py``'s ``start_mariadb`` and
stopped by pid here; one connection per variant, opened before timing, one cursor each. Per
call, ``cursor.execute("SELECT id FROM t WHERE id = %s", (1,))`` and its row fetched, with
PyMySQL and with mysqlclient (``MySQLdb``, when installed), on:

* plain: ``pymysql.connect(...)`` / ``MySQLdb.connect(...)``;
* codetrace construction: ``traced(pymysql.connect, "pymysql.connect")(...)`` (and
  ``traced(MySQLdb.connect, "mysqlclient.connect")``), every span sampled, recorded and handed
  to the span processor (``runtime_construction.py``'s pipeline: default sampler, batch
  processor around an exporter that does nothing);
* OpenTelemetry: a connection opened while ``PyMySQLInstrumentor``/``MySQLClientInstrumentor``
  (``opentelemetry-instrumentation-pymysql``/``-mysqlclient``, stable database conventions
  opted in) is instrumented, on an SDK ``TracerProvider`` with the same kind of processor (its
  connection proxy keeps tracing after ``uninstrument``).

Paired, interleaved batches (as ``runtime_redis.py``), because the machine these figures come
from is shared and its load moves within seconds: each batch runs every variant once, in a
shuffled order, for ``--calls`` statements; what a variant adds is its median per-call time
minus plain's median in the same batch, and the table gives the median of that over the
batches (wall clock, and the client thread's CPU time, which the load disturbs less but which
does not see the server's side), with the median per-call wall time over all of them.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from time import perf_counter_ns, thread_time_ns
from typing import Any

os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "database"

import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "runtime_adapters"))
import runtime_construction
from conftest_mariadb import MariaDBServer, start_mariadb
from runtime_construction import _codetrace_on, otel_provider
from server_process import private_directory, stop

import codetrace.runtime as rt

try:
    import MySQLdb
except ImportError:  # mysqlclient needs a C client library: its rows are optional
    MySQLdb = None

QUERY = "SELECT id FROM t WHERE id = %s"
CODETRACE = "codetrace construction"


def _arguments(server: MariaDBServer) -> dict[str, Any]:
    return {"host": server.host, "port": server.port, "user": server.user,
            "password": server.password, "database": server.database}


def connections(server: MariaDBServer) -> dict[str, dict[str, Any]]:
    """``{driver: {variant: connection}}``, each opened the variant's way."""
    _codetrace_on()
    kwargs = _arguments(server)
    drivers: list[tuple[str, Any, str, str]] = [
        ("PyMySQL", pymysql, "pymysql.connect", "PyMySQLInstrumentor")]
    if MySQLdb is not None:
        drivers.append(("mysqlclient", MySQLdb, "mysqlclient.connect", "MySQLClientInstrumentor"))
    found: dict[str, dict[str, Any]] = {
        driver: {"plain": module.connect(**kwargs),
                 CODETRACE: rt.traced(module.connect, rule)(**kwargs)}
        for driver, module, rule, _ in drivers
    }
    provider = otel_provider()
    for driver, module, _, name in drivers:
        try:
            if module is pymysql:
                from opentelemetry.instrumentation.pymysql import PyMySQLInstrumentor as kind
            else:
                from opentelemetry.instrumentation.mysqlclient import (
                    MySQLClientInstrumentor as kind,
                )
        except ImportError as exc:
            print(f"OpenTelemetry {name} row skipped: {exc}", file=sys.stderr)
            continue
        instrumentor = kind()
        instrumentor.instrument(tracer_provider=provider, skip_dep_check=True)
        found[driver][f"OpenTelemetry {name}"] = module.connect(**kwargs)
        instrumentor.uninstrument()
    return found


def execute(cursor: Any, calls: int) -> tuple[list[int], list[int]]:
    walls: list[int] = []
    cpus: list[int] = []
    wall, cpu, call, fetch = walls.append, cpus.append, cursor.execute, cursor.fetchone
    for _ in range(calls):
        start, start_cpu = perf_counter_ns(), thread_time_ns()
        call(QUERY, (1,))
        fetch()
        cpu(thread_time_ns() - start_cpu)
        wall(perf_counter_ns() - start)
    return walls, cpus


def table(title: str, walls: dict[str, list[int]], paired: dict[str, list[float]],
          paired_cpu: dict[str, list[float]]) -> None:
    median = {label: statistics.median(times) / 1e3 for label, times in walls.items()}
    added = {label: statistics.median(values) for label, values in paired.items()}
    added_cpu = {label: statistics.median(values) for label, values in paired_cpu.items()}
    ours, ours_cpu = added[CODETRACE], added_cpu[CODETRACE]
    print(title)
    print(f"| {'':38} | median µs | added µs | x codetrace | added cpu µs | x codetrace (cpu) |")
    print(f"|{'-' * 40}|-----------|----------|-------------|--------------|-------------------|")
    for label, value in median.items():
        plain = label == "plain"
        ratio = "-" if plain or not ours else f"{added[label] / ours:.2f}"
        ratio_cpu = "-" if plain or not ours_cpu else f"{added_cpu[label] / ours_cpu:.2f}"
        print(f"| {label:38} | {value:9.2f} | {added[label]:8.2f} | {ratio:>11} | "
              f"{added_cpu[label]:12.2f} | {ratio_cpu:>17} |")
    print()


def measure(driver: str, variants: dict[str, Any], rounds: int, calls: int) -> None:
    cursors = {label: conn.cursor() for label, conn in variants.items()}
    for cursor in cursors.values():  # warm-up
        execute(cursor, 200)
    walls: dict[str, list[int]] = {label: [] for label in cursors}
    paired: dict[str, list[float]] = {label: [] for label in cursors}
    paired_cpu: dict[str, list[float]] = {label: [] for label in cursors}
    shuffle = random.Random(1).shuffle
    for _ in range(rounds):
        order = list(cursors.items())
        shuffle(order)
        batch: dict[str, float] = {}
        batch_cpu: dict[str, float] = {}
        for label, cursor in order:
            times, cpus = execute(cursor, calls)
            walls[label].extend(times)
            batch[label] = statistics.median(times) / 1e3
            batch_cpu[label] = statistics.median(cpus) / 1e3
        for label in batch:
            paired[label].append(batch[label] - batch["plain"])
            paired_cpu[label].append(batch_cpu[label] - batch_cpu["plain"])
    table(f"{driver} cursor.execute + fetchone, loopback MariaDB: {rounds} paired batches x "
          f"{calls} calls", walls, paired, paired_cpu)


def with_server(work: Callable[[MariaDBServer], None]) -> None:
    with private_directory("bench-mariadb") as directory:
        process, server = start_mariadb(directory)
        try:
            setup = pymysql.connect(**_arguments(server), autocommit=True)
            with setup, setup.cursor() as cursor:
                cursor.execute("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))")
                cursor.execute("INSERT INTO t VALUES (1, 'pen')")
            work(server)
        finally:
            stop(process)


def run(rounds: int, calls: int) -> None:
    def work(server: MariaDBServer) -> None:
        found = connections(server)
        for driver, variants in found.items():
            measure(driver, variants, rounds, calls)
            for conn in variants.values():
                conn.close()
        rt.reset()

    print(f"load average before: {os.getloadavg()}")
    with_server(work)
    print(f"load average after: {os.getloadavg()}")
    print(f"span processor: {runtime_construction.PROCESSOR}, on both sides")


def profile(calls: int) -> None:
    """cProfile of ``calls`` statements per driver on a traced connection, codetrace's
    functions shown."""
    import cProfile
    import pstats

    def work(server: MariaDBServer) -> None:
        _codetrace_on()
        modules = [("pymysql.connect", pymysql)]
        if MySQLdb is not None:
            modules.append(("mysqlclient.connect", MySQLdb))
        for rule, module in modules:
            conn = rt.traced(module.connect, rule)(**_arguments(server))
            cursor = conn.cursor()
            execute(cursor, 200)
            profiler = cProfile.Profile()
            profiler.enable()
            execute(cursor, calls)
            profiler.disable()
            conn.close()
            print(f"== {rule}: {calls} statements")
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
        rt.reset()

    with_server(work)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=150, help="paired batches")
    parser.add_argument("--calls", type=int, default=200, help="statements per variant per batch")
    parser.add_argument("--processor", choices=("batch", "simple"), default="batch")
    parser.add_argument("--profile", action="store_true", help="cProfile the traced connections")
    options = parser.parse_args(argv)
    runtime_construction.PROCESSOR = options.processor
    if options.profile:
        profile(max(1, options.calls) * 10)
        return
    run(max(1, options.rounds), max(1, options.calls))


if __name__ == "__main__":
    main()
