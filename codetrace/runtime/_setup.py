"""Configuration and assembly: the ``OTEL_*`` variables, read lazily, or ``configure()`` in code.

Nothing is configured at import except ``OTEL_SDK_DISABLED`` (read once, so that
``traced(f, rule)`` can return ``f`` itself from the first call on). The exporters, sampler and
propagators are built on first use (the first span, the first ``inject``/``extract``), so
importing the runtime costs no file, socket or thread, and a program that never traces pays
nothing.

Variables: ``OTEL_SDK_DISABLED`` (``true`` turns everything off), ``OTEL_TRACES_EXPORTER``
(comma-separated: ``console``, ``jsonl``, ``otlp``, ``none``, or any name given to
:func:`register_exporter`; default below), ``OTEL_EXPORTER_OTLP_ENDPOINT`` and
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (where OTLP goes; either one, non-empty, makes ``otlp``
the default; the other ``OTEL_EXPORTER_OTLP_*`` variables are the exporter's, see
``_otlp._http``), ``OTEL_TRACES_SAMPLER``
and ``OTEL_TRACES_SAMPLER_ARG`` (see ``_sampling``), ``OTEL_PROPAGATORS`` (see
``_propagation``), ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` (see ``_resource``),
``CODETRACE_JSONL_PATH``, ``CODETRACE_BACKEND`` (``auto`` - the default -, ``otel``,
``codetrace``: whether spans go through the OpenTelemetry API when it is set up, see
``_bridge``), ``CODETRACE_EXIT_TIMEOUT`` (milliseconds, default 3000: the most interpreter exit
waits for the processors to flush, all together; see :func:`exit_timeout_s`).

Where spans go when ``OTEL_TRACES_EXPORTER`` is unset (or blank): over OTLP if
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, else nowhere.
This departs from the specification, whose default is ``otlp`` to ``localhost:4318`` whatever
else is set, on purpose: instrumented code also runs in developers' unit tests and scripts,
where no collector listens, and there that default would build an exporter and a thread, try to
connect, and hold every process's exit for the retries (up to ``CODETRACE_EXIT_TIMEOUT``). With
nothing configured, nothing is built: no exporter, no connection attempt, no thread, no exit
delay. Setting an endpoint is what says "a collector is there"; ``OTEL_TRACES_EXPORTER=otlp``
still means OTLP to the default endpoint, and ``OTEL_TRACES_EXPORTER=none`` means nothing even
with an endpoint. An exporter whose settings are unusable (a certificate file that cannot be
read: ``_env.ConfigError``) is left out with one log line naming the variable, no traceback.

This module assembles: it builds exporters, processors, the sampler and the bridge, installs
the result in ``_state.settings`` (which everything else reads), and owns interpreter exit:
one ``atexit`` hook, registered at import, flushes and shuts down the pipeline's processors and
runs ``_state.exit_tasks`` (the batch module's: every live batch processor), all within the
exit bound (``CODETRACE_EXIT_TIMEOUT``).

And fork: a fork waits (at most ``_fork.FORK_WAIT_S``) for a pipeline being built on another
thread, because building imports modules (an exporter's network stack, the bridge's
OpenTelemetry API) and a module another thread is importing at the fork stays locked in the
child, whose own import of it would never return; so the child starts from the parent's
finished pipeline (each part makes itself fresh in the child), or from none. A
``multiprocessing`` child ends with ``os._exit``, which skips ``atexit``: it gets the same exit
flush through a ``multiprocessing`` finalizer, plus a flush of the OpenTelemetry provider when
bridged (the SDK flushes at ``atexit`` only).

The seam for other exporters: ``register_exporter(name, factory, processor="simple"|"batch")``.
The built-in ``otlp`` name imports ``codetrace.runtime._otlp`` the first time the variable asks
for it. With ``processor="batch"`` the exporter is wrapped in a ``BatchSpanProcessor``.
"""

from __future__ import annotations

import atexit
import sys
from _thread import RLock

from . import _captured_headers, _excluded_urls, _log, _resource
from ._env import ConfigError, env_choice, env_value, split_names
from ._exporters import ConsoleSpanExporter, JsonLinesSpanExporter
from ._fork import register as register_for_fork
from ._limits import with_span_limits
from ._log import warn_once
from ._processors import SimpleSpanProcessor
from ._sampling import make_sampler
from ._state import Pipeline, env_disabled, exit_deadline, exit_tasks, settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ._bridge import Bridge
    from ._propagators import Propagator
    from ._protocols import Sampler, SpanExporter, SpanProcessor

BACKEND_ENV = "CODETRACE_BACKEND"
BACKENDS = ("auto", "otel", "codetrace")

_lock = RLock()
_building = False


def _otlp_exporter() -> SpanExporter:
    from ._otlp import create_otlp_exporter_from_env

    return create_otlp_exporter_from_env()


_EXPORTERS: dict[str, tuple[Callable[[], SpanExporter], str]] = {
    "console": (ConsoleSpanExporter, "simple"),
    "jsonl": (JsonLinesSpanExporter, "simple"),
    "otlp": (_otlp_exporter, "batch"),
}


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


def processor_for(exporter: SpanExporter, kind: str) -> SpanProcessor:
    """The processor that feeds ``exporter``: a batch processor if ``kind`` is ``"batch"``."""
    if kind == "batch":
        from ._batch import BatchSpanProcessor

        return BatchSpanProcessor(exporter)
    return SimpleSpanProcessor(exporter)


OTLP_ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def default_exporter() -> str:
    """``OTEL_TRACES_EXPORTER`` when unset: ``otlp`` if an OTLP endpoint is set, else ``none``.

    The specification's default is ``otlp`` whatever else is set; see the module docstring for
    why codetrace waits for an endpoint.
    """
    return "otlp" if any(env_value(name) for name in OTLP_ENDPOINT_ENVS) else "none"


def processors_from_env() -> tuple[SpanProcessor, ...]:
    """The processors ``OTEL_TRACES_EXPORTER`` asks for (see :func:`default_exporter`)."""
    processors: list[SpanProcessor] = []
    for name in split_names(env_value("OTEL_TRACES_EXPORTER") or default_exporter()):
        if name == "none":
            continue
        entry = _EXPORTERS.get(name)
        if entry is None:
            warn_once(
                f"exporter-unknown:{name}",
                "codetrace: unknown OTEL_TRACES_EXPORTER value %r; ignored",
                name,
            )
            continue
        factory, kind = entry
        try:
            processors.append(processor_for(factory(), kind))
        except ConfigError as exc:  # a setting it cannot start with: its message says it all
            warn_once(f"exporter-config:{name}:{exc}", "codetrace: %s", exc)
        except Exception as exc:
            warn_once(
                f"exporter-init:{name}",
                "codetrace: exporter %r failed to start; ignored",
                name,
                exc=exc,
            )
    return tuple(processors)


def sampler_from_env() -> Sampler:
    return make_sampler(env_value("OTEL_TRACES_SAMPLER"), env_value("OTEL_TRACES_SAMPLER_ARG"))


def backend_from_env() -> str:
    """``CODETRACE_BACKEND`` (``auto``, ``otel`` or ``codetrace``); ``auto`` if unset or invalid."""
    return env_choice(BACKEND_ENV, BACKENDS, "auto")


def new_pipeline(
    processors: tuple[SpanProcessor, ...], sampler: Sampler, bridge: Bridge | None = None
) -> Pipeline:
    """A pipeline; its ``starters`` leave out processors whose ``on_start`` does nothing.

    Building one that records reads the span limits (``_limits.with_span_limits``).
    """
    starters = tuple(
        processor
        for processor in processors
        if type(processor).on_start is not SimpleSpanProcessor.on_start
    )
    return Pipeline(with_span_limits(processors), sampler, bridge, starters)


_EMPTY = new_pipeline((), make_sampler("parentbased_always_on"))


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
    bridge = _make_bridge(backend if backend is not None else backend_from_env())
    if bridge is not None:
        return new_pipeline((), _EMPTY.sampler, bridge)
    return new_pipeline(processors_from_env(), sampler_from_env())


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
        bridge = _make_bridge(backend if backend is not None else backend_from_env())
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
    new_propagators: tuple[Propagator, ...] | None = None
    if propagators is not None:
        from ._propagators import make_propagators

        new_propagators = make_propagators(propagators)
    with _lock:
        old = settings.pipeline
        settings.pipeline = new_pipeline(tuple(processors), chosen, bridge)
        settings.propagators = new_propagators
        if disabled is not None:
            settings.disabled = disabled
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
    _excluded_urls.forget()
    _captured_headers.forget()


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
            settings.pipeline = new_pipeline((), sampler)
    if bridged is not None:
        force_flush()
        return
    if old is not None:
        _stop(old.processors, flush=True)


def _stop(
    processors: Sequence[SpanProcessor],
    *,
    flush: bool,
    keep: Sequence[object] = (),
    deadline: float | None = None,
) -> None:
    """Flush (if asked) and shut down ``processors``, all within ``deadline`` if one is given.

    With a deadline, each gets ``force_flush(what is left)`` then ``shutdown()``. (At exit, the
    batch processors were already shut down within the deadline by their exit task, so both
    calls return at once for them.)
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


def _at_exit() -> None:
    """The interpreter is leaving: flush and stop everything, within the exit bound."""
    deadline = exit_deadline()
    for task in list(exit_tasks):
        try:
            task(deadline)
        except Exception as exc:
            warn_once("exit-task", "codetrace: flushing at exit failed", exc=exc)
    pipeline = settings.pipeline
    if pipeline is not None:
        _stop(pipeline.processors, flush=True, deadline=deadline)


atexit.register(_at_exit)


def _at_process_end() -> None:
    """The end of a ``multiprocessing`` child, which leaves by ``os._exit`` (no ``atexit``).

    What ``_at_exit`` does, and a flush of the OpenTelemetry provider when bridged, since the
    SDK flushes at ``atexit`` only.
    """
    from time import monotonic

    _at_exit()
    pipeline = settings.pipeline
    if pipeline is not None and pipeline.bridge is not None:
        try:
            pipeline.bridge.force_flush(max(0.0, exit_deadline() - monotonic()))
        except Exception as exc:
            warn_once("exit-bridge", "codetrace: flushing OpenTelemetry at exit failed", exc=exc)


class _Fork:
    """This module's part in every fork (see ``_fork`` and the module docstring).

    Also the object ``multiprocessing.util.register_after_fork`` wants to hold weakly.
    """

    def _before_fork(self, deadline: float) -> bool:
        """Let a pipeline being built on another thread finish first (see the docstring)."""
        from time import monotonic

        return bool(_lock.acquire(timeout=max(0.0, deadline - monotonic())))

    def _after_fork_in_parent(self) -> None:
        _lock.release()

    def _after_fork_in_child(self) -> None:
        global _lock, _building
        _lock = RLock()
        _building = False
        mp_util = sys.modules.get("multiprocessing.util")
        if mp_util is not None:
            # multiprocessing's bootstrap clears inherited finalizers, then runs its after-fork
            # callbacks: a finalizer registered through them survives, and runs at the end.
            mp_util.register_after_fork(self, _Fork._register_process_end)

    @staticmethod
    def _register_process_end(_owner: object) -> None:
        mp_util = sys.modules.get("multiprocessing.util")
        if mp_util is not None:
            mp_util.Finalize(None, _at_process_end, exitpriority=0)


_fork_part = _Fork()
register_for_fork(_fork_part)
