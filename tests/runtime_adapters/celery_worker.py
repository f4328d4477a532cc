"""A real Celery worker for the tests: ``celery -A celery_tasks worker --pool=solo`` in a process.

The worker serves ``tests/runtime_adapters/celery_shop`` (or its instrumented copy) on a real
``redis-server`` (``conftest_redis``), one database pair per run so that two runs never see
each other's messages. It is stopped by its pid (SIGTERM: Celery's warm shutdown, after which
the runtime flushes its spans at exit), with bounded waits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from conftest_redis import RedisServer
from server_process import stop

SHOP = Path(__file__).parent / "celery_shop"

WORKER_ARGS = [
    "worker", "--pool=solo", "-Q", "shop", "--without-heartbeat", "--without-gossip",
    "--without-mingle", "--loglevel=WARNING", "-n", "codetrace-test@localhost",
]


def broker_env(redis: RedisServer, database: int) -> dict[str, str]:
    """The shop's broker (database ``database``) and result backend (the next one)."""
    base = f"redis://{redis.host}:{redis.port}"
    return {
        "CELERY_BROKER_URL": f"{base}/{database}",
        "CELERY_RESULT_BACKEND": f"{base}/{database + 1}",
    }


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment without the developer's ``OTEL_*``/``CODETRACE_*``/``CELERY_*`` variables,
    plus ``extra``."""
    prefixes = ("OTEL_", "CODETRACE_", "CELERY_")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(prefixes)}, **extra}


def start_worker(
    directory: Path, env: Mapping[str, str], log: Path, command: list[str] | None = None
) -> subprocess.Popen[bytes]:
    """A worker process for the ``celery_tasks`` module in ``directory`` (``command``: another
    way to start it, e.g. under OpenTelemetry); its output goes to ``log``."""
    args = command or [sys.executable, "-m", "celery", "-A", "celery_tasks", *WORKER_ARGS]
    with open(log, "wb") as output:
        return subprocess.Popen(
            args, cwd=directory, env=clean_env(env), stdout=output, stderr=subprocess.STDOUT
        )


def run_producer(directory: Path, env: Mapping[str, str]) -> str:
    """``python producer.py`` in ``directory`` (bounded); its output (a failure fails the test
    with its standard error)."""
    result = subprocess.run(
        [sys.executable, "producer.py"], cwd=directory, env=clean_env(env), capture_output=True,
        text=True, timeout=90, check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def stop_worker(process: subprocess.Popen[bytes], log: Path) -> None:
    """Stop the worker by its pid; fail with its log if it had died on its own."""
    died = process.poll()
    stop(process)
    assert died is None, f"the worker exited early ({died}):\n{log.read_text()}"
