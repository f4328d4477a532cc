"""``SimpleSpanProcessor``: hand each span to its exporter as it ends, synchronously.

Right for tests (the in-memory exporter sees a span the moment it ends) and for the console and
JSON-lines exporters, whose writes are cheap and whose output is easier to follow in order. The
batching processor (bounded queue, background thread, fork-safe) for network exporters lives in
``_batch``. An exporter that fails or returns ``False`` is counted in ``export_errors`` and
logged once (by the exporter when it returns ``False``, here when it raises); the span is
dropped and the application goes on.
"""

from __future__ import annotations

from ._log import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._protocols import SpanExporter
    from ._span import Span


class SimpleSpanProcessor:
    """Export every finished span immediately through ``exporter``."""

    __slots__ = ("_shut_down", "export_errors", "exporter")

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter
        self.export_errors = 0
        self._shut_down = False

    def on_start(self, span: Span) -> None:
        return None

    def on_end(self, span: Span) -> None:
        if self._shut_down:
            return
        try:
            if self.exporter.export((span,)):
                return
        except Exception as exc:  # one that raises is ours to report
            self.export_errors += 1
            name = type(self.exporter).__qualname__
            warn_once(
                f"export:{name}",
                "codetrace: exporter %s raised; its spans are dropped (see export_errors)",
                name,
                exc=exc,
            )
            return
        # An exporter that returns False reports its own reason.
        self.export_errors += 1

    def force_flush(self, timeout_s: float = 30.0) -> bool:
        return True

    def shutdown(self) -> None:
        if self._shut_down:
            return
        self._shut_down = True
        try:
            self.exporter.shutdown()
        except Exception as exc:
            warn_once(
                f"shutdown:{type(self.exporter).__qualname__}",
                "codetrace: exporter %s failed to shut down",
                type(self.exporter).__qualname__,
                exc=exc,
            )

    def __repr__(self) -> str:
        return f"SimpleSpanProcessor({self.exporter!r})"
