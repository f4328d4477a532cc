"""Fixtures for the export tests: a real OTLP/HTTP collector on 127.0.0.1 and span doubles.

The collector is a real ``http.server.ThreadingHTTPServer`` that records every request (path,
headers, body) and answers from a script (status, headers), so retries, throttling and errors
are exercised over real sockets. What we send is decoded with the official
``opentelemetry-proto`` package in the tests, never with our own code.
"""

from __future__ import annotations

import base64
import gzip
import http.server
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class FakeEvent:
    name: str
    time_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeSpan:
    """Matches ``codetrace.runtime._otlp._model.SpanData``."""

    name: str = "op"
    trace_id: int = 0x0AF7651916CD43DD8448EB211C80319C
    span_id: int = 0xB7AD6B7169203331
    parent_id: int = 0
    trace_flags: int = 1
    trace_state: str = ""
    kind: int = 1
    start_ns: int = 1_700_000_000_000_000_000
    end_ns: int = 1_700_000_000_250_000_000
    attributes: dict[str, Any] = field(default_factory=dict)
    status_code: int = 0
    status_message: str = ""
    events: list[FakeEvent] = field(default_factory=list)
    is_remote_parent: bool = False


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes  # as received (possibly gzip)
    at: float  # time.monotonic() when the request arrived

    @property
    def payload(self) -> bytes:
        """The body, un-gzipped if it was sent compressed."""
        if self.headers.get("content-encoding") == "gzip":
            return gzip.decompress(self.body)
        return self.body


class Collector:
    """A scripted OTLP/HTTP collector. ``script`` holds (status, headers) answers, then 200.

    With ``tls`` (a server-side ``ssl.SSLContext``) it serves HTTPS; each connection's
    handshake runs on its own thread, and a failed one is recorded in ``tls_errors``.
    """

    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Recorded] = []
        self.tls_errors: list[BaseException] = []
        self.script: deque[tuple[int, dict[str, str]]] = deque()
        self.hang = threading.Event()  # when set, requests are read but never answered
        self._release = threading.Event()
        self._arrived = threading.Condition()
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with collector._arrived:
                    collector.requests.append(
                        Recorded(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                        )
                    )
                    collector._arrived.notify_all()
                if collector.hang.is_set():
                    collector._release.wait(30)
                    self.close_connection = True
                    return
                status, headers = collector.script.popleft() if collector.script else (200, {})
                reply = b"" if status == 200 else b"error"
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", self.headers.get("Content-Type", "text/plain"))
                self.send_header("Content-Length", str(len(reply)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class TLSServer(http.server.ThreadingHTTPServer):
            def finish_request(self, request: Any, client_address: Any) -> None:
                assert tls is not None
                request.settimeout(10)  # a client that never completes the handshake
                try:
                    request = tls.wrap_socket(request, server_side=True)
                except OSError as exc:  # the handshake failed: the client is refused
                    collector.tls_errors.append(exc)
                    return
                try:
                    super().finish_request(request, client_address)
                finally:
                    request.close()

            def handle_error(self, request: Any, client_address: Any) -> None:
                collector.tls_errors.append(sys.exc_info()[1] or RuntimeError("?"))

        server_class = TLSServer if tls is not None else http.server.ThreadingHTTPServer
        self.server = server_class(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        scheme = "https" if tls is not None else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self.port}"
        self.traces_url = self.base_url + "/v1/traces"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until ``count`` requests have arrived."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def collector_cls() -> type[Collector]:
    """The class, for a test that builds its own (``Collector(tls=...)``)."""
    return Collector


@pytest.fixture
def dead_endpoint() -> str:
    """A traces URL on a port where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/traces"


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A traces URL whose server accepts connections (kernel backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as s:
        yield f"http://127.0.0.1:{s.getsockname()[1]}/v1/traces"


@pytest.fixture(autouse=True)
def _clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests start from an environment without OTEL_* settings or proxies.

    The runtime caches its resource (read from the environment) on first use: forget it on
    both sides of each test so a test's variables neither leak out nor are missed.
    """
    import os

    from codetrace.runtime import _resource

    for name in list(os.environ):
        if name.startswith("OTEL_") or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    _resource.forget()
    yield
    _resource.forget()


def hex_ids_to_base64(obj: Any) -> Any:
    """Turn OTLP/JSON hex ids into the base64 that protobuf's generic JSON parser expects."""
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                out[key] = base64.b64encode(bytes.fromhex(value)).decode()
            else:
                out[key] = hex_ids_to_base64(value)
        return out
    if isinstance(obj, list):
        return [hex_ids_to_base64(v) for v in obj]
    return obj


@pytest.fixture
def hex_to_b64() -> Any:
    return hex_ids_to_base64


@pytest.fixture
def span_cls() -> type[FakeSpan]:
    return FakeSpan


@pytest.fixture
def event_cls() -> type[FakeEvent]:
    return FakeEvent
