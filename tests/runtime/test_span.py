"""Spans: parent and child, exceptions, attributes, events, status, limits, sampling."""

from __future__ import annotations

import enum

import pytest

import codetrace.runtime as rt
from codetrace.runtime import _span


def test_nested_spans_share_the_trace_and_link_parents(exporter: rt.InMemorySpanExporter) -> None:
    with rt.span("outer") as outer:
        assert rt.current_span() is outer
        with rt.span("inner") as inner:
            assert rt.current_span() is inner
        assert rt.current_span() is outer
    assert rt.current_span() is None
    finished = exporter.get_finished_spans()
    assert [s.name for s in finished] == ["inner", "outer"]
    assert inner.trace_id == outer.trace_id
    assert inner.parent_id == outer.span_id
    assert outer.parent_id == 0
    assert not inner.is_remote_parent


def test_ids_are_random_non_zero_and_sized(exporter: rt.InMemorySpanExporter) -> None:
    seen = set()
    for _ in range(200):
        with rt.span("x") as s:
            pass
        assert 0 < s.trace_id < 1 << 128
        assert 0 < s.span_id < 1 << 64
        seen.add(s.trace_id)
    assert len(seen) == 200


def test_root_span_flags_are_sampled_and_random(exporter: rt.InMemorySpanExporter) -> None:
    with rt.span("x") as s:
        pass
    assert s.trace_flags == 0x03
    assert s.trace_state == ""


def test_finished_span_data_model(exporter: rt.InMemorySpanExporter) -> None:
    with rt.span("op", kind=rt.SpanKind.PRODUCER, attributes={"a": 1, "b": "x"}) as s:
        s.set_attribute("c", True)
    (done,) = exporter.get_finished_spans()
    assert done is s
    assert done.name == "op"
    assert done.kind == 4
    assert done.start_ns <= done.end_ns
    assert done.duration_ns == done.end_ns - done.start_ns
    assert done.attributes == {"a": 1, "b": "x", "c": True}
    assert done.status_code == 0 and done.status_message == ""
    assert done.events == []
    assert done.is_remote_parent is False
    assert not done.is_recording()
    assert "op" in repr(done)
    assert not hasattr(done, "__dict__")  # __slots__


def test_exception_is_recorded_and_reraised_unchanged(exporter: rt.InMemorySpanExporter) -> None:
    error = ValueError("boom")
    with pytest.raises(ValueError) as raised, rt.span("fails"):
        raise error
    assert raised.value is error
    (s,) = exporter.get_finished_spans()
    assert s.status_code == rt.StatusCode.ERROR
    assert s.status_message == "ValueError: boom"
    assert s.attributes["error.type"] == "ValueError"
    (event,) = s.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "boom"
    assert "ValueError: boom" in str(event.attributes["exception.stacktrace"])
    assert rt.current_span() is None


class CustomError(Exception):
    pass


def test_exception_type_is_qualified_outside_builtins(exporter: rt.InMemorySpanExporter) -> None:
    with pytest.raises(CustomError), rt.span("x"):
        raise CustomError("no")
    (s,) = exporter.get_finished_spans()
    assert s.attributes["error.type"] == f"{__name__}.CustomError"


@pytest.mark.parametrize(
    ("exc", "failed"),
    [
        (GeneratorExit(), False),
        (SystemExit(0), False),
        (SystemExit(None), False),
        (SystemExit(2), True),
        (KeyboardInterrupt(), True),
    ],
)
def test_which_base_exceptions_mark_failure(
    exporter: rt.InMemorySpanExporter, exc: BaseException, failed: bool
) -> None:
    with pytest.raises(type(exc)), rt.span("x"):
        raise exc
    (s,) = exporter.get_finished_spans()
    assert (s.status_code == rt.StatusCode.ERROR) is failed


def test_status_rules(exporter: rt.InMemorySpanExporter) -> None:
    with rt.span("x") as s:
        s.set_status(rt.StatusCode.ERROR, "bad")
        assert (s.status_code, s.status_message) == (2, "bad")
        s.set_status(rt.StatusCode.UNSET)
        assert s.status_code == 2
        s.set_status(rt.StatusCode.OK, "ignored")
        assert (s.status_code, s.status_message) == (1, "")
        s.set_status(rt.StatusCode.ERROR, "too late")
        assert s.status_code == 1


class Color(enum.IntEnum):
    RED = 1


class Label(str):
    pass


def test_attribute_values_are_cleaned(exporter: rt.InMemorySpanExporter) -> None:
    with rt.span("x") as s:
        s.set_attribute("none", None)
        s.set_attribute("enum", Color.RED)
        s.set_attribute("strsub", Label("a"))
        s.set_attribute("tuple", (1, "a", None, 2.5))
        s.set_attribute("obj", object)
        s.set_attributes({"k": 1, "j": [True]})
    assert "none" not in s.attributes
    assert s.attributes["enum"] == 1 and type(s.attributes["enum"]) is int
    assert type(s.attributes["strsub"]) is str
    assert s.attributes["tuple"] == [1, "a", 2.5]
    assert s.attributes["obj"] == str(object)
    assert s.attributes["k"] == 1 and s.attributes["j"] == [True]


def test_unprintable_attribute_value_does_not_raise(exporter: rt.InMemorySpanExporter) -> None:
    class Bad:
        def __str__(self) -> str:
            raise RuntimeError("no str")

    with rt.span("x") as s:
        s.set_attribute("bad", Bad())
    assert str(s.attributes["bad"]).startswith("<unprintable")


def test_attribute_and_event_limits(exporter: rt.InMemorySpanExporter) -> None:
    with rt.span("x", attributes={f"a{i}": i for i in range(200)}) as s:
        s.set_attribute("late", 1)
        s.set_attribute("a0", "replaced")  # existing keys can still change
        for i in range(200):
            s.add_event(f"e{i}")
    assert len(s.attributes) == _span.MAX_ATTRIBUTES
    assert s.attributes["a0"] == "replaced"
    assert s.dropped_attributes_count == 200 - _span.MAX_ATTRIBUTES + 1
    assert len(s.events) == _span.MAX_EVENTS
    assert s.dropped_events_count == 200 - _span.MAX_EVENTS


def test_events_and_rename(exporter: rt.InMemorySpanExporter) -> None:
    with rt.span("x") as s:
        s.add_event("hello", {"n": 1}, timestamp_ns=123)
        s.update_name("y")
    (event,) = s.events
    assert (event.name, event.time_ns, event.attributes) == ("hello", 123, {"n": 1})
    assert "hello" in repr(event)
    assert s.name == "y"


def test_changes_after_end_are_ignored(exporter: rt.InMemorySpanExporter) -> None:
    with rt.span("x") as s:
        pass
    s.set_attribute("late", 1)
    s.add_event("late")
    s.update_name("late")
    end = s.end_ns
    s.end()
    assert s.attributes == {} and s.events == [] and s.name == "x" and s.end_ns == end
    assert len(exporter.get_finished_spans()) == 1


def test_manual_activate_deactivate_end(exporter: rt.InMemorySpanExporter) -> None:
    s = rt.span("manual")
    assert rt.current_span() is None
    s.activate()
    assert rt.current_span() is s
    s.deactivate()
    s.deactivate()  # twice is harmless
    assert rt.current_span() is None
    s.end(s.start_ns + 5)
    assert s.duration_ns == 5


def test_explicit_parent_and_new_root(exporter: rt.InMemorySpanExporter) -> None:
    with rt.span("a") as a, rt.span("b") as b:
        with rt.span("explicit", parent=a) as c:
            pass
        with rt.span("root", parent=rt.Context()) as d:
            pass
    assert c.parent_id == a.span_id
    assert b.parent_id == a.span_id
    assert d.parent_id == 0 and d.trace_id != a.trace_id


def test_unsampled_span_records_nothing_but_keeps_ids() -> None:
    memory = rt.InMemorySpanExporter()
    rt.configure(exporter=memory, sampler="always_off")
    with rt.span("x", attributes={"a": 1}) as s:
        s.set_attribute("b", 2)
        s.add_event("e")
        carrier: dict[str, str] = {}
        rt.inject(carrier)
    assert not s.is_recording()
    assert s.attributes == {} and s.events == []
    assert s.trace_id and s.span_id
    assert carrier["traceparent"] == f"00-{s.trace_id:032x}-{s.span_id:016x}-02"
    assert memory.get_finished_spans() == ()


def test_spans_are_not_recorded_without_an_exporter() -> None:
    rt.configure()  # OTEL_TRACES_EXPORTER unset: none
    with rt.span("x", attributes={"a": 1}) as s:
        pass
    assert s.sampled and not s.is_recording() and s.attributes == {}


def test_failing_processor_never_reaches_the_application(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def on_start(self, span: rt.Span) -> None:
            raise RuntimeError("start")

        def on_end(self, span: rt.Span) -> None:
            raise RuntimeError("end")

        def force_flush(self, timeout_s: float = 30.0) -> bool:
            raise RuntimeError("flush")

        def shutdown(self) -> None:
            raise RuntimeError("shutdown")

    rt.configure(processor=Broken())
    for _ in range(3):
        with rt.span("x"):
            pass
    assert rt.force_flush() is False
    rt.shutdown()
    messages = [r.getMessage() for r in caplog.records if r.name == "codetrace.runtime"]
    assert len([m for m in messages if "on_start" in m]) == 1  # logged once
    assert len([m for m in messages if "on_end" in m]) == 1
    assert all(r.levelname == "WARNING" for r in caplog.records)


def test_failing_sampler_means_not_sampled() -> None:
    def sampler(parent: object, trace_id: int) -> bool:
        raise RuntimeError("nope")

    memory = rt.InMemorySpanExporter()
    rt.configure(exporter=memory, sampler=sampler)  # type: ignore[arg-type]
    with rt.span("x") as s:
        pass
    assert not s.sampled
    assert memory.get_finished_spans() == ()


def test_shutdown_stops_export_but_not_spans(exporter: rt.InMemorySpanExporter) -> None:
    rt.shutdown()
    with rt.span("x") as s:
        pass
    assert s.trace_id
    assert exporter.get_finished_spans() == ()


def test_span_cost_is_small(exporter: rt.InMemorySpanExporter) -> None:
    import time

    def one() -> None:
        with rt.span("x"):
            pass

    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(2000):
            one()
        best = min(best, (time.perf_counter() - start) / 2000)
        exporter.clear()
    assert best < 50e-6  # ~2 us on a laptop; bounded loosely for slow CI machines
