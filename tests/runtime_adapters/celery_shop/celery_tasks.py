"""A small Celery project, as its authors wrote it (no instrumentation): the tests run
``codetrace apply`` on it, start a real worker on the copy (``celery -A celery_tasks worker``)
and publish from the test process.

The broker and result backend come from ``CELERY_BROKER_URL`` and ``CELERY_RESULT_BACKEND``
(a real ``redis-server`` in the tests); ``CELERY_ALWAYS_EAGER=1`` runs tasks in the caller instead.
"""

import os

from celery import Celery

app = Celery(
    "codetrace_shop",
    broker=os.environ.get("CELERY_BROKER_URL", "memory://"),
    backend=os.environ.get("CELERY_RESULT_BACKEND", "cache+memory://"),
)
app.conf.update(
    task_default_queue="shop",
    task_always_eager=os.environ.get("CELERY_ALWAYS_EAGER") == "1",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    result_expires=60,
)


class OutOfStock(Exception):
    """A business error the task declares (``throws``): expected, not a failure of the system."""


@app.task
def add(x, y):
    return x + y


@app.task
def fail(message):
    raise ValueError(message)


@app.task(throws=(OutOfStock,))
def reserve(item):
    raise OutOfStock(item)


@app.task(bind=True, max_retries=2, default_retry_delay=0)
def flaky(self, failures):
    if self.request.retries < failures:
        raise self.retry(exc=RuntimeError("not yet"), countdown=0)
    return self.request.retries


@app.task
def checkout(x):
    """Publishes a task from inside a task (the second hop of one trace); returns its id."""
    return add.delay(x, 1).id
