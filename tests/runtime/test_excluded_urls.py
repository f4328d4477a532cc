"""``_excluded_urls``: OpenTelemetry's ``OTEL_PYTHON_*EXCLUDED_URLS`` rules, shared by the HTTP
adapters and server hooks."""

from __future__ import annotations

import logging

import pytest

import codetrace.runtime as rt
from codetrace.runtime._excluded_urls import excluded

LIBRARY = "OTEL_PYTHON_DEMO_EXCLUDED_URLS"


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_PYTHON_EXCLUDED_URLS", raising=False)
    monkeypatch.delenv(LIBRARY, raising=False)
    rt.reset()


def test_nothing_set_excludes_nothing() -> None:
    assert not excluded("http://h/health", LIBRARY)


def test_regexes_are_searched_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "/health$, ^https://internal\\.")
    rt.reset()
    assert excluded("http://h/health", LIBRARY)
    assert excluded("https://internal.example/x", LIBRARY)
    assert not excluded("http://h/healthz", LIBRARY)
    assert not excluded("http://h/users", LIBRARY)


def test_the_library_variable_replaces_the_general_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "/health")
    monkeypatch.setenv(LIBRARY, "/metrics")
    rt.reset()
    assert excluded("http://h/metrics", LIBRARY)
    assert not excluded("http://h/health", LIBRARY)
    assert excluded("http://h/metrics", "DEMO")  # the bare library name means the same
    assert excluded("http://h/health", "OTEL_PYTHON_OTHER_EXCLUDED_URLS")


def test_blank_entries_do_not_exclude_everything_and_bad_ones_are_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(LIBRARY, "/a,, ,(unclosed")
    rt.reset()
    with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
        assert excluded("http://h/a", LIBRARY)
        assert not excluded("http://h/b", LIBRARY)
    assert "(unclosed" in caplog.text


def test_read_once_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIBRARY, "/a")
    rt.reset()
    assert excluded("http://h/a", LIBRARY)
    monkeypatch.setenv(LIBRARY, "/b")
    assert excluded("http://h/a", LIBRARY)  # cached
    rt.reset()
    assert not excluded("http://h/a", LIBRARY) and excluded("http://h/b", LIBRARY)
