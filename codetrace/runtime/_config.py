"""Configuration: the standard ``OTEL_*`` variables, read lazily, or ``configure()`` in code.

Nothing is configured at import except ``OTEL_SDK_DISABLED`` (read once, so that
``traced(f, rule)`` can return ``f`` itself from the first call on). The exporters, sampler and
propagators are built on first use (the first span, the first ``inject``/``extract``), so
importing the runtime costs no file, socket or thread, and a program that never traces pays
nothing.

Variables: ``OTEL_SDK_DISABLED`` (``true`` turns everything off), ``OTEL_TRACES_EXPORTER``
(comma-separated: ``console``, ``jsonl``, ``none`` - the default -, ``otlp`` once the OTLP
exporter is installed, or any name given to :func:`register_exporter`), ``OTEL_TRACES_SAMPLER``
and ``OTEL_TRACES_SAMPLER_ARG`` (see ``_sampling``), ``OTEL_PROPAGATORS`` (see
``_propagation``), ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` (see ``_resource``),
``CODETRACE_JSONL_PATH``, ``CODETRACE_BACKEND`` (``auto`` - the default -, ``otel``,
``codetrace``: whether spans go through the OpenTelemetry API when it is set up, see
``_bridge``), ``CODETRACE_EXIT_TIMEOUT`` (milliseconds, default 3000: the most interpreter exit
waits for the processors to flush, all together; see :func:`exit_timeout_s`).

The seam for other exporters: ``register_exporter(name, factory, processor="simple"|"batch")``.
A name listed in ``_LAZY_EXPORTER_MODULES`` (``otlp`` -> ``codetrace.runtime._otlp``) is imported
the first time the variable asks for it; importing that module must register the name. With
``processor="batch"`` the exporter is wrapped in ``codetrace.runtime._batch.BatchSpanProcessor``
(constructed as ``BatchSpanProcessor(exporter)``), falling back to the simple processor if that
module is missing. Processors are flushed and shut down at interpreter exit.
"""

from __future__ import annotations

import os
import sys
from _thread import RLock

from . import _log, _resource
from ._exporters import ConsoleSpanExporter, JsonLinesSpanExporter
from ._log import warn_once
from ._processors import SimpleSpanProcessor
from ._sampling import make_sampler

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ._bridge import Bridge
    from ._protocols import Sampler, SpanExporter, SpanProcessor


def env_disabled() -> bool:
    """``OTEL_SDK_DISABLED`` as the specification reads booleans: only ``true`` (any case)."""
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


class Pipeline:
    """Where started spans go: the processors (may be empty) and the sampler, or the bridge.

    ``starters`` are the processors whose ``on_start`` does something: the simple processor's
    does not, and skipping the call is measurable on every span. With ``bridge`` set, spans go
    through the OpenTelemetry API instead (see ``_bridge``) and the rest is unused.
    """

    __slots__ = ("bridge", "processors", "sampler", "starters")

    def __init__(
        self, processors: tuple[SpanProcessor, ...], sampler: Sampler, bridge: Bridge | None = None
    ) -> None:
        self.processors = processors
        self.sampler = sampler
        self.bridge = bridge
        self.starters = tuple(
            processor
            for processor in processors
            if type(processor).on_start is not SimpleSpanProcessor.on_start
        )


class Settings:
    """The runtime's mutable global state, in one object with fast attribute access."""

    __slots__ = ("disabled", "pipeline", "propagators")

    def __init__(self) -> None:
        self.disabled = env_disabled()
        self.pipeline: Pipeline | None = None
        self.propagators: tuple[object, ...] | None = None


settings = Settings()

_lock = RLock()
_building = False
_atexit_registered = False

_EXPORTERS: dict[str, tuple[Callable[[], SpanExporter], str]] = {
    "console": (ConsoleSpanExporter, "simple"),
    "jsonl": (JsonLinesSpanExporter, "simple"),
}
_LAZY_EXPORTER_MODULES = {"otlp": "codetrace.runtime._otlp"}


def register_exporter(
    name: str, factory: Callable[[], SpanExporter], *, processor: str = "simple"
) -> None:
    """Make ``name`` a valid ``OTEL_TRACES_EXPORTER`` value.

    ``factory()`` builds the exporter (reading its own variables) on first use; ``processor``
    is ``"simple"`` (export as each span ends) or ``"batch"`` (queue and export in the
    background: right for anything that talks to the network).
    """
    if processor not in ("simple", "batch"):
        raise ValueError(f"processor must be 'simple' or 'batch', not {processor!r}")
    _EXPORTERS[name.strip().lower()] = (factory, processor)


def _lookup_exporter(name: str) -> tuple[Callable[[], SpanExporter], str] | None:
    entry = _EXPORTERS.get(name)
    if entry is None and name in _LAZY_EXPORTER_MODULES:
        try:
            __import__(_LAZY_EXPORTER_MODULES[name])
        except Exception as exc:
            warn_once(
                f"exporter-import:{name}",
                "codetrace: exporter %r is not available (%s)",
                name,
                exc,
            )
            return None
        entry = _EXPORTERS.get(name)
    return entry


def processor_for(exporter: SpanExporter, kind: str) -> SpanProcessor:
    """The processor that feeds ``exporter``: batch if asked and available, else simple."""
    if kind == "batch":
        try:
            from ._batch import BatchSpanProcessor  # type: ignore[import-not-found,unused-ignore]

            processor: SpanProcessor = BatchSpanProcessor(exporter)
            return processor
        except Exception as exc:
            warn_once(
                "batch-missing",
                "codetrace: batch span processor unavailable (%s); exporting synchronously",
                exc,
            )
    return SimpleSpanProcessor(exporter)


def processors_from_env() -> tuple[SpanProcessor, ...]:
    """The processors ``OTEL_TRACES_EXPORTER`` asks for (none by default)."""
    raw = os.environ.get("OTEL_TRACES_EXPORTER", "none")
    names = [name.strip().lower() for name in raw.split(",") if name.strip()]
    processors: list[SpanProcessor] = []
    for name in dict.fromkeys(names):
        if name == "none":
            continue
        entry = _lookup_exporter(name)
        if entry is None:
            warn_once(
                f"exporter-unknown:{name}",
                "codetrace: unknown OTEL_TRACES_EXPORTER value %r; ignored",
                name,
            )
            continue
        factory, kind = entry
        try:
            exporter = factory()
        except Exception as exc:
            warn_once(
                f"exporter-init:{name}",
                "codetrace: exporter %r failed to start; ignored",
                name,
                exc=exc,
            )
            continue
        processors.append(processor_for(exporter, kind))
    return tuple(processors)


def sampler_from_env() -> Sampler:
    return make_sampler(
        os.environ.get("OTEL_TRACES_SAMPLER"), os.environ.get("OTEL_TRACES_SAMPLER_ARG")
    )


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        import atexit

        atexit.register(_at_exit)


EXIT_TIMEOUT_ENV = "CODETRACE_EXIT_TIMEOUT"
DEFAULT_EXIT_TIMEOUT_MS = 3000


def exit_timeout_s() -> float:
    """The exit bound: ``CODETRACE_EXIT_TIMEOUT`` milliseconds (default 3000), in seconds.

    Interpreter exit flushes what the processors still hold, and waits for that at most this
    long in total, whatever the exporters' own timeouts (``OTEL_BSP_EXPORT_TIMEOUT`` is 30 s by
    default: too long to hold a process that is leaving because a collector hangs). What is not
    exported by then is dropped. It bounds processors that take a timeout (the batch processor
    and any ``force_flush(timeout_s)``); a synchronous exporter already ran as spans ended.
    """
    raw = os.environ.get(EXIT_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_EXIT_TIMEOUT_MS / 1000.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also rejects NaN
        warn_once(
            f"exit-timeout:{raw}",
            "codetrace: invalid %s=%r (milliseconds); using %d",
            EXIT_TIMEOUT_ENV,
            raw,
            DEFAULT_EXIT_TIMEOUT_MS,
        )
        return DEFAULT_EXIT_TIMEOUT_MS / 1000.0
    return value / 1000.0


_exit_deadline: float | None = None


def exit_deadline() -> float:
    """The ``time.monotonic()`` by which exit stops waiting for exports (fixed on first call).

    Every exit hook (this module's, the batch processor's, a ``multiprocessing`` child's
    finalizer) shares it, so the bound holds for all of them together.
    """
    global _exit_deadline
    if _exit_deadline is None:
        from time import monotonic

        _exit_deadline = monotonic() + exit_timeout_s()
    return _exit_deadline


def _at_exit() -> None:
    pipeline = settings.pipeline
    if pipeline is not None:
        _stop(pipeline.processors, flush=True, deadline=exit_deadline())


def _stop(
    processors: Sequence[SpanProcessor],
    *,
    flush: bool,
    keep: Sequence[object] = (),
    deadline: float | None = None,
) -> None:
    """Flush (if asked) and shut down ``processors``, all within ``deadline`` if one is given.

    With a deadline, a processor whose ``shutdown`` takes a timeout (the batch processor) gets
    what is left of it for flush and shutdown together; others get ``force_flush(left)`` then
    ``shutdown()``.
    """
    from time import monotonic

    for processor in processors:
        if any(processor is kept for kept in keep):
            continue
        try:
            if deadline is None:
                if flush:
                    processor.force_flush(5.0)
                processor.shutdown()
                continue
            left = max(0.0, deadline - monotonic())
            if _shutdown_takes_timeout(processor):
                processor.shutdown(timeout_s=left)  # type: ignore[call-arg]
                continue
            if flush:
                processor.force_flush(left)
            processor.shutdown()
        except Exception as exc:
            warn_once(
                f"stop:{type(processor).__qualname__}",
                "codetrace: span processor %s failed to stop",
                type(processor).__qualname__,
                exc=exc,
            )


def _shutdown_takes_timeout(processor: object) -> bool:
    batch = sys.modules.get("codetrace.runtime._batch")
    return batch is not None and isinstance(processor, batch.BatchSpanProcessor)


_EMPTY = Pipeline((), make_sampler("parentbased_always_on"))


def _make_bridge(backend: str) -> Bridge | None:
    """The bridge if ``backend`` (``auto``, ``otel``, ``codetrace``) asks for one and can be had."""
    if backend == "codetrace":
        return None
    from . import _bridge

    if backend == "auto" and not _bridge.otel_configured():
        return None
    try:
        return _bridge.Bridge()
    except Exception as exc:
        warn_once(
            "bridge-init",
            "codetrace: cannot use the OpenTelemetry API (%s); using codetrace's own pipeline",
            exc,
        )
        return None


def _pipeline_from_env(backend: str | None = None) -> Pipeline:
    """A pipeline as the environment asks: bridged, or codetrace's exporters and sampler."""
    if backend is None:
        from ._bridge import backend_from_env

        backend = backend_from_env()
    bridge = _make_bridge(backend)
    if bridge is not None:
        return Pipeline((), _EMPTY.sampler, bridge)
    return Pipeline(processors_from_env(), sampler_from_env())


def ensure_configured() -> Pipeline:
    """The pipeline, built from the environment on first use (thread-safe, re-entrancy-safe)."""
    global _building
    with _lock:
        pipeline = settings.pipeline
        if pipeline is not None:
            return pipeline
        if _building:  # an exporter factory started a span: let it through, untraced
            return _EMPTY
        _building = True
        try:
            pipeline = _pipeline_from_env()
        except Exception as exc:  # pragma: no cover - every step above already guards itself
            warn_once("configure", "codetrace: configuration failed; tracing off", exc=exc)
            pipeline = _EMPTY
        finally:
            _building = False
        settings.pipeline = pipeline
        _register_atexit()
        return pipeline


def bridge_failed(bridge: Bridge, exc: BaseException) -> Pipeline:
    """The OpenTelemetry API raised while starting a span: drop the bridge, for good.

    Logs once and installs codetrace's own pipeline (from the environment) in place of the
    bridged one, unless something else replaced it meanwhile; returns the pipeline to use.
    """
    warn_once(
        "bridge-failed",
        "codetrace: the OpenTelemetry API failed; using codetrace's own pipeline from now on",
        exc=exc,
    )
    with _lock:
        pipeline = settings.pipeline
        if pipeline is None or pipeline.bridge is bridge:
            pipeline = _pipeline_from_env("codetrace")
            settings.pipeline = pipeline
            _register_atexit()
        return pipeline


def configure(
    *,
    exporter: SpanExporter | None = None,
    processor: SpanProcessor | None = None,
    sampler: str | Sampler | None = None,
    sampler_arg: str | None = None,
    propagators: str | Sequence[str] | None = None,
    disabled: bool | None = None,
    backend: str | None = None,
) -> None:
    """Install a pipeline in code, replacing the current one (whose processors are shut down).

    ``exporter`` is wrapped in a :class:`SimpleSpanProcessor`; ``processor`` is used as given;
    with neither, ``OTEL_TRACES_EXPORTER`` decides. ``sampler`` is a sampler name (with
    ``sampler_arg``) or a ``sampler(parent, trace_id) -> bool`` function; default from the
    environment. ``propagators`` is like ``OTEL_PROPAGATORS``; default from the environment.
    ``disabled`` overrides ``OTEL_SDK_DISABLED``.

    ``backend`` is like ``CODETRACE_BACKEND``: ``"otel"`` sends spans through the OpenTelemetry
    API (the application's SDK samples and exports them; ``exporter``, ``processor`` and
    ``sampler`` must then be left out), ``"codetrace"`` uses codetrace's own pipeline, ``"auto"``
    bridges if an OpenTelemetry provider is installed. Default: codetrace's own pipeline when
    ``exporter``, ``processor`` or ``sampler`` is given, else the environment.
    """
    if backend is not None and backend not in ("auto", "otel", "codetrace"):
        raise ValueError(f"backend must be 'auto', 'otel' or 'codetrace', not {backend!r}")
    explicit = exporter is not None or processor is not None or sampler is not None
    if backend == "otel" and explicit:
        raise ValueError(
            "backend='otel' samples and exports through OpenTelemetry: "
            "leave out exporter, processor and sampler"
        )
    bridge: Bridge | None = None
    if not explicit:
        if backend is None:
            from ._bridge import backend_from_env

            backend = backend_from_env()
        bridge = _make_bridge(backend)
    processors: list[SpanProcessor] = []
    if processor is not None:
        processors.append(processor)
    if exporter is not None:
        processors.append(SimpleSpanProcessor(exporter))
    if processor is None and exporter is None and bridge is None:
        processors.extend(processors_from_env())
    if sampler is None:
        chosen = sampler_from_env()
    elif isinstance(sampler, str):
        chosen = make_sampler(sampler, sampler_arg)
    else:
        chosen = sampler
    new_propagators: tuple[object, ...] | None = None
    if propagators is not None:
        from ._propagation import make_propagators

        new_propagators = make_propagators(propagators)
    with _lock:
        old = settings.pipeline
        settings.pipeline = Pipeline(tuple(processors), chosen, bridge)
        settings.propagators = new_propagators
        if disabled is not None:
            settings.disabled = disabled
        _register_atexit()
    if old is not None:
        _stop(old.processors, flush=True, keep=processors)


def reset() -> None:
    """Back to a freshly imported runtime: shut the pipeline down, re-read the environment.

    Meant for tests: ``OTEL_SDK_DISABLED`` is read again now, everything else on next use;
    problems already logged once will be logged again.
    """
    with _lock:
        old = settings.pipeline
        settings.pipeline = None
        settings.propagators = None
        settings.disabled = env_disabled()
    if old is not None:
        _stop(old.processors, flush=True)
    _log.forget()
    _resource.forget()


def force_flush(timeout_s: float = 30.0) -> bool:
    """Ask every processor to export what it holds; ``True`` if all did in time."""
    pipeline = settings.pipeline
    if pipeline is None:
        return True
    ok = True
    if pipeline.bridge is not None:
        try:
            ok = pipeline.bridge.force_flush(timeout_s)
        except Exception as exc:
            ok = False
            warn_once(
                "flush:bridge", "codetrace: the OpenTelemetry provider failed to flush", exc=exc
            )
    for processor in pipeline.processors:
        try:
            ok = processor.force_flush(timeout_s) and ok
        except Exception as exc:
            ok = False
            warn_once(
                f"flush:{type(processor).__qualname__}",
                "codetrace: span processor %s failed to flush",
                type(processor).__qualname__,
                exc=exc,
            )
    return ok


def shutdown() -> None:
    """Flush and shut down the processors; later spans are still created but not exported.

    While bridged, the OpenTelemetry provider is the application's: it is flushed, not shut
    down, and spans keep going through it.
    """
    with _lock:
        old = settings.pipeline
        if old is not None and old.bridge is not None:
            bridged = old
        else:
            bridged = None
            sampler = old.sampler if old is not None else sampler_from_env()
            settings.pipeline = Pipeline((), sampler)
    if bridged is not None:
        force_flush()
        return
    if old is not None:
        _stop(old.processors, flush=True)


def _after_fork_in_child() -> None:
    global _lock, _building
    _lock = RLock()
    _building = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
