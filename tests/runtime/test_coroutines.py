"""A traced coroutine behaves like the coroutine it times, however it is consumed.

Every way a coroutine can be consumed (awaited, made a task, cancelled before or during its
run, closed or dropped without an await, timed out by ``wait_for``, gathered with a failing
sibling, driven by hand with ``send``/``throw``, awaited twice) is run twice, untraced and traced,
through both paths that time coroutines: the generic adapter (``traced(async_fn, "app.work")``)
and the httpx adapter (a real ``httpx.AsyncClient`` against a real server on 127.0.0.1). The two
runs must return or raise the same, emit the same warnings and unraisable exceptions (recorded
with every warning shown, so ``-W error`` would fail on any extra one), and the traced run must
export exactly one ended span per call with the status the outcome calls for.

Decisions these tests pin (docs in ``codetrace/runtime/_awaitable.py``):

* a coroutine closed, or garbage-collected, before it ever ran: its span ends without an error;
  dropped without an await, Python still warns ``coroutine '<callee>' was never awaited``,
  naming the user's callee, exactly as it does untraced (and nothing more);
* cancellation ends the span as any other exception does (``is_failure``: recorded, with
  ``error.type`` the ``CancelledError`` class); closing (``GeneratorExit``) is no failure.
"""

from __future__ import annotations

import asyncio
import collections.abc
import functools
import gc
import http.server
import inspect
import json
import os
import pickle
import re
import subprocess
import sys
import time
import types
import warnings
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest

import codetrace.runtime as rt

# -- the callees ------------------------------------------------------------------------------

steps_seen: list[rt.Span | None] = []


async def work(x: int, delay: float = 0.0, fail: bool = False) -> int:
    """The generic callee: suspends at least once (``sleep(0)`` yields), records the span."""
    steps_seen.append(rt.current_span())
    await asyncio.sleep(delay)
    steps_seen.append(rt.current_span())
    if fail:
        raise ValueError("boom")
    return x * 2


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        try:
            if self.path == "/slow":
                time.sleep(0.5)  # longer than any timeout below; the client gives up first
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except OSError:  # the client went away (cancelled): nothing to answer
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server(serve_http: Callable[[type[http.server.BaseHTTPRequestHandler]], str]) -> str:
    return serve_http(Handler)


# -- the two paths ----------------------------------------------------------------------------


class Generic:
    """``traced(work, "app.work")``: the generic adapter's INTERNAL span."""

    span_name = "app.work"
    failure = "ValueError"

    def __init__(self, traced: bool) -> None:
        self.call: Callable[..., Coroutine[Any, Any, int]] = (
            rt.traced(work, "app.work") if traced else work
        )

    async def __aenter__(self) -> Generic:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def ok(self) -> Coroutine[Any, Any, Any]:
        return self.call(21)

    def slow(self) -> Coroutine[Any, Any, Any]:
        return self.call(21, delay=5.0)

    def failing(self) -> Coroutine[Any, Any, Any]:
        return self.call(21, delay=0.01, fail=True)

    @staticmethod
    def summary(value: object) -> object:
        return value


class Httpx:
    """``traced(client.get, "httpx.send")`` on a real ``AsyncClient``: the httpx CLIENT span;
    or (``built``) a plain ``client.get`` on a client traced where it was built (its ``send``
    is an ``async def`` of ours, run inside httpx's own coroutine)."""

    span_name = "GET"
    failure = "httpx.ConnectError"

    def __init__(self, traced: bool, base: str, refused: str, built: bool = False) -> None:
        self.traced = traced and not built
        self.base = base
        self.refused = refused
        # plain HTTP on loopback: no certificates to load (that takes ~70 ms a client)
        client_class = rt.traced(httpx.AsyncClient, "httpx.client") if built else httpx.AsyncClient
        self.client = client_class(verify=False)

    async def __aenter__(self) -> Httpx:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.client.__aexit__(*exc)

    def _get(self, url: str) -> Coroutine[Any, Any, Any]:
        get = rt.traced(self.client.get, "httpx.send") if self.traced else self.client.get
        return get(url)

    def ok(self) -> Coroutine[Any, Any, Any]:
        return self._get(self.base + "/ok")

    def slow(self) -> Coroutine[Any, Any, Any]:
        return self._get(self.base + "/slow")

    def failing(self) -> Coroutine[Any, Any, Any]:
        return self._get(self.refused)

    @staticmethod
    def summary(value: object) -> object:
        return getattr(value, "status_code", value)


Ops = Generic | Httpx


# -- the ways a coroutine is consumed ---------------------------------------------------------


@types.coroutine
def drive(coroutine: Coroutine[Any, Any, Any], first: Callable[[], Any]) -> Any:
    """Drive ``coroutine`` by hand: ``first()``, then ``send``/``throw`` whatever the task sends
    or throws in, passing up what it yields (the event loop's futures) unchanged."""
    step = first
    for _ in range(10_000):
        try:
            yielded = step()
        except StopIteration as stop:
            return stop.value
        try:
            sent = yield yielded
        except BaseException as exc:
            step = functools.partial(coroutine.throw, exc)
        else:
            step = functools.partial(coroutine.send, sent)
    raise AssertionError("never finished")


async def awaited(ops: Ops) -> Any:
    return await ops.ok()


async def task_awaited(ops: Ops) -> Any:
    return await asyncio.create_task(ops.ok())


async def task_cancelled_before_start(ops: Ops) -> Any:
    task = asyncio.create_task(ops.ok())
    task.cancel()
    return await task


async def task_cancelled_mid_await(ops: Ops) -> Any:
    task = asyncio.create_task(ops.slow())
    await asyncio.sleep(0.05)
    task.cancel()
    return await task


async def closed_unawaited(ops: Ops) -> Any:
    ops.ok().close()


async def dropped_unawaited(ops: Ops) -> Any:
    pending = ops.ok()
    del pending  # no reference cycle: released (and finalised) here


async def wait_for_timeout(ops: Ops) -> Any:
    return await asyncio.wait_for(ops.slow(), 0.05)


async def gather_one_failing(ops: Ops) -> Any:
    tasks = [asyncio.create_task(ops.ok()), asyncio.create_task(ops.failing())]
    try:
        return await asyncio.gather(*tasks)
    finally:
        await asyncio.wait(tasks)  # the sibling finishes before the client closes


async def send_driven(ops: Ops) -> Any:
    pending = ops.ok()
    return await drive(pending, lambda: pending.send(None))


async def thrown_while_suspended(ops: Ops) -> Any:
    pending = ops.slow()
    first = pending.send(None)
    assert first is None or isinstance(first, asyncio.Future)
    return await drive(pending, lambda: pending.throw(KeyError("stop")))


async def thrown_before_start(ops: Ops) -> Any:
    return ops.ok().throw(KeyError("stop"))


async def closed_while_suspended(ops: Ops) -> Any:
    pending = ops.slow()
    pending.send(None)
    pending.close()


async def awaited_twice(ops: Ops) -> Any:
    pending = ops.ok()
    await pending
    return await pending


async def awaiting(pending: Awaitable[Any]) -> Any:
    """A user coroutine awaiting the callee's: ``await`` (not a task) drives it."""
    return await pending


async def awaited_in_cancelled_task(ops: Ops) -> Any:
    task = asyncio.create_task(awaiting(ops.slow()))
    await asyncio.sleep(0.05)
    task.cancel()
    return await task


async def awaited_in_timed_out_wait(ops: Ops) -> Any:
    return await asyncio.wait_for(awaiting(ops.slow()), 0.05)


async def awaited_in_closed_coroutine(ops: Ops) -> Any:
    outer = awaiting(ops.slow())
    outer.send(None)
    outer.close()


async def awaited_in_thrown_coroutine(ops: Ops) -> Any:
    outer = awaiting(ops.slow())
    outer.send(None)
    return await drive(outer, lambda: outer.throw(KeyError("stop")))


async def awaited_in_dropped_coroutine(ops: Ops) -> Any:
    outer = awaiting(ops.slow())
    outer.send(None)
    del outer  # Python closes it, and the await inside it


async def awaited_in_coroutine_closed_before_start(ops: Ops) -> Any:
    awaiting(ops.ok()).close()  # the callee's coroutine was made, never awaited: Python warns


CANCELLED = "asyncio.exceptions.CancelledError"
FAILED = "<failure>"  # the path's own failure type
# scenario -> the error.type of each span it ends (None: no error), sorted with None first
SCENARIOS: dict[Callable[[Ops], Awaitable[Any]], list[str | None]] = {
    awaited: [None],
    task_awaited: [None],
    task_cancelled_before_start: [CANCELLED],
    task_cancelled_mid_await: [CANCELLED],
    closed_unawaited: [None],
    dropped_unawaited: [None],
    wait_for_timeout: [CANCELLED],
    gather_one_failing: [None, FAILED],
    send_driven: [None],
    thrown_while_suspended: ["KeyError"],
    thrown_before_start: ["KeyError"],
    closed_while_suspended: [None],
    awaited_twice: [None],
    awaited_in_cancelled_task: [CANCELLED],
    awaited_in_timed_out_wait: [CANCELLED],
    awaited_in_closed_coroutine: [None],
    awaited_in_thrown_coroutine: ["KeyError"],
    awaited_in_dropped_coroutine: [None],
    awaited_in_coroutine_closed_before_start: [None],
}


@dataclass
class Observed:
    outcome: tuple[object, ...]
    warnings: list[str] = field(default_factory=list)
    unraisable: list[str] = field(default_factory=list)


def _normal(text: str) -> str:
    """Addresses, ports and line numbers vary between runs; the rest must not."""
    return re.sub(r"0x[0-9a-f]+|\d+", "N", text)


def observe(scenario: Callable[[Ops], Awaitable[Any]], make: Callable[[], Ops]) -> Observed:
    """Run ``scenario`` in a fresh event loop; what it returned or raised, warned, left behind."""

    async def main() -> Any:
        async with make() as ops:
            return ops.summary(await scenario(ops))

    seen = Observed(("?",))
    hook = sys.unraisablehook

    def unraisable(info: Any) -> None:
        seen.unraisable.append(_normal(f"{type(info.exc_value).__name__}: {info.exc_value}"))

    sys.unraisablehook = unraisable
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                seen.outcome = ("returned", asyncio.run(main()))
            except (Exception, asyncio.CancelledError) as exc:
                seen.outcome = ("raised", type(exc).__name__, _normal(str(exc)))
            gc.collect()
    finally:
        sys.unraisablehook = hook
    seen.warnings = [_normal(f"{w.category.__name__}: {w.message}") for w in caught]
    return seen


def _ops_factories(path: str, request: pytest.FixtureRequest) -> tuple[Any, Any]:
    if path == "generic":
        return (lambda: Generic(False)), (lambda: Generic(True))
    base = request.getfixturevalue("server")
    refused = request.getfixturevalue("refused_url")
    built = path == "httpx-client"
    return (lambda: Httpx(False, base, refused)), (lambda: Httpx(True, base, refused, built))


# Where the client was traced at construction, the span is made by ``send``, which runs only
# once httpx's own ``get`` coroutine runs: one that never ran made no span.
NEVER_RAN = {
    task_cancelled_before_start,
    closed_unawaited,
    dropped_unawaited,
    thrown_before_start,
    awaited_in_coroutine_closed_before_start,
}
NEVER_AWAITED = {dropped_unawaited, awaited_in_coroutine_closed_before_start}


# the httpx paths (a real loopback server, ~0.5 s a case) run with the slow tests, in CI
@pytest.mark.parametrize("path", [
    "generic",
    pytest.param("httpx", marks=pytest.mark.slow),
    pytest.param("httpx-client", marks=pytest.mark.slow),
])
@pytest.mark.parametrize("scenario", list(SCENARIOS), ids=lambda s: s.__name__)
def test_traced_coroutine_is_consumed_like_the_untraced_one(
    scenario: Callable[[Ops], Awaitable[Any]],
    path: str,
    request: pytest.FixtureRequest,
    exporter: rt.InMemorySpanExporter,
) -> None:
    untraced, traced = _ops_factories(path, request)
    expected = observe(scenario, untraced)
    assert not exporter.get_finished_spans()
    got = observe(scenario, traced)
    assert got == expected
    if scenario in NEVER_AWAITED:  # Python's own warning, about the user's callee, once
        name = "work" if path == "generic" else "AsyncClient.get"
        assert got.warnings == [f"RuntimeWarning: coroutine '{name}' was never awaited"]
    else:
        assert got.warnings == [] and got.unraisable == []

    spans = exporter.get_finished_spans()
    failure = Generic.failure if path == "generic" else Httpx.failure
    wanted = [failure if e == FAILED else e for e in SCENARIOS[scenario]]
    if path == "httpx-client" and scenario in NEVER_RAN:
        wanted = []
    assert len({s.span_id for s in spans}) == len(spans) == len(wanted)
    assert all(s.end_ns >= s.start_ns > 0 for s in spans)
    assert {s.name for s in spans} <= {Generic.span_name if path == "generic" else "GET"}
    errors = [s.attributes.get("error.type") for s in spans]
    assert sorted(errors, key=lambda e: (e is not None, e)) == wanted
    for s in spans:
        failed = s.attributes.get("error.type") is not None
        assert s.status_code == (rt.StatusCode.ERROR if failed else rt.StatusCode.UNSET), s


def test_span_is_current_in_each_step_and_nowhere_else(exporter: rt.InMemorySpanExporter) -> None:
    steps_seen.clear()
    with rt.span("caller") as caller:
        pending = rt.traced(work, "app.work")(1)
        assert rt.current_span() is caller
        assert pending.send(None) is None  # suspended at sleep(0)
        assert rt.current_span() is caller  # the span is current only while the body runs
        with pytest.raises(StopIteration) as stop:
            pending.send(None)
        assert stop.value.value == 2
        assert rt.current_span() is caller
    inner, _ = exporter.get_finished_spans()
    assert inner.name == "app.work" and inner.parent_id == caller.span_id
    assert [s.span_id if s else None for s in steps_seen] == [inner.span_id, inner.span_id]


def test_span_is_current_in_tasks_the_body_starts(exporter: rt.InMemorySpanExporter) -> None:
    async def parent() -> rt.Span | None:
        async def child() -> rt.Span | None:
            return rt.current_span()

        return await asyncio.create_task(child())

    async def main() -> rt.Span | None:
        return await rt.traced(parent, "app.parent")()

    seen = asyncio.run(main())
    (span,) = exporter.get_finished_spans()
    assert seen is span


def test_traced_coroutine_answers_type_questions_like_a_coroutine() -> None:
    untraced = work(1)
    traced = rt.traced(work, "app.work")(1)
    try:
        for question in (
            asyncio.iscoroutine,
            inspect.iscoroutine,
            inspect.isawaitable,
            lambda c: isinstance(c, collections.abc.Coroutine),
            lambda c: isinstance(c, collections.abc.Awaitable),
            lambda c: isinstance(c, types.CoroutineType),
            lambda c: isinstance(c, collections.abc.Iterable),
            inspect.getcoroutinestate,
            lambda c: c.__name__,
            lambda c: c.__qualname__,
            lambda c: c.cr_code,
            lambda c: c.cr_running,
            lambda c: c.cr_await,
            lambda c: _normal(repr(c)),
        ):
            assert question(traced) == question(untraced)
        assert weakref.ref(traced)() is traced
        with pytest.raises(TypeError, match="cannot pickle 'coroutine' object"):
            pickle.dumps(traced)
        traced.send(None)
        untraced.send(None)
        assert inspect.getcoroutinestate(traced) == inspect.getcoroutinestate(untraced)
        native: Any = traced
        assert type(native.cr_await) is type(untraced.cr_await)  # type: ignore[attr-defined]
        assert native.cr_frame is not None
    finally:
        untraced.close()
        traced.close()
    assert inspect.getcoroutinestate(traced) == inspect.CORO_CLOSED


def test_awaited_from_two_places_at_once_fails_as_untraced() -> None:
    async def run(traced: bool) -> str:
        pending = (rt.traced(work, "app.work") if traced else work)(1, delay=0.05)
        first = asyncio.ensure_future(pending)
        await asyncio.sleep(0.01)
        try:
            await pending
        except RuntimeError as exc:
            return str(exc)
        finally:
            await first
        return "no error"

    assert asyncio.run(run(True)) == asyncio.run(run(False)) == "coroutine is being awaited already"


def test_anyio_task_group_and_await_accept_it(exporter: rt.InMemorySpanExporter) -> None:
    results: list[int] = []

    async def collect(x: int) -> None:
        results.append(await rt.traced(work, "app.work")(x))

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(rt.traced(work, "app.work"), 1)
            group.start_soon(collect, 2)

    anyio.run(main)
    assert results == [4]
    assert len(exporter.get_finished_spans()) == 2


def test_close_without_await_is_silent_under_warnings_as_errors(
    exporter: rt.InMemorySpanExporter,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rt.traced(work, "app.work")(1).close()

        async def cancelled_before_start() -> None:
            task = asyncio.create_task(rt.traced(work, "app.work")(1))
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        asyncio.run(cancelled_before_start())
        gc.collect()
    assert len(exporter.get_finished_spans()) == 2


BRIDGED = """
import asyncio, gc, json
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import codetrace.runtime as rt

memory = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("handwritten")

async def body(name):
    await asyncio.sleep(0)
    with tracer.start_as_current_span("hand-" + name):
        await asyncio.sleep(0)

async def main():
    await rt.traced(body, "awaited")("awaited")
    await asyncio.create_task(rt.traced(body, "task")("task"))
    rt.traced(body, "closed")("closed").close()
    task = asyncio.create_task(rt.traced(body, "cancelled")("cancelled"))
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass

asyncio.run(main())
gc.collect()
spans = {s.name: s for s in memory.get_finished_spans()}
print(json.dumps({
    name: [s.context.span_id, s.parent.span_id if s.parent else None, s.status.status_code.name]
    for name, s in spans.items()
}))
"""


def test_bridged_to_opentelemetry_the_span_is_the_parent_in_every_step() -> None:
    """Bridged, each step attaches the OpenTelemetry context too (a task drives the coroutine
    step by step; ``await`` drives it in one go): hand-written spans inside are children."""
    pytest.importorskip("opentelemetry.sdk.trace")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "CODETRACE_"))}
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", BRIDGED],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    spans = json.loads(result.stdout)
    assert set(spans) == {"awaited", "hand-awaited", "task", "hand-task", "closed", "cancelled"}
    for name in ("awaited", "task"):
        assert spans["hand-" + name][1] == spans[name][0]
    assert spans["closed"][2] == "UNSET"
    assert spans["cancelled"][2] == "ERROR"
