"""A real MariaDB server for the tests: Debian's ``mariadb-server`` on 127.0.0.1.

Imported by the MySQL-protocol test modules (``from conftest_mariadb import mariadb_server``).
``mariadb-install-db`` makes a private data directory (user ``root`` with no password,
database ``codetrace``), the server listens on a free port and a private unix socket, is waited
for until it accepts a connection, and is stopped by its pid. Without MariaDB the tests fail
(see ``server_process``).
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from server_process import as_account, find_binary, free_port, private_directory, stop, wait_until

DATABASE = "codetrace"
USER = "root"


@dataclass(frozen=True)
class MariaDBServer:
    host: str
    port: int
    unix_socket: str
    user: str = USER
    password: str = ""
    database: str = DATABASE


def _greets(port: int) -> bool:
    """The server sent its handshake packet (it is past start-up, not just listening)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            return len(connection.recv(64)) > 4
    except OSError:
        return False


def start_mariadb(directory: Path) -> tuple[subprocess.Popen[bytes], MariaDBServer]:
    server = find_binary("mariadbd", "/usr/sbin/mariadbd", "/usr/sbin/mysqld",
                         package="mariadb-server")
    install = find_binary("mariadb-install-db", "/usr/bin/mysql_install_db",
                          package="mariadb-server")
    data = directory / "data"
    account = as_account("mysql", directory)
    init = directory / "init.sql"
    init.write_text(f"CREATE DATABASE IF NOT EXISTS {DATABASE};\n")
    argv = [install, "--no-defaults", f"--datadir={data}",
            "--auth-root-authentication-method=normal", "--skip-test-db"]
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=120, **account)
    port = free_port()
    unix_socket = str(directory / "mysqld.sock")
    argv = [server, "--no-defaults", f"--datadir={data}", f"--port={port}",
            "--bind-address=127.0.0.1", f"--socket={unix_socket}", "--skip-log-bin",
            "--innodb-flush-log-at-trx-commit=0", f"--init-file={init}",
            f"--pid-file={directory / 'mysqld.pid'}", f"--log-error={directory / 'error.log'}"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               **account)
    wait_until(lambda: _greets(port), process, "mariadbd")
    return process, MariaDBServer("127.0.0.1", port, unix_socket)


@pytest.fixture(scope="module")
def mariadb_server() -> Iterator[MariaDBServer]:
    with private_directory("mariadb") as directory:
        process, server = start_mariadb(directory)
        try:
            yield server
        finally:
            stop(process)
