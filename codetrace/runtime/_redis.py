"""Adapters ``redis.client`` and ``redis.factory``: redis-py clients traced from construction.

``_codetrace.traced(redis.Redis, "redis.client")(host=h)`` (``redis.asyncio.Redis``, or a
project subclass of either) builds the client as an instance of a traced subclass
(``_construct``) of the class called. It overrides two public methods of redis-py's clients:

* ``execute_command``, the funnel every command method goes through (``get``, ``set``,
  ``hgetall``... build the command and call ``self.execute_command``; so do scripts and
  locks): one CLIENT span per command. On ``redis.asyncio`` it stays a coroutine function; the
  span is current in the awaiting task and ends when the command does, cancelled included.
* ``pipeline()``: the pipeline is an instance of a traced subclass of redis-py's pipeline
  class: built as one when the client's ``pipeline`` is redis-py's own (recognised by its
  compiled body, :func:`_pipeline_builder`), else the one redis-py (or a project override)
  builds has its class changed (one object, the one just made; nothing global changes). Its
  ``execute`` makes ONE span for the whole pipeline, its ``immediate_execute_command``
  (commands run while ``WATCH``-ing, before ``MULTI``) one span per command. An
  ``execute()`` with nothing queued and nothing watched sends nothing and makes no span.
  ``transaction()`` goes through ``pipeline()``, so it is traced too.

Cluster clients (``redis.RedisCluster``, ``redis.asyncio.RedisCluster``, their ``from_url``)
go through the same two adapters and are traced by ``_redis_cluster``.

What the spans say is ``_redis_spans``'s business. ``pubsub()``, ``monitor()`` and keyspace
notifications return redis-py's own objects, untraced (their messages are a stream, not
operations). ``client()`` builds ``self.__class__``: traced too.

``redis.factory`` wraps the factories that build a client: ``Redis.from_url``/``from_pool``
(bound classmethods: the traced subclass of ``callee.__self__`` builds it, so a project
subclass stays itself), the module functions ``redis.from_url``/``redis.asyncio.from_url``
(which build ``Redis``/``redis.asyncio.Redis``), and ``Sentinel.master_for``/``slave_for``
(called with ``redis_class=`` the traced subclass of the class it would use).

Anything else (a mock from ``mock.patch("redis.Redis")``, a class that is not a redis-py
client, a function of another library) is called unchanged. A mocked ``execute_command``
(``mock.patch.object(redis.Redis, "execute_command")``) is called without a span. ``redis`` is
never imported, only looked up in :data:`sys.modules`.
"""

from __future__ import annotations

import sys
from types import MethodType

from . import _redis_cluster
from . import _redis_spans as spans
from ._construct import (
    FUNNEL,
    is_class,
    loaded_class,
    named_like,
    retyped,
    traced_subclass,
)
from ._http import is_mock
from ._log import warn_once
from ._tracer import span as start_span
from ._values import SpanKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._span import Span

CLIENT_KIND = "redis.client"
PIPELINE_KIND = "redis.pipeline"
_SYNC = ("redis.client", "redis.utils", "redis.sentinel")
_ASYNC = ("redis.asyncio.client", "redis.asyncio.utils", "redis.asyncio.sentinel")
_FACTORIES = frozenset({"from_url", "from_pool"})
_SENTINEL_FACTORIES = frozenset({"master_for", "slave_for"})
_pipelines: dict[type, type | None] = {}
"""Pipeline class -> its traced subclass (None: left alone), so ``pipeline()`` costs a look-up."""


# -- spans around the funnels --------------------------------------------------------------------


def _start_command(client: object, call: object, args: tuple[Any, ...]) -> Span | None:
    """The active span for one command, or None to call through (a mock, a failure)."""
    try:
        if type(call) is not MethodType and is_mock(call):
            return None
        name = spans.command_name(args)
        span = start_span(name or spans.SYSTEM, kind=SpanKind.CLIENT)
        span.activate()
    except Exception as exc:
        warn_once("redis", "codetrace: redis command left untraced", exc=exc)
        return None
    if span.is_recording():
        try:
            spans.describe_command(span, client, args, name)
        except Exception as exc:
            warn_once("redis-describe", "codetrace: odd redis command", exc=exc)
    return span


def _start_pipeline(pipeline: Any, call: object) -> Span | None:
    """The active span for ``pipeline.execute()``, or None when it sends nothing."""
    try:
        if type(call) is not MethodType and is_mock(call):
            return None
        if not pipeline.command_stack and not pipeline.watching:
            return None
        # the sync pipeline keeps ``transaction``, the asyncio one ``is_transaction`` (where
        # ``transaction`` is the client's method); both set them in ``__init__``, so the
        # instance's dict is read (a ``getattr`` that misses costs a caught AttributeError)
        state = pipeline.__dict__
        transaction = state.get("is_transaction")
        if type(transaction) is not bool:
            transaction = state.get("transaction") is True
        prefix = "MULTI" if transaction or pipeline.explicit_transaction else "PIPELINE"
    except Exception as exc:
        warn_once("redis-pipeline", "codetrace: redis pipeline left untraced", exc=exc)
        return None
    # described before the span starts, to start it with its name: a shape's description is
    # kept (``_redis_spans._described``), so an unsampled span pays a look-up for it
    try:
        name, attributes = spans.describe_pipeline(pipeline, prefix)
    except Exception as exc:
        warn_once("redis-describe-pipeline", "codetrace: odd redis pipeline", exc=exc)
        name, attributes = prefix, {"db.system.name": spans.SYSTEM}
    try:
        span = start_span(name, kind=SpanKind.CLIENT)
        span.activate()
    except Exception as exc:
        warn_once("redis-pipeline", "codetrace: redis pipeline left untraced", exc=exc)
        return None
    if span.is_recording():
        try:
            span.attributes.update(attributes)
            spans.describe_connection(span.attributes, pipeline)
        except Exception as exc:
            warn_once("redis-describe-pipeline", "codetrace: odd redis pipeline", exc=exc)
    return span


# -- the traced classes --------------------------------------------------------------------------


def _reference_pipeline(self: Any, transaction: Any = True, shard_hint: Any = None) -> Any:
    """The body of redis-py's own ``Redis.pipeline`` (sync and asyncio, 4.x to 8.x), for
    :func:`_pipeline_builder` to compare with; never called."""
    return Pipeline(  # type: ignore[name-defined]  # noqa: F821 - redis-py's global
        self.connection_pool, self.response_callbacks, transaction, shard_hint
    )


def _pipeline_builder(cls: type) -> tuple[Callable[..., Any], Any] | None:
    """The traced pipeline class to build in ``cls.pipeline()``'s place, and the function
    ``cls.pipeline`` that it stands for, or None.

    Only when ``cls.pipeline`` is redis-py's own, recognised by its compiled body (the same
    bytecode, names and defaults as :func:`_reference_pipeline`): then the traced client builds
    the pipeline as the traced subclass of the class that body names, with the same arguments.
    Otherwise (a project override, a redis-py whose body differs) the pipeline redis-py builds
    has its class changed afterwards (:func:`traced_pipeline`). Why: an object whose
    ``__class__`` was reassigned loses CPython's fast attribute access for its life, and a
    pipeline reads its attributes on every queued command (``benchmarks/runtime_redis.py``).
    The traced client checks at each call that ``cls.pipeline`` is still that function (a test
    may patch it on the class: the patch is then called, as without codetrace).
    """
    function = getattr(cls, "pipeline", None)
    code = getattr(function, "__code__", None)
    reference = _reference_pipeline.__code__
    if (
        code is None
        or code.co_code != reference.co_code
        or code.co_names != reference.co_names
        or code.co_varnames != reference.co_varnames
        or getattr(function, "__defaults__", None) != (True, None)
    ):
        return None
    built = getattr(function, "__globals__", {}).get("Pipeline")
    traced = client_class(built)
    if traced is None or getattr(traced, FUNNEL, None) != PIPELINE_KIND:
        return None
    return traced, function


def _pipeline_method(cls: type, subclass: Callable[[], Any]) -> Any:
    """The traced client's ``pipeline``: see :func:`_pipeline_builder`."""
    try:
        builder = _pipeline_builder(cls)
    except Exception:  # an odd class: the general way below
        builder = None

    def pipeline(self: Any, *args: Any, **kwargs: Any) -> Any:
        return traced_pipeline(super(subclass(), self).pipeline(*args, **kwargs))

    if builder is None:
        return named_like(pipeline, cls, "pipeline")
    traced, original = builder
    base: Any = cls

    def build(self: Any, transaction: Any = True, shard_hint: Any = None) -> Any:
        return traced(self.connection_pool, self.response_callbacks, transaction, shard_hint)

    def direct(self: Any, *args: Any, **kwargs: Any) -> Any:
        if base.pipeline is not original:  # patched since: call what is there now, as given
            return pipeline(self, *args, **kwargs)
        return build(self, *args, **kwargs)

    return named_like(direct, cls, "pipeline")


def _sync_client(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    def execute_command(self: Any, *args: Any, **options: Any) -> Any:
        # ``_call`` written out: this runs on every command, and its frame is a measurable
        # share of the time a span adds (benchmarks/runtime_redis.py)
        call = super(subclass(), self).execute_command
        span = _start_command(self, call, args)
        if span is None:
            return call(*args, **options)
        try:
            result = call(*args, **options)
        except BaseException as exc:
            spans.end(span, exc)
            raise
        span.__exit__(None, None, None)
        return result

    return {
        "execute_command": named_like(execute_command, cls, "execute_command"),
        "pipeline": _pipeline_method(cls, subclass),
    }


def _async_client(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    async def execute_command(self: Any, *args: Any, **options: Any) -> Any:
        call = super(subclass(), self).execute_command
        return await spans.await_call(_start_command(self, call, args), call, args, options)

    return {
        "execute_command": named_like(execute_command, cls, "execute_command"),
        "pipeline": _pipeline_method(cls, subclass),
    }


def _sync_pipeline(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        # ``_call`` written out, as in the client's ``execute_command``
        call = super(subclass(), self).execute
        span = _start_pipeline(self, call)
        if span is None:
            return call(*args, **kwargs)
        try:
            result = call(*args, **kwargs)
        except BaseException as exc:
            spans.end(span, exc)
            raise
        span.__exit__(None, None, None)
        return result

    def immediate_execute_command(self: Any, *args: Any, **options: Any) -> Any:
        call = super(subclass(), self).immediate_execute_command
        return spans.call(_start_command(self, call, args), call, args, options)

    return {
        "execute": named_like(execute, cls, "execute"),
        "immediate_execute_command": named_like(
            immediate_execute_command, cls, "immediate_execute_command"
        ),
    }


def _async_pipeline(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    async def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = super(subclass(), self).execute
        return await spans.await_call(_start_pipeline(self, call), call, args, kwargs)

    async def immediate_execute_command(self: Any, *args: Any, **options: Any) -> Any:
        call = super(subclass(), self).immediate_execute_command
        return await spans.await_call(_start_command(self, call, args), call, args, options)

    return {
        "execute": named_like(execute, cls, "execute"),
        "immediate_execute_command": named_like(
            immediate_execute_command, cls, "immediate_execute_command"
        ),
    }


def client_class(callee: object) -> type | None:
    """The traced subclass to build instead of ``callee``, or ``None`` to call it unchanged.

    A pipeline class is checked first: redis-py's ``Pipeline`` derives from ``Redis``. A
    cluster client (or its pipeline) is ``_redis_cluster``'s.
    """
    if not is_class(callee):
        return None
    cls: type = callee  # type: ignore[assignment]
    cluster = _redis_cluster.client_class(cls)
    if cluster is not None:
        return cluster
    for client_module, client, pipeline in (
        (_SYNC[0], _sync_client, _sync_pipeline),
        (_ASYNC[0], _async_client, _async_pipeline),
    ):
        base = loaded_class(client_module, "Pipeline")
        if base is not None and issubclass(cls, base):
            return traced_subclass(cls, PIPELINE_KIND, pipeline)
        base = loaded_class(client_module, "Redis")
        if base is not None and issubclass(cls, base):
            return traced_subclass(cls, CLIENT_KIND, client)
    return None


def traced_pipeline(pipeline: Any) -> Any:
    """``pipeline``, its class made the traced subclass of its own class (when redis-py's)."""
    try:
        retyped(pipeline, _pipelines, client_class, PIPELINE_KIND)
    except Exception as exc:
        warn_once("redis-pipeline-class", "codetrace: redis pipeline left untraced", exc=exc)
    return pipeline


# -- the adapter ---------------------------------------------------------------------------------


def _factory(
    callee: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]] | None:
    """What to call instead of the factory ``callee``, with which arguments (None: unchanged)."""
    if is_mock(callee):
        return None
    name = getattr(callee, "__name__", None)
    owner = getattr(callee, "__self__", None)
    if name in _FACTORIES:
        if owner is not None and is_class(owner):  # Redis.from_url, a bound classmethod
            traced = client_class(owner)
            return None if traced is None else (getattr(traced, name), args, kwargs)
        for utils, client_module in ((_SYNC[1], _SYNC[0]), (_ASYNC[1], _ASYNC[0])):
            module = sys.modules.get(utils)
            if module is not None and callee is getattr(module, name, None):
                traced = client_class(loaded_class(client_module, "Redis"))
                return None if traced is None else (getattr(traced, name), args, kwargs)
        return None
    if name in _SENTINEL_FACTORIES and owner is not None:
        for sentinel_module, client_module in ((_SYNC[2], _SYNC[0]), (_ASYNC[2], _ASYNC[0])):
            sentinel = loaded_class(sentinel_module, "Sentinel")
            if sentinel is None or not isinstance(owner, sentinel):
                continue
            if len(args) > 1:
                traced = client_class(args[1])
                if traced is None:
                    return None
                return callee, (args[0], traced, *args[2:]), kwargs
            traced = client_class(kwargs.get("redis_class", loaded_class(client_module, "Redis")))
            return None if traced is None else (callee, args, {**kwargs, "redis_class": traced})
    return None


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``callee(*args, **kwargs)``, giving back a traced client when ``callee`` builds one."""
    plan: tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]] | None = None
    try:
        if is_class(callee):
            cls = client_class(callee)
            if cls is not None:
                plan = (cls, args, kwargs)
        else:
            plan = _factory(callee, args, kwargs)
    except Exception as exc:
        warn_once("redis-client", "codetrace: redis client left untraced", exc=exc)
        plan = None
    if plan is None:
        return callee(*args, **kwargs)
    build, arguments, keywords = plan
    return build(*arguments, **keywords)
