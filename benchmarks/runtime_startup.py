"""Start-up cost: ``import codetrace.runtime`` vs bare Python vs OpenTelemetry's launcher.

    .venv/bin/python benchmarks/runtime_startup.py              # 25 runs of each command
    .venv/bin/python benchmarks/runtime_startup.py --runs 40

Commands, each run as a fresh process (wall-clock time of ``subprocess.run``, interleaved: one
run of each command per round, so drift hits them alike):

* ``python -c pass``: the interpreter alone (with this venv's ``site``);
* ``python -c "import codetrace.runtime"``: what an instrumented program pays before its code;
* ``python -c "import codetrace.runtime as rt; rt.span('x').end()"``: plus the first span (the
  runtime configures itself on first use: ``OTEL_TRACES_EXPORTER=none``, the default);
* ``opentelemetry-instrument python -c pass``: the zero-code auto-instrumentation launcher, with
  ``OTEL_{TRACES,METRICS,LOGS}_EXPORTER=none`` (without an exporter package installed, the
  launcher's default ``otlp`` fails to configure; with one, it imports more, so this is a lower
  bound). Skipped with a message if ``opentelemetry-instrument`` is not installed
  (``pip install opentelemetry-distro opentelemetry-instrumentation``).

Bytecode: some machines set ``PYTHONDONTWRITEBYTECODE=1``; a module whose ``.pyc`` is missing
or stale is then compiled on every import, which is not what a deployed program pays. So this
script compiles the runtime first (``compileall``) and runs every command with
``PYTHONDONTWRITEBYTECODE`` removed from the environment, after one warm-up run each (which
writes any ``.pyc`` still missing, e.g. of the standard library). ``OTEL_*`` and
``CODETRACE_*`` variables are removed too. The table shows the median, min and max over runs,
the time added to ``python -c pass`` and the modules in ``sys.modules`` at the end (counted in
one extra run).

Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import codetrace.runtime

PYTHON = sys.executable
COUNT = "import sys; print(len(sys.modules))"


def environment() -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OTEL_", "CODETRACE_")) and name != "PYTHONDONTWRITEBYTECODE"
    }
    env["OTEL_TRACES_EXPORTER"] = "none"  # the runtime's default anyway; the launcher's too
    env["OTEL_METRICS_EXPORTER"] = "none"
    env["OTEL_LOGS_EXPORTER"] = "none"
    return env


def commands() -> list[tuple[str, list[str], list[str]]]:
    """(label, command, the same command printing its module count)."""
    rows = [
        ("python -c pass", [PYTHON, "-c", "pass"], [PYTHON, "-c", COUNT]),
        (
            "import codetrace.runtime",
            [PYTHON, "-c", "import codetrace.runtime"],
            [PYTHON, "-c", "import codetrace.runtime; " + COUNT],
        ),
        (
            "... and a first span",
            [PYTHON, "-c", "import codetrace.runtime as rt; rt.span('x').end()"],
            [PYTHON, "-c", "import codetrace.runtime as rt; rt.span('x').end(); " + COUNT],
        ),
    ]
    launcher = shutil.which("opentelemetry-instrument", path=str(Path(PYTHON).parent))
    if launcher is None:
        print(
            "opentelemetry-instrument is not installed: its row is skipped "
            "(pip install opentelemetry-distro opentelemetry-instrumentation)",
            file=sys.stderr,
        )
    else:
        rows.append(
            (
                "opentelemetry-instrument python -c pass",
                [launcher, PYTHON, "-c", "pass"],
                [launcher, PYTHON, "-c", COUNT],
            )
        )
    return rows


def run_once(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=25, help="runs per command (median)")
    args = parser.parse_args(argv)
    runs = max(1, args.runs)

    runtime_dir = Path(codetrace.runtime.__file__).parent
    compileall.compile_dir(str(runtime_dir.parent), quiet=1)  # the package and its runtime
    env = environment()
    rows = commands()
    modules: dict[str, int] = {}
    for label, command, counting in rows:  # warm-up (writes missing .pyc), and module counts
        run_once(command, env)
        out = subprocess.run(counting, env=env, check=True, capture_output=True, text=True)
        modules[label] = int(out.stdout.split()[-1])
    times: dict[str, list[float]] = {label: [] for label, _, _ in rows}
    for _ in range(runs):
        for label, command, _ in rows:
            times[label].append(run_once(command, env))

    base = statistics.median(times["python -c pass"])
    print(f"start-up, {runs} runs each, bytecode compiled, PYTHONDONTWRITEBYTECODE unset")
    print(f"| {'':40} | median ms | min ms | max ms | added ms | modules |")
    print(f"|{'-' * 42}|-----------|--------|--------|----------|---------|")
    for label, values in times.items():
        median = statistics.median(values)
        print(
            f"| {label:40} | {median * 1e3:9.1f} | {min(values) * 1e3:6.1f} "
            f"| {max(values) * 1e3:6.1f} | {(median - base) * 1e3:8.1f} | {modules[label]:7d} |"
        )


if __name__ == "__main__":
    main()
