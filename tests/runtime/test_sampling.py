"""Samplers chosen by OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG."""

from __future__ import annotations

import pytest

import codetrace.runtime as rt
from codetrace.runtime._sampling import (
    ParentBased,
    TraceIdRatio,
    always_off,
    always_on,
    make_sampler,
    parentbased_always_off,
    parentbased_always_on,
)

SAMPLED_PARENT = rt.Context(1, 1, 0x01)
UNSAMPLED_PARENT = rt.Context(1, 1, 0x00)


def _configure(monkeypatch: pytest.MonkeyPatch, name: str, arg: str | None = None) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", name)
    if arg is not None:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", arg)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    rt.reset()


def _decisions(parent: rt.Context | None, count: int = 400) -> list[bool]:
    results = []
    for _ in range(count):
        with rt.span("x", parent=parent) as s:
            pass
        results.append(s.sampled)
    return results


@pytest.mark.parametrize(
    ("name", "root", "sampled_parent", "unsampled_parent"),
    [
        ("always_on", True, True, True),
        ("always_off", False, False, False),
        ("parentbased_always_on", True, True, False),
        ("parentbased_always_off", False, True, False),
    ],
)
def test_named_samplers(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    root: bool,
    sampled_parent: bool,
    unsampled_parent: bool,
) -> None:
    _configure(monkeypatch, name)
    assert set(_decisions(None, 20)) == {root}
    assert set(_decisions(SAMPLED_PARENT, 20)) == {sampled_parent}
    assert set(_decisions(UNSAMPLED_PARENT, 20)) == {unsampled_parent}


def test_default_is_parentbased_always_on() -> None:
    assert set(_decisions(None, 20)) == {True}
    assert set(_decisions(UNSAMPLED_PARENT, 20)) == {False}


def test_local_parent_decision_is_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    _configure(monkeypatch, "parentbased_traceidratio", "0.5")
    for _ in range(50):
        with rt.span("root") as root, rt.span("child") as child:
            pass
        assert child.sampled == root.sampled


def test_traceidratio(monkeypatch: pytest.MonkeyPatch) -> None:
    _configure(monkeypatch, "traceidratio", "0.25")
    kept = sum(_decisions(None, 4000))
    assert 700 < kept < 1300
    # the decision depends on the trace id only: a child of a sampled-but-unlucky trace
    # is decided again from the same id, consistently
    sampler = TraceIdRatio(0.25)
    assert sampler(None, 1 << 60) == sampler(SAMPLED_PARENT, 1 << 60)


def test_traceidratio_bounds() -> None:
    low_56 = (1 << 56) - 1
    assert TraceIdRatio(1.0)(None, 0) is True
    assert TraceIdRatio(0.0)(None, low_56) is False
    assert TraceIdRatio(0.5)(None, low_56) is True
    assert TraceIdRatio(0.5)(None, 1) is False
    assert TraceIdRatio(7).ratio == 1.0 and TraceIdRatio(-1).ratio == 0.0


def test_parentbased_traceidratio(monkeypatch: pytest.MonkeyPatch) -> None:
    _configure(monkeypatch, "parentbased_traceidratio", "0")
    assert set(_decisions(None, 20)) == {False}
    assert set(_decisions(SAMPLED_PARENT, 20)) == {True}


@pytest.mark.parametrize("arg", ["", "abc", "1.5", "-0.1"])
def test_bad_ratio_means_one(arg: str, caplog: pytest.LogCaptureFixture) -> None:
    sampler = make_sampler("traceidratio", arg)
    assert isinstance(sampler, TraceIdRatio) and sampler.ratio == 1.0


def test_unknown_sampler_falls_back_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    assert make_sampler("jaeger_remote") is parentbased_always_on
    assert any("jaeger_remote" in r.getMessage() for r in caplog.records)


def test_make_sampler_names() -> None:
    assert make_sampler("ALWAYS_ON") is always_on
    assert make_sampler("always_off") is always_off
    assert make_sampler(None) is parentbased_always_on
    assert make_sampler("parentbased_always_off") is parentbased_always_off
    sampler = make_sampler("parentbased_traceidratio", "0.1")
    assert isinstance(sampler, ParentBased) and "0.1" in repr(sampler)


def test_unsampled_remote_parent_is_not_recorded_but_propagates(
    exporter: rt.InMemorySpanExporter,
) -> None:
    with rt.span("server", parent=UNSAMPLED_PARENT) as s:
        carrier: dict[str, str] = {}
        rt.inject(carrier)
    assert exporter.get_finished_spans() == ()
    assert carrier["traceparent"].endswith(f"-{s.span_id:016x}-00")
