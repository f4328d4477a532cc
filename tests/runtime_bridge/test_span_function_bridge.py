"""``span_function`` bridged to an OpenTelemetry SDK: hand-written spans nest under function spans.

A generator's span is made current for each step through the bridge too (``make_current``), so
an OpenTelemetry span started in any resumption is its child, and the consumer, between items,
sees the OpenTelemetry context it had. Fresh interpreter per scenario (``bridge_support``).
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.trace")

from bridge_support import by_name, spans_of


def assert_child(child: dict[str, Any], parent: dict[str, Any]) -> None:
    assert child["trace_id"] == parent["trace_id"], (child["name"], parent["name"])
    assert child["parent_id"] == parent["span_id"], (child["name"], parent["name"])


def test_function_generator_and_async_generator_spans_parent_handwritten_spans() -> None:
    spans = by_name(
        spans_of(
            """
            import asyncio
            from opentelemetry import trace as otel
            import codetrace.runtime as rt

            @rt.span_function("orders.create", kind="server", attributes={"order.kind": "web"})
            def create():
                with tracer.start_as_current_span("in-function"):
                    return 1

            @rt.span_function("orders.rows")
            def rows():
                for i in range(2):
                    with tracer.start_as_current_span(f"in-step-{i}"):
                        pass
                    yield i

            @rt.span_function("orders.stream")
            async def stream():
                await asyncio.sleep(0)
                with tracer.start_as_current_span("in-async-step"):
                    pass
                yield 1

            @rt.span_function("orders.fail")
            def fail():
                raise ValueError("no stock")

            with tracer.start_as_current_span("root") as root:
                assert create() == 1
                for _ in rows():
                    assert otel.get_current_span() is root  # not the generator's span
                async def consume():
                    return [v async for v in stream()]
                assert asyncio.run(consume()) == [1]
                try:
                    fail()
                except ValueError:
                    pass
            dump()
            """
        )
    )
    root = spans["root"]
    for name in ("orders.create", "orders.rows", "orders.stream", "orders.fail"):
        assert_child(spans[name], root)
    assert_child(spans["in-function"], spans["orders.create"])
    assert_child(spans["in-step-0"], spans["orders.rows"])
    assert_child(spans["in-step-1"], spans["orders.rows"])
    assert_child(spans["in-async-step"], spans["orders.stream"])
    assert spans["orders.create"]["kind"] == "SERVER"
    assert spans["orders.create"]["attributes"]["order.kind"] == "web"
    assert spans["orders.create"]["attributes"]["code.function.name"] == "__main__.create"
    assert spans["orders.fail"]["status"] == "ERROR"
    assert spans["orders.fail"]["attributes"]["error.type"] == "ValueError"
