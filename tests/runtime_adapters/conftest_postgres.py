"""A real PostgreSQL server for the tests: Debian's ``postgresql`` on 127.0.0.1.

Imported by the PostgreSQL test modules (``from conftest_postgres import postgres_server``).
``initdb`` makes a private cluster in a temporary directory (trust authentication, user
``postgres``, database ``codetrace``), the server listens on a free port and a private unix
socket directory with ``fsync=off``, is waited for until a connection is accepted, and is
stopped by its pid. Without PostgreSQL the tests fail (see ``server_process``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from server_process import (
    accepts,
    as_account,
    find_binary,
    free_port,
    private_directory,
    stop,
    wait_until,
)

_BIN = [f"/usr/lib/postgresql/{v}/bin" for v in (17, 16, 15, 14, 13)]
DATABASE = "codetrace"
USER = "postgres"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    socket_dir: str
    user: str = USER
    database: str = DATABASE

    @property
    def dsn(self) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={self.database}"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"


def start_postgres(directory: Path) -> tuple[subprocess.Popen[bytes], PostgresServer]:
    postgres = find_binary("postgres", *(f"{d}/postgres" for d in _BIN), package="postgresql")
    bindir = Path(postgres).resolve().parent
    data = directory / "data"
    account = as_account("postgres", directory)
    argv = [str(bindir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8",
            "--no-sync"]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=120, **account)
    port = free_port()
    argv = [postgres, "-D", str(data), "-p", str(port), "-k", str(directory),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
            "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               **account)
    wait_until(lambda: accepts(port) and _created(bindir, port), process, "postgres")
    return process, PostgresServer("127.0.0.1", port, str(directory))


def _created(bindir: Path, port: int) -> bool:
    """The test database exists (created once the server takes connections)."""
    done = subprocess.run(
        [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30,
    )
    return done.returncode == 0 or b"already exists" in done.stderr


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    with private_directory("postgres") as directory:
        process, server = start_postgres(directory)
        try:
            yield server
        finally:
            stop(process)
