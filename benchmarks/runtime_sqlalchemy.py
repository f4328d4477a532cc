"""A SQLAlchemy statement through an engine traced where it was built, vs OpenTelemetry.

    .venv/bin/python benchmarks/runtime_sqlalchemy.py                    # 150 paired batches
    .venv/bin/python benchmarks/runtime_sqlalchemy.py --rounds 300 --calls 200
    .venv/bin/python benchmarks/runtime_sqlalchemy.py --processor simple # export as spans end

One SQLite file (a temporary folder), one engine per variant, one connection each, opened before
timing. Per call, on that connection: a Core ``execute(text("SELECT ... WHERE id = :id"),
{"id": 1})`` with its row fetched, and an ORM ``session.execute(select(Item).where(...))``
with its object read (a fresh ``Session`` per call, as a request handler would), on:

* plain: ``create_engine(url)``;
* codetrace construction: ``traced(create_engine, "sqlalchemy.engine")(url)``, every span
  sampled, recorded and handed to the span processor (``runtime_construction.py``'s pipeline:
  default sampler, batch processor around an exporter that does nothing);
* SQLAlchemy dialect event, no-op listener: one ``do_execute`` listener (the event codetrace
  runs statements from) that does nothing and lets SQLAlchemy run the statement - the floor of
  a tracer built on that event;
* SQLAlchemy connection events, no-op listeners: ``before_cursor_execute``,
  ``after_cursor_execute`` and ``handle_error`` listeners that do nothing - the floor of a
  tracer built on the connection events (OpenTelemetry's, and codetrace's until 2026-12-02):
  with any connection event listened to, SQLAlchemy also runs its ``before_execute``/
  ``after_execute`` machinery on every statement;
* OpenTelemetry: ``SQLAlchemyInstrumentor().instrument(engine=...)``
  (``opentelemetry-instrumentation-sqlalchemy``, stable database conventions opted in; its
  version check skipped, since 0.66 declares SQLAlchemy < 2.1) on an SDK ``TracerProvider``
  with the same kind of processor. Its ``connect`` span per ``Engine.connect`` is outside the
  Core loop (one connection) and inside the ORM one (a session checks a connection out).

Paired, interleaved batches (as ``runtime_redis.py``), because the machine these figures come
from is shared and its load moves within seconds: each batch runs every variant once, in a
shuffled order, for ``--calls`` Core statements and ``--calls // 5`` ORM ones; what a variant
adds is its median per-call wall time minus plain's median in the same batch, and the table
gives the median of that over the batches (and the median per-call time over all of them).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from time import perf_counter_ns
from typing import Any

os.environ["OTEL_SEMCONV_STABILITY_OPT_IN"] = "database"

import sqlalchemy as sa
from sqlalchemy import orm

sys.path.insert(0, str(Path(__file__).resolve().parent))
import runtime_construction
from runtime_construction import _codetrace_on, _nothing, otel_provider

import codetrace.runtime as rt

Variant = tuple[str, Callable[[], None], Any]
QUERY = sa.text("SELECT name FROM items WHERE id = :id")


class Base(orm.DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "items"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str]


def variants(url: str) -> list[Variant]:
    _codetrace_on()
    found: list[Variant] = [
        ("plain", _nothing, sa.create_engine(url)),
        ("codetrace construction", _codetrace_on,
         rt.traced(sa.create_engine, "sqlalchemy.engine")(url)),
        ("SQLAlchemy dialect event, no-op listener", _nothing,
         _listened(sa.create_engine(url), ("do_execute",))),
        ("SQLAlchemy connection events, no-op", _nothing, _listened(sa.create_engine(url))),
    ]
    try:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    except ImportError as exc:
        print(f"OpenTelemetry row skipped: {exc}", file=sys.stderr)
        return found
    engine = sa.create_engine(url)
    SQLAlchemyInstrumentor().instrument(
        engine=engine, tracer_provider=otel_provider(), skip_dep_check=True
    )
    found.append(("OpenTelemetry SQLAlchemyInstrumentor", _nothing, engine))
    return found


def _listened(
    engine: Any,
    names: Sequence[str] = ("before_cursor_execute", "after_cursor_execute", "handle_error"),
) -> Any:
    """``engine`` with listeners that do nothing on ``names``: the part of the cost that is
    SQLAlchemy's own event dispatch, which no listener on those events can avoid."""

    def nothing(*args: Any) -> None:
        return None

    for name in names:
        sa.event.listen(engine, name, nothing)
    return engine


def core(connection: Any, calls: int) -> list[int]:
    times: list[int] = []
    append, execute = times.append, connection.execute
    for _ in range(calls):
        start = perf_counter_ns()
        execute(QUERY, {"id": 1}).scalar_one()
        append(perf_counter_ns() - start)
    return times


def session(engine: Any, calls: int) -> list[int]:
    times: list[int] = []
    append = times.append
    statement = sa.select(Item).where(Item.id == 1)
    for _ in range(calls):
        start = perf_counter_ns()
        with orm.Session(engine) as db:
            db.execute(statement).scalar_one().name  # noqa: B018
        append(perf_counter_ns() - start)
    return times


def table(title: str, walls: dict[str, list[int]], paired: dict[str, list[float]]) -> None:
    median = {label: statistics.median(times) / 1e3 for label, times in walls.items()}
    added = {label: statistics.median(values) for label, values in paired.items()}
    ours = added["codetrace construction"]
    print(title)
    print(f"| {'':40} | median µs | added µs (paired) | x codetrace |")
    print(f"|{'-' * 42}|-----------|-------------------|-------------|")
    for label, value in median.items():
        ratio = "-" if label == "plain" or ours <= 0 else f"{added[label] / ours:.2f}"
        print(f"| {label:40} | {value:9.2f} | {added[label]:17.2f} | {ratio:>11} |")
    print()


def run(rounds: int, calls: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/bench.db"
        setup = sa.create_engine(url)
        Base.metadata.create_all(setup)
        with orm.Session(setup) as db:
            db.add(Item(id=1, name="pen"))
            db.commit()
        setup.dispose()
        found = variants(url)
        connections = {label: engine.connect() for label, _, engine in found}
        cores: dict[str, list[int]] = {label: [] for label, *_ in found}
        orms: dict[str, list[int]] = {label: [] for label, *_ in found}
        paired_cores: dict[str, list[float]] = {label: [] for label, *_ in found}
        paired_orms: dict[str, list[float]] = {label: [] for label, *_ in found}
        for label, on, engine in found:  # warm-up: caches, pools, the first span
            on()
            core(connections[label], 200)
            session(engine, 50)
        shuffle = random.Random(1).shuffle
        for _ in range(rounds):
            order = list(found)
            shuffle(order)
            batch_cores: dict[str, float] = {}
            batch_orms: dict[str, float] = {}
            for label, on, engine in order:
                on()
                times = core(connections[label], calls)
                cores[label].extend(times)
                batch_cores[label] = statistics.median(times) / 1e3
                times = session(engine, max(calls // 5, 1))
                orms[label].extend(times)
                batch_orms[label] = statistics.median(times) / 1e3
            for label in batch_cores:
                paired_cores[label].append(batch_cores[label] - batch_cores["plain"])
                paired_orms[label].append(batch_orms[label] - batch_orms["plain"])
        for label, _, engine in found:
            connections[label].close()
            engine.dispose()
        rt.reset()
    print(f"span processor: {runtime_construction.PROCESSOR}, on both sides\n")
    table(f"connection.execute(text(...), params), SQLite file: {rounds} paired batches x "
          f"{calls} calls", cores, paired_cores)
    table(f"Session(engine) + execute(select(Item)): {rounds} paired batches x "
          f"{max(calls // 5, 1)} calls", orms, paired_orms)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=150, help="paired batches")
    parser.add_argument("--calls", type=int, default=200,
                        help="Core statements per variant per batch (ORM: a fifth of that)")
    parser.add_argument("--processor", choices=("batch", "simple"), default="batch")
    options = parser.parse_args(argv)
    runtime_construction.PROCESSOR = options.processor
    run(options.rounds, options.calls)


if __name__ == "__main__":
    main()
