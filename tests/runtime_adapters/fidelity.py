"""The two runs of a fidelity test: one program under OpenTelemetry's instrumentation, and after
``codetrace apply --out``, each in a fresh interpreter, with their spans read back as flat records.

Each side gets its own process so that neither instrumentation sees the other's patches, and
neither inherits the developer's ``OTEL_*`` variables (an exporter or sampler set in the shell
would change what is recorded). OpenTelemetry's side is instrumented before the program is
imported, its best case, with ``OTEL_SEMCONV_STABILITY_OPT_IN=database`` (``stability``
picks another: ``http`` for the HTTP conventions); codetrace's side writes its JSON-lines
export. The records of both sides have the keys the tests compare: ``name``, ``kind``,
``attributes``, ``status.code``, ``events`` (OpenTelemetry's: the events' names; codetrace's:
``read_json_lines``'s event records, whose ``name`` the tests compare), and ``trace_id``,
``span_id``, ``parent_span_id`` (hex, ``None`` for a root) for the tests that follow a trace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from codetrace.cli import app
from codetrace.runtime._otlp._json_records import read_json_lines

__all__ = [
    "codetrace_spans", "instrumented_copy", "otel_script", "otel_spans", "run_both", "run_python",
    "run_under_codetrace", "run_under_opentelemetry",
]

_SCRIPT = """
import json, runpy, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
{instrumentor_import}

memory = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(provider)
{instrument_call}
program, *arguments, out = sys.argv[1:]
sys.argv = [program, *arguments]
runpy.run_path(program, run_name="__main__")
with open(out, "w") as file:
    for span in memory.get_finished_spans():
        file.write(json.dumps({{
            "name": span.name, "kind": span.kind.name, "attributes": dict(span.attributes),
            "status": {{"code": span.status.status_code.name}},
            "events": [event.name for event in span.events],
            "trace_id": format(span.context.trace_id, "032x"),
            "span_id": format(span.context.span_id, "016x"),
            "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        }}) + "\\n")
"""


def otel_script(instrumentor_import: str, instrument_call: str) -> str:
    """A ``python -c`` script: OpenTelemetry's SDK with an in-memory exporter, the instrumentation
    (``instrumentor_import`` then ``instrument_call``, each one or more lines), then the program.

    Its arguments are ``PROGRAM [ARGUMENT ...] OUT``: the program runs as ``__main__`` with the
    arguments, and the finished spans are written to ``OUT``, one JSON object a line.
    """
    return _SCRIPT.format(instrumentor_import=instrumentor_import, instrument_call=instrument_call)


def run_python(
    args: list[str], env: Mapping[str, str], *, warnings_are_errors: bool = True
) -> str:
    """``python ARGS`` in a fresh interpreter, without the caller's ``OTEL_*`` variables and with
    ``env`` added; its standard output (a failed run fails the test with its standard error)."""
    options = ["-W", "error"] if warnings_are_errors else []
    result = subprocess.run(
        [sys.executable, *options, *args], capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def instrumented_copy(program_dir: Path, out: Path) -> Path:
    """``codetrace apply --out OUT PROGRAM_DIR`` (no cache: each run applies afresh); ``out``."""
    result = CliRunner().invoke(app, ["apply", "--out", str(out), "--no-cache", str(program_dir)])
    assert result.exit_code == 0, result.stderr
    return out


def run_under_opentelemetry(
    script: str, program: Path, args: list[str], spans: Path, *, warnings_are_errors: bool = True,
    stability: str = "database", env: Mapping[str, str] | None = None,
) -> str:
    """The original ``program`` under ``script`` (``otel_script``), its spans written to
    ``spans``, with the stable attributes of the ``stability`` conventions (the value of
    ``OTEL_SEMCONV_STABILITY_OPT_IN``) and ``env`` added; the program's output."""
    return run_python(
        ["-c", script, str(program), *args, str(spans)],
        {**(env or {}), "OTEL_SEMCONV_STABILITY_OPT_IN": stability},
        warnings_are_errors=warnings_are_errors,
    )


def run_under_codetrace(
    program: Path, args: list[str], spans: Path, *, warnings_are_errors: bool = True,
    env: Mapping[str, str] | None = None,
) -> str:
    """The instrumented ``program``, exporting to the JSON-lines file ``spans``, with ``env``
    added; its output."""
    return run_python(
        [str(program), *args],
        {**(env or {}), "OTEL_TRACES_EXPORTER": "jsonl", "CODETRACE_JSONL_PATH": str(spans)},
        warnings_are_errors=warnings_are_errors,
    )


def otel_spans(path: Path) -> list[dict[str, Any]]:
    """The spans ``otel_script`` wrote, in the order they finished."""
    return [json.loads(line) for line in path.read_text().splitlines()]


def codetrace_spans(path: Path) -> list[dict[str, Any]]:
    """codetrace's JSON-lines export (OTLP JSON requests, one a line) as flat span records."""
    return read_json_lines(path)


def run_both(
    script: str, program: Path, instrumented: Path, args: list[str], spans_dir: Path, *,
    warnings_are_errors: bool = True, before_each: Callable[[], object] = lambda: None,
    stability: str = "database", env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``program`` under ``script`` (with the ``stability`` conventions), then its instrumented
    copy ``instrumented``, with the same ``args`` and ``env`` (``OTEL_PYTHON_EXCLUDED_URLS``,
    say: both sides read it), each after ``before_each()`` (a server's state reset, say); spans
    go to ``spans_dir`` as ``{stem}.otel.jsonl`` and ``{stem}.ours.jsonl``.

    Returns what the tests compare: ``source`` (the instrumented copy's text), ``outputs``
    (OpenTelemetry's run's standard output, then codetrace's), ``otel`` and ``ours`` (the spans).
    """
    otel_file = spans_dir / f"{program.stem}.otel.jsonl"
    ours_file = spans_dir / f"{program.stem}.ours.jsonl"
    before_each()
    otel_output = run_under_opentelemetry(
        script, program, args, otel_file, warnings_are_errors=warnings_are_errors,
        stability=stability, env=env,
    )
    before_each()
    ours_output = run_under_codetrace(
        instrumented, args, ours_file, warnings_are_errors=warnings_are_errors, env=env
    )
    return {
        "source": instrumented.read_text(),
        "outputs": (otel_output, ours_output),
        "otel": otel_spans(otel_file),
        "ours": codetrace_spans(ours_file),
    }
