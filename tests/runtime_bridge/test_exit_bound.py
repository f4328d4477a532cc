"""Interpreter exit waits for the exporters at most ``CODETRACE_EXIT_TIMEOUT``, all together.

The collector here accepts connections (the kernel's backlog does) and never answers: the
worst case, since every export waits out its own timeout. Before the bound, exit took the
flush wait (5 s) plus the batch processor's shutdown bound (``OTEL_BSP_EXPORT_TIMEOUT``, 30 s
by default), capped by the exporter's own timeout (10 s): 10 to 35 s.
"""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from bridge_support import REPO, clean_env

import codetrace.runtime as rt
from codetrace.runtime import _state

SCRIPT = textwrap.dedent(
    """
    import codetrace.runtime as rt
    with rt.span("last-words"):
        pass
    print("done", flush=True)
    """
)


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An OTLP endpoint that accepts connections and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as server:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def exit_time(script: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=str(REPO),
        env=clean_env(**env),
    )
    return result, time.monotonic() - started


@pytest.mark.slow  # waits out the exit bound: with the slow tests, in CI
def test_a_hung_collector_holds_exit_for_the_bound_only(silent_endpoint: str) -> None:
    result, elapsed = exit_time(
        SCRIPT,
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=silent_endpoint,
        CODETRACE_EXIT_TIMEOUT="1000",
        # timeouts that would otherwise hold the exit for a minute
        OTEL_EXPORTER_OTLP_TIMEOUT="60000",
        OTEL_BSP_EXPORT_TIMEOUT="60000",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done\n"
    assert 1.0 <= elapsed < 2.0, elapsed  # it did wait for the flush, and no longer


@pytest.mark.slow  # waits out the exit bound: with the slow tests, in CI
def test_the_default_bound_is_three_seconds(silent_endpoint: str) -> None:
    result, elapsed = exit_time(
        SCRIPT, OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_ENDPOINT=silent_endpoint
    )
    assert result.returncode == 0, result.stderr
    assert 3.0 <= elapsed < 4.0, elapsed


@pytest.mark.slow  # waits out the exit bound: with the slow tests, in CI
def test_the_bound_covers_processors_whose_hook_runs_first(silent_endpoint: str) -> None:
    # The runtime's exit hook is registered by the first configure(); a batch processor made
    # later registers the batch module's hook after it, so that one runs first. Both share one
    # deadline.
    script = textwrap.dedent(
        f"""
        import codetrace.runtime as rt
        rt.configure(exporter=rt.InMemorySpanExporter())
        from codetrace.runtime._batch import BatchSpanProcessor
        from codetrace.runtime._otlp import OTLPSpanExporter
        processor = BatchSpanProcessor(
            OTLPSpanExporter(endpoint="{silent_endpoint}/v1/traces", timeout_s=60),
            export_timeout_ms=60_000,
        )
        rt.configure(processor=processor)
        with rt.span("last-words"):
            pass
        spare = BatchSpanProcessor(
            OTLPSpanExporter(endpoint="{silent_endpoint}/v1/traces", timeout_s=60),
            export_timeout_ms=60_000,
        )
        with rt.span("not-in-the-pipeline") as s:
            pass
        spare.on_end(s)  # a processor outside the pipeline, with a span to flush too
        print("done", flush=True)
        """
    )
    result, elapsed = exit_time(script, CODETRACE_EXIT_TIMEOUT="1000")
    assert result.returncode == 0, result.stderr
    assert 1.0 <= elapsed < 2.0, elapsed


def test_a_healthy_collector_gets_the_last_spans() -> None:
    received: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result, elapsed = exit_time(
            SCRIPT,
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{server.server_address[1]}",
            OTEL_EXPORTER_OTLP_PROTOCOL="http/json",
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    assert elapsed < 3.0
    assert len(received) == 1 and b"last-words" in received[0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, 3.0), ("", 3.0), ("1500", 1.5), ("0", 0.0), ("-1", 3.0), ("soon", 3.0), ("nan", 3.0)],
)
def test_exit_timeout_setting(
    monkeypatch: pytest.MonkeyPatch, raw: str | None, expected: float
) -> None:
    if raw is None:
        monkeypatch.delenv("CODETRACE_EXIT_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("CODETRACE_EXIT_TIMEOUT", raw)
    assert _state.exit_timeout_s() == expected
    rt.reset()  # forget the "invalid value" log, for the next case
