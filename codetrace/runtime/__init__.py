"""codetrace's runtime: the small tracer that instrumented code calls.

``codetrace apply`` writes ``import codetrace.runtime as _codetrace`` and a few constructs into
user code (see docs/runtime-contract.md): ``_codetrace.traced(callee, "rule.id")(args...)`` at
call sites, ``_codetrace.hooks.flask(app)`` after objects are created, and
``@_codetrace.span_function("name")`` above the project's own functions. The names ``traced``
and ``hooks`` accept are listed in ``_catalogue`` (which the engine reads to validate rule
files). All behaviour lives here, so upgrading the runtime changes semantics without rewriting
the code again.

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
from ._context import Context
from ._exporters import ConsoleSpanExporter, InMemorySpanExporter, JsonLinesSpanExporter
from ._processors import SimpleSpanProcessor
from ._propagation import extract, inject
from ._resource import resource_attributes
from ._scope import traced_context, use_context
from ._setup import configure, force_flush, register_exporter, reset, shutdown
from ._span import Event, Span, current_span
from ._span_function import span_function
from ._traced import register_adapter, traced
from ._tracer import span
from ._values import SpanKind, StatusCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._batch import BatchSpanProcessor
    from ._dbapi import make_dbapi_adapter
    from ._otlp import OTLPSpanExporter
del TYPE_CHECKING  # not a public name

__all__ = [
    "BatchSpanProcessor",
    "ConsoleSpanExporter",
    "Context",
    "Event",
    "InMemorySpanExporter",
    "JsonLinesSpanExporter",
    "OTLPSpanExporter",
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
    "make_dbapi_adapter",
    "register_adapter",
    "register_exporter",
    "reset",
    "resource_attributes",
    "shutdown",
    "span",
    "span_function",
    "traced",
    "traced_context",
    "use_context",
]

_LAZY = {
    "BatchSpanProcessor": "codetrace.runtime._batch",
    "OTLPSpanExporter": "codetrace.runtime._otlp",
    "make_dbapi_adapter": "codetrace.runtime._dbapi",
}
"""Public names whose modules cost milliseconds to import (:mod:`threading`, :mod:`re`...):
loaded on first access, so ``import codetrace.runtime`` stays cheap."""


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(__import__(module_name, fromlist=[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
