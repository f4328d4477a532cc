"""Where spans go by default: OTLP when an endpoint is configured, nowhere (at no cost) otherwise.

The specification's default for ``OTEL_TRACES_EXPORTER`` is ``otlp``; codetrace's is "``otlp``
if an OTLP endpoint is configured, else nothing", because instrumented code also runs in
developers' unit tests, where a default exporter would try to reach ``localhost:4318`` and hold
every test process's exit. These tests run real short-lived interpreters against a real
collector on 127.0.0.1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto")

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from codetrace.runtime import _setup
from codetrace.runtime._batch import BatchSpanProcessor
from codetrace.runtime._otlp import OTLPSpanExporter

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys
    import threading

    import codetrace.runtime as rt

    for name in ("first", "second"):
        with rt.span(name):
            pass
    modules = ("codetrace.runtime._batch", "codetrace.runtime._otlp")
    loaded = [m for m in modules if m in sys.modules]
    print("loaded", loaded, "threads", threading.active_count(), flush=True)
    """
)


def run(script: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "CODETRACE_"))}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=str(REPO),
        env={**clean, **env},
    )
    return result, time.monotonic() - started


def received(collector: Any) -> list[str]:
    names = []
    for request in collector.requests:
        message = ExportTraceServiceRequest()
        message.ParseFromString(request.payload)
        for resource_spans in message.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                names.extend(span.name for span in scope_spans.spans)
    return names


@pytest.mark.parametrize(
    "variable", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
)
def test_an_endpoint_alone_turns_otlp_export_on(collector: Any, variable: str) -> None:
    url = collector.base_url if variable == "OTEL_EXPORTER_OTLP_ENDPOINT" else collector.traces_url
    result, elapsed = run(SCRIPT, **{variable: url})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "codetrace.runtime._batch" in result.stdout
    assert sorted(received(collector)) == ["first", "second"]
    assert [r.path for r in collector.requests] == ["/v1/traces"]
    assert elapsed < 5.0


def test_nothing_configured_builds_nothing_and_costs_nothing_at_exit() -> None:
    result, elapsed = run(SCRIPT)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    # no exporter module, no batch processor, no thread: nothing to connect or wait for at exit
    assert result.stdout == "loaded [] threads 1\n"
    assert elapsed < 2.0


def test_exporter_none_wins_over_an_endpoint(collector: Any) -> None:
    result, _ = run(
        SCRIPT, OTEL_TRACES_EXPORTER="none", OTEL_EXPORTER_OTLP_ENDPOINT=collector.base_url
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "loaded [] threads 1\n"
    assert collector.requests == []


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, []),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "   "}, []),  # blank counts as unset
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:9/v1/traces"}, ["otlp"]),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_TRACES_EXPORTER": "none"}, []),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_TRACES_EXPORTER": " "},
            ["otlp"],
        ),
        # other OTLP settings alone do not turn export on: an endpoint says where to send
        ({"OTEL_EXPORTER_OTLP_HEADERS": "a=b", "OTEL_EXPORTER_OTLP_TIMEOUT": "100"}, []),
    ],
)
def test_which_processors_the_environment_builds(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: list[str]
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    processors = _setup.processors_from_env()
    try:
        kinds = [
            "otlp"
            for p in processors
            if isinstance(p, BatchSpanProcessor) and isinstance(p.exporter, OTLPSpanExporter)
        ]
        assert kinds == expected
        assert len(processors) == len(expected)
    finally:
        for processor in processors:
            processor.shutdown()
