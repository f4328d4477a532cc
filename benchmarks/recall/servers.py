"""Servers a project's test suite needs (``"servers"`` in ``projects.py``), run by ``run.py``.

``redis``: Debian's ``redis-server`` (on ``PATH``) on 127.0.0.1, on a free port (or the port the
project hard-codes, which must then be free), with no persistence (``--save '' --appendonly
no``) and a private directory, so nothing outlives the measurement; emptied with ``FLUSHALL``.

``postgres``: Debian's PostgreSQL (``/usr/lib/postgresql/<version>/bin``), a private cluster made
by ``initdb`` in a temporary directory (trust authentication, superuser ``postgres``), listening
on 127.0.0.1 and a free port, its unix socket in that directory, ``fsync`` off. PostgreSQL
refuses to run as root: when we are root, ``initdb`` and the server run as the ``postgres``
account the Debian package created (``Popen(user=...)``, so the pid held is the server's own),
which then owns the directory. Emptied by dropping every database but ``postgres`` and the
templates (the suites create theirs when it is missing).

Each server is started once per project, emptied (``reset()``) before each of the four runs so
each one starts from the same state, and stopped by its pid at the end, also on an exception or
Ctrl-C (the ``with`` block in ``run.py``). Standard library only, like ``run.py``: redis is
spoken to over a socket (the few RESP commands needed), PostgreSQL through its own ``psql``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
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

    def reset(self) -> None:
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


def _postgres_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(
                       p).parent.parent.name.isdigit() else 0)
    if not found:
        raise RuntimeError("PostgreSQL is not installed (apt-get install -y postgresql)")
    return Path(found[-1]).parent


class PostgresServer:
    """One ``postgres`` process on a private cluster, its port in :attr:`port`, the ``with``
    block its lifetime."""

    USER = "postgres"

    def __init__(self, port: int | None = None, *, log_dir: Path | None = None):
        self.bindir = _postgres_bindir()
        if port is not None and port_in_use(port):
            raise RuntimeError(
                f"the project needs PostgreSQL on 127.0.0.1:{port} (hard-coded), but that port "
                "is already taken: stop what listens there and run again")
        self.port = port if port is not None else free_port()
        self.log_dir = log_dir
        self.directory: str | None = None
        self.process: subprocess.Popen | None = None

    def _account(self) -> dict:
        """``Popen`` arguments that run initdb and the server as ``postgres`` when we are
        root (PostgreSQL refuses root); none otherwise."""
        if os.geteuid() != 0:
            return {}
        entry = pwd.getpwnam("postgres")
        assert self.directory is not None
        os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": [],
                "env": {**os.environ, "HOME": self.directory, "USER": "postgres"}}

    def psql(self, sql: str, *, timeout: float = 30) -> tuple[int, str]:
        done = subprocess.run(
            [str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
             self.USER, "-d", "postgres", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-c", sql],
            capture_output=True, text=True, timeout=timeout,
            env={**os.environ, "PGCONNECT_TIMEOUT": "2"})
        return done.returncode, done.stdout + done.stderr

    def __enter__(self) -> PostgresServer:
        self.directory = tempfile.mkdtemp(prefix="recall-postgres-")
        log_path = Path(self.log_dir or self.directory) / f"postgres-{self.port}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            account = self._account()
            data = Path(self.directory) / "data"
            subprocess.run(
                [str(self.bindir / "initdb"), "-D", str(data), "-U", self.USER, "-A", "trust",
                 "-E", "UTF8", "--no-sync"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120,
                **account)
            with open(log_path, "wb") as log:
                self.process = subprocess.Popen(
                    [str(self.bindir / "postgres"), "-D", str(data), "-p", str(self.port),
                     "-k", self.directory, "-c", "listen_addresses=127.0.0.1",
                     "-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off"],
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **account)
            deadline = time.monotonic() + 30
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"postgres exited ({self.process.returncode}); see "
                                       f"{log_path}")
                if port_in_use(self.port) and self.psql("SELECT 1", timeout=5)[0] == 0:
                    return self
                if time.monotonic() > deadline:
                    raise RuntimeError(f"postgres did not answer on port {self.port}")
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise

    def reset(self) -> None:
        rc, out = self.psql("SELECT datname FROM pg_database WHERE NOT datistemplate "
                            "AND datname <> 'postgres'")
        if rc != 0:
            raise RuntimeError(f"listing the databases failed: {out.strip()}")
        for name in filter(None, (line.strip() for line in out.splitlines())):
            quoted = '"' + name.replace('"', '""') + '"'
            rc, out = self.psql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
            if rc != 0:
                raise RuntimeError(f"dropping database {name!r} failed: {out.strip()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)  # PostgreSQL's "fast" shutdown
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def __exit__(self, *exc_info) -> None:
        self.stop()


def start(kind: str, port: int | None = None, *,
          log_dir: Path | None = None) -> RedisServer | PostgresServer:
    if kind == "redis":
        return RedisServer(port, log_dir=log_dir)
    if kind == "postgres":
        return PostgresServer(port, log_dir=log_dir)
    raise ValueError(f"unknown server {kind!r} (known: redis, postgres)")
