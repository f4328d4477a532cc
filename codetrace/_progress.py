"""One status line on a terminal: files found while discovering, then files done of all.

Drawn by a small thread on a fixed beat, so it shows from the first second whatever the run is
doing (walking a large tree, waiting on a worker busy with a long file), and fed by counters
the run bumps as work completes, in whatever order workers finish. Every other line the run
prints goes through :meth:`Progress.write` or :meth:`Progress.paused`: the status line is
cleared (``\\r\\x1b[K``) first, under one lock, so output lines never run into it. When the
stream is not a terminal the object does nothing at all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from typing import TextIO

CLEAR = "\r\x1b[K"

#: a run that ends sooner shows no status line at all (no flicker on small trees)
FIRST_DRAW = 0.25
BEAT = 0.1


class Progress:
    def __init__(self, stream: TextIO, enabled: bool) -> None:
        self.stream = stream
        self.enabled = enabled
        # re-entrant: a future that is already done runs its callback (``step``) at once
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._shown = ""
        self._found = 0
        self._total: int | None = None
        self._done = 0
        self._started = time.monotonic()
        self._files_started = self._started

    @classmethod
    def on_terminal(cls, stream: TextIO, quiet: bool = False) -> Progress:
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        return cls(stream, tty and not quiet)

    def start(self) -> Progress:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._beat, name="codetrace-progress",
                                            daemon=True)
            self._thread.start()
        return self

    # ----- counters (any thread) ---------------------------------------------------------------
    def found(self, count: int) -> None:
        self._found = count

    def begin(self, total: int, done: int = 0) -> None:
        """Discovery is over: ``total`` files, ``done`` of them settled already."""
        with self._lock:
            self._total = total
            self._done = done
            self._files_started = time.monotonic()

    def step(self, count: int = 1) -> None:
        with self._lock:
            self._done += count

    # ----- output (any thread) ----------------------------------------------------------------
    def write(self, text: str, stream: TextIO | None = None) -> None:
        """Print ``text`` (a whole line or more) with the status line out of its way."""
        with self.paused():
            target = stream or self.stream
            target.write(text)
            target.flush()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Clear the status line and hold it off while the caller prints; it comes back on
        the next beat."""
        with self._lock:
            self._clear()
            yield

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        with self._lock:
            self._clear()

    # ----- drawing (the beat thread, under the lock) ------------------------------------------
    def _clear(self) -> None:
        if self._shown:
            self.stream.write(CLEAR)
            self.stream.flush()
            self._shown = ""

    def _text(self) -> str:
        if self._total is None:
            return f"codetrace: discovering files... {self._found:,} found"
        elapsed = max(time.monotonic() - self._files_started, 1e-6)
        rate = f", {self._done / elapsed:,.0f} files/s" if elapsed > 1 else ""
        return f"codetrace: [{self._done:,}/{self._total:,}] files{rate}"

    def _width(self) -> int:
        try:
            columns = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = shutil.get_terminal_size((80, 24)).columns
        return columns or 80  # a pseudo-terminal nobody sized says 0

    def _beat(self) -> None:
        if self._stop.wait(FIRST_DRAW):
            return
        while not self._stop.is_set():
            with self._lock:
                if not self._stop.is_set():
                    # a line wider than the terminal wraps, and a wrapped line cannot be cleared
                    text = self._text()[:max(self._width() - 1, 10)]
                    if text != self._shown:
                        self.stream.write(CLEAR + text)
                        self.stream.flush()
                        self._shown = text
            self._stop.wait(BEAT)
