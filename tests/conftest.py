"""Shared fixtures: the built-in rule set and engine options."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from codetrace._options import Options
from codetrace._rules import RuleSet, builtin_rule_files, load_rules


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    return load_rules(builtin_rule_files())


@pytest.fixture(scope="session")
def options() -> Options:
    return Options()


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own codetrace cache folder (never the user's)."""
    monkeypatch.setenv("CODETRACE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def serve_http() -> Iterator[Callable[[type[http.server.BaseHTTPRequestHandler]], str]]:
    """Start a real threading HTTP server on 127.0.0.1 for a handler class; returns its base URL.

    Servers live until the end of the session; modules wrap this in their own fixture.
    """
    servers: list[tuple[http.server.ThreadingHTTPServer, threading.Thread]] = []

    def start(handler: type[http.server.BaseHTTPRequestHandler]) -> str:
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()
        servers.append((httpd, thread))
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd, thread in servers:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def refused_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was just bound and released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing"


def pytest_configure(config: pytest.Config) -> None:
    # Also registered in pyproject.toml, where the default run leaves slow tests out; registered
    # here too so that `-m slow` / `-m 'not slow'` never warn about an unknown marker.
    config.addinivalue_line(
        "markers", "slow: takes minutes (corpus walks, downloads); run with `pytest -m slow`")
