"""A fork never hangs or aborts the child, whatever the pipeline was doing at that instant.

Real processes: each case runs ``fork_scenario.py`` in a fresh interpreter, which traces on
several threads, forks (``os.fork()`` or a ``multiprocessing`` fork-context child) at a chosen
moment, and lets both sides go on; the spans go to a real sink (a JSON-lines file, a console
stream in a file, a real OTLP/HTTP collector on 127.0.0.1, the OpenTelemetry SDK). Every case
asks the same things: the child finished in bounded time (it is killed by pid otherwise), each
span made by either process was exported exactly once (the parent's queued spans are not
exported again by the child, the child's are exported by the child itself), trace ids differ
between the processes, and the export thread never imported a module (a module import lock
held by a thread that does not exist in the child deadlocks the child's next import of it).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from codetrace.runtime._otlp._json_records import span_records

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
    # Python 3.12+ warns when a process with threads forks; forking one is the point here.
    pytest.mark.filterwarnings("ignore:.*fork:DeprecationWarning"),
]

SCENARIO = Path(__file__).with_name("fork_scenario.py")
ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 60.0


@dataclass
class Exported:
    name: str
    trace_id: str
    pid: int | None


class Collector:
    """An OTLP/HTTP (JSON) collector on 127.0.0.1 that answers each request after ``delay_s``."""

    def __init__(self, delay_s: float) -> None:
        self.spans: list[Exported] = []
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(delay_s)
                collector.spans.extend(otlp_spans(json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def otlp_spans(request: dict[str, Any]) -> Iterator[Exported]:
    for resource_spans in request["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                attributes = {a["key"]: a["value"] for a in span.get("attributes", [])}
                pid = attributes.get("pid", {}).get("intValue")
                yield Exported(span["name"], span["traceId"], int(pid) if pid else None)


def file_spans(path: Path, kind: str) -> list[Exported]:
    """The spans in a JSON-lines or console sink; a line that is not whole fails.

    Every span of the scenario is a root, so the console prints each on one line
    (``codetrace: DURATION  NAME  KIND  pid=N  trace=... span=...``); a JSON line is an OTLP
    request with one span or, from a batch processor, several.
    """
    if not path.exists():
        return []
    spans = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if kind == "console":
                words = line.split()
                fields = dict(word.split("=", 1) for word in words if "=" in word)
                assert words[0] == "codetrace:"
                spans.append(Exported(words[2], fields["trace"], int(fields["pid"])))
            else:
                records = span_records(json.loads(line))
                assert records
                for record in records:
                    pid = record["attributes"].get("pid")
                    spans.append(Exported(record["name"], record["trace_id"], pid))
        except (AssertionError, ValueError, KeyError, IndexError, TypeError, AttributeError):
            pytest.fail(f"a broken line in the sink (written twice, or half): {line!r}")
    return spans


@dataclass
class Config:
    sink: str  # "jsonl", "console", "otlp" or "none" (nothing can be delivered)
    env: dict[str, str]
    collector_delay_s: float | None = None  # an OTLP collector, answering after this delay
    refused: bool = False  # an OTLP endpoint where nothing listens


OTLP_ENV = {
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json",
    "OTEL_BSP_SCHEDULE_DELAY": "20",
}

CONFIGS = {
    "simple-jsonl": Config("jsonl", {}),
    "simple-console": Config("console", {}),
    "batch-jsonl": Config("jsonl", {}),
    "batch-slow": Config("jsonl", {}),
    "otlp-ok": Config("otlp", OTLP_ENV, collector_delay_s=0.0),
    "otlp-slow": Config("otlp", OTLP_ENV, collector_delay_s=0.15),
    "otlp-refused": Config(
        "none", {**OTLP_ENV, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "300"}, refused=True
    ),
    "bridge": Config("jsonl", {"CODETRACE_BACKEND": "otel"}),
    "env-slow-factory": Config("jsonl", {"OTEL_TRACES_EXPORTER": "slow-factory"}),
}
BATCH_CONFIGS = ["batch-jsonl", "batch-slow", "otlp-ok", "otlp-slow", "otlp-refused"]


def refused_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/traces"


def kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def run_scenario(config_name: str, moment: str, via: str, out: Path) -> list[Exported]:
    """Run one scenario; the spans that reached its sink."""
    if config_name == "bridge":
        pytest.importorskip("opentelemetry.sdk.trace")
    config = CONFIGS[config_name]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "CODETRACE_"))}
    env.update(config.env)
    env.update(
        {
            "OTEL_BSP_MAX_QUEUE_SIZE": "100000",
            "CODETRACE_EXIT_TIMEOUT": "3000",
            "CODETRACE_JSONL_PATH": str(out / "spans.out"),
            "PYTHONPATH": str(ROOT),
        }
    )
    collector = None
    if config.collector_delay_s is not None:
        collector = Collector(config.collector_delay_s)
    if collector is not None:
        env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = collector.url
    elif config.refused:
        env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = refused_endpoint()
    command = [sys.executable, str(SCENARIO), config_name, moment, via, str(out)]
    with open(out / "stderr.txt", "w") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stderr, stderr=stderr)
    try:
        process.wait(RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        kill(process.pid)
        process.wait()
        pytest.fail("the forking process did not finish: deadlocked?")
    finally:
        if process.returncode is None:
            kill(process.pid)
            process.wait()
        child_pid = out / "child.pid"
        if child_pid.exists():  # the scenario reaps its child; this is the last resort
            kill(int(child_pid.read_text()))
        if collector is not None:
            collector.close()
    stderr_text = (out / "stderr.txt").read_text()
    assert process.returncode == 0, stderr_text
    if collector is not None:
        return collector.spans
    if config.sink in ("jsonl", "console"):
        return file_spans(out / "spans.out", config.sink)
    return []


def check(config_name: str, out: Path, spans: list[Exported]) -> None:
    parent = json.loads((out / "parent.json").read_text())
    assert parent["child_exit"] == 0, f"the child ended with {parent['child_exit']!r}"
    child = json.loads((out / "child.json").read_text())
    assert child["flushed"] and parent["flushed"]
    # A module import on the export thread can hold that module's lock at the fork.
    assert parent["worker_imports"] == []
    assert child["worker_imports"] == []

    if config_name in BATCH_CONFIGS:
        # The child's own processor handled the child's spans, once each, and nothing else
        # (the last span is exported at the child's exit, after the report).
        counted = "exported_spans" if CONFIGS[config_name].sink != "none" else "failed_spans"
        key = f"BatchSpanProcessor.{counted}"
        assert child["stats"][key] - child["stats_at_fork"][key] == len(child["made"]) - 1

    if CONFIGS[config_name].sink == "none":
        return
    expected = Counter(parent["made"] + child["made"])
    exported = Counter(span.name for span in spans)
    assert exported == expected, {
        "missing": sorted((expected - exported).elements())[:10],
        "extra or twice": sorted((exported - expected).elements())[:10],
    }
    for span in spans:
        if span.name.startswith("c"):
            assert span.pid == child["pid"], span
    trace_ids = Counter(span.trace_id for span in spans)
    assert trace_ids.most_common(1)[0][1] == 1  # every span is a root: ids never repeat


# -- the sweep ---------------------------------------------------------------------------------
# Every configuration is forked both ways; the default run keeps one case of each kind of
# trouble (a half-written line, a held queue lock, a stalled export, a retry wait, an import on
# the export thread, a pipeline being built, the end of a multiprocessing child), and CI's slow
# run (``-m slow``) covers the rest.

DEFAULT_RUN = {
    ("simple-jsonl", "os.fork"),
    ("simple-console", "os.fork"),
    ("batch-jsonl", "os.fork"),
    ("batch-slow", "os.fork"),
    ("batch-slow", "multiprocessing"),
    ("otlp-ok", "os.fork"),
    ("otlp-refused", "os.fork"),
    ("bridge", "multiprocessing"),
    ("batch-jsonl", "import"),
    ("otlp-ok", "import"),
}


def sweep(configs: list[str], ways: list[str]) -> list[Any]:
    return [
        pytest.param(
            config,
            way,
            id=f"{config}-{way}",
            marks=() if (config, way) in DEFAULT_RUN else pytest.mark.slow,
        )
        for config in configs
        for way in ways
    ]


@pytest.mark.parametrize(
    ("config_name", "via"),
    sweep([c for c in CONFIGS if c != "env-slow-factory"], ["os.fork", "multiprocessing"]),
)
def test_fork_while_exporting(config_name: str, via: str, tmp_path: Path) -> None:
    """Fork while the exporter is inside an export and the queue lock is held."""
    spans = run_scenario(config_name, "export", via, tmp_path)
    check(config_name, tmp_path, spans)


@pytest.mark.parametrize(("config_name", "moment"), sweep(BATCH_CONFIGS, ["import"]))
def test_fork_while_the_export_thread_imports(
    config_name: str, moment: str, tmp_path: Path
) -> None:
    """The export thread is inside an import at the fork (if it imports at all)."""
    spans = run_scenario(config_name, moment, "os.fork", tmp_path)
    check(config_name, tmp_path, spans)


def test_fork_while_another_thread_configures_the_runtime(tmp_path: Path) -> None:
    """An exporter factory is importing a module when the process forks."""
    spans = run_scenario("env-slow-factory", "configure", "os.fork", tmp_path)
    check("env-slow-factory", tmp_path, spans)


# -- the bound, and the registry ---------------------------------------------------------------


REAP = """
import os, time

def reap(pid):
    \"\"\"The child's exit code; killed by pid if it has not finished in 10 s.\"\"\"
    deadline = time.monotonic() + 10
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return "hung"
        time.sleep(0.01)
"""


def run_script(code: str) -> str:
    """Run ``code`` (after ``REAP``) in a fresh interpreter; its stdout."""
    result = subprocess.run(
        [sys.executable, "-c", REAP + code],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_stuck_export_delays_a_fork_by_the_bound_only() -> None:
    """A write that never ends (a full pipe nobody reads) must not block a fork for good."""
    out = run_script(
        """
import threading
import codetrace.runtime as rt
from codetrace.runtime._fork import FORK_WAIT_S

parent, release, inside = os.getpid(), threading.Event(), threading.Event()

class StuckStream:
    def write(self, text):
        if os.getpid() == parent and not release.is_set():
            inside.set()
            release.wait(30)
    def flush(self):
        pass

rt.configure(exporter=rt.ConsoleSpanExporter(StuckStream()))
writer = threading.Thread(target=lambda: rt.span("stuck").end())
writer.start()
inside.wait(5)
started = time.monotonic()
pid = os.fork()
if pid == 0:
    with rt.span("child"):  # the child's exporter has its own lock
        pass
    os._exit(0)
waited = time.monotonic() - started
release.set()
writer.join(5)
print(reap(pid), round(waited - FORK_WAIT_S, 2))
"""
    )
    code, late = out.split()
    assert code == "0"
    assert -0.05 <= float(late) < 1.0  # it waited for the stuck export as long as the bound


def test_two_threads_forking_at_once_give_back_what_each_took() -> None:
    """Each forking thread releases the locks it took, never another's."""
    out = run_script(
        """
import threading
import codetrace.runtime as rt

exporter = rt.JsonLinesSpanExporter(os.devnull)
rt.configure(exporter=exporter)
pids, start = [], threading.Barrier(4)

def fork() -> None:
    start.wait()
    pid = os.fork()
    if pid == 0:
        with rt.span("child"):
            pass
        os._exit(0)
    pids.append(pid)

threads = [threading.Thread(target=fork) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(10)
codes = [reap(pid) for pid in pids]
free = exporter._lock.acquire(timeout=1)  # every thread released what it took
print(codes, free)
"""
    )
    assert out.split() == ["[0,", "0,", "0,", "0]", "True"]


def test_the_fork_registry_forgets_dropped_exporters() -> None:
    """Registered objects are held weakly: exporters made by the thousand do not pile up."""
    import gc

    import codetrace.runtime as rt
    from codetrace.runtime import _fork

    before = len(_fork._registered)
    exporters = [rt.ConsoleSpanExporter() for _ in range(100)]
    assert len(_fork._registered) == before + 100
    del exporters
    gc.collect()
    assert len(_fork._registered) == before
