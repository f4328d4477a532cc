"""Server-side cost per request of a Django app: codetrace's hook vs OpenTelemetry's instrumentor.

    .venv/bin/python benchmarks/server_django.py                 # 7 rounds of 2,000 requests
    .venv/bin/python benchmarks/server_django.py --rounds 9 --number 5000

One Django project (settings configured in this process: ``SecurityMiddleware`` and
``CommonMiddleware``, as ``startproject`` lists first; one route with a path parameter in an
included URLconf, a JSON response, no database) gets three WSGI handlers, driven in-process by
a minimal WSGI call loop (an environ, a ``start_response`` that keeps nothing, the body read and
closed as a server does): no network and no server, so the difference between the rows is the
middleware alone.

* plain: ``WSGIHandler()``, untraced;
* codetrace: ``hooks.django(WSGIHandler())`` (what ``codetrace apply`` writes after
  ``application = get_wsgi_application()``), with ``configure(exporter=NoopExporter())``: every
  span sampled, recorded and exported synchronously;
* OpenTelemetry: ``DjangoInstrumentor().instrument(tracer_provider=...)`` then
  ``WSGIHandler()``, on a ``TracerProvider`` with a ``SimpleSpanProcessor`` around a no-op
  exporter (not installed globally), stable HTTP conventions
  (``OTEL_SEMCONV_STABILITY_OPT_IN=http``), its defaults otherwise.

Each handler loads its middleware chain from ``settings.MIDDLEWARE`` when it is made, so each
row has only its own tracer's middleware (the setting is put back after the codetrace row).
Each request carries a ``traceparent`` (the server continues a trace, as in production). Each
round times ``--number`` requests per row, rows interleaved so drift hits every row; the table
shows the median per request, and the overhead (row minus plain) with its ratio to
codetrace's. The clock is the process's CPU time. Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")

import codetrace.runtime as rt
from codetrace.runtime import hooks

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]

BASE_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]


class NoopExporter:
    """Accepts everything and does nothing (codetrace and the SDK alike)."""

    def export(self, spans: Sequence[Any]) -> Any:
        return True

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def item(request: Any, item_id: int) -> Any:
    from django.http import JsonResponse

    return JsonResponse({"item_id": item_id})


def setup() -> None:
    import django
    from django.conf import settings
    from django.urls import include, path

    module = sys.modules[__name__]
    module.urlpatterns = [path("api/", include([path("items/<int:item_id>", item)]))]  # type: ignore[attr-defined]
    settings.configure(
        DEBUG=False, SECRET_KEY="bench", ALLOWED_HOSTS=["127.0.0.1"], ROOT_URLCONF=__name__,
        MIDDLEWARE=list(BASE_MIDDLEWARE), INSTALLED_APPS=[], DATABASES={}, USE_TZ=True,
        LOGGING_CONFIG=None,
    )
    django.setup()


ENVIRON: dict[str, Any] = {
    "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/api/items/42",
    "QUERY_STRING": "q=1", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
    "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000",
    "HTTP_USER_AGENT": "bench/1", "HTTP_ACCEPT": "*/*",
    "HTTP_TRACEPARENT": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "wsgi.url_scheme": "http", "wsgi.version": (1, 0), "wsgi.multithread": True,
    "wsgi.multiprocess": False, "wsgi.run_once": False,
}


def drive(app: WSGIApp, number: int) -> float:
    """CPU seconds for ``number`` requests through ``app``."""
    import io

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return None

    start = time.process_time()
    for _ in range(number):
        environ = dict(ENVIRON)
        environ["wsgi.input"] = io.BytesIO()
        environ["wsgi.errors"] = sys.stderr
        body = app(environ, start_response)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return time.process_time() - start


def rows() -> dict[str, WSGIApp]:
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler

    rt.configure(exporter=NoopExporter())
    apps: dict[str, WSGIApp] = {"plain": WSGIHandler()}
    apps["codetrace"] = hooks.django(WSGIHandler())
    settings.MIDDLEWARE = list(BASE_MIDDLEWARE)  # the next handlers without codetrace's
    try:
        from opentelemetry.instrumentation.django import DjangoInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    except ImportError:
        print("opentelemetry-instrumentation-django or opentelemetry-sdk missing: skipped")
        return apps
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(NoopExporter()))  # type: ignore[arg-type]
    DjangoInstrumentor().instrument(tracer_provider=provider)
    apps["OpenTelemetry"] = WSGIHandler()
    return apps


def main(rounds: int, number: int) -> None:
    setup()
    apps = rows()
    for app in apps.values():  # warm up: resolver caches, middleware state
        drive(app, 200)
    times: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            times[name].append(drive(app, number) / number * 1e6)
    medians = {name: statistics.median(values) for name, values in times.items()}
    plain = medians["plain"]
    ours = medians["codetrace"] - plain
    print(f"{rounds} rounds x {number} requests, CPU time per request (median, min-max)")
    print(f"{'':40} {'µs/request':>12} {'overhead µs':>12} {'x codetrace':>12}")
    for name, median in medians.items():
        overhead = median - plain
        ratio = f"{overhead / ours:.1f}" if name != "plain" and ours > 0 else ""
        spread = f"({min(times[name]):.1f}-{max(times[name]):.1f})"
        shown = f"{overhead:.1f}" if name != "plain" else ""
        print(f"{name:40} {median:8.1f} {spread:>14} {shown:>8} {ratio:>10}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=2000)
    arguments = parser.parse_args()
    main(arguments.rounds, arguments.number)
