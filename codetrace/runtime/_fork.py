"""Forking: no lock of the runtime is held, and no write half done, in a forked child.

``os.fork()`` copies the process at one instant, with only the thread that called it. What any
other thread was doing at that instant is frozen in the child: a lock it held stays held for
good (the child's next ``with lock:`` never returns), and half a record it had put in a file
object's buffer is written a second time when the child flushes. Pre-fork servers (gunicorn)
and ``multiprocessing``'s fork start method fork processes that trace on several threads.

Objects that hold a lock around such work register here and take part in every fork, through
``os.register_at_fork``:

* ``_before_fork(deadline)``, in the forking thread just before the fork: take the lock, so no
  other thread is inside the critical section when the process is copied, and say whether it
  was taken. Wait at most until ``deadline`` (a ``time.monotonic()`` value, ``FORK_WAIT_S``
  after the fork started, shared by all objects), so a writer stuck on a full pipe delays a
  fork by a bounded time and never blocks it for good. The locks are re-entrant, so a fork from
  a thread that holds one itself (a signal handler running in the middle of an export) does
  not wait for itself.
* ``_after_fork_in_parent()``, only if the lock was taken: release it.
* ``_after_fork_in_child()``: start from fresh locks (never one another thread may hold) and
  per-process resources.

Two threads may fork at once (a ``multiprocessing`` pool replacing a worker while the main
thread starts a process): what each took is remembered per thread, and each gives back its own.
``subprocess`` does not run these hooks (it forks in C and execs at once), so starting a
program never waits here.

:class:`LockedAcrossFork` implements the three for an object whose lock is ``self._lock``.
The registry holds weak references, so a registered exporter is still collected once the
application drops it. This module imports only built-in modules: the exporters import it when
the runtime is imported.
"""

from __future__ import annotations

import os
from _thread import RLock, get_ident
from _weakref import ref
from time import monotonic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Protocol

    class ForkAware(Protocol):
        def _before_fork(self, deadline: float) -> bool: ...
        def _after_fork_in_parent(self) -> None: ...
        def _after_fork_in_child(self) -> None: ...


__all__ = ["FORK_WAIT_S", "LockedAcrossFork", "register"]

FORK_WAIT_S = 1.0
"""The longest a fork waits for the runtime's critical sections to finish, all together."""

_registered: dict[int, ref[ForkAware]] = {}


def register(obj: ForkAware) -> None:
    """Make ``obj`` take part in every fork from now on, for as long as it lives."""
    key = ref(obj, _forget)
    _registered[id(key)] = key


def _forget(key: ref[ForkAware]) -> None:
    _registered.pop(id(key), None)


def _alive() -> list[ForkAware]:
    for _ in range(3):  # a weak reference may die (and leave the dict) while we copy it
        try:
            refs = list(_registered.values())
        except RuntimeError:
            continue
        return [obj for obj in (r() for r in refs) if obj is not None]
    return []


_taken: dict[int, list[ForkAware]] = {}  # by forking thread: whose lock it took


def _before() -> None:
    deadline = monotonic() + FORK_WAIT_S
    taken = []
    for obj in _alive():
        try:
            if obj._before_fork(deadline):
                taken.append(obj)
        except Exception:  # a fork must go on whatever one object does
            continue
    _taken[get_ident()] = taken


def _after_in_parent() -> None:
    for obj in _taken.pop(get_ident(), ()):
        try:  # noqa: SIM105 - contextlib is not imported here, to keep imports cheap
            obj._after_fork_in_parent()
        except Exception:
            pass


def _after_in_child() -> None:
    _taken.clear()
    for obj in _alive():
        try:  # noqa: SIM105 - see above
            obj._after_fork_in_child()
        except Exception:
            pass


if hasattr(os, "register_at_fork"):  # not on Windows, where there is no fork
    os.register_at_fork(
        before=_before, after_in_parent=_after_in_parent, after_in_child=_after_in_child
    )


class LockedAcrossFork:
    """Mixin: ``self._lock`` (re-entrant) is taken before a fork and fresh in the child.

    Call :meth:`_init_fork_lock` from ``__init__``.
    """

    _lock: RLock

    def _init_fork_lock(self) -> None:
        self._lock = RLock()
        register(self)

    def _before_fork(self, deadline: float) -> bool:
        return bool(self._lock.acquire(timeout=max(0.0, deadline - monotonic())))

    def _after_fork_in_parent(self) -> None:
        self._lock.release()

    def _after_fork_in_child(self) -> None:
        self._lock = RLock()
