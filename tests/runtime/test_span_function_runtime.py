"""``span_function``: the decorator the ``span-function`` advice writes above a project's function.

Plain functions, coroutine functions, methods and their descriptors, metadata that frameworks
inspect, attributes, errors, library spans nested inside, adaptive tracing and the disabled
runtime. Generators are in test_span_function_generators.py, typing in
test_span_function_typing.py.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import codetrace.runtime as rt
from codetrace.runtime import SpanKind, StatusCode


def _def_line(func: Any) -> int:
    """The line of the ``def`` keyword of ``func`` (below its decorators)."""
    lines, first = inspect.getsourcelines(inspect.unwrap(func))
    for offset, line in enumerate(lines):
        if line.lstrip().startswith(("def ", "async def ")):
            return first + offset
    raise AssertionError("no def line")


# -- plain functions ---------------------------------------------------------------------------


@rt.span_function("orders.create")
def create_order(item: str, quantity: int = 1) -> dict[str, Any]:
    """Create an order (the docstring frameworks show)."""
    return {"item": item, "quantity": quantity, "span": rt.current_span()}


def test_a_call_is_one_span_current_inside_with_code_attributes(
    exporter: rt.InMemorySpanExporter,
) -> None:
    result = create_order("book", quantity=2)
    (finished,) = exporter.get_finished_spans()
    assert result["item"] == "book" and result["quantity"] == 2
    assert result["span"] is finished  # current while the function runs
    assert rt.current_span() is None  # and given back afterwards
    assert finished.name == "orders.create"
    assert finished.kind == SpanKind.INTERNAL
    assert finished.status_code == StatusCode.UNSET
    assert finished.attributes == {
        "code.function.name": f"{__name__}.create_order",
        "code.file.path": __file__,
        "code.line.number": _def_line(create_order),
    }
    assert finished.end_ns >= finished.start_ns > 0


def test_kind_and_static_attributes(exporter: rt.InMemorySpanExporter) -> None:
    @rt.span_function("orders.handle", kind="server", attributes={"order.kind": "web", "n": 3})
    def handle() -> None:
        return None

    handle()
    (finished,) = exporter.get_finished_spans()
    assert finished.kind == SpanKind.SERVER
    assert finished.attributes["order.kind"] == "web"
    assert finished.attributes["n"] == 3
    assert finished.attributes["code.function.name"].endswith(
        "test_kind_and_static_attributes.<locals>.handle"
    )


@pytest.mark.parametrize(
    ("kind", "number"),
    [
        ("internal", SpanKind.INTERNAL),
        ("server", SpanKind.SERVER),
        ("client", SpanKind.CLIENT),
        ("producer", SpanKind.PRODUCER),
        ("consumer", SpanKind.CONSUMER),
        ("CLIENT", SpanKind.CLIENT),
    ],
)
def test_every_kind(exporter: rt.InMemorySpanExporter, kind: str, number: int) -> None:
    rt.span_function("k", kind=kind)(lambda: None)()
    assert exporter.get_finished_spans()[0].kind == number


def test_a_bad_kind_logs_once_and_traces_as_internal(
    exporter: rt.InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
        first = rt.span_function("bad.kind", kind="serverr")(lambda: 1)
        second = rt.span_function("bad.kind2", kind="serverr")(lambda: 2)
    assert first() == 1 and second() == 2
    assert [s.kind for s in exporter.get_finished_spans()] == [SpanKind.INTERNAL] * 2
    messages = [r.getMessage() for r in caplog.records if "serverr" in r.getMessage()]
    assert len(messages) == 1 and "unknown kind 'serverr'" in messages[0]


class _BrokenMapping(dict[str, Any]):
    def items(self) -> Any:
        raise RuntimeError("broken mapping")


@pytest.mark.parametrize(
    "attributes",
    [_BrokenMapping(x=1), {"ok": "yes", 3: "not a str key"}, {"ok": "yes", "none": None}],
    ids=["raises", "non-str-key", "none-value"],
)
def test_bad_attributes_are_logged_and_left_out(
    exporter: rt.InMemorySpanExporter, caplog: pytest.LogCaptureFixture, attributes: Any
) -> None:
    with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
        traced = rt.span_function("bad.attributes", attributes=attributes)(lambda: "ran")
    assert traced() == "ran"
    (finished,) = exporter.get_finished_spans()
    assert set(finished.attributes) == {"code.function.name", "code.file.path", "code.line.number"}
    assert any("attributes left out" in r.getMessage() for r in caplog.records)


def test_the_decorator_never_raises_on_odd_arguments(exporter: rt.InMemorySpanExporter) -> None:
    weird: Any = rt.span_function
    assert weird(123)(lambda: 5)() == 5  # a non-str name becomes its str()
    assert weird("m", min_duration_ms="soon")(lambda: 6)() == 6  # traced every call
    not_callable = object()
    assert weird("x")(not_callable) is not_callable
    assert [s.name for s in exporter.get_finished_spans()] == ["123", "m"]


def test_the_wrapper_is_built_once_and_attributes_computed_once(
    exporter: rt.InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codetrace.runtime import _span_function

    traced = rt.span_function("once")(lambda: None)

    def fail(*args: object) -> int:
        raise AssertionError("computed per call")

    monkeypatch.setattr(_span_function, "def_line", fail)
    monkeypatch.setattr(_span_function, "clean_attributes", fail)
    traced()
    traced()
    assert len(exporter.get_finished_spans()) == 2


# -- exceptions --------------------------------------------------------------------------------


class OrderError(Exception):
    pass


def test_an_exception_is_recorded_and_reraised_unchanged(
    exporter: rt.InMemorySpanExporter,
) -> None:
    raised = OrderError("no stock")

    @rt.span_function("orders.fail")
    def fail() -> None:
        raise raised

    with pytest.raises(OrderError) as info:
        fail()
    assert info.value is raised
    innermost = info.tb
    while innermost.tb_next is not None:
        innermost = innermost.tb_next
    assert innermost.tb_frame.f_code is fail.__wrapped__.__code__  # type: ignore[attr-defined]
    (finished,) = exporter.get_finished_spans()
    assert finished.status_code == StatusCode.ERROR
    assert finished.attributes["error.type"] == f"{__name__}.OrderError"
    assert finished.events[0].name == "exception"
    assert finished.events[0].attributes["exception.message"] == "no stock"
    assert rt.current_span() is None


@pytest.mark.parametrize(
    "exc",
    [
        KeyboardInterrupt(),
        SystemExit(3),
        GeneratorExit(),
        asyncio.CancelledError(),
        StopIteration(7),
        StopAsyncIteration(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_control_flow_exceptions_are_not_errors(
    exporter: rt.InMemorySpanExporter, exc: BaseException
) -> None:
    @rt.span_function("control")
    def leave() -> None:
        raise exc

    with pytest.raises(type(exc)) as info:
        leave()
    assert info.value is exc
    (finished,) = exporter.get_finished_spans()
    assert finished.status_code == StatusCode.UNSET
    assert "error.type" not in finished.attributes and not finished.events
    assert finished.end_ns


# -- library spans inside ------------------------------------------------------------------------


def test_library_spans_made_inside_are_children(exporter: rt.InMemorySpanExporter) -> None:
    connection = sqlite3.connect(":memory:")

    @rt.span_function("reports.count")
    def count() -> int:
        rt.traced(connection.execute, "sqlite3.query")("CREATE TABLE t (x INTEGER)")
        cursor = rt.traced(connection.execute, "sqlite3.query")("SELECT count(*) FROM t")
        return int(cursor.fetchone()[0])

    try:
        assert count() == 0
    finally:
        connection.close()
    *queries, outer = exporter.get_finished_spans()
    assert outer.name == "reports.count"
    assert [q.name for q in queries] == ["CREATE TABLE t", "SELECT t"]
    for query in queries:
        assert query.kind == SpanKind.CLIENT
        assert query.parent_id == outer.span_id and query.trace_id == outer.trace_id


def test_recursion_gives_one_nested_span_per_call(exporter: rt.InMemorySpanExporter) -> None:
    @rt.span_function("fact")
    def fact(n: int) -> int:
        return 1 if n <= 1 else n * fact(n - 1)

    assert fact(4) == 24
    spans = exporter.get_finished_spans()  # innermost ends first
    assert len(spans) == 4
    for child, parent in itertools.pairwise(spans):
        assert child.parent_id == parent.span_id
    assert spans[-1].parent_id == 0


# -- metadata frameworks read ------------------------------------------------------------------


async def _fetch(url: str, *, retries: int = 3) -> str:
    """Fetch it."""
    return url


def _numbers(limit: int) -> Iterator[int]:
    yield from range(limit)


async def _stream(limit: int) -> Any:
    for i in range(limit):
        yield i


@pytest.mark.parametrize(
    "func", [create_order.__wrapped__, _fetch, _numbers, _stream], ids=lambda f: f.__name__  # type: ignore[attr-defined]
)
def test_metadata_and_function_kind_are_the_functions(func: Any) -> None:
    traced = rt.span_function("meta")(func)
    assert traced is not func
    for attribute in ("__name__", "__qualname__", "__doc__", "__module__", "__annotations__"):
        assert getattr(traced, attribute) == getattr(func, attribute), attribute
    assert traced.__wrapped__ is func
    assert inspect.signature(traced) == inspect.signature(func)
    for question in (
        inspect.iscoroutinefunction,
        inspect.isgeneratorfunction,
        inspect.isasyncgenfunction,
        asyncio.iscoroutinefunction,
    ):
        assert question(traced) == question(func), question.__name__


def test_the_functions_dict_is_copied() -> None:
    def marked() -> None:
        return None

    marked.route = "/orders"  # type: ignore[attr-defined]
    assert rt.span_function("d")(marked).route == "/orders"  # type: ignore[attr-defined]


# -- methods and other decorators --------------------------------------------------------------


class Orders:
    def __init__(self) -> None:
        self.total = 10

    @rt.span_function("Orders.method")
    def method(self, extra: int) -> int:
        return self.total + extra

    @classmethod
    @rt.span_function("Orders.build")
    def build(cls) -> Orders:
        return cls()

    @staticmethod
    @rt.span_function("Orders.tax")
    def tax(amount: int) -> float:
        return amount * 0.2

    @property
    @rt.span_function("Orders.doubled")
    def doubled(self) -> int:
        return self.total * 2

    @functools.cache  # noqa: B019 - an outer decorator, as users write them
    @rt.span_function("Orders.cached")
    def cached(self, n: int) -> int:
        return n + 1


def test_methods_classmethods_staticmethods_properties(
    exporter: rt.InMemorySpanExporter,
) -> None:
    orders = Orders.build()
    assert isinstance(orders, Orders)
    assert orders.method(5) == 15
    assert Orders.tax(10) == 2.0 and orders.tax(10) == 2.0
    assert orders.doubled == 20
    assert orders.cached(1) == 2 and orders.cached(1) == 2  # second call served by the cache
    names = [s.name for s in exporter.get_finished_spans()]
    assert names == [
        "Orders.build",
        "Orders.method",
        "Orders.tax",
        "Orders.tax",
        "Orders.doubled",
        "Orders.cached",
    ]
    functions = [s.attributes["code.function.name"] for s in exporter.get_finished_spans()]
    assert functions[0] == f"{__name__}.Orders.build"
    assert functions[1] == f"{__name__}.Orders.method"
    assert functions[4] == f"{__name__}.Orders.doubled"


def test_placed_above_classmethod_or_staticmethod_still_traces(
    exporter: rt.InMemorySpanExporter,
) -> None:
    class Misplaced:
        @rt.span_function("above.classmethod")  # type: ignore[arg-type]
        @classmethod
        def make(cls) -> str:
            return cls.__name__

        @rt.span_function("above.staticmethod")  # type: ignore[arg-type]
        @staticmethod
        def plain() -> int:
            return 4

    assert Misplaced.make() == "Misplaced" and Misplaced().plain() == 4
    assert [s.name for s in exporter.get_finished_spans()] == [
        "above.classmethod",
        "above.staticmethod",
    ]


def test_def_line_is_the_def_below_several_decorators(exporter: rt.InMemorySpanExporter) -> None:
    def passthrough(func: Any) -> Any:
        return func

    @passthrough
    @passthrough
    @rt.span_function(
        "multi.line.decorator",
    )
    def decorated() -> None:
        return None

    decorated()
    (finished,) = exporter.get_finished_spans()
    assert finished.attributes["code.line.number"] == _def_line(decorated)
    assert decorated.__code__.co_firstlineno < _def_line(decorated)


def test_without_source_the_line_is_co_firstlineno(exporter: rt.InMemorySpanExporter) -> None:
    namespace: dict[str, Any] = {"rt": rt}
    source = "@rt.span_function('gen')\n\ndef made():\n    return 1\n"
    exec(compile(source, "<made>", "exec"), namespace)
    assert namespace["made"]() == 1
    (finished,) = exporter.get_finished_spans()
    assert finished.attributes["code.line.number"] == 1
    assert finished.attributes["code.file.path"] == "<made>"


# -- coroutine functions -----------------------------------------------------------------------


def test_a_coroutine_functions_span_covers_the_await(exporter: rt.InMemorySpanExporter) -> None:
    connection = sqlite3.connect(":memory:")

    @rt.span_function("async.work")
    async def work(delay: float) -> str:
        await asyncio.sleep(delay)
        rt.traced(connection.execute, "sqlite3.query")("SELECT 1")
        return "done"

    async def main() -> tuple[str, Any]:
        outer = rt.current_span()
        result = await work(0.02)
        return result, outer is rt.current_span()

    try:
        assert asyncio.run(main()) == ("done", True)
    finally:
        connection.close()
    query, finished = exporter.get_finished_spans()
    assert finished.name == "async.work"
    assert query.parent_id == finished.span_id
    assert finished.end_ns - finished.start_ns >= 15_000_000  # the sleep is inside


def test_a_coroutine_error_and_a_cancellation(exporter: rt.InMemorySpanExporter) -> None:
    @rt.span_function("async.fail")
    async def fail() -> None:
        await asyncio.sleep(0)
        raise OrderError("async")

    @rt.span_function("async.slow")
    async def slow() -> None:
        await asyncio.sleep(10)

    async def main() -> None:
        with pytest.raises(OrderError):
            await fail()
        task = asyncio.create_task(slow())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    failed, cancelled = exporter.get_finished_spans()
    assert failed.status_code == StatusCode.ERROR
    assert failed.attributes["error.type"] == f"{__name__}.OrderError"
    assert cancelled.name == "async.slow" and cancelled.status_code == StatusCode.UNSET


def test_a_coroutine_never_awaited_warns_as_untraced() -> None:
    @rt.span_function("never")
    async def never() -> None:
        return None

    with pytest.warns(RuntimeWarning, match="coroutine '.*never' was never awaited"):
        coroutine = never()
        del coroutine
        import gc

        gc.collect()


def test_concurrent_tasks_keep_their_own_spans(exporter: rt.InMemorySpanExporter) -> None:
    @rt.span_function("task.step")
    async def step(i: int) -> int:
        mine = rt.current_span()
        await asyncio.sleep(0.001 * (3 - i))
        assert rt.current_span() is mine
        return i

    async def main() -> list[int]:
        return list(await asyncio.gather(*(step(i) for i in range(3))))

    assert asyncio.run(main()) == [0, 1, 2]
    spans = exporter.get_finished_spans()
    assert len(spans) == 3 and all(s.parent_id == 0 for s in spans)


# -- adaptive tracing (min_duration_ms) --------------------------------------------------------


def test_min_duration_traces_only_after_one_slow_call(exporter: rt.InMemorySpanExporter) -> None:
    delays = iter([0.0, 0.0, 0.08, 0.0, 0.0])

    @rt.span_function("adaptive", min_duration_ms=50)
    def work() -> str:
        time.sleep(next(delays))
        return "ok"

    assert [work() for _ in range(2)] == ["ok", "ok"]
    assert not exporter.get_finished_spans()  # fast calls: no span
    assert work() == "ok"  # slow: still no span for this one, but the flag flips
    assert not exporter.get_finished_spans()
    assert [work() for _ in range(2)] == ["ok", "ok"]
    assert [s.name for s in exporter.get_finished_spans()] == ["adaptive", "adaptive"]


def test_min_duration_counts_a_slow_call_that_raises(exporter: rt.InMemorySpanExporter) -> None:
    calls = []

    @rt.span_function("adaptive.raise", min_duration_ms=50)
    def work() -> None:
        calls.append(1)
        if len(calls) == 1:
            time.sleep(0.08)
            raise OrderError("slow failure")

    with pytest.raises(OrderError):
        work()
    work()
    assert [s.name for s in exporter.get_finished_spans()] == ["adaptive.raise"]


def test_min_duration_for_coroutines(exporter: rt.InMemorySpanExporter) -> None:
    @rt.span_function("adaptive.async", min_duration_ms=50)
    async def work(delay: float) -> float:
        await asyncio.sleep(delay)
        return delay

    async def main() -> None:
        await work(0)
        await work(0.08)
        await work(0)

    asyncio.run(main())
    assert [s.name for s in exporter.get_finished_spans()] == ["adaptive.async"]


def test_min_duration_flag_flips_safely_across_threads(exporter: rt.InMemorySpanExporter) -> None:
    inside = threading.Barrier(4, timeout=10)  # all four calls started before any is timed out

    @rt.span_function("adaptive.threads", min_duration_ms=50)
    def work(delay: float) -> None:
        if delay:
            inside.wait()
        time.sleep(delay)

    threads = [threading.Thread(target=work, args=(0.08,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not exporter.get_finished_spans()  # four slow calls flipped it, none was traced
    work(0)
    work(0)
    assert len(exporter.get_finished_spans()) == 2


# -- disabled ------------------------------------------------------------------------------------


def test_disabled_at_decoration_returns_the_function_itself() -> None:
    def plain() -> int:
        return 1

    rt.configure(disabled=True)
    assert rt.span_function("off")(plain) is plain


def test_disabled_after_decoration_costs_a_noop_span(exporter: rt.InMemorySpanExporter) -> None:
    traced = rt.span_function("later.off")(lambda: rt.current_span())
    rt.configure(disabled=True)
    assert traced() is None
    assert not exporter.get_finished_spans()


def test_disabled_by_the_environment_in_a_fresh_process() -> None:
    import subprocess

    code = (
        "import codetrace.runtime as rt\n"
        "def f():\n    return 1\n"
        "print(rt.span_function('x')(f) is f)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"OTEL_SDK_DISABLED": "true", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "True"


def test_tracing_failure_runs_the_function_untraced(
    exporter: rt.InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codetrace.runtime import _span_function

    traced = rt.span_function("breaks")(lambda x: x * 2)

    def broken(*args: object, **kwargs: object) -> Any:
        raise RuntimeError("tracer broken")

    monkeypatch.setattr(_span_function, "start_span", broken)
    assert traced(21) == 42
    assert not exporter.get_finished_spans()
