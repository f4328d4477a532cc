"""Starting and stopping the real database servers the adapter tests talk to.

Shared by ``conftest_redis``, ``conftest_postgres`` and ``conftest_mariadb``: a free loopback
port, the server binary found or the test failed (a suite that silently skipped the server
tests would prove nothing; ``CODETRACE_SKIP_SERVERS=1`` skips them on purpose), a bounded wait
until the server answers, and a stop by pid.

PostgreSQL and MariaDB refuse to run as root; when the tests run as root (a CI container),
the server runs as the system account the Debian package created (``postgres``, ``mysql``),
owning its private data directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def find_binary(name: str, *candidates: str, package: str) -> str:
    """``name`` on PATH or at one of ``candidates``; skip when asked to, fail otherwise."""
    if os.environ.get("CODETRACE_SKIP_SERVERS") == "1":
        pytest.skip(f"CODETRACE_SKIP_SERVERS=1: no real {name}")
    found = shutil.which(name) or next((c for c in candidates if Path(c).is_file()), None)
    if found is None:
        pytest.fail(
            f"{name} is not installed: install it (`apt-get install -y {package}`) or set "
            f"CODETRACE_SKIP_SERVERS=1 to skip the tests that need it"
        )
    return found


@contextmanager
def private_directory(prefix: str) -> Iterator[Path]:
    """A fresh directory under the system temporary folder, removed after.

    Not pytest's ``tmp_path``: its parents are private to the user running the tests, and a
    server running as its own account could not reach a directory inside them.
    """
    directory = Path(tempfile.mkdtemp(prefix=f"codetrace-{prefix}-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def as_account(account: str, directory: Path) -> dict[str, Any]:
    """``Popen``/``run`` arguments that run a server as ``account`` when we are root (the
    account then owns ``directory``); none otherwise.

    ``user=`` rather than ``runuser``: the pid we hold is the server's own, so stopping it by
    pid stops the server.
    """
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(account)
    os.chown(directory, entry.pw_uid, entry.pw_gid)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": [],
            "env": {**os.environ, "HOME": str(directory), "USER": account}}


def wait_until(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            pytest.fail(f"{what} did not become ready in {START_TIMEOUT_S} s")
        time.sleep(0.05)


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
