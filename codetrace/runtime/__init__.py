"""codetrace's runtime: the small tracer that instrumented code calls.

``codetrace apply`` writes ``import codetrace.runtime as _codetrace`` and a few constructs into
user code (see docs/runtime-contract.md): ``_codetrace.traced(callee, "rule.id")(args...)`` at
call sites, ``_codetrace.hooks.flask(app)`` after objects are created, and
``with _codetrace.span("name"):`` around functions. All behaviour lives here, so upgrading the
runtime changes semantics without rewriting the code again.

Constraints this package keeps: it imports only the standard library, and little of it at import
(configuration, exporters, the JSON and URL modules load on first use), so ``import
codetrace.runtime`` costs a few milliseconds; it never raises into the application, never emits
Python warnings (problems are logged once through :mod:`logging`), and keeps memory bounded.

Configuration follows the standard variables (``OTEL_SDK_DISABLED``, ``OTEL_TRACES_EXPORTER``,
``OTEL_TRACES_SAMPLER``, ``OTEL_PROPAGATORS``, ``OTEL_SERVICE_NAME``, ...) or :func:`configure`.
Where the application has set up OpenTelemetry (an SDK ``TracerProvider`` installed before the
first span, or ``CODETRACE_BACKEND=otel``), spans go through the OpenTelemetry API instead and
join its traces, context and exporters (see ``_bridge``); ``CODETRACE_BACKEND=codetrace`` keeps
codetrace's own pipeline. Interpreter exit waits at most ``CODETRACE_EXIT_TIMEOUT`` ms (default
3000) for the exporters to flush.

Context and concurrency: the current span is held in one ``ContextVar``. It follows
``asyncio`` tasks (each task starts with a copy of its creator's context) and
``contextvars.copy_context().run``. It does NOT follow plain threads: a ``threading.Thread`` or
a ``concurrent.futures`` worker starts with an empty context, so spans started there are new
roots. Wrap the function with :func:`traced_context` (``pool.submit(traced_context(work), x)``)
to run it in a copy of the caller's context; ``asyncio.to_thread`` already does this.
"""

from . import hooks
from ._config import configure, force_flush, register_exporter, reset, shutdown
from ._context import Context, traced_context, use_context
from ._exporters import ConsoleSpanExporter, InMemorySpanExporter, JsonLinesSpanExporter
from ._processors import SimpleSpanProcessor
from ._propagation import extract, inject
from ._resource import resource_attributes
from ._span import Event, Span, SpanKind, StatusCode, current_span
from ._traced import register_adapter, traced
from ._tracer import span

__all__ = [
    "ConsoleSpanExporter",
    "Context",
    "Event",
    "InMemorySpanExporter",
    "JsonLinesSpanExporter",
    "SimpleSpanProcessor",
    "Span",
    "SpanKind",
    "StatusCode",
    "configure",
    "current_span",
    "extract",
    "force_flush",
    "hooks",
    "inject",
    "register_adapter",
    "register_exporter",
    "reset",
    "resource_attributes",
    "shutdown",
    "span",
    "traced",
    "traced_context",
    "use_context",
]
