"""When spans cannot be delivered, one clear line says so: per kind of failure, and at exit.

A collector that is down for a day must not fill the application's log, and a short-lived
process whose collector is down must not lose its spans without a word, nor wait for it, nor
print a traceback, nor change its exit code. Real interpreters, real sockets on 127.0.0.1: a
closed port (connection refused) and the scripted collector of ``conftest`` (503, 400).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from codetrace.runtime._batch import BatchSpanProcessor
from codetrace.runtime._otlp import OTLPSpanExporter

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys

    import codetrace.runtime as rt

    for i in range(5):
        with rt.span(f"work-{i}"):
            pass
    print("done", flush=True)
    sys.exit(3)
    """
)


def run(**env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "CODETRACE_"))}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=str(REPO),
        env={**clean, **env},
    )
    return result, time.monotonic() - started


def test_collector_down_at_exit_one_line_no_wait(dead_endpoint: str) -> None:
    # The default exit bound is 3 s; a refused connection is not worth waiting for at exit.
    result, elapsed = run(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=dead_endpoint)
    assert result.returncode == 3  # the application's own exit code
    assert result.stdout == "done\n"
    assert result.stderr == (
        f"codetrace: 5 spans not exported at exit: {dead_endpoint}: connection refused\n"
    )
    assert elapsed < 2.0


def test_collector_answering_503_at_exit(collector: Any) -> None:
    collector.script.extend([(503, {})] * 20)
    result, elapsed = run(
        OTEL_EXPORTER_OTLP_ENDPOINT=collector.base_url, CODETRACE_EXIT_TIMEOUT="1000"
    )
    assert result.returncode == 3
    assert result.stderr == (
        f"codetrace: 5 spans not exported at exit: {collector.traces_url}: "
        "HTTP 503 Service Unavailable (exit timeout of 1 s reached)\n"
    )
    assert len(collector.requests) >= 1  # it did try (503 is retried, within the bound)
    assert elapsed < 2.5  # bound (1 s) + interpreter start-up


def test_collector_answering_400_at_exit(collector: Any) -> None:
    collector.script.extend([(400, {})] * 5)
    result, elapsed = run(OTEL_EXPORTER_OTLP_ENDPOINT=collector.base_url)
    assert result.returncode == 3
    assert result.stderr == (
        f"codetrace: 5 spans not exported at exit: {collector.traces_url}: HTTP 400 Bad Request\n"
    )
    assert len(collector.requests) == 1  # a 400 is final: not sent again
    assert elapsed < 2.0


def test_healthy_collector_at_exit_says_nothing(collector: Any) -> None:
    result, _ = run(OTEL_EXPORTER_OTLP_ENDPOINT=collector.base_url)
    assert result.returncode == 3
    assert result.stderr == ""
    assert len(collector.requests) == 1


def test_a_running_process_logs_each_kind_of_failure_once(
    collector: Any, span_cls: Any, caplog: Any
) -> None:
    collector.script.extend([(400, {}), (400, {}), (503, {}), (400, {}), (503, {})])
    exporter = OTLPSpanExporter(endpoint=collector.traces_url, timeout_s=0.3)
    with caplog.at_level(logging.DEBUG, logger="codetrace.runtime"):
        results = [exporter.export([span_cls(span_id=i + 1)] * (i + 1)) for i in range(5)]
        assert exporter.export([span_cls()]) is True  # the collector is back
    assert results == [False] * 5
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"codetrace: could not export 1 span to {collector.traces_url}: HTTP 400 Bad Request"
        " (will keep trying; further failures of this kind are counted, not logged)",
        f"codetrace: could not export 3 spans to {collector.traces_url}:"
        " HTTP 503 Service Unavailable"
        " (will keep trying; further failures of this kind are counted, not logged)",
    ]
    assert all(r.exc_info is None for r in caplog.records)  # never a traceback
    assert exporter.dropped_spans == 1 + 2 + 3 + 4 + 5
    assert exporter.failed_exports == 5


def test_batch_processor_in_a_running_process_logs_once(
    dead_endpoint: str, span_cls: Any, caplog: Any
) -> None:
    exporter = OTLPSpanExporter(endpoint=dead_endpoint, timeout_s=0.2)
    processor = BatchSpanProcessor(exporter, schedule_delay_ms=60_000, max_export_batch_size=4)
    try:
        with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
            for round_ in range(3):
                for i in range(4):
                    processor.on_end(span_cls(span_id=round_ * 4 + i + 1))
                assert processor.force_flush(5)
        assert processor.failed_spans == 12
        (line,) = [r.getMessage() for r in caplog.records]
        assert line == (
            f"codetrace: could not export 4 spans to {dead_endpoint}: connection refused"
            " (will keep trying; further failures of this kind are counted, not logged)"
        )
    finally:
        processor.shutdown(timeout_s=1)


def test_a_full_queue_is_said_once(span_cls: Any, caplog: Any) -> None:
    class Stuck:
        def export(self, spans: Any) -> bool:
            time.sleep(0.2)
            return True

        def shutdown(self) -> None:
            pass

    processor = BatchSpanProcessor(Stuck(), max_queue_size=2, schedule_delay_ms=60_000)  # type: ignore[arg-type]
    try:
        with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
            for i in range(10):
                processor.on_end(span_cls(span_id=i + 1))
        assert 6 <= processor.dropped_spans <= 8  # 2 queued, up to 2 taken by the worker
        (line,) = [r.getMessage() for r in caplog.records]
        assert line == (
            "codetrace: the span queue is full (2 spans, OTEL_BSP_MAX_QUEUE_SIZE): new spans are"
            " dropped until the exporter catches up (counted, not logged)"
        )
    finally:
        processor.shutdown(timeout_s=1)
