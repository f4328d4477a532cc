"""Exporters that need no collector: in-memory (tests), console (stderr), JSON lines (a file).

* :class:`InMemorySpanExporter` is the test double shipped with the library: configure it, run
  the code, read ``get_finished_spans()``. ``shutdown()`` does not stop it from collecting, so a
  test can reconfigure the runtime with the same instance.
* :class:`ConsoleSpanExporter` (``_console``) prints each finished trace as a tree to
  ``sys.stderr``: start offsets, durations, a waterfall bar, name, kind, status and key
  attributes, for people to read.
* :class:`JsonLinesSpanExporter` appends OTLP JSON to ``CODETRACE_JSONL_PATH`` (default
  ``codetrace-spans.jsonl``): one ``ExportTraceServiceRequest`` per line (``resourceSpans`` →
  ``scopeSpans`` → ``spans``, hex ids, times as decimal strings, ``kind`` as a number,
  attributes as ``{"key", "value": {"stringValue"|"intValue"|...}}``), the encoding of the
  OTLP/HTTP exporter (``_otlp._json``), so it is what the OpenTelemetry Collector's ``file``
  exporter writes and its ``otlpjsonfile`` receiver reads. Each export (one span, under the
  simple processor) is one line, with the resource (``OTEL_SERVICE_NAME``,
  ``OTEL_RESOURCE_ATTRIBUTES``) and the ``codetrace`` scope. The file is opened in append mode
  on first export and flushed after every line; a path that cannot be written is counted in
  ``write_errors`` and logged once, never raised. ``_otlp._json_records.read_json_lines``
  reads the file back as flat span records.

The encoder (and :mod:`json`) is imported when a JSON-lines exporter is created, not when the
runtime is imported, and not when it exports either: a batch processor's background thread runs
``export``, and a module that thread is importing at the instant another thread forks stays
locked in the child.

The console and JSON-lines exporters are fork-safe (``_fork``): a fork waits (a bounded time)
until no thread is half-way through writing, so the child never writes the rest of a line a
second time, and the child gets a fresh lock, since the parent's may be held by a thread that
does not exist there. The JSON-lines file is reopened in the child rather than shared through
the parent's file object.
"""

from __future__ import annotations

import os

from ._console import ConsoleSpanExporter
from ._fork import LockedAcrossFork
from ._log import warn_once
from ._resource import resource_attributes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import IO

    from ._span import Span

__all__ = ["ConsoleSpanExporter", "InMemorySpanExporter", "JsonLinesSpanExporter"]

DEFAULT_JSONL_PATH = "codetrace-spans.jsonl"
JSONL_PATH_ENV = "CODETRACE_JSONL_PATH"


class InMemorySpanExporter:
    """Keep finished spans in a list, for tests."""

    def __init__(self) -> None:
        # list.extend, tuple(list) and list.clear are each atomic: no lock needed.
        self._spans: list[Span] = []

    def export(self, spans: Sequence[Span]) -> bool:
        self._spans.extend(spans)
        return True

    def get_finished_spans(self) -> tuple[Span, ...]:
        """The spans exported so far, oldest first."""
        return tuple(self._spans)

    def clear(self) -> None:
        """Forget the spans exported so far."""
        self._spans.clear()

    def shutdown(self) -> None:
        return None


class JsonLinesSpanExporter(LockedAcrossFork):
    """Append one OTLP JSON ``ExportTraceServiceRequest`` per export to a file (see the module
    docstring)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        from ._otlp._json import json_text  # here, not in export(): see the module docstring

        if path is None:
            path = os.environ.get(JSONL_PATH_ENV) or DEFAULT_JSONL_PATH
        self.path = os.fspath(path)
        self.write_errors = 0
        self._file: IO[str] | None = None
        self._encode = json_text
        # The resource is read here for the same reason: reading it may import (a malformed
        # OTEL_RESOURCE_ATTRIBUTES is logged, a percent-encoded one decoded with urllib.parse).
        self._resource = resource_attributes()
        self._init_fork_lock()

    def export(self, spans: Sequence[Span]) -> bool:
        if not spans:
            return True
        try:
            text = self._encode(spans, self._resource) + "\n"
        except (TypeError, ValueError) as exc:  # pragma: no cover - attributes are cleaned
            return self._failed(exc)
        with self._lock:
            try:
                if self._file is None:
                    # errors="replace": a lone surrogate (os.fsdecode makes them) becomes "?",
                    # as in the OTLP/HTTP exporter, instead of costing the line.
                    self._file = open(  # noqa: SIM115
                        self.path, "a", encoding="utf-8", errors="replace"
                    )
                self._file.write(text)
                self._file.flush()
                return True
            except (OSError, ValueError) as exc:
                self._close()
                error = exc
        # Logged outside the lock: logging takes its own lock, which a fork takes first.
        return self._failed(error)

    def _after_fork_in_child(self) -> None:
        """A fresh lock, and the file reopened on the next export: not the parent's object."""
        super()._after_fork_in_child()
        # Nothing is buffered in it (the fork waited for the write in progress to be flushed),
        # so dropping it writes nothing; it closes the child's copy of the descriptor.
        self._file = None

    def _failed(self, exc: BaseException) -> bool:
        self.write_errors += 1
        warn_once(
            f"jsonl:{self.path}",
            "codetrace: cannot write spans to %s (%s); they are dropped",
            self.path,
            exc,
        )
        return False

    def _close(self) -> None:
        file, self._file = self._file, None
        if file is None:
            return
        try:
            file.close()
        except OSError as exc:  # pragma: no cover - a full disk at the last flush
            warn_once(
                f"jsonl-close:{self.path}", "codetrace: closing %s failed", self.path, exc=exc
            )

    def shutdown(self) -> None:
        with self._lock:
            self._close()

    def __repr__(self) -> str:
        return f"JsonLinesSpanExporter({self.path!r})"
