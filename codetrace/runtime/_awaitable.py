"""A coroutine that times another: what a traced call returns when its callee returns a coroutine.

An adapter cannot end its span when an ``async def`` callee returns: the work runs later, when
the coroutine is awaited (or made a task, or driven by hand). Wrapping it in another ``async
def`` changed what the program observes: closing the wrapper before it ran, or cancelling its
task before it started, dropped the user's coroutine unclosed, so Python warned that it was
``never awaited`` (an error under ``-W error``) where the untraced program was silent, and the
span never ended; a wrapper dropped unawaited warned twice, once about itself. So the wrapper is
:class:`TracedCoroutine`, an object implementing the coroutine protocol (``send``, ``throw``,
``close``, ``__await__``) around the callee's coroutine, forwarding each call to it:

* The span ends exactly once, whichever way the coroutine ends: it returns (the span ends; an
  adapter may read the result first), raises (recorded as the failure it is, ``is_failure``:
  cancellation included, ``GeneratorExit`` not), is closed (before or after it started: the span
  ends without an error), or is garbage-collected unfinished (the span ends in ``__del__``).
  Cancellation as an error is codetrace's one policy for every span (``_span.is_failure``);
  OpenTelemetry's ``use_span``, which its instrumentations end spans with, records only
  ``Exception`` since opentelemetry-python#4494, so a cancelled span there has no error.
* Warnings are the untraced program's. Closed before it ran, the callee's coroutine is closed
  too (silently, as Python does). Dropped without ever being awaited or closed, it is left to
  Python, which warns ``coroutine '<callee>' was never awaited``, naming the user's callee, just
  as it would untraced, and nothing more. Dropped while suspended, Python closes it as usual.
* The span is current while the callee's code runs, and only in the context that runs it.
  Awaited fresh (``await traced_call()``, the common case), ``__await__`` hands the awaiting
  coroutine a generator that makes the span current once, delegates with ``yield from`` (the
  steps run at C speed) and restores the previous span at the end, as an ``async def`` wrapper
  did: in a task nothing else runs in that context meanwhile. Driven directly (a task made from
  it, ``send``/``throw``/``close`` by hand), each call makes the span current and restores what
  was current before returning, so a hand driver never sees it between steps. Tasks the body
  starts inherit it either way.
* It answers type questions as a coroutine does: ``asyncio.iscoroutine`` (so ``create_task``,
  ``ensure_future``, ``gather``, ``wait_for``, ``asyncio.run`` and anyio accept it),
  ``inspect.iscoroutine``, ``inspect.isawaitable``, ``isinstance(x, types.CoroutineType)``
  (``__class__`` reports the coroutine type, as ``unittest.mock`` does for a spec) and
  ``inspect.getcoroutinestate``; ``cr_*``, ``__name__`` and ``__qualname__`` are the callee's
  coroutine's, ``repr`` too; it pickles no more than a coroutine does. What differs:
  ``type(x) is types.CoroutineType`` is false, and ``next(x)`` works (``__next__`` is
  ``send(None)``, the slot a task's or a hand driver's steps go through), where a coroutine
  refuses it.

Cost (``benchmarks/runtime_coroutine.py``, no event loop, CPU time): an awaited traced call adds
about 2.2 µs to an untraced one, 0.5 µs more than the ``async def`` wrapper did, whatever the
number of suspensions; driven directly, each suspension adds about 0.3 µs (a Python call and
one ``ContextVar`` set and reset), against the tens of microseconds an event loop spends on it.
"""

from __future__ import annotations

from time import time_ns

from ._scope import make_current, restore_current
from ._span import Span, current, reset_current

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Coroutine, Generator
    from types import CoroutineType as NativeCoroutine
    from typing import Any

    _Base = Coroutine[Any, Any, Any]
else:
    _Base = object  # no ABC at run time: ``isinstance`` asks ``__class__`` (below) instead


async def _probe() -> None:  # pragma: no cover - only used to learn the coroutine type
    return None


_probe_coroutine = _probe()
CoroutineType: type[NativeCoroutine[Any, Any, Any]] = type(_probe_coroutine)  # type: ignore[assignment]
"""``types.CoroutineType``, learned without importing :mod:`types` (~0.7 ms at start-up)."""
_probe_coroutine.close()
del _probe_coroutine


class TracedCoroutine(_Base):
    """``coroutine``, with ``span`` current while it runs and ended when it ends.

    The adapter has started ``span`` and made it current for the call only (the coroutine's
    body has not run yet); from here on this object owns it. Subclasses refine
    :meth:`_returned` (what the result says) and :attr:`timed_from_first_step`.
    """

    __slots__ = ("__weakref__", "_coroutine", "_fresh", "_span")

    timed_from_first_step = False
    """Whether the span's start is moved to the coroutine's first step (it starts at the call)."""

    def __init__(self, span: Span, coroutine: NativeCoroutine[Any, Any, Any]) -> None:
        self._span: Span | None = span  # None once the span has ended
        self._coroutine = coroutine
        self._fresh = True  # neither sent to, thrown into nor closed yet

    # -- what an adapter refines ---------------------------------------------------------------

    def _returned(self, span: Span, value: object) -> None:
        """The coroutine returned ``value``: end the span (never raise: it is the user's)."""
        span.end()

    # -- the coroutine protocol ----------------------------------------------------------------

    def send(self, value: Any = None) -> Any:
        """Run one step of the callee's coroutine with the span current."""
        span = self._span
        if span is None:  # ended: whatever the coroutine says now (it is done), unchanged
            return self._coroutine.send(value)
        if self._fresh:
            self._fresh = False
            if self.timed_from_first_step:
                span.start_ns = time_ns()
        if type(span) is Span:  # not bridged: the ContextVar alone, inline (this is per step)
            token = current.set(span)
            try:
                return self._coroutine.send(value)
            except StopIteration as stop:
                self._end_returned(span, stop.value)
                raise
            except BaseException as exc:
                self._end_raised(span, exc)
                raise
            finally:
                current.reset(token)
        bridged = make_current(span)
        try:
            return self._coroutine.send(value)
        except StopIteration as stop:
            self._end_returned(span, stop.value)
            raise
        except BaseException as exc:
            self._end_raised(span, exc)
            raise
        finally:
            restore_current(bridged)

    __next__ = send  # what drives each step that sends no value in

    def throw(self, *args: Any) -> Any:
        """Raise an exception where the callee's coroutine is suspended, with the span current."""
        span = self._span
        if span is None:
            return self._coroutine.throw(*args)
        self._fresh = False
        token = make_current(span)
        try:
            return self._coroutine.throw(*args)
        except StopIteration as stop:
            self._end_returned(span, stop.value)
            raise
        except BaseException as exc:
            self._end_raised(span, exc)
            raise
        finally:
            restore_current(token)

    def close(self) -> Any:
        """Close the callee's coroutine (its ``finally`` blocks run with the span current)."""
        span = self._span
        if span is None:
            return self._coroutine.close()
        self._fresh = False
        token = make_current(span)
        try:
            result = self._coroutine.close()  # type: ignore[func-returns-value] # 3.13+: a value
        except BaseException as exc:
            self._end_raised(span, exc)
            raise
        finally:
            restore_current(token)
        self._end(span, None)
        return result

    def __await__(self) -> Generator[Any, None, Any]:
        coroutine = self._coroutine
        if coroutine.cr_await is not None:  # what ``await`` says of a native coroutine
            raise RuntimeError("coroutine is being awaited already")
        span = self._span
        if span is None or not self._fresh:  # done, or already driven by hand: step by step
            return self
        self._fresh = False
        if self.timed_from_first_step:
            span.start_ns = time_ns()
        return self._awaited(span, coroutine)

    def _awaited(
        self, span: Span, coroutine: NativeCoroutine[Any, Any, Any]
    ) -> Generator[Any, None, Any]:
        """``await`` of a fresh coroutine: the span is made current once, in the awaiting
        context, for the whole await, and the steps run at C speed (``yield from``). In a task
        (asyncio, anyio, trio) nothing else runs in that context meanwhile, so this is the same
        as making it current per step, without a Python call per step."""
        plain = type(span) is Span  # not bridged: the ContextVar alone, inline
        token = current.set(span) if plain else make_current(span)
        try:
            value = yield from coroutine.__await__()
        except BaseException as exc:
            self._end_raised(span, exc)
            raise
        finally:
            if plain:
                reset_current(token)  # type: ignore[arg-type]
            else:
                restore_current(token)
        if self._span is span:  # not ended meanwhile (closed while awaited, say)
            self._span = None
            self._returned(span, value)
        return value

    def __del__(self) -> None:
        """Dropped unfinished: end the span; the callee's coroutine is released right after.

        Python then finalises it as it would untraced: a suspended one is closed, one that
        never ran warns that it was never awaited, naming the callee.
        """
        span = self._span
        if span is not None:
            self._span = None
            try:  # noqa: SIM105 - no contextlib import for this
                span.end()
            except Exception:  # pragma: no cover - interpreter shutdown; never raise from here
                pass

    # -- looking like a coroutine --------------------------------------------------------------

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # deliberately the coroutine type (see the module docstring)
        return CoroutineType

    def __getattr__(self, name: str) -> Any:
        """``cr_frame``, ``cr_running``, ``cr_code``, ``__name__``...: the callee's coroutine's."""
        if name in TracedCoroutine.__slots__:  # unset (a failed ``__init__``): no recursion
            raise AttributeError(name)
        return getattr(self._coroutine, name)

    def __repr__(self) -> str:
        return repr(self._coroutine)

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("cannot pickle 'coroutine' object")

    # -- ending the span -----------------------------------------------------------------------

    def _end_returned(self, span: Span, value: object) -> None:
        if self._span is span:  # not ended meanwhile (closed while awaited, say)
            self._span = None
            self._returned(span, value)

    def _end_raised(self, span: Span, exc: BaseException) -> None:
        """End the span with ``exc``, unless the coroutine is still alive (it was refused a
        value, ``coroutine already executing``, or ignored ``GeneratorExit``: it goes on)."""
        if self._coroutine.cr_frame is None:
            self._end(span, exc)

    def _end(self, span: Span, exc: BaseException | None) -> None:
        if self._span is not span:
            return
        self._span = None
        if exc is None:
            span.end()
        else:
            span.__exit__(type(exc), exc, exc.__traceback__)
