"""Batch span processor: the only thing between ``span.end()`` and the network.

The application thread pays for one short critical section in ``on_end``: check the sampled
flag, append to a bounded deque, maybe wake the worker. Everything slow (encoding, HTTP, retries)
happens on one daemon thread, in batches, when the schedule delay passes or a batch fills. When
the queue is full the new span is dropped and counted (``dropped_spans``): memory stays bounded
and the application is never slowed by a slow or absent collector.

Process lifecycle, which is where tracing libraries usually go wrong:

- Exit: the runtime's exit hook (``_setup``) runs this module's exit task, which flushes and
  shuts down every live processor, each bounded by its export timeout and all together by the
  runtime's exit bound (``CODETRACE_EXIT_TIMEOUT``, 3 s by default), so a hung collector
  delays exit by at most that much. The worker is a daemon
  thread, so it never keeps the interpreter alive by itself. Spans that this last flush could
  not deliver (collector down, bound reached) are counted and said in one line, such as
  ``codetrace: 40 spans not exported at exit: http://host:4318/v1/traces: connection
  refused``: a short-lived process has no later moment to say it. The reason comes from the
  exporter when it offers one (``target``, ``failed_attempts``, ``last_failure``: the OTLP
  exporter does); an exporter with an ``at_exit`` attribute gets it set first, so it leaves
  the reporting to this line and does not retry what cannot succeed in time.
- Fork (gunicorn pre-fork, ``multiprocessing`` with the fork start method): the child inherits
  the queue, the lock (possibly held by a thread that does not exist in the child) and a worker
  thread that does not exist either. An ``os.register_at_fork`` hook gives the child a fresh
  lock, an empty queue (the parent still exports its own spans) and no worker; the worker
  starts on the child's first span. ``multiprocessing`` children leave through ``os._exit``,
  which skips ``atexit``, so the child also registers a ``multiprocessing`` finalizer.
  The worker never imports a module: a module it was importing at the instant of a fork would
  stay locked in the child, whose own import of it would never return. What it runs is
  imported before it starts: :mod:`logging` here, an exporter's modules by its constructor.

Settings follow the specification's ``OTEL_BSP_*`` variables; explicit arguments win.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from collections import deque

from ._env import read_number
from ._log import count_of, load_logging, warn_once
from ._log import warn as _log_warn
from ._state import exit_deadline, exit_tasks, exit_timeout_s
from ._values import FLAG_SAMPLED

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds
if TYPE_CHECKING:
    from ._protocols import SpanExporter
    from ._span import Span

__all__ = ["BatchSpanProcessor"]

LOG_CHANNEL = "batch"

DEFAULT_MAX_QUEUE_SIZE = 2048
DEFAULT_SCHEDULE_DELAY_MS = 5000
DEFAULT_MAX_EXPORT_BATCH_SIZE = 512
DEFAULT_EXPORT_TIMEOUT_MS = 30000


class BatchSpanProcessor:
    """Queue finished, sampled spans and export them in batches on a background thread.

    ``None`` for a setting means: the ``OTEL_BSP_*`` variable if set and valid, else the
    specification's default (2048, 5000 ms, 512, 30000 ms). ``max_export_batch_size`` is capped
    at ``max_queue_size``. ``export_timeout_ms`` bounds how long ``shutdown()`` (and so the exit
    of the process) waits for the last export; the exporter's own timeout bounds each export.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int | None = None,
        schedule_delay_ms: float | None = None,
        max_export_batch_size: int | None = None,
        export_timeout_ms: float | None = None,
    ) -> None:
        self.exporter = exporter
        self.max_queue_size = max(
            1, int(_setting(max_queue_size, "OTEL_BSP_MAX_QUEUE_SIZE", DEFAULT_MAX_QUEUE_SIZE))
        )
        self.schedule_delay_ms = _setting(
            schedule_delay_ms, "OTEL_BSP_SCHEDULE_DELAY", DEFAULT_SCHEDULE_DELAY_MS
        )
        batch = int(
            _setting(
                max_export_batch_size,
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                DEFAULT_MAX_EXPORT_BATCH_SIZE,
            )
        )
        self.max_export_batch_size = max(1, min(batch, self.max_queue_size))
        self.export_timeout_ms = _setting(
            export_timeout_ms, "OTEL_BSP_EXPORT_TIMEOUT", DEFAULT_EXPORT_TIMEOUT_MS
        )

        #: Spans refused because the queue was full (or the processor was shut down).
        self.dropped_spans = 0
        #: Spans the exporter reported as delivered, and as not delivered.
        self.exported_spans = 0
        self.failed_spans = 0

        self._shut_down = False
        self._said_full = False
        self._reset_runtime_state()
        load_logging()  # the worker logs export failures, and must not import (see above)
        _live.add(self)

    def __repr__(self) -> str:
        return f"BatchSpanProcessor({self.exporter!r}, queued={len(self._queue)})"

    # -- span processor interface --------------------------------------------------------------

    def on_start(self, span: Span) -> None:
        """Nothing to do when a span starts: only finished spans are exported."""

    def on_end(self, span: Span) -> None:
        """Queue ``span`` if it is sampled. Never blocks on I/O, never raises."""
        try:
            if not span.trace_flags & FLAG_SAMPLED:
                return
            with self._lock:
                queue = self._queue
                if self._shut_down or len(queue) >= self.max_queue_size:
                    self.dropped_spans += 1
                    if self._shut_down or self._said_full:
                        return
                    self._said_full = True  # said below, outside the lock
                    first_full = True
                else:
                    first_full = False
                    queue.append(span)
                    # ``>=``: while the worker exports, the queue grows past one batch
                    batch_full = len(queue) >= self.max_export_batch_size
                    need_worker = self._worker is None and not self._worker_failed
            if first_full:
                self._say_queue_full()
                return
            # once: while the worker exports, every span that ends finds the queue past one
            # batch, and ``Event.set`` takes a lock and notifies each time (27 % of spans in the
            # pymongo benchmark). A wake-up skipped here is never lost: the worker looks at the
            # queue's length after each drain, before it waits again.
            if batch_full and not self._wakeup.is_set():
                self._wakeup.set()
            if need_worker:
                self._start_worker()
        except Exception:  # tracing must never break the traced program
            pass

    def _say_queue_full(self) -> None:
        """Once per processor: spans are being dropped, and why (a slow or absent collector)."""
        _warn(
            "codetrace: the span queue is full (%s, OTEL_BSP_MAX_QUEUE_SIZE): new spans are "
            "dropped until the exporter catches up (counted, not logged)",
            count_of(self.max_queue_size, "span"),
        )

    def force_flush(self, timeout_s: float = 5.0) -> bool:
        """Export everything queued so far; ``False`` if not finished within ``timeout_s``."""
        try:
            return self._flush(timeout_s, stop=False)
        except Exception:
            return False

    def shutdown(self, timeout_s: float | None = None) -> None:
        """Flush (bounded by ``timeout_s``, default ``export_timeout_ms``), stop, shut the exporter.

        Idempotent. Spans ended afterwards are dropped and counted.
        """
        self._shutdown(timeout_s)

    def _shutdown(self, timeout_s: float | None) -> tuple[int, bool] | None:
        """:meth:`shutdown`; how many queued spans were not delivered, and whether the flush
        finished in time (``None`` if already shut down, or if it failed)."""
        outcome: tuple[int, bool] | None = None
        try:
            with self._lock:
                if self._shut_down:
                    return None
                self._shut_down = True
                # Everything accepted and not yet settled; settled spans are counted under the
                # same lock (``_export``), so nothing is counted twice or missed.
                pending = len(self._queue) + self._in_flight
                exported = self.exported_spans
            bound = self.export_timeout_ms / 1000.0 if timeout_s is None else timeout_s
            finished = self._flush(bound, stop=True)
            with self._lock:
                outcome = (pending - (self.exported_spans - exported), finished)
        except Exception:
            pass
        try:  # noqa: SIM105 - contextlib is not imported here, to keep imports cheap
            self.exporter.shutdown()
        except Exception:
            pass
        return outcome

    def _shutdown_at_exit(self, timeout_s: float, bound_s: float) -> None:
        """The last flush of a leaving process: shut down, then say in one line what was lost.

        ``bound_s`` is the configured bound the message names (``timeout_s`` is what is left
        of it now).
        """
        exporter = self.exporter
        try:
            if hasattr(exporter, "at_exit"):
                exporter.at_exit = True
            attempts = getattr(exporter, "failed_attempts", None)
        except Exception:
            attempts = None
        outcome = self._shutdown(timeout_s)
        if outcome is None or outcome[0] <= 0:
            return
        lost, finished = outcome
        try:
            target = getattr(exporter, "target", None) or type(exporter).__qualname__
            failure = None
            if attempts is not None and getattr(exporter, "failed_attempts", None) != attempts:
                failure = getattr(exporter, "last_failure", None)
            if failure and finished:
                why = str(failure)
            elif failure:
                why = f"{failure} (exit timeout of {bound_s:g} s reached)"
            elif not finished:
                why = f"no answer within the exit timeout of {bound_s:g} s"
            else:
                why = "the exporter reported a failure"
            _warn("codetrace: %s not exported at exit: %s: %s", count_of(lost, "span"), target, why)
        except Exception:
            pass

    # -- worker --------------------------------------------------------------------------------

    def _reset_runtime_state(self) -> None:
        """(Re)create the lock, queue and signals: at construction and in a forked child."""
        self._lock = threading.Lock()
        self._queue: deque[Span] = deque()
        self._wakeup = threading.Event()
        self._flush_waiters: list[threading.Event] = []
        self._stopping = self._shut_down
        self._worker: threading.Thread | None = None
        self._worker_failed = False
        self._in_flight = 0  # spans taken from the queue and being exported now

    def _start_worker(self) -> bool:
        """Start the export thread unless one runs; ``False`` if no thread can be started."""
        with self._lock:
            if self._worker is not None:
                return True
            thread = threading.Thread(target=self._run, name="codetrace-batch-export", daemon=True)
            self._worker = thread
        try:
            thread.start()
        except RuntimeError:  # interpreter shutting down, or the thread limit is reached
            with self._lock:
                if self._worker is thread:
                    self._worker = None
                self._worker_failed = True
            return False
        return True

    def _run(self) -> None:
        delay_s = min(self.schedule_delay_ms / 1000.0, threading.TIMEOUT_MAX)
        while True:
            waiters: list[threading.Event] = []
            stopping = False
            try:
                with self._lock:
                    # a full batch waiting is exported now, not after the schedule delay
                    ready = len(self._queue) >= self.max_export_batch_size
                if not ready:
                    self._wakeup.wait(delay_s)
                with self._lock:
                    self._wakeup.clear()
                    waiters, self._flush_waiters = self._flush_waiters, []
                    stopping = self._stopping
                self._drain()
            except Exception:  # keep the worker alive whatever an exporter does
                pass
            for waiter in waiters:
                waiter.set()
            if stopping:
                with self._lock:
                    if self._worker is threading.current_thread():
                        self._worker = None
                return

    def _drain(self) -> None:
        """Export what is queued now, batch by batch; spans that arrive meanwhile wait a turn.

        When stopping (shutdown, process exit) and a batch fails, the rest is dropped and
        counted rather than tried: each further batch would wait out the exporter's timeout
        against the same unreachable collector, and the process is waiting to exit.
        """
        with self._lock:
            budget = len(self._queue)
        while budget > 0:
            with self._lock:
                count = min(budget, self.max_export_batch_size, len(self._queue))
                if count == 0:
                    return
                batch = [self._queue.popleft() for _ in range(count)]
                self._in_flight = count
            budget -= count
            if not self._export(batch) and self._stopping:
                with self._lock:
                    self.failed_spans += len(self._queue)
                    self._queue.clear()
                return

    def _export(self, batch: list[Span]) -> bool:
        try:
            delivered = bool(self.exporter.export(batch))
        except Exception as exc:
            delivered = False
            _log_once(f"codetrace: span exporter {self.exporter!r} raised {type(exc).__name__}")
        with self._lock:  # settled and no longer in flight, in one step (see ``_shutdown``)
            if delivered:
                self.exported_spans += len(batch)
            else:
                self.failed_spans += len(batch)
            self._in_flight = 0
        return delivered

    def _flush(self, timeout_s: float, *, stop: bool) -> bool:
        done = threading.Event()
        with self._lock:
            if stop:
                self._stopping = True
            worker = self._worker
            if worker is None and not self._queue:
                return True
            self._flush_waiters.append(done)
        if worker is not None and not worker.is_alive():
            with self._lock:  # the thread died (or was lost): forget it and start another
                if self._worker is worker:
                    self._worker = None
            worker = None
        if worker is None and not self._start_worker():
            # No thread can be started (e.g. at interpreter shutdown): export on this thread.
            # The exporter's own timeout bounds this.
            with self._lock:
                waiters, self._flush_waiters = self._flush_waiters, []
            self._drain()
            for waiter in waiters:
                waiter.set()
            return True
        self._wakeup.set()
        return done.wait(min(max(0.0, timeout_s), threading.TIMEOUT_MAX))

    def _after_fork_in_child(self) -> None:
        self._reset_runtime_state()
        mp_util = sys.modules.get("multiprocessing.util")
        if mp_util is not None:
            # multiprocessing's bootstrap clears inherited finalizers, then runs its after-fork
            # callbacks: registering through them is the way to get a finalizer that survives,
            # and it runs when the child process ends (which skips atexit).
            mp_util.register_after_fork(self, _register_mp_finalizer)


def _register_mp_finalizer(_processor: BatchSpanProcessor) -> None:
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None:
        mp_util.Finalize(None, _shutdown_all, exitpriority=0)


# -- process-wide hooks ----------------------------------------------------------------------------

_live: weakref.WeakSet[BatchSpanProcessor] = weakref.WeakSet()


def _shutdown_all(deadline: float | None = None) -> None:
    """Flush and stop every live processor, by ``deadline`` (default: the runtime's exit bound).

    Each processor waits at most its own export timeout, and all of them together no longer
    than ``CODETRACE_EXIT_TIMEOUT`` (``_state.exit_deadline``, shared with the pipeline's stop).
    Each says in one line what it could not deliver.
    """
    from time import monotonic

    if deadline is None:
        deadline = exit_deadline()
    exit_bound = exit_timeout_s()
    for processor in list(_live):
        own_bound = processor.export_timeout_ms / 1000.0
        left = max(0.0, deadline - monotonic())
        processor._shutdown_at_exit(min(own_bound, left), min(own_bound, exit_bound))


def _reinit_in_child() -> None:
    for processor in list(_live):
        try:  # noqa: SIM105 - see shutdown()
            processor._after_fork_in_child()
        except Exception:
            pass


exit_tasks.append(_shutdown_all)
if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_reinit_in_child)


# -- settings --------------------------------------------------------------------------------------


def _setting(explicit: float | None, env_name: str, default: int) -> float:
    """An explicit value, else the environment variable, else the default; must be positive."""
    if explicit is not None:
        if explicit > 0:
            return explicit
        _log_once(f"codetrace: {env_name.lower()} must be positive, got {explicit!r}")
        return default
    raw = os.environ.get(env_name)
    return read_number(raw, default, what=env_name, positive=True, channel=LOG_CHANNEL)


def _warn(message: str, *args: object) -> None:
    """Log at WARNING on the ``codetrace.runtime.batch`` logger."""
    _log_warn(message, *args, channel=LOG_CHANNEL)


def _log_once(message: str) -> None:
    """Warn once per distinct message, on the ``codetrace.runtime.batch`` logger."""
    warn_once(message, "%s", message, channel=LOG_CHANNEL)
