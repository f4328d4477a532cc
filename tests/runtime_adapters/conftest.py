"""Fixtures for the adapter tests: a clean runtime, an in-memory exporter, a real HTTP server.

The runtime starts every test as freshly imported with no ``OTEL_*``/``CODETRACE_*`` variable
set, and is reset after. The server is a real ``http.server.ThreadingHTTPServer`` on 127.0.0.1
(port 0) that answers every method with JSON describing what it received: method, path, the
headers as ``[name, value]`` pairs (so repeated headers show) and the body (chunked
too); ``/status/<code>`` answers with that code, ``/slow/<seconds>`` waits first (bounded).
"""

from __future__ import annotations

import http.server
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import codetrace.runtime as rt


@pytest.fixture(autouse=True)
def clean_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "CODETRACE_")):
            monkeypatch.delenv(name)
    rt.reset()
    yield
    rt.reset()


@pytest.fixture
def exporter() -> rt.InMemorySpanExporter:
    """An in-memory exporter installed as the only destination, sampling everything."""
    memory = rt.InMemorySpanExporter()
    rt.configure(exporter=memory)
    return memory


class EchoHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""
        chunks = []
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()  # the CRLF after the chunk
            if not size:
                return b"".join(chunks)

    def _reply(self) -> None:
        body = self._body()
        status = 200
        parts = self.path.split("?")[0].split("/")
        if len(parts) > 2 and parts[1] == "status":
            status = int(parts[2])
        elif len(parts) > 2 and parts[1] == "slow":
            time.sleep(min(float(parts[2]), 2.0))
        payload = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
                "body": body.decode("latin-1"),
            }
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _reply

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server(serve_http: Callable[[type[http.server.BaseHTTPRequestHandler]], str]) -> str:
    return serve_http(EchoHandler)
