"""``span()`` builds spans without ``Span.__init__`` (for speed): it must set every field the same.

If a slot is added to ``Span`` and ``_tracer.span`` is not updated, reading it raises
``AttributeError`` somewhere far away (an exporter): these tests catch that here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import codetrace.runtime as rt
from codetrace.runtime._span import Span


@pytest.fixture(autouse=True)
def clean_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_TRACES_SAMPLER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CODETRACE_BACKEND", "codetrace")
    rt.reset()
    yield
    rt.reset()


def all_slots(cls: type) -> list[str]:
    return [name for klass in cls.__mro__ for name in getattr(klass, "__slots__", ())]


def assert_like_constructed(span: Span) -> None:
    """Every slot is set, and the defaults are those ``Span.__init__`` gives."""
    for name in all_slots(Span):
        getattr(span, name)  # AttributeError if the fast path forgot it
    reference = Span(span.name, span.trace_id, span.span_id)
    for name in ("end_ns", "status_code", "status_message", "events", "is_remote"):
        assert getattr(span, name) == getattr(reference, name), name
    assert span.dropped_events_count == 0


def test_recording_span_has_every_field() -> None:
    memory = rt.InMemorySpanExporter()
    rt.configure(exporter=memory)
    with rt.span("recorded", attributes={"a": 1}) as span:
        assert span.is_recording()
        assert_like_constructed(span)
    assert span.attributes == {"a": 1}
    assert memory.get_finished_spans() == (span,)


def test_unsampled_and_unexported_spans_have_every_field() -> None:
    rt.configure(sampler="always_off", exporter=rt.InMemorySpanExporter())
    with rt.span("unsampled", attributes={"a": 1}) as span:
        assert not span.is_recording()
        assert_like_constructed(span)
        assert span.attributes == {}
    rt.reset()  # default: no exporter, so nothing records
    remote = rt.Context(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, 0, "k=v")
    with rt.span("child-of-remote", parent=remote) as child:
        assert_like_constructed(child)
        assert child.parent_id == 0xB7AD6B7169203331
        assert child.is_remote_parent
        assert child.trace_state == "k=v"
        assert not child.sampled


def test_spans_are_distinct_objects_with_their_own_containers() -> None:
    rt.configure(exporter=rt.InMemorySpanExporter())
    with rt.span("one") as one, rt.span("two") as two:
        one.set_attribute("only", "one")
        one.add_event("e")
    assert two.attributes == {} and two.events == []
    assert one.attributes is not two.attributes and one.events is not two.events
