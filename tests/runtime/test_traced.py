"""``traced(callee, rule_id)``: the contract of docs/runtime-contract.md, with generic adapters."""

from __future__ import annotations

import asyncio
import functools
from typing import Any
from unittest import mock

import pytest

import codetrace.runtime as rt
from codetrace.runtime import _catalogue, _traced


def add(x: int, y: int = 0, *rest: int, **named: int) -> int:
    return x + y + sum(rest) + sum(named.values())


def test_unknown_rule_gets_an_internal_span_named_by_the_rule(
    exporter: rt.InMemorySpanExporter,
) -> None:
    assert rt.traced(add, "myapp.math.add")(1, 2, 3, z=4) == 10
    (s,) = exporter.get_finished_spans()
    assert (s.name, s.kind) == ("myapp.math.add", rt.SpanKind.INTERNAL)


def test_callee_called_once_with_the_same_arguments() -> None:
    callee = mock.Mock(return_value="r")
    kwargs = {"a": 1}
    args = [1, 2]
    assert rt.traced(callee, "x")(*args, **kwargs) == "r"
    callee.assert_called_once_with(1, 2, a=1)
    assert kwargs == {"a": 1} and args == [1, 2]


def test_arguments_named_like_our_parameters_pass_through() -> None:
    def f(callee: str, rule_id: str, self: str) -> str:
        return callee + rule_id + self

    assert rt.traced(f, "r")(callee="a", rule_id="b", self="c") == "abc"


def test_the_same_exception_object_comes_back(exporter: rt.InMemorySpanExporter) -> None:
    error = LookupError("missing")

    def fail() -> None:
        raise error

    with pytest.raises(LookupError) as raised:
        rt.traced(fail, "x")()
    assert raised.value is error
    (s,) = exporter.get_finished_spans()
    assert s.status_code == rt.StatusCode.ERROR and s.attributes["error.type"] == "LookupError"


def test_result_object_is_returned_as_is() -> None:
    marker = object()
    assert rt.traced(lambda: marker, "x")() is marker


def test_span_is_current_during_the_call(exporter: rt.InMemorySpanExporter) -> None:
    seen = rt.traced(rt.current_span, "x")()
    (s,) = exporter.get_finished_spans()
    assert seen is s
    assert rt.current_span() is None


def test_nested_traced_calls_form_a_tree(exporter: rt.InMemorySpanExporter) -> None:
    def outer() -> int:
        return rt.traced(add, "inner")(1)

    with rt.span("root") as root:
        rt.traced(outer, "outer")()
    inner, outer_span, _ = exporter.get_finished_spans()
    assert inner.parent_id == outer_span.span_id and outer_span.parent_id == root.span_id


def test_traced_never_raises_by_itself() -> None:
    assert rt.traced(add, ["unhashable"])(1) == 1  # type: ignore[arg-type]


def test_a_non_callable_fails_like_the_original_call() -> None:
    with pytest.raises(TypeError):
        rt.traced(42, "x")()  # type: ignore[arg-type]


def test_adapter_lookup_is_cached() -> None:
    rt.traced(add, "cached.rule")
    assert _traced.adapter_for("cached.rule") is _traced.adapter_for("cached.rule")
    assert "cached.rule" in repr(_traced.adapter_for("cached.rule"))


def test_traced_returns_a_partial_not_a_closure() -> None:
    wrapped = rt.traced(add, "x")
    assert isinstance(wrapped, functools.partial)


def test_mock_patch_keeps_working() -> None:
    import os.path

    with mock.patch("os.path.join", return_value="patched") as patched:
        assert rt.traced(os.path.join, "os.join")("a", "b") == "patched"
    patched.assert_called_once_with("a", "b")


def test_register_adapter() -> None:
    calls: list[tuple[Any, ...]] = []

    def adapter(callee: Any, /, *args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return callee(*args, **kwargs)

    rt.register_adapter("custom.rule", adapter)
    assert rt.traced(add, "custom.rule")(2, 3) == 5
    assert calls == [(2, 3)]


def test_broken_adapter_module_falls_back_to_generic(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(_catalogue.ADAPTERS, "broken.rule", "codetrace.runtime._nope")
    monkeypatch.delitem(_traced._adapters, "broken.rule", raising=False)
    assert rt.traced(add, "broken.rule")(1, 1) == 2
    assert any("broken.rule" in r.getMessage() for r in caplog.records)
    _traced._adapters.pop("broken.rule", None)


def test_adapter_failure_lets_the_call_run_untraced(
    monkeypatch: pytest.MonkeyPatch, exporter: rt.InMemorySpanExporter
) -> None:
    def broken_start(*args: Any, **kwargs: Any) -> rt.Span:
        raise RuntimeError("tracer bug")

    monkeypatch.setattr(_traced, "start_span", broken_start)
    assert rt.traced(add, "x")(4, 5) == 9
    assert exporter.get_finished_spans() == ()


def test_coroutine_functions_are_timed_to_completion(exporter: rt.InMemorySpanExporter) -> None:
    async def fetch(delay: float) -> str:
        with rt.span("inside"):
            await asyncio.sleep(delay)
        return "done"

    async def main() -> str:
        return await rt.traced(fetch, "myapp.fetch")(0.01)

    assert asyncio.run(main()) == "done"
    inside, outer = exporter.get_finished_spans()
    assert outer.name == "myapp.fetch"
    assert inside.parent_id == outer.span_id
    assert outer.end_ns - outer.start_ns >= 10_000_000


def test_coroutine_failure_is_recorded(exporter: rt.InMemorySpanExporter) -> None:
    async def boom() -> None:
        raise KeyError("k")

    async def main() -> None:
        await rt.traced(boom, "myapp.boom")()

    with pytest.raises(KeyError):
        asyncio.run(main())
    (s,) = exporter.get_finished_spans()
    assert s.status_code == rt.StatusCode.ERROR


def test_traced_overhead_is_small(exporter: rt.InMemorySpanExporter) -> None:
    import time

    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(2000):
            rt.traced(add, "x")(1)
        best = min(best, (time.perf_counter() - start) / 2000)
        exporter.clear()
    assert best < 50e-6


def test_the_traced_callable_shows_the_callee_to_introspection() -> None:
    """``inspect.signature``, ``__wrapped__``, ``__name__`` and ``__doc__`` are the callee's
    (issue 10: frameworks that introspect callables saw ``(*args, **kwargs)``)."""
    import inspect

    def fetch(url: str, *, timeout: float = 5) -> int:
        """Fetch it."""
        return 1

    wrapped = rt.traced(fetch, "myapp.fetch")
    assert wrapped is not fetch
    assert inspect.signature(wrapped) == inspect.signature(fetch)
    assert list(inspect.signature(wrapped).parameters) == ["url", "timeout"]
    assert wrapped.__wrapped__ is fetch  # type: ignore[attr-defined]
    assert (wrapped.__name__, wrapped.__doc__) == ("fetch", "Fetch it.")
    assert wrapped("u") == 1
