"""Fixtures for the runtime tests: a clean runtime and an in-memory exporter per test.

Every test starts from a runtime as freshly imported with no ``OTEL_*`` variables set (the
variables are removed, then ``reset()`` re-reads them) and ends the same way, so configuration
never leaks from one test to the next.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

import codetrace.runtime as rt


@pytest.fixture(autouse=True)
def clean_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("OTEL_") or name.startswith("CODETRACE_"):
            monkeypatch.delenv(name)
    rt.reset()
    yield
    rt.reset()


@pytest.fixture
def exporter() -> rt.InMemorySpanExporter:
    """An in-memory exporter installed as the only destination, sampling everything."""
    memory = rt.InMemorySpanExporter()
    rt.configure(exporter=memory)
    return memory
