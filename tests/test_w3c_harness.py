"""The W3C trace-context test harness, against a Flask service instrumented by ``codetrace apply``.

The harness (``tests/w3c_harness``, vendored from w3c/trace-context at the commit named in its
``VENDORED.md``) is the specification's own conformance suite: it sends the service requests with
valid and malformed ``traceparent``/``tracestate`` headers and checks what the service sends on
to its callbacks. Everything here is real: ``codetrace apply --out`` instruments
``tests/w3c_service/app.py`` as it would a user's project, werkzeug serves the copy in its own
process on 127.0.0.1, and the harness runs in another, with its aiohttp server on 127.0.0.1 at a
free port. At ``STRICT_LEVEL=2`` (tracestate limits included) and ``SPEC_LEVEL=2`` (Level 2's
random flag) all 41 tests must pass.
"""

from __future__ import annotations

import importlib.util
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetrace.cli import app

HARNESS = Path(__file__).parent / "w3c_harness"
SERVICE = Path(__file__).parent / "w3c_service"
HARNESS_TESTS = 41  # TraceContextTest 37, AdvancedTest 3, TraceContext2Test 1

pytestmark = pytest.mark.slow


def _clean_env() -> dict[str, str]:
    """The environment without the caller's tracing settings: the defaults are under test."""
    return {
        key: value for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "CODETRACE_", "HARNESS_"))
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> bytes:
    """The first stdout line of ``process``, waiting at most ``timeout`` seconds."""
    assert process.stdout is not None
    line = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                chunk = os.read(process.stdout.fileno(), 64)
                if not chunk:
                    break
                line += chunk
    return line


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
    if process.stdout is not None:
        process.stdout.close()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[str]:
    """The instrumented service's endpoint, served by werkzeug in its own process."""
    out = tmp_path / "service"
    result = CliRunner().invoke(app, ["apply", "--out", str(out), "--no-cache", str(SERVICE)])
    assert result.exit_code == 0, result.output
    instrumented = (out / "app.py").read_text()
    assert "_codetrace.hooks.flask(app)" in instrumented
    assert "_codetrace.traced(requests.post," in instrumented
    log = (tmp_path / "service.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(out / "app.py")], cwd=out, stdout=subprocess.PIPE, stderr=log,
        env={**_clean_env(), "OTEL_TRACES_EXPORTER": "none", "PYTHONDONTWRITEBYTECODE": "1"},
    )
    try:
        port = _first_line(process, timeout=60).strip()
        assert port.isdigit(), (tmp_path / "service.log").read_text(errors="replace")
        yield f"http://127.0.0.1:{int(port)}/test"
    finally:
        _stop(process)
        log.close()


def run_harness(endpoint: str) -> tuple[int, str]:
    """(tests passed, the harness's output) for one run of the whole harness."""
    port = str(_free_port())
    result = subprocess.run(
        [sys.executable, "test.py"], cwd=HARNESS, capture_output=True, text=True, timeout=600,
        check=False, env={
            **_clean_env(), "PYTHONDONTWRITEBYTECODE": "1", "SERVICE_ENDPOINT": endpoint,
            "HARNESS_HOST": "127.0.0.1", "HARNESS_PORT": port, "STRICT_LEVEL": "2",
            "SPEC_LEVEL": "2",
        },
    )
    output = result.stdout + result.stderr
    ran = re.search(r"^Ran (\d+) tests? in ", output, re.MULTILINE)
    if ran is None:
        return 0, output
    passed = len(re.findall(r" \.\.\. ok$", output, re.MULTILINE))
    return passed, output


def test_w3c_harness_passes_every_test(service: str) -> None:
    """All 41: traceparent versions, ids, flags and OWS; tracestate key grammar (``foo@``,
    ``foo@@bar``, ``@foo`` refused), key/value limits, duplicate keys kept once, 32 members,
    combined headers; several callbacks per request; Level 2's random flag."""
    assert importlib.util.find_spec("aiohttp"), "the harness needs aiohttp: pip install '.[test]'"
    passed, output = run_harness(service)
    assert f"Ran {HARNESS_TESTS} tests" in output, output
    assert passed == HARNESS_TESTS, f"{passed}/{HARNESS_TESTS} passed:\n{output}"
