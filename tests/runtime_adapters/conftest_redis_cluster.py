"""A real three-node Redis cluster for the tests: Debian's ``redis-server`` on 127.0.0.1.

Imported by the cluster test modules (``from conftest_redis_cluster import redis_cluster``).
Three ``redis-server --cluster-enabled yes`` processes run on free ports, each in its own
private directory (its ``nodes.conf`` there), without persistence; ``redis-cli --cluster
create`` joins them (no replicas: the 16384 slots are split between the three primaries), the
fixture waits (bounded) until every node says ``cluster_state:ok``, and all three are stopped
by pid. The binaries are found as ``conftest_redis`` finds them: missing, the tests fail
(``CODETRACE_SKIP_SERVERS=1`` skips them on purpose).
"""

from __future__ import annotations

import random
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from server_process import find_binary, free_port, private_directory, stop

START_TIMEOUT_S = 20.0
NODES = 3
BUS_OFFSET_LIMIT = 55535


@dataclass(frozen=True)
class RedisCluster:
    host: str
    ports: tuple[int, ...]

    @property
    def port(self) -> int:
        """The startup node's port (the first node)."""
        return self.ports[0]

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free port whose cluster bus port (``port + 10000``) is free too.

    Not ``free_port()`` alone: the kernel hands out ports up to 60999, and a cluster node
    refuses a port above 55535 (its bus port would not fit).
    """
    for _ in range(200):
        port = free_port()
        if port > BUS_OFFSET_LIMIT:
            port = random.randint(20000, BUS_OFFSET_LIMIT)
        if _bindable(port) and _bindable(port + 10000):
            return port
    pytest.fail("no free port pair for a Redis cluster node")


def _ask(port: int, command: bytes) -> bytes:
    """One inline command's raw reply (empty when the node does not answer)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as connection:
            connection.sendall(command + b"\r\n")
            connection.settimeout(0.5)
            reply = b""
            while b"\r\n" not in reply or (reply.startswith(b"$") and reply.count(b"\r\n") < 2):
                chunk = connection.recv(4096)
                if not chunk:
                    break
                reply += chunk
            return reply
    except OSError:
        return b""


def _wait(ready: object, processes: list[subprocess.Popen[bytes]], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not ready():  # type: ignore[operator]
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            pytest.fail(f"{what} in {START_TIMEOUT_S} s")
        time.sleep(0.05)


def start_cluster(root: Path, processes: list[subprocess.Popen[bytes]]) -> RedisCluster:
    """Start the nodes (appended to ``processes`` as they start, for the caller to stop) and
    join them into one cluster."""
    server = find_binary("redis-server", package="redis-server")
    cli = find_binary("redis-cli", package="redis-tools")
    ports = tuple(cluster_port() for _ in range(NODES))
    for port in ports:
        directory = root / str(port)
        directory.mkdir()
        processes.append(subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
             "--cluster-config-file", str(directory / "nodes.conf"), "--dir", str(directory),
             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
    _wait(lambda: all(_ask(p, b"PING").startswith(b"+PONG") for p in ports), processes,
          "the cluster's redis-server nodes did not answer PING")
    created = subprocess.run(
        [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
         "--cluster-replicas", "0", "--cluster-yes"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    if created.returncode != 0:
        pytest.fail(f"redis-cli --cluster create failed: {created.stdout}{created.stderr}")
    _wait(lambda: all(b"cluster_state:ok" in _ask(p, b"CLUSTER INFO") for p in ports),
          processes, "the cluster did not reach cluster_state:ok")
    return RedisCluster("127.0.0.1", ports)


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisCluster]:
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with private_directory("redis-cluster") as root:
            try:
                yield start_cluster(root, processes)
            finally:
                for process in processes:
                    stop(process)
    finally:
        for process in processes:  # a start that failed half-way
            stop(process)
