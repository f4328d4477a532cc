"""Exporters that need no collector: in-memory (tests), console (stderr), JSON lines (a file).

* :class:`InMemorySpanExporter` is the test double shipped with the library: configure it, run
  the code, read ``get_finished_spans()``. ``shutdown()`` does not stop it from collecting, so a
  test can reconfigure the runtime with the same instance.
* :class:`ConsoleSpanExporter` writes one readable line per span to ``sys.stderr`` (looked up at
  each export, so redirected or captured stderr works).
* :class:`JsonLinesSpanExporter` appends one JSON object per span to ``CODETRACE_JSONL_PATH``
  (default ``codetrace-spans.jsonl``): hex ids (``trace_id`` 32 chars, ``span_id`` and
  ``parent_span_id`` 16 or ``null``), ``kind`` as text, OTLP-style times, status, events and
  the resource. The file is opened in append mode on first export and flushed after every
  write; a path that cannot be written is counted in ``write_errors`` and logged once, never
  raised.

:mod:`json` is imported when a JSON-lines exporter is created, not when the runtime is imported,
and not when it exports either: a batch processor's background thread runs ``export``, and a
module that thread is importing at the instant another thread forks stays locked in the child.

The console and JSON-lines exporters are fork-safe (``_fork``): a fork waits (a bounded time)
until no thread is half-way through writing a span, so the child never writes the rest of a
line a second time, and the child gets a fresh lock, since the parent's may be held by a thread
that does not exist there. The JSON-lines file is reopened in the child rather than shared
through the parent's file object.
"""

from __future__ import annotations

import os
import sys

from ._fork import LockedAcrossFork
from ._log import warn_once
from ._resource import resource_attributes
from ._values import KIND_NAMES, STATUS_NAMES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import IO, Any

    from ._span import Span

DEFAULT_JSONL_PATH = "codetrace-spans.jsonl"


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


def _hex_or_none(value: int, width: int) -> str | None:
    return format(value, f"0{width}x") if value else None


def span_to_dict(span: Span, resource: dict[str, str]) -> dict[str, Any]:
    """The JSON-lines record of ``span`` (field names are part of the file format)."""
    return {
        "trace_id": format(span.trace_id, "032x"),
        "span_id": format(span.span_id, "016x"),
        "parent_span_id": _hex_or_none(span.parent_id, 16),
        "name": span.name,
        "kind": KIND_NAMES.get(span.kind, "INTERNAL"),
        "start_time_unix_nano": span.start_ns,
        "end_time_unix_nano": span.end_ns,
        "attributes": dict(span.attributes),
        "status": {
            "code": STATUS_NAMES.get(span.status_code, "UNSET"),
            "message": span.status_message,
        },
        "events": [
            {
                "name": event.name,
                "time_unix_nano": event.time_ns,
                "attributes": dict(event.attributes),
            }
            for event in span.events
        ],
        "resource": resource,
    }


def format_console_line(span: Span) -> str:
    """One human-readable line for ``span``."""
    duration_ms = (span.end_ns - span.start_ns) / 1e6 if span.end_ns else 0.0
    parent = format(span.parent_id, "016x") if span.parent_id else "-"
    parts = [
        f"codetrace: {span.name}",
        KIND_NAMES.get(span.kind, "INTERNAL"),
        f"{duration_ms:.3f}ms",
        f"trace_id={span.trace_id:032x}",
        f"span_id={span.span_id:016x}",
        f"parent_id={parent}",
    ]
    if span.status_code:
        status = STATUS_NAMES.get(span.status_code, "UNSET")
        message = f"({span.status_message!r})" if span.status_message else ""
        parts.append(f"status={status}{message}")
    parts.extend(f"{key}={value!r}" for key, value in span.attributes.items())
    if span.events:
        parts.append("events=" + ",".join(event.name for event in span.events))
    return " ".join(parts)


class ConsoleSpanExporter(LockedAcrossFork):
    """Write one line per span to ``stream`` (default: the ``sys.stderr`` of the moment)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._init_fork_lock()

    def export(self, spans: Sequence[Span]) -> bool:
        text = "".join(format_console_line(span) + "\n" for span in spans)
        stream = self._stream if self._stream is not None else sys.stderr
        if stream is None:  # pythonw, daemons: nowhere to write, nothing to report
            return True
        with self._lock:
            stream.write(text)
            stream.flush()
        return True

    def shutdown(self) -> None:
        return None


class JsonLinesSpanExporter(LockedAcrossFork):
    """Append one JSON object per span to a file (see the module docstring for the fields)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        import json  # here, not in export(): see the module docstring

        if path is None:
            path = os.environ.get("CODETRACE_JSONL_PATH") or DEFAULT_JSONL_PATH
        self.path = os.fspath(path)
        self.write_errors = 0
        self._file: IO[str] | None = None
        self._dumps = json.dumps
        # The resource is read here for the same reason: reading it may import (a malformed
        # OTEL_RESOURCE_ATTRIBUTES is logged, a percent-encoded one decoded with urllib.parse).
        self._resource = resource_attributes()
        self._init_fork_lock()

    def export(self, spans: Sequence[Span]) -> bool:
        resource = self._resource
        dumps = self._dumps
        try:
            text = "".join(
                dumps(
                    span_to_dict(span, resource),
                    separators=(",", ":"),
                    ensure_ascii=False,
                    default=str,
                )
                + "\n"
                for span in spans
            )
        except (TypeError, ValueError) as exc:  # pragma: no cover - attributes are cleaned
            return self._failed(exc)
        with self._lock:
            try:
                if self._file is None:
                    self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
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
