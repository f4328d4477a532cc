"""``hooks.celery(app)``: PRODUCER and CONSUMER spans for a Celery app, through its task signals.

No monkey patching: Celery's public signals carry everything.

* ``before_task_publish`` starts a PRODUCER span ``apply_async/{task}`` (``delay()``,
  ``apply_async()``, ``send_task()``, retries, canvas) and writes ``traceparent``/``tracestate``
  (``OTEL_PROPAGATORS``) into the message headers; ``after_task_publish`` ends it. The span is
  not made current in between: a publish that raises never sends ``after_task_publish``, and a
  span left current would become the parent of everything the caller does next.
* ``task_prerun`` starts a CONSUMER span ``run/{task}`` in the worker, the child of the
  producer span whose context the message carried (a new trace when it carried none), and
  makes it current, so the task's own spans are its children; ``task_postrun`` records
  ``celery.state`` and ends it. ``task_failure`` records the exception (``exception`` event,
  ``error.type`` = the exception's class, status ``ERROR``) unless the task declared it
  expected (``Task.throws``: "not regarded as a real error", Celery says): then the
  ``exception`` event alone. (OpenTelemetry means to skip those too, but its check misses the
  exception Celery wraps, so it marks them ``ERROR``.) ``task_retry`` records
  ``celery.retry.reason`` (a retry is not an error: the state says ``RETRY``).
* Eager execution (``task_always_eager``, ``Task.apply()``) publishes nothing: it gets the
  CONSUMER span alone, the child of the caller's current span.

Names are OpenTelemetry's (``apply_async/{task}``, ``run/{task}``), so dashboards built on its
Celery instrumentation keep working. Attributes follow the current messaging conventions where
they have a name (OpenTelemetry's Celery instrumentation still emits the old ones:
``messaging.destination`` for ``messaging.destination.name``): ``messaging.system`` =
``celery``, ``messaging.operation.name`` (``apply_async``/``run``),
``messaging.operation.type`` (``send``/``process``), ``messaging.destination.name`` (the
routing key), ``messaging.message.id`` (the task id), ``celery.task_name``, ``celery.state``,
``celery.retries`` (when non-zero), ``celery.retry.reason``.

Celery's signals are global: the receivers are connected once per process, with
``dispatch_uid``, and trace only the tasks of the apps given to the hook (kept in a
``WeakSet``: an app is never kept alive). In the worker the task's ``app`` says which app runs
it; at publish the signal names only the task, so a publish is traced when an instrumented app
has a task of that name, or, for a name no app registers (``send_task`` to another service),
when any instrumented app is alive. Spans between two signals wait in bounded tables keyed
by task id (a publish that fails, or a worker killed mid-task, leaves one behind: the oldest is
dropped past :data:`MAX_PENDING`). Receivers never raise into Celery. Celery is imported only
inside :func:`instrument`, i.e. by programs that already use it.
"""

from __future__ import annotations

import sys
import weakref

from ._log import warn_once
from ._propagation import extract_from_headers, header_names, inject
from ._tracer import span as start_span
from ._values import SpanKind, qualified_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from ._span import Span

MAX_PENDING = 4096
"""At most this many task ids wait between two signals, per side (publish, run)."""

SYSTEM = "celery"
PUBLISH = "apply_async"
RUN = "run"

_apps: weakref.WeakSet[Any] = weakref.WeakSet()
_publishing: dict[str, list[Span]] = {}
_running: dict[str, list[Span]] = {}
_connected = False


def _remember(table: dict[str, list[Span]], task_id: str, span: Span) -> None:
    stack = table.get(task_id)
    if stack is None:
        if len(table) >= MAX_PENDING:
            oldest = next(iter(table))
            del table[oldest]
            warn_once(
                "celery-pending",
                "codetrace: more than %d Celery tasks started and never finished; "
                "the oldest spans are dropped",
                MAX_PENDING,
            )
        stack = table[task_id] = []
    stack.append(span)


def _forget(table: dict[str, list[Span]], task_id: object) -> Span | None:
    """The span most recently remembered for ``task_id`` (nested runs of one id: an eager retry
    runs the task again inside itself), removed from ``table``."""
    if not isinstance(task_id, str):
        return None
    stack = table.get(task_id)
    if not stack:
        return None
    span = stack.pop()
    if not stack:
        del table[task_id]
    return span


def _registers(app: Any, name: str) -> bool:
    """Whether ``app`` has a task ``name``, without finalizing an app not yet finalized
    (finalizing is the application's decision, and evaluates its pending tasks)."""
    tasks = app.tasks if getattr(app, "finalized", False) else getattr(app, "_tasks", None)
    return tasks is not None and name in tasks


def _publisher_is_traced(name: str) -> bool:
    apps = list(_apps)
    if not apps:
        return False
    registered = False
    for app in apps:
        if _registers(app, name):
            return True
    celery_state = sys.modules.get("celery._state")
    active = getattr(celery_state, "_get_active_apps", None)
    for app in list(active()) if active is not None else ():
        if app not in _apps and _registers(app, name):
            registered = True  # another (untraced) app's task
    return not registered


def _task_is_traced(task: Any) -> bool:
    return task is not None and getattr(task, "app", None) in _apps


def _on_before_publish(
    sender: Any = None,
    body: Any = None,
    routing_key: Any = None,
    headers: Any = None,
    **_: Any,
) -> None:
    try:
        if not _apps:
            return
        task_id = headers.get("id") if isinstance(headers, dict) and headers else None
        if task_id is None and isinstance(body, dict):  # message protocol 1
            task_id = body.get("id")
        name = sender if isinstance(sender, str) else getattr(sender, "name", None)
        if not isinstance(task_id, str) or not isinstance(name, str):
            return
        if not _publisher_is_traced(name):
            return
        span = start_span(f"{PUBLISH}/{name}", kind=SpanKind.PRODUCER)
        if span.is_recording():
            attributes = span.attributes
            _common(attributes, PUBLISH, "send", task_id, name)
            if isinstance(routing_key, str) and routing_key:
                attributes["messaging.destination.name"] = routing_key
            retries = headers.get("retries") if isinstance(headers, dict) else None
            if isinstance(retries, int) and retries > 0:
                attributes["celery.retries"] = retries
        if isinstance(headers, dict) and headers:
            inject(headers, span=span)
        _remember(_publishing, task_id, span)
    except Exception as exc:
        warn_once("celery-publish", "codetrace: a Celery publish left untraced", exc=exc)


def _on_after_publish(headers: Any = None, body: Any = None, **_: Any) -> None:
    try:
        task_id = headers.get("id") if isinstance(headers, dict) and headers else None
        if task_id is None and isinstance(body, dict):
            task_id = body.get("id")
        span = _forget(_publishing, task_id)
        if span is not None:
            span.end()
    except Exception as exc:
        warn_once("celery-published", "codetrace: could not end a Celery publish span", exc=exc)


def _common(
    attributes: dict[str, Any], operation: str, kind: str, task_id: str, name: str
) -> None:
    attributes["messaging.system"] = SYSTEM
    attributes["messaging.operation.name"] = operation
    attributes["messaging.operation.type"] = kind
    attributes["messaging.message.id"] = task_id
    attributes["celery.task_name"] = name


def _request_headers(request: Any) -> dict[str, str]:
    """The propagation headers of the message being run: Celery copies the message headers
    onto the task's request (``request.traceparent``); some transports nest them in
    ``request.headers``."""
    found: dict[str, str] = {}
    nested = getattr(request, "headers", None)
    for name in header_names():
        value = getattr(request, name, None)
        if not isinstance(value, str) and isinstance(nested, dict):
            value = nested.get(name)
        if isinstance(value, str):
            found[name] = value
    return found


def _destination(request: Any) -> str | None:
    info = getattr(request, "delivery_info", None)
    if isinstance(info, dict):
        key = info.get("routing_key")
        if isinstance(key, str) and key:
            return key
    return None


def _on_prerun(task_id: Any = None, task: Any = None, **_: Any) -> None:
    try:
        if not isinstance(task_id, str) or not _task_is_traced(task):
            return
        request = task.request
        remote = extract_from_headers(_request_headers(request))
        parent = remote if remote.is_valid else None  # eager: the caller's current span
        name = str(task.name)
        span = start_span(f"{RUN}/{name}", kind=SpanKind.CONSUMER, parent=parent)
        if span.is_recording():
            attributes = span.attributes
            _common(attributes, RUN, "process", task_id, name)
            destination = _destination(request)
            if destination is not None:
                attributes["messaging.destination.name"] = destination
            retries = getattr(request, "retries", None)
            if isinstance(retries, int) and retries > 0:
                attributes["celery.retries"] = retries
        span.activate()
        _remember(_running, task_id, span)
    except Exception as exc:
        warn_once("celery-prerun", "codetrace: a Celery task left untraced", exc=exc)


def _on_postrun(task_id: Any = None, state: Any = None, **_: Any) -> None:
    try:
        span = _forget(_running, task_id)
        if span is None:
            return
        if isinstance(state, str):
            span.set_attribute("celery.state", state)
        span.deactivate()
        span.end()
    except Exception as exc:
        warn_once("celery-postrun", "codetrace: could not end a Celery task span", exc=exc)


def _pending_run(task_id: object) -> Span | None:
    stack = _running.get(task_id) if isinstance(task_id, str) else None
    return stack[-1] if stack else None


def _on_failure(
    sender: Any = None, task_id: Any = None, exception: Any = None, **_: Any
) -> None:
    try:
        span = _pending_run(task_id)
        if span is None or not isinstance(exception, BaseException):
            return
        expected = getattr(sender, "throws", ())
        if expected and isinstance(exception, expected):
            span.record_exception(exception)  # what happened, without calling it an error
            return
        span.set_attribute("error.type", qualified_name(type(exception)))
        span.fail(exception)
    except Exception as exc:
        warn_once("celery-failure", "codetrace: could not record a Celery task error", exc=exc)


def _on_retry(request: Any = None, reason: Any = None, **_: Any) -> None:
    try:
        span = _pending_run(getattr(request, "id", None))
        if span is not None and reason is not None:
            from ._redact import scrub_text

            span.set_attribute("celery.retry.reason", scrub_text(str(reason)))
    except Exception as exc:
        warn_once("celery-retry", "codetrace: could not record a Celery retry", exc=exc)


_RECEIVERS: Mapping[str, Any] = {
    "before_task_publish": _on_before_publish,
    "after_task_publish": _on_after_publish,
    "task_prerun": _on_prerun,
    "task_postrun": _on_postrun,
    "task_failure": _on_failure,
    "task_retry": _on_retry,
}


def _connect() -> None:
    """Connect the receivers to Celery's signals, once per process (``dispatch_uid``: a second
    connect, by a reloaded module say, replaces rather than doubles)."""
    global _connected
    if _connected:
        return
    from importlib import import_module

    signals = import_module("celery.signals")  # loaded already: the app exists
    for signal_name, receiver in _RECEIVERS.items():
        getattr(signals, signal_name).connect(
            receiver, weak=False, dispatch_uid=f"codetrace.celery.{signal_name}"
        )
    _connected = True


def instrument(app: Any) -> Any:
    """Trace ``app``'s tasks (see the module docstring); return it. Reads nothing of the app's
    configuration: the hook runs right after ``Celery(...)``, before the project configures it."""
    cls = type(app)
    if not hasattr(cls, "send_task") or not hasattr(cls, "tasks"):  # the class: no finalizing
        raise TypeError(f"{type(app).__name__} is not a Celery app")
    _connect()
    _apps.add(app)
    return app
