"""Celery: PRODUCER spans where tasks are published, CONSUMER spans where a worker runs them.

End to end: ``codetrace apply`` on a small project (``celery_shop``), a real worker process
(``celery -A celery_tasks worker --pool=solo``) and a producer process on a real
``redis-server``, each exporting JSON lines; the spans of the two processes form one trace per
task (the consumer's parent is the producer), failures and retries are recorded. In process:
eager execution, which apps are traced, headers, bounded tables.
"""

from __future__ import annotations

import gc
import logging
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fidelity
import pytest
from celery import Celery, signals
from celery_worker import (
    SHOP,
    WORKER_ARGS,
    broker_env,
    run_producer,
    start_worker,
    stop_worker,
)
from conftest_redis import RedisServer, redis_server

import codetrace.runtime as rt
from codetrace.runtime import _celery

__all__ = ["redis_server"]  # the fixture, imported for this module's tests

TASK = "celery_tasks"


@pytest.fixture(scope="module")
def shop(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The instrumented shop: a worker and a producer run, their output and spans."""
    root = tmp_path_factory.mktemp("celery")
    out = fidelity.instrumented_copy(SHOP, root / "instrumented")
    env = broker_env(redis_server, 0)
    worker_spans, producer_spans = root / "worker.jsonl", root / "producer.jsonl"
    exporting = {"OTEL_TRACES_EXPORTER": "jsonl"}
    log = root / "worker.log"
    worker = start_worker(out, {**env, **exporting, "CODETRACE_JSONL_PATH": str(worker_spans)}, log)
    try:
        output = run_producer(
            out, {**env, **exporting, "CODETRACE_JSONL_PATH": str(producer_spans)}
        )
    finally:
        stop_worker(worker, log)
    return {
        "source": (out / "celery_tasks.py").read_text(),
        "output": output,
        "producer": fidelity.codetrace_spans(producer_spans),
        "worker": fidelity.codetrace_spans(worker_spans),
    }


def _one(spans: list[dict[str, Any]], name: str, **attributes: Any) -> dict[str, Any]:
    found = [
        s for s in spans
        if s["name"] == name and all(s["attributes"].get(k) == v for k, v in attributes.items())
    ]
    assert len(found) == 1, (name, attributes, [s["name"] for s in spans])
    return found[0]


def test_the_app_is_hooked_where_it_is_built_and_behaves_the_same(shop: dict[str, Any]) -> None:
    assert shop["source"].count("_codetrace.hooks.celery(app)") == 1
    assert shop["output"].splitlines() == [
        "add: 5",
        "fail: ValueError('boom')",
        "reserve: OutOfStock('pen')",
        "flaky retries: 1",
        "checkout: 6",
    ]


def test_the_consumer_in_the_worker_is_the_child_of_the_producer(shop: dict[str, Any]) -> None:
    producer = _one(shop["producer"], f"apply_async/{TASK}.add")
    consumer = _one(shop["worker"], f"run/{TASK}.add", **{"messaging.message.id": producer[
        "attributes"]["messaging.message.id"]})
    assert producer["kind"] == "PRODUCER" and consumer["kind"] == "CONSUMER"
    assert consumer["trace_id"] == producer["trace_id"]
    assert consumer["parent_span_id"] == producer["span_id"]
    assert producer["parent_span_id"] is None  # no span was current in the producer
    task_id = producer["attributes"]["messaging.message.id"]
    assert producer["attributes"] == {
        "messaging.system": "celery",
        "messaging.operation.name": "apply_async",
        "messaging.operation.type": "send",
        "messaging.message.id": task_id,
        "messaging.destination.name": "shop",
        "celery.task_name": f"{TASK}.add",
    }
    assert consumer["attributes"] == {
        "messaging.system": "celery",
        "messaging.operation.name": "run",
        "messaging.operation.type": "process",
        "messaging.message.id": task_id,
        "messaging.destination.name": "shop",
        "celery.task_name": f"{TASK}.add",
        "celery.state": "SUCCESS",
    }
    assert consumer["status"]["code"] == "UNSET"


def test_a_failing_task_records_its_error(shop: dict[str, Any]) -> None:
    failed = _one(shop["worker"], f"run/{TASK}.fail")
    assert failed["status"]["code"] == "ERROR"
    assert failed["attributes"]["error.type"] == "ValueError"
    assert failed["attributes"]["celery.state"] == "FAILURE"
    (event,) = failed["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.message"] == "boom"
    # an error the task declares (``throws``) is the business's, not a failure of the system
    expected = _one(shop["worker"], f"run/{TASK}.reserve")
    assert expected["attributes"]["celery.state"] == "FAILURE"
    assert expected["status"]["code"] == "UNSET" and "error.type" not in expected["attributes"]
    (event,) = expected["events"]  # what happened is still there
    assert event["attributes"]["exception.type"] == f"{TASK}.OutOfStock"


def test_a_retry_is_a_new_hop_of_the_same_trace(shop: dict[str, Any]) -> None:
    sent = _one(shop["producer"], f"apply_async/{TASK}.flaky")
    first = _one(shop["worker"], f"run/{TASK}.flaky", **{"celery.state": "RETRY"})
    again = _one(shop["worker"], f"apply_async/{TASK}.flaky")  # the retry, published by the task
    second = _one(shop["worker"], f"run/{TASK}.flaky", **{"celery.state": "SUCCESS"})
    assert first["parent_span_id"] == sent["span_id"]
    assert again["parent_span_id"] == first["span_id"]
    assert second["parent_span_id"] == again["span_id"]
    assert {s["trace_id"] for s in (sent, first, again, second)} == {sent["trace_id"]}
    assert first["attributes"]["celery.retry.reason"] == "Retry in 0s: RuntimeError('not yet')"
    assert first["status"]["code"] == "UNSET"  # a retry is not an error
    assert again["attributes"]["celery.retries"] == second["attributes"]["celery.retries"] == 1


def test_a_task_published_by_a_task_continues_the_trace(shop: dict[str, Any]) -> None:
    sent = _one(shop["producer"], f"apply_async/{TASK}.checkout")
    outer = _one(shop["worker"], f"run/{TASK}.checkout")
    inner_sent = _one(shop["worker"], f"apply_async/{TASK}.add")
    inner_id = inner_sent["attributes"]["messaging.message.id"]
    inner = _one(shop["worker"], f"run/{TASK}.add", **{"messaging.message.id": inner_id})
    assert outer["parent_span_id"] == sent["span_id"]
    assert inner_sent["parent_span_id"] == outer["span_id"]
    assert inner["parent_span_id"] == inner_sent["span_id"]
    assert {s["trace_id"] for s in (sent, outer, inner_sent, inner)} == {sent["trace_id"]}


def test_every_task_is_one_producer_and_its_consumers(shop: dict[str, Any]) -> None:
    # 5 published by the producer; 2 by the worker (the retry, checkout's add); 7 runs
    kinds = [s["kind"] for s in shop["producer"]]
    assert kinds == ["PRODUCER"] * 5
    worker = sorted((s["kind"], s["name"]) for s in shop["worker"])
    assert worker == sorted([
        ("CONSUMER", f"run/{TASK}.add"), ("CONSUMER", f"run/{TASK}.add"),
        ("CONSUMER", f"run/{TASK}.fail"), ("CONSUMER", f"run/{TASK}.reserve"),
        ("CONSUMER", f"run/{TASK}.flaky"), ("CONSUMER", f"run/{TASK}.flaky"),
        ("CONSUMER", f"run/{TASK}.checkout"),
        ("PRODUCER", f"apply_async/{TASK}.flaky"), ("PRODUCER", f"apply_async/{TASK}.add"),
    ])


# -- in process: eager execution, which apps are traced, the headers ----------------------------


@pytest.fixture
def published_headers() -> Iterator[list[dict[str, Any]]]:
    """The headers of every message published while the test runs, as the broker gets them
    (a receiver connected after codetrace's: it sees what codetrace wrote)."""
    seen: list[dict[str, Any]] = []

    def receiver(headers: Any = None, **_: Any) -> None:
        seen.append(dict(headers or {}))

    signals.before_task_publish.connect(receiver, weak=False, dispatch_uid="test-headers")
    try:
        yield seen
    finally:
        signals.before_task_publish.disconnect(receiver, dispatch_uid="test-headers")


def _app(name: str, *, eager: bool = False, traced: bool = True) -> Celery:
    app = Celery(name, broker="memory://", set_as_current=False)
    app.conf.task_always_eager = eager
    return rt.hooks.celery(app) if traced else app


def test_eager_tasks_get_one_consumer_span_in_the_callers_trace(
    exporter: rt.InMemorySpanExporter, published_headers: list[dict[str, Any]]
) -> None:
    app = _app("eager", eager=True)

    @app.task(name="eager.add")
    def add(x: int, y: int) -> int:
        with rt.span("inside"):
            return x + y

    @app.task(name="eager.fail")
    def fail() -> None:
        raise KeyError("gone")

    with rt.span("request") as request:
        assert add.delay(1, 2).get() == 3
        result = fail.apply()
    assert isinstance(result.result, KeyError)  # what the app sees is Celery's, unchanged
    assert published_headers == []  # eager: nothing is published, so no PRODUCER span
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert sorted(spans) == ["inside", "request", "run/eager.add", "run/eager.fail"]
    run = spans["run/eager.add"]
    assert run.kind == rt.SpanKind.CONSUMER
    assert run.parent_id == request.span_id and run.trace_id == request.trace_id
    assert spans["inside"].parent_id == run.span_id  # the task's own spans are its children
    assert run.attributes["celery.state"] == "SUCCESS"
    failed = spans["run/eager.fail"]
    assert failed.attributes["error.type"] == "KeyError"
    assert failed.status_code == rt.StatusCode.ERROR
    assert _celery._running == {}  # nothing left behind


def test_publish_injects_the_producer_span_into_the_message_headers(
    exporter: rt.InMemorySpanExporter, published_headers: list[dict[str, Any]]
) -> None:
    app = _app("memory")

    @app.task(name="memory.add")
    def add(x: int, y: int) -> int:
        return x + y

    with rt.span("request") as request:
        result = add.delay(1, 2)
    (sent,) = exporter.get_finished_spans()[:1]
    assert sent.name == "apply_async/memory.add" and sent.kind == rt.SpanKind.PRODUCER
    assert sent.parent_id == request.span_id
    assert sent.attributes["messaging.message.id"] == result.id
    (headers,) = published_headers
    flags = sent.trace_flags
    assert headers["traceparent"] == f"00-{sent.trace_id:032x}-{sent.span_id:016x}-{flags:02x}"
    assert _celery._publishing == {}
    assert rt.current_span() is None  # the producer span never stays current


def test_only_the_hooked_apps_are_traced_once_each(
    exporter: rt.InMemorySpanExporter, published_headers: list[dict[str, Any]]
) -> None:
    traced, untraced = _app("traced-app"), _app("untraced-app", traced=False)
    rt.hooks.celery(traced)  # a second hook on one app changes nothing

    @traced.task(name="traced-app.ping")
    def ping() -> str:
        return "pong"

    @untraced.task(name="untraced-app.ping")
    def other_ping() -> str:
        return "pong"

    ping.delay()
    other_ping.delay()
    assert [s.name for s in exporter.get_finished_spans()] == ["apply_async/traced-app.ping"]
    assert "traceparent" in published_headers[0]
    assert "traceparent" not in published_headers[1]  # untraced app's messages are its own


def test_a_task_sent_by_name_to_another_service_is_traced(
    exporter: rt.InMemorySpanExporter, published_headers: list[dict[str, Any]]
) -> None:
    app = _app("gateway")
    app.send_task("billing.charge", args=(12,))  # no app in this process registers it
    (sent,) = exporter.get_finished_spans()
    assert sent.name == "apply_async/billing.charge" and sent.kind == rt.SpanKind.PRODUCER
    assert published_headers[0]["traceparent"].split("-")[2] == f"{sent.span_id:016x}"


def test_the_hook_keeps_no_app_alive() -> None:
    app = _app("short-lived")
    ref = weakref.ref(app)
    del app
    gc.collect()
    assert ref() is None


def test_the_hook_returns_what_is_not_an_app_untouched(caplog: pytest.LogCaptureFixture) -> None:
    thing = object()
    with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
        assert rt.hooks.celery(thing) is thing
    assert "could not instrument the Celery app" in caplog.text


def test_receivers_never_raise_and_tables_stay_bounded(
    exporter: rt.InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app("bounded")
    app.tasks.register(type("T", (app.Task,), {"name": "bounded.t", "run": lambda self: None})())
    # odd signal arguments: nothing raised, nothing traced
    _celery._on_before_publish(sender=object(), headers="not a dict")
    _celery._on_prerun(task_id=3, task=None)
    _celery._on_failure(task_id="missing", exception=ValueError())
    _celery._on_retry(request=None, reason="x")
    # publishes that never finish (the broker failed between the signals) are dropped past
    # the bound, oldest first
    monkeypatch.setattr(_celery, "MAX_PENDING", 3)
    for number in range(5):
        _celery._on_before_publish(sender="bounded.t", headers={"id": f"id-{number}"})
    assert list(_celery._publishing) == ["id-2", "id-3", "id-4"]
    for number in range(2, 5):
        _celery._on_after_publish(headers={"id": f"id-{number}"})
    assert _celery._publishing == {}
    assert len(exporter.get_finished_spans()) == 3


@pytest.mark.slow
def test_a_prefork_worker_traces_in_its_child_processes(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The hook runs in the worker's parent; tasks run in forked children, which export."""
    out = fidelity.instrumented_copy(SHOP, tmp_path / "instrumented")
    env = broker_env(redis_server, 6)
    worker_spans, producer_spans = tmp_path / "worker.jsonl", tmp_path / "producer.jsonl"
    exporting = {"OTEL_TRACES_EXPORTER": "jsonl"}
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "celery", "-A", "celery_tasks",
               *[arg for arg in WORKER_ARGS if arg != "--pool=solo"], "--pool=prefork", "-c", "2"]
    worker = start_worker(
        out, {**env, **exporting, "CODETRACE_JSONL_PATH": str(worker_spans)}, log, command
    )
    try:
        run_producer(out, {**env, **exporting, "CODETRACE_JSONL_PATH": str(producer_spans)})
    finally:
        stop_worker(worker, log)
    produced = fidelity.codetrace_spans(producer_spans)
    ran = fidelity.codetrace_spans(worker_spans)
    assert len(produced) == 5 and len(ran) == 9
    sent = _one(produced, f"apply_async/{TASK}.add")
    task_id = sent["attributes"]["messaging.message.id"]
    run = _one(ran, f"run/{TASK}.add", **{"messaging.message.id": task_id})
    assert (run["trace_id"], run["parent_span_id"]) == (sent["trace_id"], sent["span_id"])
