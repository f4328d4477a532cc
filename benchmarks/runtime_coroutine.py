"""What tracing adds to an awaited coroutine: ``await traced(f, "x")(n)`` vs ``await f(n)``.

    .venv/bin/python benchmarks/runtime_coroutine.py                   # 7 rounds of 50,000 calls
    .venv/bin/python benchmarks/runtime_coroutine.py --rounds 9 --number 100000
    .venv/bin/python benchmarks/runtime_coroutine.py --runtime /path/to/other/checkout

``f`` suspends ``n`` times (``n`` = 0 and 10) at a bare ``yield`` (a ``types.coroutine``).
"awaited": a caller coroutine awaits it; "driven": it is driven itself, as a task created with
it drives it (``create_task(traced(f, "x")(n))``); either is driven by a ``send(None)`` loop,
with no event loop, so the
figures are the coroutine protocol's and the span's cost alone (an event loop adds tens of
microseconds per suspension, to traced and untraced alike). Spans go to a no-op exporter
through the ``SimpleSpanProcessor`` path. ``--runtime`` imports ``codetrace`` from another
checkout's root first (to compare with an older runtime). The clock is this process's CPU time.

Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import timeit
import types
from collections.abc import Callable, Coroutine, Generator, Sequence
from typing import Any


class NoopExporter:
    def export(self, spans: Sequence[Any]) -> Any:
        return True

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


@types.coroutine
def suspend() -> Generator[None, None, None]:
    yield


async def leaf(n: int) -> int:
    for _ in range(n):
        await suspend()
    return n


async def caller(call: Callable[[int], Coroutine[Any, Any, int]], n: int) -> int:
    return await call(n)


def drive(coroutine: Coroutine[Any, Any, int]) -> int:
    try:
        while True:
            coroutine.send(None)
    except StopIteration as stop:
        return int(stop.value)


def run(rounds: int, number: int) -> None:
    import codetrace.runtime as rt

    rt.configure(exporter=NoopExporter())
    print(f"codetrace from {rt.__file__}")
    ways = (("awaited", "drive(caller({call}, {n}))"), ("driven", "drive({call}({n}))"))
    rows = {
        f"{label} {how} n={n}": (stmt.format(call=call, n=n), n)
        for n in (0, 10)
        for how, stmt in ways
        for label, call in (("untraced", "leaf"), ("traced", "traced_leaf"))
    }
    namespace = {
        "drive": drive,
        "caller": caller,
        "leaf": leaf,
        "traced_leaf": lambda n: rt.traced(leaf, "bench.leaf")(n),
        "rt": rt,
    }
    untraced_wrapper = {"leaf": lambda n: leaf(n)}  # the same extra call as the traced lambda
    results: dict[str, list[float]] = {label: [] for label in rows}
    for _ in range(rounds):
        for label, (stmt, _n) in rows.items():
            ns = namespace | (untraced_wrapper if label.startswith("untraced") else {})
            timer = timeit.Timer(stmt, timer=time.process_time, globals=ns)
            results[label].append(timer.timeit(number) / number)
    rt.reset()
    print(f"{rounds} rounds x {number} calls; median µs per call")
    for how in ("awaited", "driven"):
        for n in (0, 10):
            plain = statistics.median(results[f"untraced {how} n={n}"])
            traced = statistics.median(results[f"traced {how} n={n}"])
            print(
                f"{how:7} n={n:2}: untraced {plain * 1e6:6.2f}  traced {traced * 1e6:6.2f}"
                f"  added {(traced - plain) * 1e6:5.2f} µs"
            )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=50_000)
    parser.add_argument("--runtime", help="import codetrace from this checkout's root")
    args = parser.parse_args(argv)
    if args.runtime:
        sys.path.insert(0, args.runtime)
    run(args.rounds, args.number)


if __name__ == "__main__":
    main()
