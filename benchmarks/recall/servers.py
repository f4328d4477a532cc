"""Servers a project's test suite needs (``"servers"`` in ``projects.py``), run by ``run.py``.

Only ``redis`` so far: Debian's ``redis-server`` (on ``PATH``) on 127.0.0.1, on a free port (or
the port the project hard-codes, which must then be free), with no persistence (``--save ''
--appendonly no``) and a private directory, so nothing outlives the measurement. The server is
started once per project, emptied (``FLUSHALL``) before each of the four runs so each one starts
from the same state, and stopped by its pid at the end, also on an exception or Ctrl-C (the
``with`` block in ``run.py``). Standard library only, like ``run.py``: it speaks the few RESP
commands it needs over a socket.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _command(port: int, *words: str, timeout: float = 5) -> bytes:
    """Send one command, return the first line of the reply (``+OK``, ``+PONG``, ``-ERR ...``)."""
    request = f"*{len(words)}\r\n" + "".join(f"${len(w.encode())}\r\n{w}\r\n" for w in words)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request.encode())
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply.strip()


class RedisServer:
    """One ``redis-server`` process, its port in :attr:`port`, the ``with`` block its lifetime."""

    def __init__(self, port: int | None = None, *, log_dir: Path | None = None):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH (apt-get install -y redis-server)")
        if port is not None and port_in_use(port):
            raise RuntimeError(
                f"the project needs a Redis server on 127.0.0.1:{port} (hard-coded), but that port "
                "is already taken: stop what listens there and run again")
        self.binary = binary
        self.port = port if port is not None else free_port()
        self.log_dir = log_dir
        self.directory: str | None = None
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> RedisServer:
        self.directory = tempfile.mkdtemp(prefix="recall-redis-")
        log_path = Path(self.log_dir or self.directory) / f"redis-{self.port}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", self.directory,
                 "--daemonize", "no", "--logfile", str(log_path)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            deadline = time.monotonic() + 15
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited ({self.process.returncode}); see "
                                       f"{log_path}")
                with contextlib.suppress(OSError):
                    if _command(self.port, "PING", timeout=1) == b"+PONG":
                        return self
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not answer on port {self.port}")
                time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def flushall(self) -> None:
        reply = _command(self.port, "FLUSHALL")
        if reply != b"+OK":
            raise RuntimeError(f"FLUSHALL answered {reply!r}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start(kind: str, port: int | None = None, *, log_dir: Path | None = None) -> RedisServer:
    if kind != "redis":
        raise ValueError(f"unknown server {kind!r} (known: redis)")
    return RedisServer(port, log_dir=log_dir)
