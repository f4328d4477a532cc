"""One fork scenario in a fresh interpreter, run by ``test_fork.py``.

    python fork_scenario.py CONFIG MOMENT VIA DIR

A fresh interpreter because what goes wrong across a fork depends on the process's history:
which modules are already imported, which threads run, which locks are held at that instant.
For the same reason this script imports little before the fork (no :mod:`json`, no
:mod:`pathlib`): what the runtime imports lazily must not be imported here first.

The parent configures the runtime as ``config`` says, makes spans on several threads and forks
(``os.fork()`` or a ``multiprocessing`` fork-context ``Process``) at ``moment``:

- ``export``: while the exporter is inside an export (held by a slow stream, a slow exporter, a
  slow or refusing collector, or a thread half-way through writing a record), and, with a
  batch processor, while another thread holds the processor's queue lock;
- ``import``: while the batch processor's export thread is inside an import (a meta path finder
  holds it there), or, if that thread imports nothing, after its first export;
- ``configure``: while another thread configures the runtime from ``OTEL_TRACES_EXPORTER`` and
  the exporter factory is importing a module.

Then it makes more spans, waits for the child (killing it by pid after ``CHILD_TIMEOUT_S``),
flushes and leaves. The child does what an application does: imports modules, makes spans on
several threads, flushes, makes a last span that only the exit flush exports, and leaves by
interpreter exit (``os.fork``) or as ``multiprocessing`` children do (``os._exit`` after its
finalizers). Each side writes a JSON report to ``DIR``; the spans go to the configured sink,
which the test reads. Nothing here returns into the test: it only sees files and exit codes.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import time
from typing import Any

CHILD_TIMEOUT_S = 10.0
STALL_S = 0.1  # how long a busy exporter stays busy after the fork is due
TRAFFIC_THREADS = 3
CHILD_THREADS = 2
CHILD_SPANS_PER_THREAD = 15
PARENT_SPANS_AFTER = 10
WORKER_THREAD = "codetrace-batch-export"
SLOW_MODULE = "fork_slow_module"


class ImportWatcher:
    """A meta path finder that sees every import of a module not yet loaded, and its thread.

    Python holds the module's import lock while finders run, so blocking here holds it the way
    a slow import would. Imports on the batch processor's export thread are recorded per
    process; with ``block`` the first of them in the parent waits until the fork is done.
    """

    def __init__(self, *, block: bool) -> None:
        self.parent_pid = os.getpid()
        self.block = block
        self.blocked = threading.Event()
        self.resume = threading.Event()
        self.blocked_name: str | None = None
        self.on_worker: dict[int, list[str]] = {}
        self.slow_import = threading.Event()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        pid = os.getpid()
        if threading.current_thread().name == WORKER_THREAD:
            self.on_worker.setdefault(pid, []).append(name)
            if self.block and pid == self.parent_pid and not self.blocked.is_set():
                self.blocked_name = name
                self.blocked.set()
                self.resume.wait(5)
        if name == SLOW_MODULE:
            self.slow_import.set()
        return None


class Scenario:
    def __init__(self, config: str, moment: str, via: str, out: str) -> None:
        self.config = config
        self.moment = moment
        self.via = via
        self.out = out
        self.sink = os.path.join(out, "spans.out")
        self.parent_pid = os.getpid()
        self.watcher = ImportWatcher(block=self.moment == "import")
        sys.meta_path.insert(0, self.watcher)
        self.forked = threading.Event()  # set in the parent once the child exists
        self.inside = threading.Event()  # the exporter is busy (see _make_busy)
        self.stop_traffic = threading.Event()
        self.made: list[str] = []  # names of the spans this process made
        self.processor: Any = None
        self.exporter: Any = None
        self.helpers: list[threading.Thread] = []

        import codetrace.runtime as rt

        self.rt = rt

    # -- configuration -------------------------------------------------------------------------

    def configure(self) -> None:
        rt = self.rt
        from codetrace.runtime import _setup
        from codetrace.runtime._batch import BatchSpanProcessor

        config = self.config
        if config == "simple-jsonl":
            self.exporter = rt.JsonLinesSpanExporter(self.sink)
            rt.configure(exporter=self.exporter)
        elif config == "simple-console":
            self.stream = SlowStream(open(self.sink, "a", encoding="utf-8"), self)  # noqa: SIM115
            self.exporter = rt.ConsoleSpanExporter(self.stream)
            rt.configure(exporter=self.exporter)
        elif config == "batch-jsonl":
            self.exporter = rt.JsonLinesSpanExporter(self.sink)
            self.processor = BatchSpanProcessor(self.exporter, schedule_delay_ms=20)
            rt.configure(processor=self.processor)
        elif config == "batch-slow":
            self.exporter = SlowExporter(rt.JsonLinesSpanExporter(self.sink), self)
            self.processor = BatchSpanProcessor(self.exporter, schedule_delay_ms=20)
            rt.configure(processor=self.processor)
        elif config.startswith("otlp-"):
            from codetrace.runtime._otlp import OTLPSpanExporter

            OTLPSpanExporter.initial_backoff_s = 0.05  # retries inside the short timeout
            # From the environment, as an application gets it (OTEL_TRACES_EXPORTER=otlp).
            self.processor = _setup.ensure_configured().processors[0]
            self.exporter = self.processor.exporter
            self.processor.exporter = Observed(self.exporter, self)
        elif config == "bridge":
            self.configure_bridge()
        elif config == "env-slow-factory":

            def factory() -> Any:
                importlib.import_module(SLOW_MODULE)  # a lazy import that takes a while
                self.exporter = rt.JsonLinesSpanExporter(self.sink)
                return self.exporter

            with open(os.path.join(self.out, f"{SLOW_MODULE}.py"), "w") as file:
                file.write("import time\ntime.sleep(0.3)\n")
            sys.path.insert(0, self.out)
            rt.register_exporter("slow-factory", factory)
        else:
            raise SystemExit(f"unknown config {config!r}")

    def configure_bridge(self) -> None:
        import json

        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

        scenario = self

        class FileExporter:
            """An SDK exporter writing OTLP JSON lines (the few fields the test reads); stalls
            once in the parent, like SlowExporter."""

            def __init__(self) -> None:
                self.stall = False

            def export(self, spans: Any) -> Any:
                if self.stall and os.getpid() == scenario.parent_pid:
                    self.stall = False
                    scenario.inside.set()
                    scenario.forked.wait(3)
                lines = []
                for span in spans:
                    attributes = [
                        {"key": key, "value": {"intValue": str(value)}}
                        for key, value in span.attributes.items()
                    ]
                    otlp_span = {
                        "traceId": format(span.context.trace_id, "032x"),
                        "spanId": format(span.context.span_id, "016x"),
                        "name": span.name,
                        "attributes": attributes,
                    }
                    record = {"resourceSpans": [{"scopeSpans": [{"spans": [otlp_span]}]}]}
                    lines.append(json.dumps(record) + "\n")
                with open(scenario.sink, "a", encoding="utf-8") as file:
                    file.write("".join(lines))
                return SpanExportResult.SUCCESS

            def shutdown(self) -> None:
                pass

            def force_flush(self, timeout_millis: int = 30000) -> bool:
                return True

        self.exporter = FileExporter()
        provider = TracerProvider()
        provider.add_span_processor(BatchSpanProcessor(self.exporter, schedule_delay_millis=20))
        trace.set_tracer_provider(provider)
        self.rt.configure(backend="otel")

    # -- the fork moment -----------------------------------------------------------------------

    def make_busy(self) -> None:
        """Return once the exporter is busy the way ``config`` is busy at the fork."""
        config = self.config
        if self.moment == "import":
            self.wait_for(lambda: self.watcher.blocked.is_set() or self.exports_done() > 0)
            return
        if self.moment == "configure":
            self.wait_for(self.watcher.slow_import.is_set)
            return
        if config in ("simple-jsonl", "batch-jsonl"):
            # A thread inside the exporter's critical section, half a record written to the
            # file object and not yet flushed: what an export looks like at any instant.
            self.wait_for(lambda: self.exporter._file is not None)
            self.start_helper(self.half_write_record)
        elif config == "simple-console":
            self.stream.stall = True
        elif config in ("batch-slow", "bridge"):
            self.exporter.stall = True
        if config.startswith("otlp-"):
            self.wait_for(self.inside.is_set)
            time.sleep(0.05)  # in the HTTP exchange (slow), or in the retry wait (refused)
        else:
            self.wait_for(self.inside.is_set)
        if self.processor is not None:
            self.start_helper(self.hold_queue_lock)

    def half_write_record(self) -> None:
        trace_id = format(1, "032x")
        span = (
            f'{{"traceId":"{trace_id}","spanId":"{1:016x}","name":"p-stall","kind":1,'
            f'"attributes":[{{"key":"pid","value":{{"intValue":"{os.getpid()}"}}}}]}}'
        )
        record = f'{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{span}]}}]}}]}}'
        self.made.append("p-stall")
        with self.exporter._lock:
            self.exporter._file.write(record[:20])
            self.inside.set()
            time.sleep(STALL_S)
            self.exporter._file.write(record[20:] + "\n")
            self.exporter._file.flush()

    def hold_queue_lock(self) -> None:
        holding = threading.Event()

        def hold() -> None:
            with self.processor._lock:
                holding.set()
                self.forked.wait(5)

        thread = threading.Thread(target=hold, name="hold-queue-lock")
        self.helpers.append(thread)
        thread.start()
        holding.wait(5)

    def start_helper(self, target: Any) -> None:
        thread = threading.Thread(target=target, name=target.__name__)
        self.helpers.append(thread)
        thread.start()

    def exports_done(self) -> int:
        processor = self.processor
        if processor is None:
            return 0
        return int(processor.exported_spans + processor.failed_spans)

    @staticmethod
    def wait_for(condition: Any, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.002)

    # -- spans -----------------------------------------------------------------------------------

    def make_span(self, name: str) -> None:
        with self.rt.span(name, attributes={"pid": os.getpid()}):
            pass
        self.made.append(name)

    def traffic(self, index: int) -> None:
        for number in range(5000):
            if self.stop_traffic.is_set():
                return
            self.make_span(f"p{index}-{number}")
            time.sleep(0.002)

    def stats(self) -> dict[str, int]:
        """The processor's counters (a batch processor's), and the exporter's if it has any."""
        counters = {}
        for owner, names in (
            (self.processor, ("exported_spans", "failed_spans", "dropped_spans")),
            (self.exporter, ("exported_spans", "dropped_spans", "write_errors", "export_errors")),
        ):
            for name in names:
                if owner is not None and hasattr(owner, name):
                    counters[f"{type(owner).__name__}.{name}"] = int(getattr(owner, name))
        return counters

    def report(self, name: str, report: dict[str, Any]) -> None:
        import json

        with open(os.path.join(self.out, name), "w") as file:
            json.dump(report, file)

    # -- the two sides ---------------------------------------------------------------------------

    def run(self) -> None:
        self.configure()
        threads = [
            threading.Thread(target=self.traffic, args=(i,), name=f"traffic-{i}")
            for i in range(TRAFFIC_THREADS)
        ]
        for thread in threads:
            thread.start()
        if self.moment != "configure":
            self.wait_for(lambda: len(self.made) >= 10)
        self.make_busy()
        child_pid, wait_child = self.fork()
        # parent
        self.forked.set()
        self.watcher.resume.set()
        self.stop_traffic.set()
        for thread in threads + self.helpers:
            thread.join(10)
        for number in range(PARENT_SPANS_AFTER):
            self.make_span(f"pa-{number}")
        started = time.monotonic()
        code = wait_child()
        report = {
            "pid": os.getpid(),
            "child_pid": child_pid,
            "child_exit": code,
            "child_seconds": time.monotonic() - started,
            "flushed": self.rt.force_flush(10),
            "made": self.made,
            "stats": self.stats(),
            "worker_imports": self.watcher.on_worker.get(os.getpid(), []),
            "blocked_import": self.watcher.blocked_name,
        }
        self.report("parent.json", report)

    def fork(self) -> tuple[int, Any]:
        if self.via == "multiprocessing":
            import multiprocessing

            process = multiprocessing.get_context("fork").Process(target=self.child)
            process.start()
            pid = process.pid
            assert pid is not None

            def wait_mp() -> Any:
                process.join(CHILD_TIMEOUT_S)
                if process.exitcode is None:
                    os.kill(pid, 9)
                    process.join(5)
                    return "hung"
                return process.exitcode

            return pid, wait_mp
        pid = os.fork()
        if pid == 0:
            try:
                self.child()
            except BaseException:
                os._exit(70)
            sys.exit(0)  # interpreter exit: atexit hooks run, as in a pre-fork server worker

        def wait_fork() -> Any:
            deadline = time.monotonic() + CHILD_TIMEOUT_S
            while time.monotonic() < deadline:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    return os.waitstatus_to_exitcode(status)
                time.sleep(0.005)
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return "hung"

        return pid, wait_fork

    def child(self) -> None:
        started = time.monotonic()
        pid = os.getpid()
        with open(os.path.join(self.out, "child.pid"), "w") as file:
            file.write(str(pid))
        self.made = []
        before = self.stats()
        # What an application imports, and the module the parent's export thread was importing
        # at the fork (if any): its import lock stayed with a thread the child does not have.
        names = ["logging", "json"]
        if self.watcher.blocked_name:
            names.append(self.watcher.blocked_name)
        for name in names:
            importlib.import_module(name)
        threads = [
            threading.Thread(target=self.child_traffic, args=(i,)) for i in range(CHILD_THREADS)
        ]
        for thread in threads:
            thread.start()
        self.child_traffic(CHILD_THREADS)
        for thread in threads:
            thread.join()
        flushed = self.rt.force_flush(5)
        report = {
            "pid": pid,
            "flushed": flushed,
            "made": [*self.made, "c-exit"],
            "stats_at_fork": before,
            "stats": self.stats(),
            "worker_imports": self.watcher.on_worker.get(pid, []),
            "seconds": time.monotonic() - started,
        }
        self.report("child.json", report)
        self.make_span("c-exit")  # exported by the flush at the end of the process

    def child_traffic(self, index: int) -> None:
        for number in range(CHILD_SPANS_PER_THREAD):
            self.make_span(f"c{index}-{number}")


class SlowStream:
    """A stream that stalls once, in the middle of a write (a slow terminal or pipe)."""

    def __init__(self, file: Any, scenario: Scenario) -> None:
        self.file = file
        self.scenario = scenario
        self.stall = False

    def write(self, text: str) -> int:
        if self.stall and os.getpid() == self.scenario.parent_pid:
            self.stall = False
            half = len(text) // 2
            self.file.write(text[:half])
            self.scenario.inside.set()
            time.sleep(STALL_S)
            self.file.write(text[half:])
            return len(text)
        return int(self.file.write(text))

    def flush(self) -> None:
        self.file.flush()


class SlowExporter:
    """An exporter that blocks once inside ``export`` in the parent, until the fork is done."""

    def __init__(self, inner: Any, scenario: Scenario) -> None:
        self.inner = inner
        self.scenario = scenario
        self.stall = False

    def export(self, spans: Any) -> bool:
        if self.stall and os.getpid() == self.scenario.parent_pid:
            self.stall = False
            self.scenario.inside.set()
            self.scenario.forked.wait(5)
        return bool(self.inner.export(spans))

    def shutdown(self) -> None:
        self.inner.shutdown()


class Observed:
    """Tells the scenario when the real exporter it wraps starts an export."""

    def __init__(self, inner: Any, scenario: Scenario) -> None:
        self.inner = inner
        self.scenario = scenario

    def export(self, spans: Any) -> bool:
        self.scenario.inside.set()
        return bool(self.inner.export(spans))

    def shutdown(self) -> None:
        self.inner.shutdown()


if __name__ == "__main__":
    Scenario(*sys.argv[1:5]).run()
