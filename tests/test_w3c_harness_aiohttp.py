"""The W3C trace-context harness against an aiohttp service instrumented by ``codetrace apply``.

The same conformance suite as ``test_w3c_harness.py`` (whose helpers run it), with the service
written with aiohttp (``tests/w3c_service_aiohttp/app.py``): the incoming context goes through
the ``aiohttp_app`` hook's middleware, the outgoing one through the ``aiohttp.client`` adapter's
trace config. All 41 tests must pass.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_w3c_harness import HARNESS_TESTS, _clean_env, _first_line, _stop, run_harness
from typer.testing import CliRunner

from codetrace.cli import app

SERVICE = Path(__file__).parent / "w3c_service_aiohttp"

pytestmark = pytest.mark.slow


@pytest.fixture
def aiohttp_service(tmp_path: Path) -> Iterator[str]:
    """The instrumented aiohttp service's endpoint, in its own process."""
    out = tmp_path / "service"
    result = CliRunner().invoke(app, ["apply", "--out", str(out), "--no-cache", str(SERVICE)])
    assert result.exit_code == 0, result.output
    instrumented = (out / "app.py").read_text()
    assert "_codetrace.hooks.aiohttp_app(app)" in instrumented
    assert '_codetrace.traced(ClientSession, "aiohttp.client")' in instrumented
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


def test_w3c_harness_passes_every_test_with_aiohttp(aiohttp_service: str) -> None:
    passed, output = run_harness(aiohttp_service)
    assert f"Ran {HARNESS_TESTS} tests" in output, output
    assert passed == HARNESS_TESTS, f"{passed}/{HARNESS_TESTS} passed:\n{output}"
