"""Span limits from the ``OTEL_*_LIMIT`` variables: counts, value lengths, drops counted, sent."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

import pytest

import codetrace.runtime as rt
from codetrace.runtime import _limits, _state
from codetrace.runtime._otlp import encode_json, encode_protobuf


def configure(monkeypatch: pytest.MonkeyPatch, **variables: str) -> rt.InMemorySpanExporter:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    memory = rt.InMemorySpanExporter()
    rt.configure(exporter=memory)
    return memory


def limit_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "_LIMIT" in r.getMessage()
    ]


def test_span_attribute_count_limit_keeps_the_first_and_counts_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memory = configure(monkeypatch, OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT="3")
    with rt.span("op", attributes={"a": 1, "b": 2, "c": 3, "d": 4}) as span:
        span.set_attribute("e", 5)
        span.set_attribute("a", 10)  # a key already there is updated, not dropped
    (done,) = memory.get_finished_spans()
    assert done.attributes == {"a": 10, "b": 2, "c": 3}
    assert done.dropped_attributes_count == 2


def test_the_general_count_limit_is_the_fallback_and_the_specific_one_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memory = configure(
        monkeypatch, OTEL_ATTRIBUTE_COUNT_LIMIT="2", OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT="1"
    )
    with rt.span("op") as span:
        for index in range(5):
            span.set_attribute(f"k{index}", index)
        span.add_event("e", {"x": 1, "y": 2, "z": 3})
    (done,) = memory.get_finished_spans()
    assert list(done.attributes) == ["k0", "k1"] and done.dropped_attributes_count == 3
    (event,) = done.events
    assert event.attributes == {"x": 1} and event.dropped_attributes_count == 2


def test_event_count_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    memory = configure(monkeypatch, OTEL_SPAN_EVENT_COUNT_LIMIT="2")
    with rt.span("op") as span:
        for index in range(5):
            span.add_event(f"e{index}")
    (done,) = memory.get_finished_spans()
    assert [e.name for e in done.events] == ["e0", "e1"]
    assert done.dropped_events_count == 3


def test_zero_keeps_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    memory = configure(
        monkeypatch, OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT="0", OTEL_SPAN_EVENT_COUNT_LIMIT="0"
    )
    with rt.span("op", attributes={"a": 1}) as span:
        span.set_attribute("b", 2)
        span.add_event("e")
    (done,) = memory.get_finished_spans()
    assert (done.attributes, done.events) == ({}, [])
    assert (done.dropped_attributes_count, done.dropped_events_count) == (2, 1)


def test_value_length_limit_cuts_strings_and_strings_in_lists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memory = configure(monkeypatch, OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT="4")
    with rt.span("op", attributes={"start": "abcdefgh"}) as span:
        span.set_attribute("text", "0123456789")
        span.set_attribute("short", "abc")
        span.set_attribute("tags", ["long-tag", "ok", 12345678])
        span.set_attribute("number", 123456789)
        span.set_attribute("flag", True)
        span.add_event("e", {"detail": "unlimited for events"})
    (done,) = memory.get_finished_spans()
    assert done.attributes == {
        "start": "abcd",
        "text": "0123",
        "short": "abc",
        "tags": ["long", "ok", 12345678],
        "number": 123456789,
        "flag": True,
    }
    # OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT is for span attributes; events follow the
    # general OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT (as the OpenTelemetry Python SDK does).
    assert done.events[0].attributes == {"detail": "unlimited for events"}
    assert done.dropped_attributes_count == 0


def test_general_value_length_limit_covers_spans_and_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memory = configure(monkeypatch, OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT="5")
    with pytest.raises(ValueError), rt.span("op") as span:
        span.set_attribute("text", "0123456789")
        raise ValueError("a message longer than five characters")
    (done,) = memory.get_finished_spans()
    assert done.attributes["text"] == "01234"
    event = done.events[0]
    assert event.attributes["exception.message"] == "a mes"
    assert all(len(str(v)) <= 5 for v in event.attributes.values())


def test_specific_value_length_wins_over_the_general_one(monkeypatch: pytest.MonkeyPatch) -> None:
    memory = configure(
        monkeypatch,
        OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT="2",
        OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT="6",
    )
    with rt.span("op") as span:
        span.set_attribute("text", "0123456789")
        span.add_event("e", {"detail": "0123456789"})
    (done,) = memory.get_finished_spans()
    assert done.attributes["text"] == "012345"
    assert done.events[0].attributes["detail"] == "01"


def test_limits_apply_to_what_adapters_write_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The DB-API adapter writes ``db.query.text`` into ``span.attributes`` itself."""
    memory = configure(monkeypatch, OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT="12")
    connection = rt.traced(sqlite3.connect, "sqlite3.connect")(":memory:")
    try:
        connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
    finally:
        connection.close()
    query = next(s for s in memory.get_finished_spans() if "db.query.text" in s.attributes)
    assert query.attributes["db.query.text"] == "CREATE TABLE"
    assert all(len(v) <= 12 for v in query.attributes.values() if isinstance(v, str))


@pytest.mark.parametrize("raw", ["many", "-1", "1.5", "0x10"])
def test_an_invalid_value_is_logged_once_and_the_next_in_line_applies(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, raw: str
) -> None:
    memory = configure(
        monkeypatch, OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT=raw, OTEL_SPAN_EVENT_COUNT_LIMIT=raw
    )
    rt.configure(exporter=memory)  # read a second time: still one line per variable
    with rt.span("op") as span:
        for index in range(200):
            span.set_attribute(f"k{index}", index)
            span.add_event("e")
    (done,) = memory.get_finished_spans()
    assert len(done.attributes) == len(done.events) == 128  # the defaults
    warnings = limit_warnings(caplog)
    assert len(warnings) == 2, warnings
    assert any("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT" in w and repr(raw) in w for w in warnings)
    monkeypatch.setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "7")
    rt.configure(exporter=memory)
    memory.clear()
    with rt.span("op") as span:
        for index in range(10):
            span.set_attribute(f"k{index}", index)
    assert len(memory.get_finished_spans()[0].attributes) == 7  # the general variable


def test_the_variables_are_read_when_the_pipeline_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memory = configure(monkeypatch, OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT="1")
    monkeypatch.setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "5")  # too late for this pipeline
    with rt.span("op", attributes={"a": 1, "b": 2}):
        pass
    assert memory.get_finished_spans()[0].attributes == {"a": 1}
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    rt.reset()
    assert _limits.limits_from_env().attribute_count == 5
    with rt.span("op"):
        pass  # builds the pipeline: the new value
    pipeline = _state.settings.pipeline
    assert pipeline is not None
    assert isinstance(pipeline.processors[0], _limits.SpanLimitsProcessor)
    assert pipeline.processors[0].limits.attribute_count == 5


def test_default_limits_add_no_processor(exporter: rt.InMemorySpanExporter) -> None:
    pipeline = _state.settings.pipeline
    assert pipeline is not None and len(pipeline.processors) == 1
    assert _limits.limits_from_env() == _limits.DEFAULT_LIMITS
    assert _limits.limits_from_env().is_default


def test_link_limits_are_read_and_checked(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_SPAN_LINK_COUNT_LIMIT", "3")
    monkeypatch.setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "9")
    monkeypatch.setenv("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "-4")
    limits = _limits.limits_from_env()
    assert (limits.link_count, limits.link_attribute_count) == (3, 9)
    assert limit_warnings(caplog) == [
        "codetrace: invalid OTEL_LINK_ATTRIBUTE_COUNT_LIMIT='-4' (expected a whole number >= 0);"
        " ignored"
    ]


def test_every_variable_is_in_the_module_docstring() -> None:
    assert _limits.__doc__ is not None
    for name in _limits.ENV_VARIABLES:
        assert f"``{name}``" in _limits.__doc__


def _dropped_span(monkeypatch: pytest.MonkeyPatch) -> rt.Span:
    memory = configure(
        monkeypatch,
        OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT="1",
        OTEL_SPAN_EVENT_COUNT_LIMIT="1",
        OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT="1",
    )
    with rt.span("op", attributes={"a": 1, "b": 2, "c": 3}) as span:
        span.add_event("first", {"x": 1, "y": 2})
        span.add_event("second")
    (done,) = memory.get_finished_spans()
    return done


def test_dropped_counts_are_sent_in_otlp_json(monkeypatch: pytest.MonkeyPatch) -> None:
    done = _dropped_span(monkeypatch)
    document = json.loads(encode_json([done], {"service.name": "x"}))
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["droppedAttributesCount"] == 2
    assert span["droppedEventsCount"] == 1
    assert span["events"][0]["droppedAttributesCount"] == 1
    assert "droppedLinksCount" not in span  # codetrace spans have no links


def test_dropped_counts_are_sent_in_otlp_protobuf(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("opentelemetry.proto")
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    done = _dropped_span(monkeypatch)
    message: Any = ExportTraceServiceRequest()
    message.ParseFromString(encode_protobuf([done], {"service.name": "x"}))
    span = message.resource_spans[0].scope_spans[0].spans[0]
    assert (span.dropped_attributes_count, span.dropped_events_count) == (2, 1)
    assert span.events[0].dropped_attributes_count == 1
    assert span.dropped_links_count == 0
