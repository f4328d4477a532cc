"""A Redis command and a pipeline through a client traced where it was built, vs OpenTelemetry.

    .venv/bin/python benchmarks/runtime_redis.py                    # 150 paired batches
    .venv/bin/python benchmarks/runtime_redis.py --rounds 300 --calls 200
    .venv/bin/python benchmarks/runtime_redis.py --processor simple # export as spans end

A real ``redis-server`` (Debian's, on ``PATH``) on 127.0.0.1 with a free port, started and
stopped by pid here; one client per variant, connection open before timing. Per call,
``client.get("k")`` and a ``pipeline(transaction=False)`` of 10 ``GET`` s ``execute()``-d, on:

* plain: ``redis.Redis(...)``;
* codetrace construction: ``traced(redis.Redis, "redis.client")(...)``, every span sampled,
  recorded and handed to the span processor (``runtime_construction.py``'s pipeline: default
  sampler, batch processor around an exporter that does nothing);
* OpenTelemetry: ``RedisInstrumentor`` (``opentelemetry-instrumentation-redis``, stable database
  conventions opted in) on an SDK ``TracerProvider`` with the same kind of processor
  (instrumented for its batch only: it patches the class).

Paired, interleaved batches, because the machine these figures come from is shared and its load
moves within seconds: each batch runs every variant once, in a shuffled order, for ``--calls``
``GET`` s and ``--calls // 5`` pipelines; what a variant adds is its median per-call time minus
plain's median in the same batch, and the table gives the median of that over the batches (and
the median per-call time over all of them).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from time import perf_counter_ns
from typing import Any

os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "database"

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
import runtime_construction
from runtime_construction import _codetrace_on, _nothing, otel_provider

import codetrace.runtime as rt

Variant = tuple[str, Callable[[], None], Any, Callable[[], None]]


def start_redis(directory: str) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not on PATH (apt-get install -y redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", directory],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            redis.Redis(port=port).ping()
            return server, port
        except redis.ConnectionError:
            time.sleep(0.02)
    server.kill()
    sys.exit("redis-server did not start")


def variants(port: int) -> list[Variant]:
    _codetrace_on()
    found: list[Variant] = [
        ("plain", _nothing, redis.Redis(port=port), _nothing),
        ("codetrace construction", _codetrace_on, rt.traced(redis.Redis, "redis.client")(port=port),
         _nothing),
    ]
    try:
        from opentelemetry.instrumentation.redis import RedisInstrumentor
    except ImportError as exc:
        print(f"OpenTelemetry row skipped: {exc}", file=sys.stderr)
        return found
    provider, instrumentor = otel_provider(), RedisInstrumentor()
    found.append((
        "OpenTelemetry RedisInstrumentor",
        lambda: instrumentor.instrument(tracer_provider=provider),
        redis.Redis(port=port),
        instrumentor.uninstrument,
    ))
    return found


def get(client: Any, calls: int) -> list[int]:
    times: list[int] = []
    append, call = times.append, client.get
    for _ in range(calls):
        start = perf_counter_ns()
        call("k")
        append(perf_counter_ns() - start)
    return times


def pipeline(client: Any, calls: int) -> list[int]:
    times: list[int] = []
    append = times.append
    for _ in range(calls):
        start = perf_counter_ns()
        pipe = client.pipeline(transaction=False)
        for _ in range(10):
            pipe.get("k")
        pipe.execute()
        append(perf_counter_ns() - start)
    return times


def table(title: str, walls: dict[str, list[int]], paired: dict[str, list[float]]) -> None:
    median = {label: statistics.median(times) / 1e3 for label, times in walls.items()}
    added = {label: statistics.median(values) for label, values in paired.items()}
    ours = added["codetrace construction"]
    print(title)
    print(f"| {'':34} | median µs | added µs | x codetrace |")
    print(f"|{'-' * 36}|-----------|----------|-------------|")
    for label, value in median.items():
        ratio = "-" if label == "plain" or not ours else f"{added[label] / ours:.2f}"
        print(f"| {label:34} | {value:9.2f} | {added[label]:8.2f} | {ratio:>11} |")
    print()


def run(rounds: int, calls: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        server, port = start_redis(directory)
        try:
            found = variants(port)
            redis.Redis(port=port).set("k", "v" * 16)
            gets: dict[str, list[int]] = {label: [] for label, *_ in found}
            pipes: dict[str, list[int]] = {label: [] for label, *_ in found}
            paired_gets: dict[str, list[float]] = {label: [] for label, *_ in found}
            paired_pipes: dict[str, list[float]] = {label: [] for label, *_ in found}
            for _label, setup, client, teardown in found:  # warm-up, connection opened
                setup()
                get(client, 200)
                pipeline(client, 50)
                teardown()
            shuffle = random.Random(1).shuffle
            for _ in range(rounds):
                order = list(found)
                shuffle(order)
                batch_gets: dict[str, float] = {}
                batch_pipes: dict[str, float] = {}
                for label, setup, client, teardown in order:
                    setup()
                    times = get(client, calls)
                    gets[label].extend(times)
                    batch_gets[label] = statistics.median(times) / 1e3
                    times = pipeline(client, max(calls // 5, 1))
                    pipes[label].extend(times)
                    batch_pipes[label] = statistics.median(times) / 1e3
                    teardown()
                for label in batch_gets:
                    paired_gets[label].append(batch_gets[label] - batch_gets["plain"])
                    paired_pipes[label].append(batch_pipes[label] - batch_pipes["plain"])
            rt.reset()
        finally:
            server.terminate()
            server.wait(10)
    print(f"span processor: {runtime_construction.PROCESSOR}, on both sides\n")
    table(f'client.get("k"), loopback redis-server: {rounds} paired batches x {calls} calls',
          gets, paired_gets)
    table(f"pipeline of 10 GET, execute(): {rounds} paired batches x {max(calls // 5, 1)} calls",
          pipes, paired_pipes)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=150, help="paired batches")
    parser.add_argument("--calls", type=int, default=200,
                        help="GET calls per variant per batch (pipelines: a fifth of that)")
    parser.add_argument("--processor", choices=("batch", "simple"), default="batch")
    options = parser.parse_args(argv)
    runtime_construction.PROCESSOR = options.processor
    run(options.rounds, options.calls)


if __name__ == "__main__":
    main()
