"""redis-py cluster clients traced from construction (``_redis_cluster``, through the
``redis.client`` and ``redis.factory`` adapters).

Against a real three-node Redis cluster on 127.0.0.1 (``conftest_redis_cluster``): commands
routed to the node owning each key's slot, a redirection redis-py follows, a command fanned out
to every primary, pipelines and cluster transactions, errors, the asyncio client, the
factories, and what the program may observe (types, mocks). What the spans say is
``_redis_spans``'s and ``_redis_cluster``'s docstrings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import redis
import redis.asyncio
import redis.cluster
from conftest_redis_cluster import RedisCluster, redis_cluster

import codetrace.runtime as rt

__all__ = ["redis_cluster"]  # the fixture, imported for this module's tests

CLIENT, FACTORY = "redis.client", "redis.factory"
SECRET = "s3cr3t-cluster-value"
KEYS = ("user:1", "user:2", "user:3", "order:9", "cart:4", "session:7")


def _spans(exporter: rt.InMemorySpanExporter) -> list[rt.Span]:
    spans = list(exporter.get_finished_spans())
    exporter.clear()
    return spans


def _nothing_secret(spans: list[rt.Span]) -> None:
    for span in spans:
        texts = [span.name, span.status_message, repr(span.attributes)]
        texts += [repr(event.attributes) for event in span.events]
        assert not any(SECRET in text for text in texts), span


@pytest.fixture
def client(redis_cluster: RedisCluster, exporter: rt.InMemorySpanExporter) -> Iterator[Any]:
    traced = rt.traced(redis.RedisCluster, CLIENT)(host=redis_cluster.host,
                                                   port=redis_cluster.port)
    traced.flushall(target_nodes=redis.RedisCluster.PRIMARIES)
    _spans(exporter)
    yield traced
    traced.close()


def test_one_span_per_command_naming_the_node_that_owns_the_key(
    client: Any, redis_cluster: RedisCluster, exporter: rt.InMemorySpanExporter
) -> None:
    assert isinstance(client, redis.RedisCluster) and type(client) is not redis.RedisCluster
    owners = {key: client.get_node_from_key(key).port for key in KEYS}
    assert len(set(owners.values())) == 3  # the keys are spread over the three nodes
    for key in KEYS:
        assert client.set(key, SECRET) is True
    assert [client.get(key) for key in KEYS] == [SECRET.encode()] * len(KEYS)
    spans = _spans(exporter)
    assert [s.name for s in spans] == ["SET"] * len(KEYS) + ["GET"] * len(KEYS)
    for span, key in zip(spans, KEYS * 2, strict=True):
        assert span.kind == rt.SpanKind.CLIENT
        assert span.status_code == rt.StatusCode.UNSET
        assert span.attributes == {
            "db.system.name": "redis",
            "db.operation.name": span.name,
            "db.query.text": "SET ? ?" if span.name == "SET" else "GET ?",
            "db.namespace": "0",
            "server.address": "127.0.0.1",
            "server.port": owners[key],
        }
    assert {s.attributes["server.port"] for s in spans} == set(redis_cluster.ports)
    _nothing_secret(spans)


def test_a_moved_redirection_is_inside_the_one_span(
    client: Any, redis_cluster: RedisCluster, exporter: rt.InMemorySpanExporter
) -> None:
    """The client's slot map made stale on purpose: the node it asks answers ``MOVED`` and
    redis-py asks the owner. The program sent one command: one span, not an error."""
    client.set("user:1", SECRET)
    owner = client.get_node_from_key("user:1")
    other = next(n for n in client.get_primaries() if n.port != owner.port)
    slot = client.keyslot("user:1")
    client.nodes_manager.slots_cache[slot] = [other]  # stale, as after a resharding
    _spans(exporter)
    assert client.get("user:1") == SECRET.encode()
    (get,) = _spans(exporter)
    assert get.name == "GET" and get.status_code == rt.StatusCode.UNSET
    assert "error.type" not in get.attributes and not get.events
    # the node first asked (redis-py follows the redirection inside its per-node step)
    assert get.attributes["server.port"] == other.port
    assert client.get("user:1") == SECRET.encode()  # the map is right again: the owner
    (again,) = _spans(exporter)
    assert again.attributes["server.port"] == owner.port


def test_a_command_sent_to_every_primary_is_one_span(
    client: Any, exporter: rt.InMemorySpanExporter
) -> None:
    for key in KEYS:
        client.set(key, SECRET)
    _spans(exporter)
    primaries = redis.RedisCluster.PRIMARIES
    assert sorted(client.keys("*", target_nodes=primaries)) == sorted(k.encode() for k in KEYS)
    assert client.dbsize(target_nodes=primaries) == len(KEYS)
    keys, dbsize = _spans(exporter)
    assert (keys.name, dbsize.name) == ("KEYS", "DBSIZE")
    assert keys.attributes["db.query.text"] == "KEYS ?"


def test_spans_are_children_of_the_current_span(
    client: Any, exporter: rt.InMemorySpanExporter
) -> None:
    with rt.span("request") as parent:
        client.incr("n")
        pipe = client.pipeline()
        pipe.incr("n").get("user:1")
        pipe.execute()
    incr, pipeline, request = _spans(exporter)
    assert incr.parent_id == pipeline.parent_id == parent.span_id
    assert incr.trace_id == pipeline.trace_id == request.trace_id


def test_a_pipeline_over_several_nodes_is_one_span(
    client: Any, exporter: rt.InMemorySpanExporter
) -> None:
    with client.pipeline() as pipe:
        assert isinstance(pipe, redis.cluster.ClusterPipeline)
        for key in KEYS[:3]:
            pipe.set(key, SECRET)
        pipe.get(KEYS[0])
        assert pipe.execute() == [True, True, True, SECRET.encode()]
        for key in KEYS:
            pipe.get(key)
        assert pipe.execute() == [SECRET.encode()] * 3 + [None] * 3
        assert pipe.execute() == []  # nothing queued, nothing sent: no span
    mixed, same = _spans(exporter)
    assert mixed.name == "PIPELINE" and mixed.kind == rt.SpanKind.CLIENT
    assert mixed.attributes == {
        "db.system.name": "redis",
        "db.operation.name": "PIPELINE",
        "db.operation.batch.size": 4,
        "db.query.text": "SET ? ?\nSET ? ?\nSET ? ?\nGET ?",
        "db.namespace": "0",
    }
    assert same.name == "PIPELINE GET"
    assert same.attributes["db.operation.batch.size"] == len(KEYS)
    _nothing_secret([mixed, same])


@pytest.mark.skipif(redis.VERSION < (6,), reason="cluster transactions came in redis-py 6")
def test_a_cluster_transaction_is_one_multi_span(
    client: Any, redis_cluster: RedisCluster, exporter: rt.InMemorySpanExporter
) -> None:
    def run(on: Any) -> Any:
        pipe = on.pipeline(transaction=True)
        pipe.set("{user}:a", SECRET).incr("{user}:n").get("{user}:a")
        return pipe.execute()

    assert run(client) == [b"OK", 1, SECRET.encode()]  # redis-py's own answer, as untraced:
    plain = redis.RedisCluster(host=redis_cluster.host, port=redis_cluster.port)
    try:
        assert run(plain) == [b"OK", 2, SECRET.encode()]
    finally:
        plain.close()
    (multi,) = _spans(exporter)
    assert multi.name == "MULTI"
    assert multi.attributes["db.operation.batch.size"] == 3
    assert multi.attributes["db.query.text"] == "SET ? ?\nINCRBY ? ?\nGET ?"


def test_errors_are_recorded_and_raised_unchanged(
    client: Any, exporter: rt.InMemorySpanExporter
) -> None:
    client.set("user:1", SECRET)
    _spans(exporter)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE") as raised:
        client.lpush("user:1", SECRET)
    assert type(raised.value) is redis.ResponseError
    pipe = client.pipeline()
    pipe.get("user:2").lpush("user:1", SECRET)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        pipe.execute()
    command, pipeline = _spans(exporter)
    for span in (command, pipeline):
        assert span.status_code == rt.StatusCode.ERROR
        assert span.attributes["error.type"] == "redis.exceptions.ResponseError"
        assert span.attributes["db.response.status_code"] == "WRONGTYPE"
        assert [event.name for event in span.events] == ["exception"]
    assert command.name == "LPUSH" and command.attributes["server.port"]
    _nothing_secret([command, pipeline])


def test_factories_build_traced_clients(
    redis_cluster: RedisCluster, exporter: rt.InMemorySpanExporter
) -> None:
    built = rt.traced(redis.RedisCluster.from_url, FACTORY)(redis_cluster.url)
    try:
        assert isinstance(built, redis.RedisCluster) and type(built) is not redis.RedisCluster
        _spans(exporter)
        built.ping(target_nodes=redis.RedisCluster.RANDOM)
        (ping,) = _spans(exporter)
        assert ping.name == "PING" and ping.attributes["server.port"] in redis_cluster.ports
    finally:
        built.close()


def test_a_project_subclass_stays_itself(
    redis_cluster: RedisCluster, exporter: rt.InMemorySpanExporter
) -> None:
    class Cache(redis.RedisCluster):
        def remember(self, key: str) -> Any:
            return self.get(key)

    cache = rt.traced(Cache, CLIENT)(host=redis_cluster.host, port=redis_cluster.port)
    try:
        assert isinstance(cache, Cache) and type(cache).__name__ == "Cache"
        _spans(exporter)
        assert cache.remember("nothing-here") is None
        assert [s.name for s in _spans(exporter)] == ["GET"]
    finally:
        cache.close()


def test_mocks_are_called_as_they_are(client: Any, exporter: rt.InMemorySpanExporter) -> None:
    with mock.patch("redis.RedisCluster") as fake:
        assert rt.traced(redis.RedisCluster, CLIENT)(host="h") is fake.return_value
    with mock.patch.object(redis.RedisCluster, "from_url") as fake_from_url:
        made = rt.traced(redis.RedisCluster.from_url, FACTORY)("redis://h:1")
        assert made is fake_from_url.return_value
    with mock.patch.object(redis.RedisCluster, "execute_command",
                           return_value=b"mocked") as command:
        assert client.get("k") == b"mocked"
    assert command.call_args.args == ("GET", "k")
    assert _spans(exporter) == []


def test_asyncio_commands_pipelines_and_errors(
    redis_cluster: RedisCluster, exporter: rt.InMemorySpanExporter
) -> None:
    async def program() -> list[Any]:
        client = rt.traced(redis.asyncio.RedisCluster.from_url, FACTORY)(redis_cluster.url)
        assert isinstance(client, redis.asyncio.RedisCluster)
        assert type(client) is not redis.asyncio.RedisCluster
        results: list[Any] = []
        try:
            await client.initialize()
            owners = {key: client.get_node_from_key(key).port for key in KEYS[:3]}
            _spans(exporter)
            for key in KEYS[:3]:
                results.append(await client.set(key, SECRET))
            async with client.pipeline() as pipe:
                for key in KEYS[:3]:
                    pipe.get(key)
                results.append(await pipe.execute())
            try:
                await client.lpush(KEYS[0], SECRET)
            except redis.ResponseError as exc:
                results.append(type(exc).__name__)
            results.append(owners)
        finally:  # ``aclose`` since redis-py 5.0.1, ``close`` before
            await getattr(client, "aclose", client.close)()
        return results

    *results, owners = asyncio.run(program())
    assert results == [True, True, True, [SECRET.encode()] * 3, "ResponseError"]
    spans = _spans(exporter)
    assert [s.name for s in spans] == ["SET", "SET", "SET", "PIPELINE GET", "LPUSH"]
    for span, key in zip(spans[:3], KEYS, strict=False):
        assert span.attributes["server.port"] == owners[key]
        assert span.attributes["db.namespace"] == "0"
    assert spans[3].attributes["db.operation.batch.size"] == 3
    assert spans[4].attributes["db.response.status_code"] == "WRONGTYPE"
    assert spans[4].status_code == rt.StatusCode.ERROR
    _nothing_secret(spans)
