"""Console and JSON-lines exporters, the exporter registry, resource attributes, configuration."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import pytest

import codetrace.runtime as rt
from codetrace.runtime import _setup, _state
from codetrace.runtime._otlp._json_records import read_json_lines

VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


# -- console ---------------------------------------------------------------------------------------


def test_console_writes_a_trace_tree_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shop")
    rt.reset()
    with rt.span("outer") as outer, rt.span("GET", kind=rt.SpanKind.CLIENT) as inner:
        inner.set_attribute("url.full", "http://127.0.0.1/x")
    captured = capsys.readouterr()
    assert captured.out == ""
    header, first, second = captured.err.splitlines()
    assert header.startswith(f"codetrace: trace {outer.trace_id:032x}  service=shop  2 spans  ")
    assert first.startswith("  +0.000ms  ") and first.endswith("|  outer  INTERNAL")
    assert "|  └─ GET  CLIENT  url.full=http://127.0.0.1/x" in second


def test_console_shows_errors() -> None:
    stream = io.StringIO()
    rt.configure(exporter=rt.ConsoleSpanExporter(stream))
    with pytest.raises(KeyError), rt.span("x") as span:
        raise KeyError("k")
    line = stream.getvalue()
    assert line.startswith("codetrace: ")
    assert """  x  INTERNAL ERROR "KeyError: 'k'"  error.type=KeyError  """ in line
    assert line.endswith(f"  trace={span.trace_id:032x} span={span.span_id:016x}\n")


# -- JSON lines ------------------------------------------------------------------------------------


def test_jsonl_record_fields(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spans.jsonl"
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jsonl")
    monkeypatch.setenv("CODETRACE_JSONL_PATH", str(path))
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shop")
    rt.reset()
    context = rt.extract({"traceparent": VALID})
    with (
        rt.span("server", kind=rt.SpanKind.SERVER, parent=context) as server,
        pytest.raises(ValueError),
        rt.span("child", attributes={"n": 1, "l": ["a"]}),
    ):
        raise ValueError("bad")
    records = read_json_lines(path)
    assert [r["name"] for r in records] == ["child", "server"]
    child, parent = records
    assert parent["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert parent["span_id"] == f"{server.span_id:016x}" and len(parent["span_id"]) == 16
    assert parent["parent_span_id"] == "00f067aa0ba902b7"
    assert child["parent_span_id"] == parent["span_id"]
    assert parent["kind"] == "SERVER" and child["kind"] == "INTERNAL"
    assert parent["start_time_unix_nano"] <= parent["end_time_unix_nano"]
    assert child["attributes"]["n"] == 1 and child["attributes"]["l"] == ["a"]
    assert child["status"] == {"code": "ERROR", "message": "ValueError: bad"}
    assert child["events"][0]["name"] == "exception"
    assert child["events"][0]["attributes"]["exception.type"] == "ValueError"
    assert isinstance(child["events"][0]["time_unix_nano"], int)
    assert parent["status"] == {"code": "UNSET", "message": ""}
    assert parent["resource"]["service.name"] == "shop"
    assert parent["resource"]["telemetry.sdk.name"] == "codetrace"
    assert parent["scope"]["name"] == "codetrace"


def test_jsonl_root_has_no_parent_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    path.write_text("\n")
    rt.configure(exporter=rt.JsonLinesSpanExporter(path))
    with rt.span("root"):
        pass
    rt.reset()  # closes the file
    rt.configure(exporter=rt.JsonLinesSpanExporter(path))
    with rt.span("again"):
        pass
    lines = path.read_text().splitlines()
    assert lines[0] == ""
    assert "parentSpanId" not in lines[1]
    assert [r["name"] for r in read_json_lines(path)] == ["root", "again"]
    assert [r["parent_span_id"] for r in read_json_lines(path)] == [None, None]


def test_jsonl_default_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exporter = rt.JsonLinesSpanExporter()
    assert exporter.path == "codetrace-spans.jsonl"
    rt.configure(exporter=exporter)
    with rt.span("x"):
        pass
    assert (tmp_path / "codetrace-spans.jsonl").read_text().count("\n") == 1


def test_jsonl_is_flushed_after_each_span(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    rt.configure(exporter=rt.JsonLinesSpanExporter(path))
    with rt.span("x"):
        pass
    # read while the exporter still holds the file open
    assert [r["name"] for r in read_json_lines(path)] == ["x"]


def test_jsonl_unwritable_path_is_counted_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = rt.JsonLinesSpanExporter(tmp_path / "missing-dir" / "spans.jsonl")
    processor = rt.SimpleSpanProcessor(exporter)
    rt.configure(processor=processor)
    for _ in range(3):
        with rt.span("x"):
            pass
    assert exporter.write_errors == 3
    assert processor.export_errors == 3
    messages = [r for r in caplog.records if r.name == "codetrace.runtime"]
    assert len(messages) == 1
    assert messages[0].levelname == "WARNING" and "missing-dir" in messages[0].getMessage()


def test_jsonl_writes_utf8_text(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    rt.configure(exporter=rt.JsonLinesSpanExporter(path))
    with rt.span("café", attributes={"who": "Zoë"}):
        pass
    assert "café" in path.read_text(encoding="utf-8")
    (record,) = read_json_lines(path)
    assert record["name"] == "café" and record["attributes"]["who"] == "Zoë"


# -- registry and lazy configuration ---------------------------------------------------------------


def test_configuration_is_lazy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spans.jsonl"
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jsonl")
    monkeypatch.setenv("CODETRACE_JSONL_PATH", str(path))
    rt.reset()
    assert _state.settings.pipeline is None
    assert not path.exists()
    with rt.span("x"):
        pass
    assert _state.settings.pipeline is not None
    assert path.exists()


def test_several_exporters_and_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console, jsonl,none,console")
    monkeypatch.setenv("CODETRACE_JSONL_PATH", str(tmp_path / "s.jsonl"))
    processors = _setup.processors_from_env()
    assert [type(p.exporter).__name__ for p in processors] == [  # type: ignore[attr-defined]
        "ConsoleSpanExporter",
        "JsonLinesSpanExporter",
    ]
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert _setup.processors_from_env() == ()


def test_unknown_exporter_is_logged_and_ignored(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    rt.reset()
    with rt.span("x"):
        pass
    assert any("zipkin" in r.getMessage() for r in caplog.records)


class ListExporter:
    def __init__(self) -> None:
        self.spans: list[rt.Span] = []
        self.shut = False

    def export(self, spans: Sequence[rt.Span]) -> bool:
        self.spans.extend(spans)
        return True

    def shutdown(self) -> None:
        self.shut = True


def test_register_exporter_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[ListExporter] = []

    def factory() -> ListExporter:
        created.append(ListExporter())
        return created[-1]

    rt.register_exporter("mine", factory)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "mine")
    rt.reset()
    with rt.span("x"):
        pass
    assert [s.name for s in created[0].spans] == ["x"]
    rt.reset()
    assert created[0].shut


def test_register_exporter_validates_processor_kind() -> None:
    with pytest.raises(ValueError):
        rt.register_exporter("bad", ListExporter, processor="eager")


def test_batch_exporters_get_the_batch_processor(monkeypatch: pytest.MonkeyPatch) -> None:
    rt.register_exporter("queued", ListExporter, processor="batch")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "queued")
    (processor,) = _setup.processors_from_env()
    try:
        assert type(processor).__name__ in ("BatchSpanProcessor", "SimpleSpanProcessor")
        assert processor.force_flush(1.0)
    finally:
        processor.shutdown()


def test_exporter_factory_failure_is_contained(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def factory() -> ListExporter:
        raise OSError("no socket")

    rt.register_exporter("flaky", factory)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "flaky")
    rt.reset()
    with rt.span("x") as s:
        pass
    assert s.trace_id and not s.is_recording()
    assert any("flaky" in r.getMessage() for r in caplog.records)


def test_otlp_name_is_loaded_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    processors = _setup.processors_from_env()
    try:
        assert "codetrace.runtime._otlp" in sys.modules
        assert len(processors) == 1
    finally:
        for processor in processors:
            processor.shutdown()


def test_exporter_that_returns_false_is_counted() -> None:
    class Refusing(ListExporter):
        def export(self, spans: Sequence[rt.Span]) -> bool:
            return False

    processor = rt.SimpleSpanProcessor(Refusing())
    rt.configure(processor=processor)
    with rt.span("x"):
        pass
    assert processor.export_errors == 1
    assert "Refusing" in repr(processor)


def test_exporter_that_raises_is_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Raising(ListExporter):
        def export(self, spans: Sequence[rt.Span]) -> bool:
            raise ConnectionError("down")

    processor = rt.SimpleSpanProcessor(Raising())
    rt.configure(processor=processor)
    for _ in range(3):
        with rt.span("x"):
            pass
    assert processor.export_errors == 3
    assert len([r for r in caplog.records if "Raising" in r.getMessage()]) == 1


def test_configure_replaces_and_shuts_down_the_old_pipeline() -> None:
    first, second = ListExporter(), ListExporter()
    rt.configure(exporter=first)
    rt.configure(exporter=second)
    assert first.shut and not second.shut
    with rt.span("x"):
        pass
    assert first.spans == [] and len(second.spans) == 1


def test_configure_keeps_a_processor_passed_again() -> None:
    exporter = ListExporter()
    processor = rt.SimpleSpanProcessor(exporter)
    rt.configure(processor=processor)
    rt.configure(processor=processor, sampler="always_on")
    assert not exporter.shut


def test_configure_sampler_callable_and_propagators() -> None:
    memory = rt.InMemorySpanExporter()
    rt.configure(exporter=memory, sampler=lambda parent, trace_id: False, propagators=["b3"])
    with rt.span("x"):
        carrier: dict[str, str] = {}
        rt.inject(carrier)
    assert memory.get_finished_spans() == ()
    assert list(carrier) == ["b3"] and carrier["b3"].endswith("-0")


def test_in_memory_exporter_survives_shutdown() -> None:
    memory = rt.InMemorySpanExporter()
    rt.configure(exporter=memory)
    rt.configure(exporter=memory)  # the first processor shut down; the exporter keeps working
    with rt.span("x"):
        pass
    assert len(memory.get_finished_spans()) == 1
    memory.clear()
    assert memory.get_finished_spans() == ()


# -- resource --------------------------------------------------------------------------------------


def test_resource_defaults() -> None:
    resource = rt.resource_attributes()
    assert resource["service.name"] == "unknown_service"
    assert resource["telemetry.sdk.language"] == "python"
    assert resource["telemetry.sdk.name"] == "codetrace"


def test_resource_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=ignored, deployment.environment = prod ,team=a%2Cb%3Dc,emoji=%F0%9F%90%8D",
    )
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout")
    rt.reset()
    resource = rt.resource_attributes()
    assert resource["service.name"] == "checkout"
    assert resource["deployment.environment"] == "prod"
    assert resource["team"] == "a,b=c"
    assert resource["emoji"] == "🐍"


def test_service_name_from_resource_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=billing")
    rt.reset()
    assert rt.resource_attributes()["service.name"] == "billing"


@pytest.mark.parametrize("raw", ["novalue", "=x", "a=1,broken", "a=%ff"])
def test_malformed_resource_attributes_are_discarded_whole(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, raw: str
) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", raw)
    rt.reset()
    resource = rt.resource_attributes()
    assert "a" not in resource and resource["service.name"] == "unknown_service"
    assert any("OTEL_RESOURCE_ATTRIBUTES" in r.getMessage() for r in caplog.records)


def test_resource_is_a_copy() -> None:
    rt.resource_attributes()["service.name"] = "changed"
    assert rt.resource_attributes()["service.name"] == "unknown_service"


def test_environment_is_not_read_at_import_for_exporters() -> None:
    assert os.environ.get("OTEL_TRACES_EXPORTER") is None
    assert _state.settings.pipeline is None  # after reset(), nothing until the first span


def test_jsonl_exporter_is_fork_safe(tmp_path: Path) -> None:
    import subprocess
    import sys
    import textwrap

    path = tmp_path / "spans.jsonl"
    code = textwrap.dedent(
        f"""
        import os
        import codetrace.runtime as rt
        exporter = rt.JsonLinesSpanExporter({str(path)!r})
        rt.configure(exporter=exporter)
        with rt.span("parent-before"):
            pass
        exporter._lock.acquire()  # as if another thread was writing at fork time
        pid = os.fork()
        if pid == 0:
            with rt.span("child"):
                pass
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        exporter._lock.release()
        with rt.span("parent-after"):
            pass
        print(status)
        """
    )
    root = Path(rt.__file__).parents[2]
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=root,
        check=True,
    )
    assert result.stdout.strip() == "0"
    names = [record["name"] for record in read_json_lines(path)]
    assert sorted(names) == ["child", "parent-after", "parent-before"]
