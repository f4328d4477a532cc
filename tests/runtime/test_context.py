"""The current span across asyncio tasks, copied contexts and threads."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import codetrace.runtime as rt

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_concurrent_tasks_keep_their_own_parents(exporter: rt.InMemorySpanExporter) -> None:
    async def worker(name: str, gate: asyncio.Event, other: asyncio.Event) -> tuple[int, int]:
        with rt.span(name) as parent:
            gate.set()
            await other.wait()  # both tasks are now inside their own span
            await asyncio.sleep(0)
            with rt.span(name + ".child") as child:
                await asyncio.sleep(0)
                assert rt.current_span() is child
            assert rt.current_span() is parent
        return parent.span_id, child.parent_id

    async def main() -> list[tuple[int, int]]:
        a, b = asyncio.Event(), asyncio.Event()
        return list(await asyncio.gather(worker("a", a, b), worker("b", b, a)))

    for parent_id, childs_parent in asyncio.run(main()):
        assert parent_id == childs_parent
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["a"].trace_id != spans["b"].trace_id
    assert spans["a.child"].trace_id == spans["a"].trace_id


def test_task_created_inside_a_span_inherits_it(exporter: rt.InMemorySpanExporter) -> None:
    async def child() -> int:
        with rt.span("in-task") as s:
            return s.parent_id

    async def main() -> tuple[int, int]:
        with rt.span("outer") as outer:
            parent_id = await asyncio.create_task(child())
        return outer.span_id, parent_id

    outer_id, parent_id = asyncio.run(main())
    assert outer_id == parent_id


def test_copy_context_carries_the_span(exporter: rt.InMemorySpanExporter) -> None:
    with rt.span("outer") as outer:
        ctx = contextvars.copy_context()
    assert rt.current_span() is None
    assert ctx.run(rt.current_span) is outer


def test_plain_thread_does_not_inherit(exporter: rt.InMemorySpanExporter) -> None:
    seen: list[rt.Span | None] = []
    with rt.span("outer"):
        thread = threading.Thread(target=lambda: seen.append(rt.current_span()))
        thread.start()
        thread.join()
    assert seen == [None]


def test_thread_with_traced_context_inherits(exporter: rt.InMemorySpanExporter) -> None:
    parents: list[int] = []

    def work() -> None:
        with rt.span("in-thread") as s:
            parents.append(s.parent_id)

    with rt.span("outer") as outer:
        thread = threading.Thread(target=rt.traced_context(work))
        thread.start()
        thread.join()
    assert parents == [outer.span_id]


def test_thread_pool_with_and_without_helper(exporter: rt.InMemorySpanExporter) -> None:
    def work(i: int) -> int:
        with rt.span(f"job{i}") as s:
            return s.parent_id

    with ThreadPoolExecutor(max_workers=4) as pool, rt.span("batch") as batch:
        helped = list(pool.map(rt.traced_context(work), range(8)))  # same wrapper, concurrently
        plain = list(pool.map(work, range(8)))
    assert helped == [batch.span_id] * 8
    assert plain == [0] * 8


def test_traced_context_keeps_name_and_result() -> None:
    def compute(x: int, *, y: int) -> int:
        """Doc."""
        return x + y

    wrapped = rt.traced_context(compute)
    assert wrapped(1, y=2) == 3
    assert wrapped.__name__ == "compute" and wrapped.__doc__ == "Doc."


def test_asyncio_to_thread_carries_context(exporter: rt.InMemorySpanExporter) -> None:
    async def main() -> tuple[int, int]:
        with rt.span("outer") as outer:

            def work() -> int:
                with rt.span("inner") as s:
                    return s.parent_id

            return outer.span_id, await asyncio.to_thread(work)

    outer_id, parent_id = asyncio.run(main())
    assert outer_id == parent_id


def test_use_context_with_an_extracted_context(exporter: rt.InMemorySpanExporter) -> None:
    context = rt.extract({"traceparent": VALID})
    with rt.use_context(context) as placeholder:
        assert placeholder is not None and placeholder.is_remote
        assert rt.current_span() is placeholder
        with rt.span("child") as child:
            pass
    assert rt.current_span() is None
    assert child.parent_id == 0x00F067AA0BA902B7 and child.is_remote_parent
    assert not placeholder.is_recording()
    assert [s.name for s in exporter.get_finished_spans()] == ["child"]


def test_use_context_with_a_span_and_with_none(exporter: rt.InMemorySpanExporter) -> None:
    with rt.span("a") as a:
        pass
    with rt.use_context(a), rt.span("b") as b, rt.use_context(None), rt.span("c") as c:
        pass
    assert b.parent_id == a.span_id
    assert c.parent_id == 0 and c.trace_id != a.trace_id


def test_async_generator_span_exited_elsewhere_does_not_break(
    exporter: rt.InMemorySpanExporter,
) -> None:
    async def agen():  # type: ignore[no-untyped-def]
        with rt.span("gen"):
            yield 1
            yield 2

    async def main() -> None:
        gen = agen()
        await gen.__anext__()
        # the generator is finalised from another task/context
        await asyncio.create_task(gen.aclose())

    asyncio.run(main())
    assert rt.current_span() is None
    (s,) = exporter.get_finished_spans()
    assert s.status_code == rt.StatusCode.UNSET  # GeneratorExit is not a failure
