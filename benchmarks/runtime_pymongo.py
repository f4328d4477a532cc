"""pymongo's command listener alone: codetrace's vs OpenTelemetry's ``CommandTracer``, per command.

    .venv/bin/python benchmarks/runtime_pymongo.py                    # 300 paired batches
    .venv/bin/python benchmarks/runtime_pymongo.py --rounds 500 --calls 200
    .venv/bin/python benchmarks/runtime_pymongo.py --processor simple # export as spans end
    .venv/bin/python benchmarks/runtime_pymongo.py --profile          # cProfile, codetrace's side

No MongoDB server is installable here, and a client talking to the tests' wire-protocol server
(``tests/runtime_adapters/mongo_wire_server.py``) in the same process would time that server,
which shares the GIL, more than anything else. So this times what tracing adds to a command and
nothing else: the listener's ``started`` and ``succeeded`` for one command, called as pymongo
calls them, with real ``pymongo.monitoring`` event objects (a ``find`` on ``shop.orders``, the
reply a server would send), built once before timing (building them is pymongo's cost, the same
with any listener or none). Per call, ``started(event)`` then ``succeeded(event)`` on:

* plain: a ``CommandListener`` whose methods do nothing (what pymongo's publishing costs
  anyway);
* codetrace: the listener ``traced(pymongo.MongoClient, "pymongo.client")(...)`` adds to its
  client (``_pymongo.listener_class()``), configured with the client's one address, every span
  sampled, recorded and handed to the span processor (``runtime_construction.py``'s pipeline:
  default sampler, batch processor around an exporter that does nothing);
* OpenTelemetry: the ``CommandTracer`` ``PymongoInstrumentor`` registers
  (``opentelemetry-instrumentation-pymongo``, stable database conventions opted in), on an SDK
  ``TracerProvider`` with the same kind of processor.

Paired, interleaved batches (as ``runtime_redis.py``): each batch runs every variant once, in a
shuffled order; what a variant adds is its median per-call time minus plain's median in the
same batch, and the table gives the median of that over the batches. Between two variants'
batches the benchmark sleeps 10 ms, outside the timing, so that the export threads empty their
queues (at this rate a full queue would drop spans, which is cheaper than keeping them). Both
listeners run with warm caches here; in a real client pymongo's own work runs between two
commands, so a traced command costs more than this table says (``runtime_redis.py`` and
``runtime_mysql.py`` measure that effect on real servers).
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from time import perf_counter_ns
from typing import Any

os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "database"

import pymongo
import pymongo.monitoring as monitoring

sys.path.insert(0, str(Path(__file__).resolve().parent))
import runtime_construction
from runtime_construction import _codetrace_on, otel_provider

import codetrace.runtime as rt
from codetrace.runtime import _pymongo

CODETRACE = "codetrace listener"
ADDRESS = ("localhost", 27017)


class Nothing(monitoring.CommandListener):
    def started(self, event: Any) -> None:
        return None

    def succeeded(self, event: Any) -> None:
        return None

    def failed(self, event: Any) -> None:
        return None


def events() -> tuple[Any, Any]:
    command = {"find": "orders", "filter": {"status": "open"}, "limit": 10, "$db": "shop"}
    reply = {"cursor": {"id": 0, "ns": "shop.orders", "firstBatch": [{"_id": 1}]}, "ok": 1.0}
    started = monitoring.CommandStartedEvent(command, "shop", 7, ADDRESS, 7)
    succeeded = monitoring.CommandSucceededEvent(
        datetime.timedelta(microseconds=300), reply, "find", 7, ADDRESS, 7, database_name="shop"
    )
    return started, succeeded


def listeners() -> dict[str, Any]:
    _codetrace_on()
    made = _pymongo.listener_class()
    if made is None:
        sys.exit("pymongo.monitoring is not loaded")
    ours = made()
    ours.server_address, ours.server_port = ADDRESS
    found: dict[str, Any] = {"plain": Nothing(), CODETRACE: ours}
    try:
        from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    except ImportError as exc:
        print(f"OpenTelemetry row skipped: {exc}", file=sys.stderr)
        return found
    instrumentor = PymongoInstrumentor()
    instrumentor.instrument(tracer_provider=otel_provider())
    found["OpenTelemetry CommandTracer"] = instrumentor._commandtracer_instance
    return found


def command(listener: Any, started: Any, succeeded: Any, calls: int) -> list[int]:
    times: list[int] = []
    append, start, end = times.append, listener.started, listener.succeeded
    for _ in range(calls):
        begin = perf_counter_ns()
        start(started)
        end(succeeded)
        append(perf_counter_ns() - begin)
    return times


def table(title: str, walls: dict[str, list[int]], paired: dict[str, list[float]]) -> None:
    median = {label: statistics.median(times) / 1e3 for label, times in walls.items()}
    added = {label: statistics.median(values) for label, values in paired.items()}
    ours = added[CODETRACE]
    print(title)
    print(f"| {'':30} | median µs | added µs | x codetrace |")
    print(f"|{'-' * 32}|-----------|----------|-------------|")
    for label, value in median.items():
        ratio = "-" if label == "plain" or not ours else f"{added[label] / ours:.2f}"
        print(f"| {label:30} | {value:9.2f} | {added[label]:8.2f} | {ratio:>11} |")
    print()


def run(rounds: int, calls: int) -> None:
    print(f"load average before: {os.getloadavg()}")
    found = listeners()
    started, succeeded = events()
    for listener in found.values():  # warm-up
        command(listener, started, succeeded, 500)
    walls: dict[str, list[int]] = {label: [] for label in found}
    paired: dict[str, list[float]] = {label: [] for label in found}
    shuffle = random.Random(1).shuffle
    for _ in range(rounds):
        order = list(found.items())
        shuffle(order)
        batch: dict[str, float] = {}
        for label, listener in order:
            times = command(listener, started, succeeded, calls)
            walls[label].extend(times)
            batch[label] = statistics.median(times) / 1e3
            time.sleep(0.01)  # the export threads drain their queues: no span dropped
        for label in batch:
            paired[label].append(batch[label] - batch["plain"])
    rt.reset()
    print(f"load average after: {os.getloadavg()}")
    print(f"span processor: {runtime_construction.PROCESSOR}, on both sides; pymongo "
          f"{pymongo.version}\n")
    table(f"listener.started + succeeded, one find: {rounds} paired batches x {calls} calls",
          walls, paired)


def profile(calls: int) -> None:
    import cProfile
    import pstats

    listener = listeners()[CODETRACE]
    started, succeeded = events()
    command(listener, started, succeeded, 500)
    profiler = cProfile.Profile()
    profiler.enable()
    command(listener, started, succeeded, calls)
    profiler.disable()
    rt.reset()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=300, help="paired batches")
    parser.add_argument("--calls", type=int, default=200, help="commands per variant per batch")
    parser.add_argument("--processor", choices=("batch", "simple"), default="batch")
    parser.add_argument("--profile", action="store_true", help="cProfile codetrace's listener")
    options = parser.parse_args(argv)
    runtime_construction.PROCESSOR = options.processor
    if options.profile:
        profile(max(1, options.calls) * 50)
        return
    run(max(1, options.rounds), max(1, options.calls))


if __name__ == "__main__":
    main()
