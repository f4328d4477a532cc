"""Adapter ``pymongo.client``: pymongo clients traced from construction, by command monitoring.

The server is ``mongo_wire_server``: a minimal MongoDB wire-protocol server on 127.0.0.1 (a
protocol stand-in, not MongoDB: no MongoDB server is installable here). pymongo itself is
real, end to end: its handshake, monitors, sessions, cursors, write-error handling and
command monitoring run as they do against MongoDB. What the spans say is ``_pymongo``'s
docstring.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pymongo
import pytest
from mongo_wire_server import MongoWireServer, mongo_server
from pymongo import monitoring
from pymongo.errors import AutoReconnect, DuplicateKeyError, OperationFailure
from span_checks import SECRET, nothing_secret, take_spans

import codetrace.runtime as rt
from codetrace.runtime import _pymongo

__all__ = ["mongo_server"]  # the fixture, imported for this module's tests

CLIENT = "pymongo.client"
FAST = {"serverSelectionTimeoutMS": 3000}


class Recorder(monitoring.CommandListener):
    """A listener of the application's own."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.events.append(("started", event.command_name))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self.events.append(("succeeded", event.command_name))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self.events.append(("failed", event.command_name))


def _client(server: MongoWireServer, cls: Any = None, **kwargs: Any) -> Any:
    return rt.traced(cls or pymongo.MongoClient, CLIENT)(server.url, **{**FAST, **kwargs})


@pytest.fixture
def client(mongo_server: MongoWireServer) -> Iterator[Any]:
    mongo_server.store.clear()
    traced = _client(mongo_server)
    yield traced
    traced.close()


def test_one_client_span_per_command(
    client: Any, mongo_server: MongoWireServer, exporter: rt.InMemorySpanExporter
) -> None:
    assert type(client) is pymongo.MongoClient  # no subclass: a listener is enough
    orders = client.shop.orders
    assert orders.insert_one({"_id": 1, "note": SECRET, "qty": 2}).inserted_id == 1
    assert orders.find_one({"note": SECRET}) == {"_id": 1, "note": SECRET, "qty": 2}
    assert orders.update_one({"_id": 1}, {"$inc": {"qty": 1}}).modified_count == 1
    assert list(orders.aggregate([{"$match": {"qty": 3}}, {"$count": "n"}])) == [{"n": 1}]
    assert orders.delete_one({"_id": 1}).deleted_count == 1
    insert, find, update, aggregate, delete = take_spans(exporter)
    assert insert.name == "insert orders" and insert.kind == rt.SpanKind.CLIENT
    assert insert.attributes == {
        "db.system.name": "mongodb",
        "db.operation.name": "insert",
        "db.namespace": "shop",
        "db.collection.name": "orders",
        "server.address": "127.0.0.1",
        "server.port": mongo_server.port,
    }
    assert [s.name for s in (find, update, aggregate, delete)] == [
        "find orders", "update orders", "aggregate orders", "delete orders",
    ]
    assert all(s.status_code == rt.StatusCode.UNSET for s in (insert, find, update, delete))
    assert all("db.query.text" not in s.attributes for s in (insert, find, update, delete))
    nothing_secret([insert, find, update, aggregate, delete])


def test_a_cursor_is_a_find_then_get_mores(
    client: Any, exporter: rt.InMemorySpanExporter
) -> None:
    client.shop.items.insert_many([{"_id": n} for n in range(5)])
    take_spans(exporter)
    assert [d["_id"] for d in client.shop.items.find(batch_size=2)] == [0, 1, 2, 3, 4]
    find, more, last = take_spans(exporter)
    assert find.name == "find items"
    assert more.name == last.name == "getMore items"  # the collection of getMore's own field
    assert more.attributes["db.collection.name"] == "items"
    assert more.attributes["db.operation.name"] == "getMore"


def test_a_command_on_no_collection_is_named_by_its_database(
    client: Any, exporter: rt.InMemorySpanExporter
) -> None:
    assert client.admin.command("ping") == {"ok": 1.0}
    (ping,) = take_spans(exporter)
    assert ping.name == "ping admin"
    assert ping.attributes["db.namespace"] == "admin"
    assert "db.collection.name" not in ping.attributes


def test_a_duplicate_key_is_an_error_without_the_key(
    client: Any, exporter: rt.InMemorySpanExporter
) -> None:
    client.shop.users.insert_one({"_id": SECRET})
    take_spans(exporter)
    with pytest.raises(DuplicateKeyError) as raised:  # pymongo's exception, unchanged
        client.shop.users.insert_one({"_id": SECRET})
    assert raised.value.code == 11000 and SECRET in str(raised.value)
    (insert,) = take_spans(exporter)
    assert insert.name == "insert users"
    assert insert.status_code == rt.StatusCode.ERROR
    assert insert.attributes["db.response.status_code"] == "11000"
    assert insert.attributes["error.type"] == "11000"
    assert insert.status_message == "MongoDB error 11000"  # never the server's errmsg
    nothing_secret([insert])


def test_a_failed_command_records_the_mongodb_error(
    client: Any, exporter: rt.InMemorySpanExporter
) -> None:
    with pytest.raises(OperationFailure) as raised:
        client.shop.command("frobnicate")
    assert raised.value.code == 59
    with pytest.raises(OperationFailure) as bad:
        client.shop.orders.find_one({"qty": {"$near": SECRET}})
    assert bad.value.code == 2
    missing, find = take_spans(exporter)
    assert missing.name == "frobnicate shop"
    assert missing.status_code == rt.StatusCode.ERROR
    assert missing.status_message == "CommandNotFound"
    assert missing.attributes["db.response.status_code"] == missing.attributes["error.type"] == "59"
    assert find.name == "find orders" and find.attributes["error.type"] == "2"
    assert find.status_message == "BadValue"
    nothing_secret([missing, find])


def test_a_bulk_write_of_several_statements_is_a_batch(
    client: Any, exporter: rt.InMemorySpanExporter
) -> None:
    orders = client.shop.orders
    orders.insert_many([{"_id": n, "qty": n} for n in range(4)])
    result = orders.bulk_write([
        pymongo.UpdateOne({"_id": 0}, {"$set": {"qty": 9}}),
        pymongo.UpdateOne({"_id": 1}, {"$set": {"qty": 9}}),
        pymongo.DeleteOne({"_id": 3}),
    ])
    assert (result.modified_count, result.deleted_count) == (2, 1)
    orders.update_many({}, {"$inc": {"qty": 1}})
    insert, updates, delete, many = take_spans(exporter)
    assert "db.operation.batch.size" not in insert.attributes  # documents are operands
    assert updates.name == "update orders"
    assert updates.attributes["db.operation.batch.size"] == 2
    assert "db.operation.batch.size" not in delete.attributes  # a batch of one is no batch
    assert "db.operation.batch.size" not in many.attributes


def test_spans_are_children_of_the_span_current_in_each_thread(
    client: Any, exporter: rt.InMemorySpanExporter
) -> None:
    parents: dict[str, int] = {}

    def work(name: str) -> None:
        with rt.span(name) as parent:
            parents[name] = parent.span_id
            for _ in range(5):
                client.shop.orders.find_one({"name": name})

    threads = [threading.Thread(target=work, args=(f"job-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    spans = take_spans(exporter)
    finds = [s for s in spans if s.name == "find orders"]
    assert len(finds) == 20
    jobs = {s.span_id: s for s in spans if s.name.startswith("job-")}
    assert set(jobs) == set(parents.values())
    for job in jobs.values():
        children = [s for s in finds if s.parent_id == job.span_id]
        assert len(children) == 5 and all(c.trace_id == job.trace_id for c in children)


def test_the_callers_listeners_are_kept_and_still_hear_everything(
    mongo_server: MongoWireServer, exporter: rt.InMemorySpanExporter
) -> None:
    mine = Recorder()
    given = [mine]
    traced = _client(mongo_server, event_listeners=given)
    try:
        assert given == [mine]  # the caller's list is not changed
        listeners = traced.options.event_listeners
        assert listeners[0] is mine and len(listeners) == 2
        traced.shop.orders.insert_one({"x": 1})
        with pytest.raises(OperationFailure):
            traced.shop.command("frobnicate")
    finally:
        traced.close()
    assert mine.events[:4] == [
        ("started", "insert"), ("succeeded", "insert"),
        ("started", "frobnicate"), ("failed", "frobnicate"),
    ]
    names = [s.name for s in take_spans(exporter)]
    assert names[:2] == ["insert orders", "frobnicate shop"]
    as_tuple = _client(mongo_server, event_listeners=(mine,))
    try:
        assert type(as_tuple.options.event_listeners) in (list, tuple)
        assert as_tuple.options.event_listeners[0] is mine
    finally:
        as_tuple.close()


def test_listeners_handed_on_from_a_traced_client_trace_once(
    client: Any, mongo_server: MongoWireServer, exporter: rt.InMemorySpanExporter
) -> None:
    listeners = client.options.event_listeners
    again = _client(mongo_server, event_listeners=listeners)
    try:
        assert list(again.options.event_listeners) == list(listeners)  # ours not added twice
        again.shop.orders.find_one()
    finally:
        again.close()
    assert [s.name for s in take_spans(exporter)] == ["find orders", "endSessions admin"]


def test_heartbeats_and_handshakes_make_no_span(
    mongo_server: MongoWireServer, exporter: rt.InMemorySpanExporter
) -> None:
    mongo_server.store.clear()
    traced = _client(mongo_server, heartbeatFrequencyMS=500)  # pymongo's shortest period
    try:
        traced.shop.orders.find_one()
        seen = len(mongo_server.store.commands)
        pause = threading.Event()
        for _ in range(30):  # bounded: until a monitor has polled the server again
            later = list(mongo_server.store.commands)[seen:]
            if {"hello", "ismaster", "isMaster"} & set(later):
                break
            pause.wait(0.1)
    finally:
        traced.close()
    assert {"hello", "ismaster", "isMaster"} & set(later)
    names = [s.name for s in take_spans(exporter)]
    assert names == ["find orders", "endSessions admin"]


def test_an_application_hello_is_an_application_command(
    client: Any, exporter: rt.InMemorySpanExporter
) -> None:
    assert client.admin.command("hello")["isWritablePrimary"] is True
    (hello,) = take_spans(exporter)
    assert hello.name == "hello admin"


def test_a_mocked_client_class_is_called_unchanged(exporter: rt.InMemorySpanExporter) -> None:
    with mock.patch("pymongo.MongoClient") as fake:
        made = rt.traced(pymongo.MongoClient, CLIENT)("mongodb://db.internal", tz_aware=True)
    assert made is fake.return_value
    fake.assert_called_once_with("mongodb://db.internal", tz_aware=True)
    made.shop.orders.find_one({"_id": 1})
    assert take_spans(exporter) == []


def test_something_else_is_called_unchanged() -> None:
    class NotMongo:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.args, self.kwargs = args, kwargs

    made = rt.traced(NotMongo, CLIENT)("mongodb://x", connect=False)
    assert type(made) is NotMongo and made.kwargs == {"connect": False}
    assert rt.traced(dict, CLIENT)(a=1) == {"a": 1}


def test_a_project_subclass_is_traced_and_keeps_its_class(
    mongo_server: MongoWireServer, exporter: rt.InMemorySpanExporter
) -> None:
    class Store(pymongo.MongoClient):  # type: ignore[type-arg]
        def orders(self) -> Any:
            return self.shop.orders

    class Configured(pymongo.MongoClient):  # type: ignore[type-arg]
        def __init__(self, url: str, **options: Any) -> None:
            super().__init__(url, tz_aware=True, **options)

    for cls in (Store, Configured):
        traced = _client(mongo_server, cls)
        try:
            assert type(traced) is cls
            traced.shop.orders.find_one()
        finally:
            traced.close()
    assert [s.name for s in take_spans(exporter)] == ["find orders", "endSessions admin"] * 2


def test_a_subclass_that_takes_no_listeners_is_left_untraced(
    mongo_server: MongoWireServer, exporter: rt.InMemorySpanExporter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Fixed(pymongo.MongoClient):  # type: ignore[type-arg]
        def __init__(self, url: str) -> None:
            super().__init__(url, **FAST)

    with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
        traced = rt.traced(Fixed, CLIENT)(mongo_server.url)
    try:
        assert type(traced) is Fixed
        traced.shop.orders.find_one()
    finally:
        traced.close()
    assert take_spans(exporter) == []
    assert any("takes no event_listeners" in r.getMessage() for r in caplog.records)


def test_a_bad_event_listeners_value_fails_as_pymongo_fails(
    mongo_server: MongoWireServer,
) -> None:
    for bad in ("nope", None, {"a": 1}):
        with pytest.raises(TypeError) as untraced:
            pymongo.MongoClient(mongo_server.url, event_listeners=bad, connect=False)
        with pytest.raises(TypeError) as traced:
            _client(mongo_server, event_listeners=bad, connect=False)
        assert str(traced.value) == str(untraced.value)


def test_the_collection_of_a_command() -> None:
    of = _pymongo.collection_of
    assert of("find", {"find": "orders", "filter": {}}) == "orders"
    assert of("getMore", {"getMore": 12, "collection": "orders"}) == "orders"
    assert of("aggregate", {"aggregate": 1, "pipeline": []}) is None  # a database aggregation
    assert of("endSessions", {"endSessions": [{"id": 1}]}) is None
    assert of("usersInfo", {"usersInfo": "alice"}) is None  # a user, not a collection
    assert of("configureFailPoint", {"configureFailPoint": "failCommand"}) is None
    assert of("saslStart", {}) is None  # pymongo hands listeners no auth command


def test_the_configured_server(mongo_server: MongoWireServer) -> None:
    def server(*args: Any, **kwargs: Any) -> Any:
        made = pymongo.MongoClient(*args, connect=False, **kwargs)
        try:
            return _pymongo.configured_server(made, args, kwargs)
        finally:
            made.close()

    assert server(mongo_server.url) == ("127.0.0.1", mongo_server.port)
    assert server() == ("localhost", 27017)
    assert server("db.internal", 27018) == ("db.internal", 27018)
    assert server(host="mongodb://user:pw@db.internal/shop") == ("db.internal", 27017)
    assert server("mongodb://%2Ftmp%2Fmongodb-27017.sock") == ("/tmp/mongodb-27017.sock", None)
    assert server("mongodb://a.internal,b.internal/?replicaSet=rs") is None  # no single host
    srv = _pymongo.configured_server(object(), ("mongodb+srv://u:p@cluster0.example.net/x",), {})
    assert srv == ("cluster0.example.net", None)


def test_a_network_failure_is_recorded_with_pymongos_exception(
    exporter: rt.InMemorySpanExporter,
) -> None:
    with MongoWireServer() as server:
        traced = _client(server, retryReads=False, serverSelectionTimeoutMS=500)
        traced.shop.orders.find_one()
        server.stop()  # every connection closed under the client
        with pytest.raises(AutoReconnect):
            traced.shop.orders.find_one()
        traced.close()
    spans = [s for s in take_spans(exporter) if s.name == "find orders"]
    ok, failed = spans
    assert ok.status_code == rt.StatusCode.UNSET
    assert failed.status_code == rt.StatusCode.ERROR
    assert failed.attributes["error.type"].startswith("pymongo.errors.")
    assert "db.response.status_code" not in failed.attributes


def test_waiting_spans_are_bounded() -> None:
    listener_class = _pymongo.listener_class()
    assert listener_class is not None
    listener = listener_class()
    for n in range(_pymongo.MAX_OPEN + 50):
        event = mock.Mock(command_name="find", database_name="shop", command={"find": "c"},
                          request_id=n, connection_id=("h", 1))
        listener.started(event)
    assert len(listener._open) == _pymongo.MAX_OPEN


def test_a_broken_event_never_reaches_the_application() -> None:
    listener_class = _pymongo.listener_class()
    assert listener_class is not None
    listener = listener_class()
    listener.started(object())
    listener.succeeded(object())
    listener.failed(object())


def test_disabled_tracing_builds_the_client_untouched(mongo_server: MongoWireServer) -> None:
    rt.configure(disabled=True)
    traced = _client(mongo_server, connect=False)
    try:
        assert len(traced.options.event_listeners) == 0
    finally:
        traced.close()


# -- AsyncMongoClient --------------------------------------------------------------------------

needs_async = pytest.mark.skipif(
    not hasattr(pymongo, "AsyncMongoClient"), reason="pymongo has no AsyncMongoClient (< 4.10)"
)


@needs_async
def test_the_async_client_is_traced_per_task(
    mongo_server: MongoWireServer, exporter: rt.InMemorySpanExporter
) -> None:
    mongo_server.store.clear()

    async def job(client: Any, name: str) -> int:
        with rt.span(name) as parent:
            await client.shop.orders.insert_one({"job": name})
            assert await client.shop.orders.find_one({"job": name}) is not None
            with pytest.raises(DuplicateKeyError):
                await client.shop.orders.insert_one({"_id": f"{name}-1"})
                await client.shop.orders.insert_one({"_id": f"{name}-1"})
            return parent.span_id

    async def main() -> list[int]:
        client = rt.traced(pymongo.AsyncMongoClient, CLIENT)(mongo_server.url, **FAST)
        try:
            assert type(client) is pymongo.AsyncMongoClient
            return list(await asyncio.gather(*(job(client, f"task-{n}") for n in range(3))))
        finally:
            await client.close()

    parents = asyncio.run(main())
    spans = take_spans(exporter)
    for parent in parents:
        children = [s for s in spans if s.parent_id == parent]
        assert [s.name for s in children] == [
            "insert orders", "find orders", "insert orders", "insert orders",
        ]
        assert children[-1].attributes["error.type"] == "11000"
        assert all(s.attributes["server.port"] == mongo_server.port for s in children)
    assert [s.name for s in spans if s.parent_id == 0 and s.kind == rt.SpanKind.CLIENT] == [
        "endSessions admin"
    ]
