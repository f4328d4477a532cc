"""Helpers for the OpenTelemetry bridge tests: each scenario runs in a fresh interpreter.

OpenTelemetry lets a process install its global ``TracerProvider`` once, and the runtime decides
its backend once per configuration, so every scenario is a script run with ``python -W error``
in a subprocess: :data:`SDK_SETUP` installs an SDK provider with the SDK's
``InMemorySpanExporter`` behind a ``SimpleSpanProcessor`` and defines ``dump()``, which prints
the finished spans as JSON (hex ids, kind and status by name, attributes, events). The
environment is cleaned of ``OTEL_*`` and ``CODETRACE_*`` variables unless a test sets them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

SDK_SETUP = """
import json
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

memory = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("handwritten")


def dump():
    spans = []
    for s in memory.get_finished_spans():
        spans.append({
            "name": s.name,
            "trace_id": format(s.context.trace_id, "032x"),
            "span_id": format(s.context.span_id, "016x"),
            "parent_id": format(s.parent.span_id, "016x") if s.parent else None,
            "parent_remote": bool(s.parent.is_remote) if s.parent else None,
            "kind": s.kind.name,
            "attributes": dict(s.attributes),
            "status": s.status.status_code.name,
            "description": s.status.description,
            "events": [{"name": e.name, "attributes": dict(e.attributes)} for e in s.events],
            "scope": s.instrumentation_scope.name,
            "start": s.start_time,
            "end": s.end_time,
        })
    print(json.dumps(spans))
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OTEL_", "CODETRACE_")) and not name.lower().endswith("_proxy")
    }
    env.update(extra)
    return env


def run_script(
    code: str, *, setup: bool = True, prelude: str = "", timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` (dedented) in a fresh interpreter, after :data:`SDK_SETUP` (if ``setup``)
    and ``prelude`` (module-level code)."""
    source = (SDK_SETUP if setup else "") + prelude + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", source],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(REPO),
        env=clean_env(**env),
    )


def spans_of(code: str, **env: str) -> list[dict[str, Any]]:
    """Run ``code`` (which must end with ``dump()``) and return the SDK's finished spans.

    The script must succeed without a word on stderr (no warnings, no logged errors).
    """
    result = run_script(code, **env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    spans: list[dict[str, Any]] = json.loads(result.stdout.strip().splitlines()[-1])
    return spans


def by_name(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    named = {span["name"]: span for span in spans}
    assert len(named) == len(spans), [span["name"] for span in spans]
    return named
