"""``span_function`` on generators and async generators.

The span starts at the first step, covers the iteration, is current only while the generator's
body runs (the consumer never sees it between items), nests library spans made inside, and
ends exactly once: exhausted, raised, closed, ``aclose()``d or garbage-collected. ``send``,
``throw``, ``yield from`` and the return value behave as without the decorator.
"""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import time
from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

import pytest

import codetrace.runtime as rt
from codetrace.runtime import StatusCode


class Boom(Exception):
    pass


def test_span_covers_the_iteration_and_is_current_only_in_the_body(
    exporter: rt.InMemorySpanExporter,
) -> None:
    seen_inside: list[Any] = []
    seen_outside: list[Any] = []

    @rt.span_function("gen.rows")
    def rows(limit: int) -> Iterator[int]:
        for i in range(limit):
            seen_inside.append(rt.current_span())
            yield i

    with rt.span("consumer") as consumer:
        iterator = rows(3)
        assert not exporter.get_finished_spans()  # nothing runs before the first step
        for value in iterator:
            seen_outside.append(rt.current_span())
            time.sleep(0.001)
            assert value == len(seen_outside) - 1
    inner, outer = exporter.get_finished_spans()
    assert inner.name == "gen.rows" and outer is consumer
    assert inner.parent_id == consumer.span_id
    assert seen_inside == [inner] * 3
    assert seen_outside == [consumer] * 3
    assert inner.end_ns - inner.start_ns >= 2_000_000  # the consumer's time between items too


def test_library_spans_made_in_any_resumption_nest_under_it(
    exporter: rt.InMemorySpanExporter,
) -> None:
    connection = sqlite3.connect(":memory:")
    execute = rt.traced(connection.execute, "sqlite3.query")

    @rt.span_function("gen.query")
    def queries() -> Iterator[int]:
        yield execute("SELECT 1").fetchone()[0]
        yield execute("SELECT 2").fetchone()[0]

    try:
        assert list(queries()) == [1, 2]
    finally:
        connection.close()
    first, second, outer = exporter.get_finished_spans()
    assert outer.name == "gen.query"
    assert first.parent_id == second.parent_id == outer.span_id


def test_send_throw_and_the_return_value(exporter: rt.InMemorySpanExporter) -> None:
    @rt.span_function("gen.echo")
    def echo() -> Generator[str, str, int]:
        received = 0
        value = "start"
        while True:
            try:
                sent = yield value
            except Boom:
                value = "caught"
                continue
            if sent == "stop":
                return received
            received += 1
            value = sent.upper()

    generator = echo()
    assert next(generator) == "start"
    assert generator.send("a") == "A"
    assert generator.throw(Boom("handled")) == "caught"
    assert generator.send("b") == "B"
    with pytest.raises(StopIteration) as info:
        generator.send("stop")
    assert info.value.value == 2
    (finished,) = exporter.get_finished_spans()
    assert finished.status_code == StatusCode.UNSET


def test_yield_from_delegation_and_its_result(exporter: rt.InMemorySpanExporter) -> None:
    @rt.span_function("gen.inner")
    def inner() -> Generator[int, int | None, str]:
        got = yield 1
        assert got == 10
        yield 2
        return "inner-done"

    def outer() -> Generator[int, int | None, str]:
        result = yield from inner()
        return f"outer saw {result}"

    generator = outer()
    assert next(generator) == 1
    assert generator.send(10) == 2
    with pytest.raises(StopIteration) as info:
        next(generator)
    assert info.value.value == "outer saw inner-done"
    assert [s.name for s in exporter.get_finished_spans()] == ["gen.inner"]


def test_an_error_inside_is_recorded_and_reraised(exporter: rt.InMemorySpanExporter) -> None:
    error = Boom("at item 2")

    @rt.span_function("gen.fail")
    def fail() -> Iterator[int]:
        yield 1
        raise error

    generator = fail()
    assert next(generator) == 1
    with pytest.raises(Boom) as info:
        next(generator)
    assert info.value is error
    (finished,) = exporter.get_finished_spans()
    assert finished.status_code == StatusCode.ERROR
    assert finished.attributes["error.type"] == f"{__name__}.Boom"
    assert rt.current_span() is None


def test_a_thrown_exception_not_handled_is_recorded(exporter: rt.InMemorySpanExporter) -> None:
    @rt.span_function("gen.thrown")
    def numbers() -> Iterator[int]:
        yield 1
        yield 2

    generator = numbers()
    next(generator)
    thrown = Boom("from outside")
    with pytest.raises(Boom) as info:
        generator.throw(thrown)
    assert info.value is thrown
    assert exporter.get_finished_spans()[0].status_code == StatusCode.ERROR


def test_close_runs_finally_inside_the_span_and_ends_it_without_error(
    exporter: rt.InMemorySpanExporter,
) -> None:
    in_finally: list[Any] = []

    @rt.span_function("gen.closed")
    def numbers() -> Iterator[int]:
        try:
            yield 1
            yield 2
        finally:
            in_finally.append(rt.current_span())

    generator = numbers()
    assert next(generator) == 1
    generator.close()
    (finished,) = exporter.get_finished_spans()
    assert in_finally == [finished]
    assert finished.status_code == StatusCode.UNSET and not finished.events
    assert rt.current_span() is None


def test_garbage_collection_ends_the_span(exporter: rt.InMemorySpanExporter) -> None:
    closed: list[bool] = []

    @rt.span_function("gen.dropped")
    def numbers() -> Iterator[int]:
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)

    generator = numbers()
    next(generator)
    del generator
    gc.collect()
    assert closed == [True]
    (finished,) = exporter.get_finished_spans()
    assert finished.status_code == StatusCode.UNSET


def test_an_unstarted_generator_makes_no_span(exporter: rt.InMemorySpanExporter) -> None:
    @rt.span_function("gen.never")
    def numbers() -> Iterator[int]:
        yield 1

    generator = numbers()
    generator.close()
    del generator
    gc.collect()
    assert not exporter.get_finished_spans()


def test_generator_used_as_a_context_manager(exporter: rt.InMemorySpanExporter) -> None:
    import contextlib

    @contextlib.contextmanager
    @rt.span_function("gen.resource")
    def resource() -> Iterator[str]:
        yield "handle"

    with resource() as handle:
        assert handle == "handle"
    with pytest.raises(Boom), resource():
        raise Boom("in the with block")
    ok, failed = exporter.get_finished_spans()
    assert ok.status_code == StatusCode.UNSET
    assert failed.status_code == StatusCode.ERROR  # the error reached the generator's body


def test_recursive_generator(exporter: rt.InMemorySpanExporter) -> None:
    @rt.span_function("gen.tree")
    def walk(depth: int) -> Iterator[int]:
        yield depth
        if depth:
            yield from walk(depth - 1)

    assert list(walk(2)) == [2, 1, 0]
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    assert spans[0].parent_id == spans[1].span_id and spans[1].parent_id == spans[2].span_id


def test_min_duration_for_generators(exporter: rt.InMemorySpanExporter) -> None:
    @rt.span_function("gen.adaptive", min_duration_ms=50)
    def numbers(delay: float) -> Iterator[int]:
        time.sleep(delay)
        yield 1

    assert list(numbers(0)) == [1]
    assert list(numbers(0.08)) == [1]
    assert not exporter.get_finished_spans()
    assert list(numbers(0)) == [1]
    assert [s.name for s in exporter.get_finished_spans()] == ["gen.adaptive"]


# -- async generators ----------------------------------------------------------------------------


def test_async_generator_span_covers_iteration_and_nests(
    exporter: rt.InMemorySpanExporter,
) -> None:
    connection = sqlite3.connect(":memory:")
    execute = rt.traced(connection.execute, "sqlite3.query")
    inside: list[Any] = []
    outside: list[Any] = []

    @rt.span_function("agen.rows")
    async def rows(limit: int) -> AsyncIterator[int]:
        for i in range(limit):
            await asyncio.sleep(0)
            inside.append(rt.current_span())
            yield execute(f"SELECT {i}").fetchone()[0]

    async def main() -> list[int]:
        values = []
        async for value in rows(2):
            outside.append(rt.current_span())
            values.append(value)
        return values

    try:
        assert asyncio.run(main()) == [0, 1]
    finally:
        connection.close()
    *queries, outer = exporter.get_finished_spans()
    assert outer.name == "agen.rows"
    assert len(queries) == 2 and all(q.parent_id == outer.span_id for q in queries)
    assert inside == [outer, outer] and outside == [None, None]


def test_async_generator_asend_athrow_and_errors(exporter: rt.InMemorySpanExporter) -> None:
    @rt.span_function("agen.echo")
    async def echo() -> Any:
        value = "start"
        while True:
            try:
                sent = yield value
            except Boom:
                value = "caught"
                continue
            if sent == "fail":
                raise Boom("failed")
            value = sent.upper()

    async def main() -> None:
        generator = echo()
        assert await generator.asend(None) == "start"
        assert await generator.asend("a") == "A"
        assert await generator.athrow(Boom("handled")) == "caught"
        with pytest.raises(Boom, match="failed"):
            await generator.asend("fail")
        with pytest.raises(StopAsyncIteration):
            await generator.asend("more")

    asyncio.run(main())
    (finished,) = exporter.get_finished_spans()
    assert finished.status_code == StatusCode.ERROR
    assert finished.attributes["error.type"] == f"{__name__}.Boom"


def test_async_generator_aclose_and_garbage_collection(
    exporter: rt.InMemorySpanExporter,
) -> None:
    finals: list[Any] = []

    def make(name: str) -> Any:
        @rt.span_function(name)
        async def numbers() -> AsyncIterator[int]:
            try:
                yield 1
                yield 2
            finally:
                await asyncio.sleep(0)
                finals.append((name, rt.current_span()))

        return numbers

    async def main() -> None:
        closed = make("agen.aclose")()
        assert await closed.__anext__() == 1
        await closed.aclose()
        dropped = make("agen.dropped")()
        assert await dropped.__anext__() == 1
        del dropped
        gc.collect()
        for _ in range(5):  # the loop's finaliser runs aclose() in a task
            await asyncio.sleep(0)

    asyncio.run(main())
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"agen.aclose", "agen.dropped"}
    assert finals == [(name, spans[name]) for name in ("agen.aclose", "agen.dropped")]
    assert all(s.status_code == StatusCode.UNSET for s in spans.values())


def test_async_generator_cancelled_while_awaiting_is_not_an_error(
    exporter: rt.InMemorySpanExporter,
) -> None:
    @rt.span_function("agen.slow")
    async def slow() -> AsyncIterator[int]:
        yield 1
        await asyncio.sleep(10)
        yield 2

    async def consume() -> list[int]:
        return [value async for value in slow()]

    async def main() -> None:
        task = asyncio.create_task(consume())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    (finished,) = exporter.get_finished_spans()
    assert finished.status_code == StatusCode.UNSET and finished.end_ns


def test_async_generator_min_duration(exporter: rt.InMemorySpanExporter) -> None:
    @rt.span_function("agen.adaptive", min_duration_ms=50)
    async def numbers(delay: float) -> AsyncIterator[int]:
        await asyncio.sleep(delay)
        yield 1

    async def main() -> None:
        assert [v async for v in numbers(0)] == [1]
        assert [v async for v in numbers(0.08)] == [1]
        assert [v async for v in numbers(0)] == [1]

    asyncio.run(main())
    assert [s.name for s in exporter.get_finished_spans()] == ["agen.adaptive"]
