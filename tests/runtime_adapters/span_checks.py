"""Checks shared by the database adapter tests: the spans a step made, and that none of them
carries the secret the test put in a password, a parameter or a literal.

A test drains the exporter after each step (``take_spans``) so that its assertions speak of that
step alone; the secret is one string for every adapter so that a redaction bug cannot hide
behind a value some adapter happens not to send.
"""

from __future__ import annotations

import codetrace.runtime as rt

__all__ = ["SECRET", "nothing_secret", "take_spans"]

SECRET = "s3cr3t-value"


def take_spans(exporter: rt.InMemorySpanExporter) -> list[rt.Span]:
    """The spans finished since the last call; the exporter is left empty."""
    spans = list(exporter.get_finished_spans())
    exporter.clear()
    return spans


def nothing_secret(spans: list[rt.Span]) -> None:
    """Fails naming the first span whose name, status message, attributes or events' attributes
    contain ``SECRET``."""
    for span in spans:
        texts = [span.name, span.status_message, repr(span.attributes)]
        texts += [repr(event.attributes) for event in span.events]
        assert not any(SECRET in text for text in texts), span
