"""The producer side of the shop: publishes each kind of task and prints what came back.

Run as a program (``python producer.py``) next to ``celery_tasks.py``, with a worker serving the
same broker. Every wait is bounded (``get(timeout=...)``).
"""

from celery.result import AsyncResult
from celery_tasks import add, app, checkout, fail, flaky, reserve

FIRST_TIMEOUT_S = 30  # the worker may still be starting
TIMEOUT_S = 10


def main():
    print("add:", add.delay(2, 3).get(timeout=FIRST_TIMEOUT_S))
    print("fail:", repr(fail.delay("boom").get(timeout=TIMEOUT_S, propagate=False)))
    print("reserve:", repr(reserve.apply_async(("pen",)).get(timeout=TIMEOUT_S, propagate=False)))
    print("flaky retries:", flaky.delay(1).get(timeout=TIMEOUT_S))
    inner = checkout.delay(5).get(timeout=TIMEOUT_S)
    print("checkout:", AsyncResult(inner, app=app).get(timeout=TIMEOUT_S))


if __name__ == "__main__":
    main()
