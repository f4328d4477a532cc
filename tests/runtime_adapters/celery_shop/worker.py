"""Runs a worker for ``celery_tasks`` inside this process (``python worker.py``).

``celery -A celery_tasks worker`` is the usual way; this one exists for instrumentation that
must be set up in the worker's own process before the worker starts (OpenTelemetry's, in the
fidelity test). SIGTERM is Celery's warm shutdown: the worker finishes, then this returns.
"""

from celery_tasks import app

ARGS = [
    "worker", "--pool=solo", "-Q", "shop", "--without-heartbeat", "--without-gossip",
    "--without-mingle", "--loglevel=WARNING", "-n", "codetrace-fidelity@localhost",
]

if __name__ == "__main__":
    try:
        app.worker_main(ARGS)
    except SystemExit as exit:
        if exit.code:
            raise
