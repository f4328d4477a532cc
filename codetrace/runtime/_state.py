"""The runtime's state: what every module reads, and nothing that builds it.

:data:`settings` says whether tracing is off, which pipeline started spans go to and which
propagators ``inject``/``extract`` use. Readers (the tracer, propagation, the adapters) import
this module; ``_setup`` alone builds pipelines and writes them here. This module imports no
other module of the runtime at run time but ``_env`` and ``_log`` (the others below are for
type checkers), so anything can import it without an import cycle.

It also holds the exit bound (``CODETRACE_EXIT_TIMEOUT``), shared by every place that flushes
at interpreter exit (``_setup``'s exit hook, a ``multiprocessing`` child's finalizer in
``_batch``), so the bound holds for all of them together.
"""

from __future__ import annotations

from ._env import env_flag, env_number

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ._bridge import Bridge
    from ._propagators import Propagator
    from ._protocols import Sampler, SpanProcessor


class Pipeline:
    """Where started spans go: the processors (may be empty) and the sampler, or the bridge.

    ``starters`` are the processors whose ``on_start`` does something (``_setup`` leaves out
    those it knows do nothing: skipping the call is measurable on every span). With ``bridge``
    set, spans go through the OpenTelemetry API instead (see ``_bridge``) and the rest is unused.
    """

    __slots__ = ("bridge", "processors", "sampler", "starters")

    def __init__(
        self,
        processors: tuple[SpanProcessor, ...],
        sampler: Sampler,
        bridge: Bridge | None = None,
        starters: tuple[SpanProcessor, ...] = (),
    ) -> None:
        self.processors = processors
        self.sampler = sampler
        self.bridge = bridge
        self.starters = starters


def env_disabled() -> bool:
    """``OTEL_SDK_DISABLED``: only ``true`` (any case) turns tracing off."""
    return env_flag("OTEL_SDK_DISABLED")


class Settings:
    """The runtime's mutable global state, in one object with fast attribute access."""

    __slots__ = ("disabled", "pipeline", "propagators")

    def __init__(self) -> None:
        self.disabled = env_disabled()
        self.pipeline: Pipeline | None = None
        self.propagators: tuple[Propagator, ...] | None = None


settings = Settings()

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
    millis = env_number(EXIT_TIMEOUT_ENV, DEFAULT_EXIT_TIMEOUT_MS, unit="milliseconds")
    return millis / 1000.0


_exit_deadline: float | None = None


def exit_deadline() -> float:
    """The ``time.monotonic()`` by which exit stops waiting for exports (fixed on first call)."""
    global _exit_deadline
    if _exit_deadline is None:
        from time import monotonic

        _exit_deadline = monotonic() + exit_timeout_s()
    return _exit_deadline


exit_tasks: list[Callable[[float], None]] = []
"""What ``_setup``'s exit hook runs before stopping the pipeline, each given the deadline (a
``time.monotonic()`` value): the batch module adds the shutdown of every live batch processor,
the pipeline's or not."""
