"""redis-py cluster clients (``redis.RedisCluster``, ``redis.asyncio.RedisCluster``) traced from
construction, for the ``redis.client`` and ``redis.factory`` adapters (``_redis``).

A cluster client is not a ``Redis``: it routes each command to the node that owns the key's
slot, follows ``MOVED``/``ASK`` redirections and retries, and its pipeline
(``ClusterPipeline``) splits the queued commands per node. What it shares with ``Redis`` is the
funnel: every command method builds the command and calls ``self.execute_command``. So the
traced subclass (``_construct``) overrides:

* ``execute_command``: one CLIENT span per command the program sends, whatever redis-py does
  under it (redirections, retries, a fan-out to every primary for ``KEYS`` or ``DBSIZE``): those
  are internal, as in OpenTelemetry's instrumentation (which wraps the same method). On
  ``redis.asyncio`` it stays a coroutine function.
* ``_execute_command(target_node, ...)``: redis-py's per-node step, overridden only to read the
  node: ``server.address``/``server.port`` are the node the command was sent to (the last one,
  when redis-py sent it to several, or retried it on another). A redirection redis-py follows
  inside that step is not seen: after a ``MOVED`` the span names the node first tried (the next
  command goes straight to the new owner). It is a private method; if a redis-py renames it
  the spans simply carry no server, nothing breaks. OpenTelemetry sets no server for a cluster
  (it reads ``connection_pool``, which a cluster client does not have).
* ``pipeline()``: the ``ClusterPipeline`` redis-py builds gets the traced subclass of its class
  (that one object; nothing global changes) whose ``execute()`` makes one span for the whole
  pipeline, described as ``_redis_spans`` describes a pipeline (``PIPELINE``, or ``MULTI`` for a
  cluster transaction, redis-py 6+; the commands' texts, never values). A pipeline may be served
  by several nodes, so its span names no server. Commands a cluster transaction runs at once
  (``WATCH`` before ``MULTI``) go through redis-py's private strategy objects: not traced.

``db.namespace`` is ``"0"``: a cluster has database 0 only. Errors as ``_redis_spans`` records
them (``MOVED``/``ASK`` redirections redis-py followed are not errors of the command).
``redis`` is never imported, only looked up in :data:`sys.modules`.
"""

from __future__ import annotations

from types import MethodType

from . import _redis_spans as spans
from ._construct import (
    loaded_class,
    named_like,
    retyped,
    traced_subclass,
)
from ._http import is_mock
from ._log import warn_once
from ._span import current
from ._tracer import span as start_span
from ._values import SpanKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._span import Span

CLUSTER_KIND = "redis.cluster"
PIPELINE_KIND = "redis.cluster_pipeline"
_SYNC = "redis.cluster"
_ASYNC = "redis.asyncio.cluster"
_pipelines: dict[type, type | None] = {}
"""ClusterPipeline class -> its traced subclass (None: left alone)."""


# -- spans ----------------------------------------------------------------------------------------


def _start_command(call: object, args: tuple[Any, ...]) -> Span | None:
    """The active span for one command, or None to call through (a mock, a failure)."""
    try:
        if type(call) is not MethodType and is_mock(call):
            return None
        name = spans.command_name(args)
        span = start_span(name or spans.SYSTEM, kind=SpanKind.CLIENT)
        span.activate()
    except Exception as exc:
        warn_once("redis-cluster", "codetrace: redis cluster command left untraced", exc=exc)
        return None
    if span.is_recording():
        try:
            spans.describe_command(span, None, args, name)
            span.attributes["db.namespace"] = "0"
        except Exception as exc:
            warn_once("redis-describe", "codetrace: odd redis command", exc=exc)
    return span


def _note_node(node: object) -> None:
    """The node a command is sent to, on the current span when it is a recording Redis span."""
    try:
        span = current.get()
        if span is None or not span.is_recording():
            return
        attributes = span.attributes
        if attributes.get("db.system.name") != spans.SYSTEM:
            return
        host, port = getattr(node, "host", None), getattr(node, "port", None)
        if type(host) is str and host:
            attributes["server.address"] = host
            if type(port) is int:
                attributes["server.port"] = port
    except Exception as exc:
        warn_once("redis-cluster-node", "codetrace: odd redis cluster node", exc=exc)


def queued(pipeline: Any) -> list[Any]:
    """The commands queued on a cluster pipeline, as ``(args,)`` tuples.

    redis-py 6+ keeps them on the pipeline's execution strategy (sync: ``command_queue``;
    asyncio: ``_command_queue``), redis-py 4 and 5 on the pipeline (sync: ``command_stack``;
    asyncio: ``_command_stack``); each is an object with ``args``.
    """
    strategy = getattr(pipeline, "_execution_strategy", None)
    if strategy is not None:
        queue = getattr(strategy, "_command_queue", None)
        if queue is None:
            queue = getattr(strategy, "command_queue", None)
    else:
        queue = getattr(pipeline, "command_stack", None)
        if queue is None:  # the asyncio pipeline of redis-py 4 and 5 has ``__slots__``
            queue = getattr(pipeline, "_command_stack", None)
    if not queue:
        return []
    return [(command.args,) for command in queue]


def _start_pipeline(pipeline: Any, call: object) -> Span | None:
    """The active span for ``pipeline.execute()``, or None when it sends nothing."""
    try:
        if type(call) is not MethodType and is_mock(call):
            return None
        stack = queued(pipeline)
        if not stack:
            return None
        strategy = getattr(pipeline, "_execution_strategy", None)
        transaction = type(strategy).__name__ == "TransactionStrategy"
        name, attributes = spans.describe_stack(stack, "MULTI" if transaction else "PIPELINE")
    except Exception as exc:
        warn_once("redis-cluster-pipeline", "codetrace: redis pipeline left untraced", exc=exc)
        return None
    try:
        span = start_span(name, kind=SpanKind.CLIENT)
        span.activate()
    except Exception as exc:
        warn_once("redis-cluster-pipeline", "codetrace: redis pipeline left untraced", exc=exc)
        return None
    if span.is_recording():
        span.attributes.update(attributes)
        span.attributes["db.namespace"] = "0"
    return span


# -- the traced classes --------------------------------------------------------------------------


def _sync_client(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    def execute_command(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = super(subclass(), self).execute_command
        return spans.call(_start_command(call, args), call, args, kwargs)

    def _execute_command(self: Any, target_node: Any, *args: Any, **kwargs: Any) -> Any:
        _note_node(target_node)
        return super(subclass(), self)._execute_command(target_node, *args, **kwargs)

    def pipeline(self: Any, *args: Any, **kwargs: Any) -> Any:
        return traced_pipeline(super(subclass(), self).pipeline(*args, **kwargs))

    return {
        "execute_command": named_like(execute_command, cls, "execute_command"),
        "_execute_command": named_like(_execute_command, cls, "_execute_command"),
        "pipeline": named_like(pipeline, cls, "pipeline"),
    }


def _async_client(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    async def execute_command(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = super(subclass(), self).execute_command
        return await spans.await_call(_start_command(call, args), call, args, kwargs)

    async def _execute_command(self: Any, target_node: Any, *args: Any, **kwargs: Any) -> Any:
        _note_node(target_node)
        return await super(subclass(), self)._execute_command(target_node, *args, **kwargs)

    def pipeline(self: Any, *args: Any, **kwargs: Any) -> Any:
        return traced_pipeline(super(subclass(), self).pipeline(*args, **kwargs))

    return {
        "execute_command": named_like(execute_command, cls, "execute_command"),
        "_execute_command": named_like(_execute_command, cls, "_execute_command"),
        "pipeline": named_like(pipeline, cls, "pipeline"),
    }


def _sync_pipeline(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = super(subclass(), self).execute
        return spans.call(_start_pipeline(self, call), call, args, kwargs)

    return {"execute": named_like(execute, cls, "execute")}


def _async_pipeline(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    async def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = super(subclass(), self).execute
        return await spans.await_call(_start_pipeline(self, call), call, args, kwargs)

    return {"execute": named_like(execute, cls, "execute")}


def client_class(cls: type) -> type | None:
    """The traced subclass of the cluster class ``cls`` (a client or a pipeline); ``None`` when
    ``cls`` is neither. A pipeline class is checked first: redis-py's sync ``ClusterPipeline``
    derives from ``RedisCluster``."""
    for module, client, pipeline in ((_SYNC, _sync_client, _sync_pipeline),
                                     (_ASYNC, _async_client, _async_pipeline)):
        base = loaded_class(module, "ClusterPipeline")
        if base is not None and issubclass(cls, base):
            return traced_subclass(cls, PIPELINE_KIND, pipeline)
        base = loaded_class(module, "RedisCluster")
        if base is not None and issubclass(cls, base):
            return traced_subclass(cls, CLUSTER_KIND, client)
    return None


def traced_pipeline(pipeline: Any) -> Any:
    """``pipeline``, its class made the traced subclass of its own class (when redis-py's)."""
    try:
        retyped(pipeline, _pipelines, client_class, PIPELINE_KIND)
    except Exception as exc:
        warn_once("redis-cluster-pipeline", "codetrace: redis pipeline left untraced", exc=exc)
    return pipeline
