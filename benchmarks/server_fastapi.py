"""Server-side cost per request of a FastAPI app: codetrace's hook vs OpenTelemetry's instrumentor.

    .venv/bin/python benchmarks/server_fastapi.py                 # 7 rounds of 2,000 requests
    .venv/bin/python benchmarks/server_fastapi.py --rounds 9 --number 5000

The same FastAPI app (one route with a path parameter, a JSON response) is built three times
and driven in-process by a minimal ASGI call loop (a scope, a ``receive`` that returns the
request, a ``send`` that keeps nothing): no network and no server, so the difference between
the rows is the middleware alone.

* plain: the app, untraced;
* codetrace: ``hooks.starlette(app)`` (what ``codetrace apply`` writes after ``FastAPI()``),
  with ``configure(exporter=NoopExporter())``: every span sampled, recorded and exported
  synchronously;
* OpenTelemetry: ``FastAPIInstrumentor.instrument_app(app, tracer_provider=...)`` on a
  ``TracerProvider`` with a ``SimpleSpanProcessor`` around a no-op exporter (not installed
  globally), stable HTTP conventions (``OTEL_SEMCONV_STABILITY_OPT_IN=http``), its defaults
  otherwise (so its ``http send``/``http receive`` spans are made and exported too), and
  once more with ``exclude_spans=["send", "receive"]``, its leanest setting.

Each request carries a ``traceparent`` (the server continues a trace, as in production). Each
round times ``--number`` requests per row, rows interleaved so drift hits every row; the table
shows the median per request, and the overhead (row minus plain) with its ratio to
codetrace's. The clock is the process's CPU time. Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")

import codetrace.runtime as rt
from codetrace.runtime import hooks

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class NoopExporter:
    """Accepts everything and does nothing (codetrace and the SDK alike)."""

    def export(self, spans: Sequence[Any]) -> Any:
        return True

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def build() -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    return app


SCOPE = {
    "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
    "scheme": "http", "path": "/items/42", "raw_path": b"/items/42", "query_string": b"q=1",
    "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    "headers": [
        (b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench/1"), (b"accept", b"*/*"),
        (b"traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    ],
}


async def drive(app: ASGIApp, number: int) -> float:
    """CPU seconds for ``number`` requests through ``app``."""
    request = {"type": "http.request", "body": b"", "more_body": False}

    async def receive() -> dict[str, Any]:
        return request

    async def send(message: dict[str, Any]) -> None:
        return None

    start = time.process_time()
    for _ in range(number):
        await app(dict(SCOPE), receive, send)
    return time.process_time() - start


def rows() -> dict[str, ASGIApp]:
    rt.configure(exporter=NoopExporter())
    apps: dict[str, ASGIApp] = {"plain": build()}
    traced = build()
    hooks.starlette(traced)
    apps["codetrace"] = traced
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    except ImportError:
        print("opentelemetry-instrumentation-fastapi or opentelemetry-sdk missing: skipped")
        return apps
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(NoopExporter()))  # type: ignore[arg-type]
    otel = build()
    FastAPIInstrumentor.instrument_app(otel, tracer_provider=provider)
    apps["OpenTelemetry"] = otel
    lean = build()
    FastAPIInstrumentor.instrument_app(
        lean, tracer_provider=provider, exclude_spans=["send", "receive"]
    )
    apps["OpenTelemetry, no send/receive spans"] = lean
    return apps


async def main(rounds: int, number: int) -> None:
    apps = rows()
    for app in apps.values():  # warm up: build the middleware stacks, fill caches
        await drive(app, 200)
    times: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            times[name].append(await drive(app, number) / number * 1e6)
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
    asyncio.run(main(arguments.rounds, arguments.number))
