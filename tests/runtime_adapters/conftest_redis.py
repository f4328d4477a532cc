"""A real Redis server for the tests: Debian's ``redis-server`` on 127.0.0.1 and a unix socket.

Imported by the redis test modules (``from conftest_redis import redis_server``). The server
runs with a free port, no persistence (``--save ''``, ``--appendonly no``) and a private
directory, is waited for until it answers ``PING`` (bounded), and is stopped by its pid.

Without ``redis-server`` on ``PATH`` the tests FAIL: CI installs it (``.ci/run``), and a test
suite that silently skipped them would prove nothing. ``CODETRACE_SKIP_SERVERS=1`` skips them
on purpose (a machine where no server can be installed).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from server_process import free_port, stop

START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RedisServer:
    host: str
    port: int
    unix_socket: str

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def start_redis(
    directory: Path, *extra: str, config: Path | None = None
) -> tuple[subprocess.Popen[bytes], RedisServer]:
    """Start ``redis-server`` in ``directory`` (with a ``config`` file first, as Sentinel
    needs); fail (or skip, when asked to) without it."""
    if os.environ.get("CODETRACE_SKIP_SERVERS") == "1":
        pytest.skip("CODETRACE_SKIP_SERVERS=1: no real Redis server")
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail(
            "redis-server is not on PATH: install it (`apt-get install -y redis-server`) or set "
            "CODETRACE_SKIP_SERVERS=1 to skip the tests that need a real Redis"
        )
    port = free_port()
    unix_socket = str(directory / "redis.sock")
    process = subprocess.Popen(
        [binary, *([str(config)] if config is not None else []), "--port", str(port),
         "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory),
         "--unixsocket", unix_socket, "--unixsocketperm", "700", "--daemonize", "no", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers_ping(port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            pytest.fail(f"redis-server did not answer PING on port {port} in {START_TIMEOUT_S} s")
        time.sleep(0.02)
    return process, RedisServer("127.0.0.1", port, unix_socket)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    process, server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        stop(process)
