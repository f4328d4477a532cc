"""Adapters ``redis.client`` and ``redis.factory``: redis-py clients traced from construction.

Against a real ``redis-server`` (and a real Sentinel) on 127.0.0.1 started by
``conftest_redis``: commands, pipelines, transactions, errors, the asyncio client, the
factories, a project subclass, and what a program may observe (types, copies, pickling,
mocks, coroutine warnings). The spans' content is ``_redis_spans``'s docstring.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import pickle
import socket
import warnings
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import redis
import redis.asyncio
import redis.sentinel
from conftest_redis import RedisServer, redis_server, start_redis, stop

import codetrace.runtime as rt
from codetrace.runtime import _redis

__all__ = ["redis_server"]  # the fixture, imported for this module's tests

CLIENT, FACTORY = "redis.client", "redis.factory"
SECRET = "s3cr3t-value"


def _client(cls: Any = None, **kwargs: Any) -> Any:
    return rt.traced(cls or redis.Redis, CLIENT)(**kwargs)


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[Any]:
    traced = _client(host=redis_server.host, port=redis_server.port)
    traced.flushdb()
    yield traced
    traced.close()


def _spans(exporter: rt.InMemorySpanExporter) -> list[rt.Span]:
    spans = list(exporter.get_finished_spans())
    exporter.clear()
    return spans


def _nothing_secret(spans: list[rt.Span]) -> None:
    for span in spans:
        texts = [span.name, span.status_message, repr(span.attributes)]
        texts += [repr(event.attributes) for event in span.events]
        assert not any(SECRET in text for text in texts), span


def test_one_client_span_per_command(
    client: Any, redis_server: RedisServer, exporter: rt.InMemorySpanExporter
) -> None:
    _spans(exporter)
    assert isinstance(client, redis.Redis) and type(client) is not redis.Redis
    assert client.set("user:1", SECRET, ex=30) is True
    assert client.get("user:1") == SECRET.encode()
    assert client.hset("h", mapping={"a": SECRET, "b": "2"}) == 2
    set_, get, hset = _spans(exporter)
    assert set_.name == "SET" and set_.kind == rt.SpanKind.CLIENT
    assert set_.attributes == {
        "db.system.name": "redis",
        "db.operation.name": "SET",
        "db.query.text": "SET ? ? ? ?",
        "db.namespace": "0",
        "server.address": "127.0.0.1",
        "server.port": redis_server.port,
    }
    assert get.attributes["db.query.text"] == "GET ?"
    assert hset.name == "HSET" and hset.attributes["db.query.text"] == "HSET ? ? ? ? ?"
    assert all(s.status_code == rt.StatusCode.UNSET for s in (set_, get, hset))
    _nothing_secret([set_, get, hset])


def test_spans_are_children_of_the_current_span(
    client: Any, exporter: rt.InMemorySpanExporter
) -> None:
    with rt.span("request") as parent:
        client.ping()
        with client.pipeline() as pipe:
            pipe.incr("n").incr("n").execute()
    ping, pipeline, request = _spans(exporter)
    assert ping.parent_id == pipeline.parent_id == parent.span_id
    assert ping.trace_id == pipeline.trace_id == request.trace_id


def test_a_pipeline_is_one_span(client: Any, exporter: rt.InMemorySpanExporter) -> None:
    _spans(exporter)
    with client.pipeline(transaction=False) as pipe:
        pipe.set("a", SECRET).get("a").incr("n")
        assert pipe.execute() == [True, SECRET.encode(), 1]
        pipe.get("a").get("b")
        assert pipe.execute() == [SECRET.encode(), None]
        assert pipe.execute() == []  # nothing queued, nothing sent: no span
    mixed, same = _spans(exporter)
    assert mixed.name == "PIPELINE" and mixed.kind == rt.SpanKind.CLIENT
    assert mixed.attributes["db.operation.name"] == "PIPELINE"
    assert mixed.attributes["db.operation.batch.size"] == 3
    assert mixed.attributes["db.query.text"] == "SET ? ?\nGET ?\nINCRBY ? ?"
    assert mixed.attributes["db.namespace"] == "0"
    assert same.name == same.attributes["db.operation.name"] == "PIPELINE GET"
    assert same.attributes["db.query.text"] == "GET ?"
    _nothing_secret([mixed, same])


def test_a_pipeline_shape_run_again_is_described_the_same(
    client: Any, exporter: rt.InMemorySpanExporter
) -> None:
    """A pipeline's description is kept per shape (``_redis_spans._described``): shapes that
    differ only in the prefix or in an argument count must not share one, and a repeated
    shape, or one too long to be kept, must say what the first run said."""
    _spans(exporter)

    def run(transaction: bool, ex: bool, repeat: int = 3) -> None:
        pipe = client.pipeline(transaction=transaction)
        for n in range(repeat):
            if ex:
                pipe.set(f"k{n}", SECRET, ex=60)
            else:
                pipe.set(f"k{n}", SECRET)
        pipe.execute()

    for transaction, ex in [(False, False), (True, False), (False, True), (False, False),
                            (True, False), (False, True)]:
        run(transaction, ex)
    described = [(s.name, s.attributes.get("db.query.text"),
                  s.attributes.get("db.operation.batch.size")) for s in _spans(exporter)]
    first = [("PIPELINE SET", "SET ? ?", 3), ("MULTI SET", "SET ? ?", 3),
             ("PIPELINE SET", "SET ? ? ? ?", 3)]
    assert described == first + first
    size = _redis.spans.MAX_KEYED + 1
    run(False, False, repeat=size)
    run(False, False, repeat=size)
    long = _spans(exporter)
    assert [s.attributes["db.operation.batch.size"] for s in long] == [size, size]
    assert {s.name for s in long} == {"PIPELINE SET"}
    _nothing_secret(long)


def test_a_transaction_is_one_multi_span(client: Any, exporter: rt.InMemorySpanExporter) -> None:
    _spans(exporter)
    pipe = client.pipeline()  # transaction=True by default: MULTI ... EXEC
    assert isinstance(pipe, redis.client.Pipeline)
    assert pipe.set("a", 1).execute() == [True]
    (single,) = _spans(exporter)
    assert single.name == "MULTI SET"
    assert "db.operation.batch.size" not in single.attributes  # a batch of one is one operation

    def transfer(pipe: Any) -> None:
        balance = int(pipe.get("a"))  # while WATCHing: sent at once, its own span
        pipe.multi()
        pipe.set("a", balance - 1)
        pipe.incr("b")

    assert client.transaction(transfer, "a") == [True, 1]
    watch, get, multi = _spans(exporter)
    assert (watch.name, get.name) == ("WATCH", "GET")
    assert multi.name == "MULTI" and multi.attributes["db.operation.batch.size"] == 2
    assert multi.attributes["db.query.text"] == "SET ? ?\nINCRBY ? ?"


def test_a_watch_conflict_is_not_an_error(
    client: Any, redis_server: RedisServer, exporter: rt.InMemorySpanExporter
) -> None:
    other = redis.Redis(host=redis_server.host, port=redis_server.port)
    with client.pipeline() as pipe:
        pipe.watch("k")
        other.set("k", "changed")  # untraced: a plain client
        pipe.multi()
        pipe.set("k", "mine")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    other.close()
    watch, multi = _spans(exporter)[-2:]
    assert watch.name == "WATCH" and multi.name == "MULTI SET"
    assert multi.status_code == rt.StatusCode.UNSET and "error.type" not in multi.attributes


def test_errors_are_recorded_without_values(
    client: Any, exporter: rt.InMemorySpanExporter
) -> None:
    client.set("text", "x")
    _spans(exporter)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        client.lpush("text", SECRET)
    with pytest.raises(redis.ResponseError, match=SECRET) as raised:  # the server echoes it
        client.execute_command("NOSUCHCOMMAND", SECRET)
    with client.pipeline() as pipe, pytest.raises(redis.ResponseError):
        pipe.set("a", 1).lpush("text", SECRET).execute()
    wrongtype, unknown, pipeline = _spans(exporter)
    for span in (wrongtype, unknown, pipeline):
        assert span.status_code == rt.StatusCode.ERROR
        assert span.attributes["error.type"] == "redis.exceptions.ResponseError"
        (event,) = span.events
        assert event.name == "exception"
        assert event.attributes["exception.type"] == "redis.exceptions.ResponseError"
        assert str(event.attributes["exception.stacktrace"]).startswith("Traceback")
    assert wrongtype.attributes["db.response.status_code"] == "WRONGTYPE"
    assert wrongtype.events[0].attributes["exception.message"] == (
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    )
    assert unknown.name == "NOSUCHCOMMAND"
    # redis-py 8 keeps the prefix it strips from the message ("ERR unknown command ...");
    # earlier versions lose it
    assert unknown.attributes.get("db.response.status_code") == getattr(
        raised.value, "status_code", None
    )
    assert unknown.events[0].attributes["exception.message"] == "unknown command '?'"
    assert pipeline.name == "MULTI" and pipeline.attributes["db.operation.batch.size"] == 2
    assert pipeline.attributes["db.response.status_code"] == "WRONGTYPE"
    assert pipeline.events[0].attributes["exception.message"] == (  # redis-py names the command
        "Command # 2 (LPUSH ...) of pipeline caused error: "
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    )
    _nothing_secret([wrongtype, unknown, pipeline])


def test_scripts_name_their_procedure(client: Any, exporter: rt.InMemorySpanExporter) -> None:
    script = client.register_script("return ARGV[1]")
    _spans(exporter)
    assert script(args=[SECRET]) == SECRET.encode()
    missing, load, run = _spans(exporter)  # redis-py loads the script when the server lacks it
    assert (missing.name, load.name, run.name) == ("EVALSHA", "SCRIPT LOAD", "EVALSHA")
    assert missing.attributes["error.type"] == "redis.exceptions.NoScriptError"
    assert missing.attributes["db.response.status_code"] == "NOSCRIPT"
    assert run.attributes["db.stored_procedure.name"] == script.sha
    assert run.attributes["db.query.text"] == "EVALSHA ? ? ?"
    assert load.attributes["db.query.text"] == "SCRIPT LOAD ?"  # the script itself not kept
    _nothing_secret([missing, load, run])


def test_a_connection_failure_is_recorded(exporter: rt.InMemorySpanExporter) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    missing = _client(host="127.0.0.1", port=port, db=3, retry=None)
    with pytest.raises(redis.ConnectionError):
        missing.get("k")
    (span,) = _spans(exporter)
    assert span.attributes["error.type"] == "redis.exceptions.ConnectionError"
    assert span.attributes["server.port"] == port and span.attributes["db.namespace"] == "3"


def test_unix_socket_and_database_index(
    redis_server: RedisServer, exporter: rt.InMemorySpanExporter
) -> None:
    with _client(unix_socket_path=redis_server.unix_socket, db=5) as traced:
        assert type(traced) is not redis.Redis  # __enter__ gives the traced client back
        traced.set("k", "v")
        assert traced.get("k") == b"v"
    _, get = _spans(exporter)
    assert get.attributes["server.address"] == redis_server.unix_socket
    assert "server.port" not in get.attributes
    assert get.attributes["db.namespace"] == "5"


def test_factories_build_traced_clients(
    redis_server: RedisServer, exporter: rt.InMemorySpanExporter
) -> None:
    url = f"redis://{redis_server.host}:{redis_server.port}"

    class Cache(redis.Redis):
        pass

    built = [
        rt.traced(redis.Redis.from_url, FACTORY)(f"{url}/1"),
        rt.traced(redis.StrictRedis.from_url, FACTORY)(f"{url}/2", decode_responses=True),
        rt.traced(redis.from_url, FACTORY)(f"{url}/3", socket_timeout=5),
        rt.traced(Cache.from_url, FACTORY)(url, db=4),
    ]
    namespaces = ["1", "2", "3", "4"]
    if hasattr(redis.Redis, "from_pool"):  # redis-py 5.0.1 and later
        pool = redis.ConnectionPool.from_url(f"{url}/6")
        built.append(rt.traced(redis.Redis.from_pool, FACTORY)(pool))
        namespaces.append("6")
    assert [type(c).__mro__[1] for c in built] == [redis.Redis] * 3 + [Cache] + [redis.Redis] * (
        len(built) - 4
    )
    assert built[1].get_connection_kwargs()["decode_responses"] is True  # kwargs kept
    plain = redis.Redis.from_url(f"{url}/1")  # from_url's own pool handling is kept
    assert vars(built[0]).keys() == vars(plain).keys()
    assert getattr(built[0], "auto_close_connection_pool", None) == getattr(
        plain, "auto_close_connection_pool", None
    )
    plain.close()
    for c in built:
        c.ping()
        c.close()
    spans = _spans(exporter)
    assert [s.attributes["db.namespace"] for s in spans] == namespaces
    assert {s.name for s in spans} == {"PING"}
    # a factory of something else is called as it is
    pool = rt.traced(redis.ConnectionPool.from_url, FACTORY)(url)
    assert type(pool) is redis.ConnectionPool
    pool.disconnect()


def test_a_project_subclass_stays_itself(
    redis_server: RedisServer, exporter: rt.InMemorySpanExporter
) -> None:
    calls: list[str] = []

    class Cache(redis.Redis):
        def remember(self, key: str, value: str) -> Any:
            return self.set(f"cache:{key}", value, ex=60)

        def execute_command(self, *args: Any, **options: Any) -> Any:
            calls.append(str(args[0]))  # runs inside the span
            return super().execute_command(*args, **options)

    cache = _client(Cache, host=redis_server.host, port=redis_server.port)
    assert isinstance(cache, Cache) and type(cache).__name__ == "Cache"
    assert cache.remember("k", "v") is True
    single = cache.client()  # redis-py builds self.__class__: traced too
    assert type(single) is type(cache)
    single.ping()
    single.close()
    cache.close()
    assert calls == ["SET", "PING"]
    assert [s.name for s in _spans(exporter)] == ["SET", "PING"]


def test_pipelines_are_built_traced_and_a_project_override_still_runs(
    redis_server: RedisServer, exporter: rt.InMemorySpanExporter
) -> None:
    """redis-py's own ``pipeline()`` is recognised (the traced client builds the traced
    pipeline class directly, sparing a ``__class__`` change, see ``_pipeline_builder``); a
    project's ``pipeline()`` override is not, and still runs, its pipeline still traced."""
    assert _redis._pipeline_builder(redis.Redis) is not None
    assert _redis._pipeline_builder(redis.asyncio.Redis) is not None
    made: list[bool] = []

    class Tagged(redis.Redis):
        def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
            made.append(transaction)
            return super().pipeline(transaction, shard_hint)

    assert _redis._pipeline_builder(Tagged) is None
    direct = _client(host=redis_server.host, port=redis_server.port)
    tagged = _client(Tagged, host=redis_server.host, port=redis_server.port)
    direct.flushdb()
    _spans(exporter)
    for client in (direct, tagged):
        pipe = client.pipeline(transaction=False)
        assert isinstance(pipe, redis.client.Pipeline) and type(pipe).__name__ == "Pipeline"
        assert pipe.transaction is False and pipe.connection_pool is client.connection_pool
        assert pipe.set("a", 1).get("a").execute() == [True, b"1"]
        with client.pipeline() as transaction:  # the defaults: MULTI ... EXEC
            assert transaction.incr("n").execute() == [1 if client is direct else 2]
        client.close()
    assert made == [False, True]
    assert [s.name for s in _spans(exporter)] == ["PIPELINE", "MULTI INCRBY"] * 2
    with mock.patch.object(redis.Redis, "pipeline") as patched:  # a test's patch is called
        direct.pipeline(transaction=False)
    patched.assert_called_once_with(transaction=False)


def test_pubsub_is_redis_pys_own_object(client: Any, exporter: rt.InMemorySpanExporter) -> None:
    """Subscriptions are a stream of messages, not operations: left untraced (PUBLISH is not)."""
    pubsub = client.pubsub()
    assert type(pubsub) is redis.client.PubSub
    pubsub.subscribe("news")
    _spans(exporter)
    assert client.publish("news", SECRET) == 1
    messages = [pubsub.get_message(timeout=1.0) for _ in range(2)]
    assert [m["type"] for m in messages if m] == ["subscribe", "message"]
    pubsub.close()
    (publish,) = _spans(exporter)
    assert publish.name == "PUBLISH" and publish.attributes["db.query.text"] == "PUBLISH ? ?"


def test_copy_and_pickle_behave_as_for_the_original(client: Any) -> None:
    assert type(copy.copy(client)) is type(client)
    plain = redis.Redis()
    with pytest.raises(TypeError) as theirs:
        pickle.dumps(plain)
    with pytest.raises(TypeError) as ours:
        pickle.dumps(client)
    assert str(ours.value) == str(theirs.value)  # a client holds locks: neither pickles
    assert repr(client) == repr(redis.Redis(connection_pool=client.connection_pool))


def test_mocks_are_called_as_they_are(client: Any, exporter: rt.InMemorySpanExporter) -> None:
    _spans(exporter)
    with mock.patch("redis.Redis") as fake:
        assert _client() is fake.return_value
    with mock.patch("redis.from_url") as fake_from_url:
        assert rt.traced(redis.from_url, FACTORY)("redis://x") is fake_from_url.return_value
    with mock.patch.object(redis.Redis, "execute_command", return_value=b"mocked") as command:
        assert client.get("k") == b"mocked"
    assert command.call_count == 1 and command.call_args.args == ("GET", "k")
    real = redis.client.Redis
    with mock.patch("redis.client.Redis"):  # the adapter's own reference mocked: untraced
        plain = rt.traced(real, CLIENT)()
    assert type(plain) is real
    plain.close()
    assert _spans(exporter) == []


def test_other_classes_are_left_alone() -> None:
    class NotRedis:
        pass

    assert type(rt.traced(NotRedis, CLIENT)()) is NotRedis
    assert type(rt.traced(redis.ConnectionPool, CLIENT)()) is redis.ConnectionPool
    assert _redis.client_class(len) is None


@pytest.fixture(scope="module")
def sentinel(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    directory = tmp_path_factory.mktemp("sentinel")
    config = directory / "sentinel.conf"
    config.write_text(f"sentinel monitor mymaster 127.0.0.1 {redis_server.port} 1\n")
    process, server = start_redis(directory, "--sentinel", config=config)
    try:
        yield server.port
    finally:
        stop(process)


def test_sentinel_clients_are_traced(sentinel: int, exporter: rt.InMemorySpanExporter) -> None:
    manager = redis.sentinel.Sentinel([("127.0.0.1", sentinel)], socket_timeout=2)

    class Replica(redis.Redis):
        pass

    master = rt.traced(manager.master_for, FACTORY)("mymaster", socket_timeout=2, db=2)
    replica = rt.traced(manager.slave_for, FACTORY)("mymaster", Replica, socket_timeout=2)
    assert isinstance(master, redis.Redis) and type(master) is not redis.Redis
    assert isinstance(replica, Replica) and type(replica) is not Replica
    master.set("k", "v")
    assert master.get("k") == b"v"
    spans = _spans(exporter)
    assert [s.name for s in spans] == ["SET", "GET"]
    assert spans[0].attributes["db.namespace"] == "2"
    assert "server.address" not in spans[0].attributes  # Sentinel finds it per connection
    master.close()
    replica.close()


# -- redis.asyncio -------------------------------------------------------------------------------


async def _close(conn: Any) -> None:
    """``aclose()`` (redis-py 5.0.1 on; ``close()`` is deprecated there), else ``close()``;
    then the pool (redis-py 4 leaves ``from_url``'s pool open, traced or not)."""
    await (conn.aclose() if hasattr(conn, "aclose") else conn.close())
    await conn.connection_pool.disconnect()


def test_asyncio_commands_and_pipelines(
    redis_server: RedisServer, exporter: rt.InMemorySpanExporter
) -> None:
    async def main() -> Any:
        async with _client(redis.asyncio.Redis, port=redis_server.port, db=1) as conn:
            assert isinstance(conn, redis.asyncio.Redis) and type(conn) is not redis.asyncio.Redis
            with rt.span("job") as job:
                await conn.set("k", SECRET)
                async with conn.pipeline(transaction=False) as pipe:
                    pipe.get("k").incr("n")
                    values = await pipe.execute()
                with pytest.raises(redis.ResponseError):
                    await conn.lpush("k", SECRET)
                with pytest.raises(redis.ResponseError):
                    await conn.pipeline().lpush("k", SECRET).execute()
            return job, values

    job, values = asyncio.run(main())
    assert values == [SECRET.encode(), 1]
    set_, pipeline, lpush, failed, _ = _spans(exporter)
    assert set_.name == "SET" and set_.attributes["db.namespace"] == "1"
    assert set_.attributes["server.address"] == "localhost"  # the default host, as configured
    assert pipeline.name == "PIPELINE" and pipeline.attributes["db.operation.batch.size"] == 2
    assert lpush.attributes["db.response.status_code"] == "WRONGTYPE"
    assert failed.name == "MULTI LPUSH" and failed.status_code == rt.StatusCode.ERROR
    assert failed.attributes["db.response.status_code"] == "WRONGTYPE"
    assert failed.events[0].attributes["exception.message"] == (
        "Command # 1 (LPUSH ...) of pipeline caused error: "
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    )
    assert {s.parent_id for s in (set_, pipeline, lpush, failed)} == {job.span_id}
    _nothing_secret([set_, pipeline, lpush, failed])


def test_asyncio_factories_and_transactions(
    redis_server: RedisServer, exporter: rt.InMemorySpanExporter
) -> None:
    url = f"redis://{redis_server.host}:{redis_server.port}"

    async def main() -> None:
        first = rt.traced(redis.asyncio.from_url, FACTORY)(f"{url}/2")
        second = rt.traced(redis.asyncio.Redis.from_url, FACTORY)(url, db=3)
        for conn in (first, second):
            assert type(conn) is not redis.asyncio.Redis
            await conn.ping()

        async def bump(pipe: Any) -> None:
            value = await pipe.get("c")
            pipe.multi()
            pipe.set("c", int(value or 0) + 1)

        await first.transaction(bump, "c")
        await _close(first)
        await _close(second)

    asyncio.run(main())
    names = [(s.name, s.attributes["db.namespace"]) for s in _spans(exporter)]
    assert names == [("PING", "2"), ("PING", "3"), ("WATCH", "2"), ("GET", "2"), ("MULTI SET", "2")]


def test_asyncio_cancellation_ends_the_span(
    redis_server: RedisServer, exporter: rt.InMemorySpanExporter
) -> None:
    async def main() -> None:
        conn = _client(redis.asyncio.Redis, port=redis_server.port)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(conn.blpop(["empty-list"], timeout=5), 0.2)
        await _close(conn)

    asyncio.run(main())
    (span,) = _spans(exporter)
    assert span.name == "BLPOP" and span.end_ns > 0
    assert span.attributes["error.type"] == "asyncio.exceptions.CancelledError"


def test_an_unawaited_command_warns_as_untraced_does(redis_server: RedisServer) -> None:
    def warnings_of(conn: Any) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            coroutine = conn.get("k")
            del coroutine
            gc.collect()
        return [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]

    plain = redis.asyncio.Redis(port=redis_server.port)
    traced = _client(redis.asyncio.Redis, port=redis_server.port)
    assert warnings_of(traced) == warnings_of(plain) == [
        "coroutine 'Redis.execute_command' was never awaited"
    ]
