"""The W3C trace-context test harness, against one service per server framework codetrace hooks.

The harness (``tests/w3c_harness``, vendored from w3c/trace-context at the commit named in its
``VENDORED.md``) is the specification's own conformance suite: it sends the service requests with
valid and malformed ``traceparent``/``tracestate`` headers and checks what the service sends on
to its callbacks. Everything here is real: ``codetrace apply --out`` instruments a service folder
as it would a user's project (the services hold no tracing code), the framework's own server
serves the copy in its own process on 127.0.0.1, and the harness runs in another, with its
aiohttp server on 127.0.0.1 at a free port. At ``STRICT_LEVEL=2`` (tracestate limits included)
and ``SPEC_LEVEL=2`` (Level 2's random flag) all 41 tests must pass, for every framework.

One runner serves every framework; a framework is a row of ``SERVICES``: its folder, the script
that serves it, and the lines ``apply`` must have written (so a run that passes because nothing
was instrumented cannot happen: the harness would fail then anyway, but this says why). Every
service prints its port on its first stdout line. gRPC is not HTTP: the harness cannot drive it.
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
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetrace.cli import app

TESTS = Path(__file__).parent
HARNESS = TESTS / "w3c_harness"
HARNESS_TESTS = 41  # TraceContextTest 37, AdvancedTest 3, TraceContext2Test 1

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Service:
    """One framework's service: where it is, how it is served, what ``apply`` must add."""

    folder: str
    """The service's folder under ``tests/``; ``apply --out`` copies it whole."""
    script: str
    """The file (in the instrumented copy) run to serve it; it prints its port first."""
    instrumented: dict[str, tuple[str, ...]]
    """Per file of the copy, text ``apply`` must have written there: the server hook and the
    client adapter, the two halves of propagation the harness checks."""


SERVICES = [
    pytest.param(Service("w3c_service", "app.py", {"app.py": (
        "_codetrace.hooks.flask(app)", "_codetrace.traced(requests.post,",
    )}), id="flask"),
    pytest.param(Service("w3c_service_aiohttp", "app.py", {"app.py": (
        "_codetrace.hooks.aiohttp_app(app)", '_codetrace.traced(ClientSession, "aiohttp.client")',
    )}), id="aiohttp"),
    pytest.param(Service("w3c_service_fastapi", "app.py", {"app.py": (
        "_codetrace.hooks.starlette(app)", '_codetrace.traced(httpx.AsyncClient, "httpx.client")',
    )}), id="fastapi"),
    pytest.param(Service("w3c_service_django", "serve.py", {
        "w3c_site/wsgi.py": ("_codetrace.hooks.django(application)",),
        "w3c_site/views.py": ("_codetrace.traced(requests.post,",),
    }), id="django"),
    pytest.param(Service("w3c_service_falcon", "app.py", {"app.py": (
        "_codetrace.hooks.wsgi(app)", '_codetrace.traced(urllib3.PoolManager, "urllib3.pool")',
    )}), id="falcon"),
]


def _clean_env() -> dict[str, str]:
    """The environment without the caller's tracing settings (the defaults are under test) and
    without a ``DJANGO_SETTINGS_MODULE``, which would win over the Django service's own."""
    return {
        key: value for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "CODETRACE_", "HARNESS_", "DJANGO_"))
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


@pytest.fixture(params=SERVICES)
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The instrumented service's endpoint, served in its own process."""
    spec: Service = request.param
    out = tmp_path / "service"
    result = CliRunner().invoke(
        app, ["apply", "--out", str(out), "--no-cache", str(TESTS / spec.folder)]
    )
    assert result.exit_code == 0, result.output
    for name, snippets in spec.instrumented.items():
        instrumented = (out / name).read_text()
        for snippet in snippets:
            assert snippet in instrumented, f"{name} lacks {snippet!r}:\n{instrumented}"
    log_path = tmp_path / "service.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(out / spec.script)], cwd=out, stdout=subprocess.PIPE, stderr=log,
            env={**_clean_env(), "OTEL_TRACES_EXPORTER": "none", "PYTHONDONTWRITEBYTECODE": "1"},
        )
        try:
            port = _first_line(process, timeout=60).strip()
            assert port.isdigit(), log_path.read_text(errors="replace")
            yield f"http://127.0.0.1:{int(port)}/test"
        finally:
            _stop(process)


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
