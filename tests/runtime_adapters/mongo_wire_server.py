"""A minimal MongoDB wire-protocol server for the pymongo tests: a protocol stand-in, not MongoDB.

No MongoDB server is installable on these machines (Debian ships none), so the pymongo tests
talk to this one instead: a real TCP server on 127.0.0.1 (a free port) that speaks the wire
protocol pymongo speaks (OP_MSG, and the legacy OP_QUERY handshake older pymongo versions
send first) and keeps documents in memory. What pymongo needs to run a program end to end:

* the handshake and heartbeats (``hello``/``isMaster``/``ismaster``: a writable standalone,
  ``minWireVersion`` 0, ``maxWireVersion`` 21, sessions supported, no ``topologyVersion`` so
  the monitors poll rather than stream), ``ping``, ``buildInfo``, ``endSessions``;
* ``insert`` (``E11000`` duplicate-key write errors, code 11000, on an existing ``_id``),
  ``find``/``getMore``/``killCursors`` (real cursors: a first batch, the rest by ``getMore``),
  ``update`` (``$set``, ``$unset``, ``$inc``, ``$push``, replacement, upsert, multi),
  ``delete``, ``count``, ``aggregate`` (``$match``, ``$sort``, ``$skip``, ``$limit``,
  ``$count``, and a ``$group`` on a constant ``_id`` with ``$sum``: what ``count_documents``
  sends), ``drop``, ``listCollections``;
* errors as MongoDB sends them: ``CommandNotFound`` (59) for any other command, ``BadValue``
  (2) for an unknown query operator, ``Location40324`` for an unknown pipeline stage.

Filters match top-level and dotted fields by equality or with ``$eq``/``$ne``/``$gt``/
``$gte``/``$lt``/``$lte``/``$in``/``$nin``/``$exists``, and ``$and``/``$or``. Everything else
MongoDB does (indexes, transactions, projections, collation...) is out of scope. BSON is the
``bson`` package that ships with pymongo.

Bounded: at most :data:`MAX_CONNECTIONS` client connections and :data:`MAX_CURSORS` open
cursors; :meth:`MongoWireServer.stop` shuts the listening socket and every client connection,
so no thread outlives it.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import itertools
import socket
import socketserver
import struct
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import bson
import pytest
from bson.int64 import Int64
from bson.objectid import ObjectId

OP_REPLY, OP_QUERY, OP_MSG = 1, 2004, 2013
MORE_TO_COME, CHECKSUM_PRESENT = 2, 1
MAX_MESSAGE = 48_000_000
MAX_CONNECTIONS = 64
MAX_CURSORS = 256
WIRE_VERSION = 21  # MongoDB 7.0
_CONNECTION_IDS = itertools.count(1)
_CURSOR_IDS = itertools.count(1_000_001)
_REQUEST_IDS = itertools.count(1)


class CommandError(Exception):
    """A command that fails as a whole: ``{ok: 0, errmsg, code, codeName}``."""

    def __init__(self, code: int, name: str, message: str) -> None:
        super().__init__(message)
        self.code, self.name, self.message = code, name, message

    def reply(self) -> dict[str, Any]:
        return {"ok": 0.0, "errmsg": self.message, "code": self.code, "codeName": self.name}


# -- queries -------------------------------------------------------------------------------------

_MISSING = object()


def _field(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _compare(value: Any, operator: str, argument: Any) -> bool:
    if operator == "$eq":
        return value is not _MISSING and value == argument
    if operator == "$ne":
        return value is _MISSING or value != argument
    if operator == "$in":
        return value is not _MISSING and value in argument
    if operator == "$nin":
        return value is _MISSING or value not in argument
    if operator == "$exists":
        return (value is not _MISSING) == bool(argument)
    if operator in ("$gt", "$gte", "$lt", "$lte"):
        if value is _MISSING:
            return False
        try:
            if operator == "$gt":
                return bool(value > argument)
            if operator == "$gte":
                return bool(value >= argument)
            if operator == "$lt":
                return bool(value < argument)
            return bool(value <= argument)
        except TypeError:  # MongoDB compares across types by a type order; never needed here
            return False
    raise CommandError(2, "BadValue", f"unknown operator: {operator}")


_OPERATORS = frozenset({"$eq", "$ne", "$in", "$nin", "$exists", "$gt", "$gte", "$lt", "$lte"})


def check(query: Mapping[str, Any]) -> None:
    """Raise ``BadValue`` for an operator the server does not know, as MongoDB does, even
    when no document would be compared."""
    for key, condition in query.items():
        if key in ("$and", "$or"):
            for part in condition:
                check(part)
        elif key.startswith("$"):
            raise CommandError(2, "BadValue", f"unknown top level operator: {key}")
        elif isinstance(condition, Mapping) and condition and next(iter(condition)).startswith("$"):
            for operator in condition:
                if operator not in _OPERATORS:
                    raise CommandError(2, "BadValue", f"unknown operator: {operator}")


def matches(document: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    for key, condition in query.items():
        if key == "$and":
            if not all(matches(document, part) for part in condition):
                return False
        elif key == "$or":
            if not any(matches(document, part) for part in condition):
                return False
        elif key.startswith("$"):
            raise CommandError(2, "BadValue", f"unknown top level operator: {key}")
        elif isinstance(condition, Mapping) and condition and next(iter(condition)).startswith("$"):
            value = _field(document, key)
            if not all(_compare(value, op, arg) for op, arg in condition.items()):
                return False
        elif _field(document, key) != condition:
            return False
    return True


def _sorted(documents: list[dict[str, Any]], order: Mapping[str, Any]) -> list[dict[str, Any]]:
    for key, direction in reversed(list(order.items())):
        def sort_key(document: Mapping[str, Any], key: str = key) -> tuple[int, str, Any]:
            value = _field(document, key)
            if value is _MISSING or value is None:
                return (0, "", 0)
            return (1, type(value).__name__, value)

        documents = sorted(documents, key=sort_key, reverse=direction == -1)
    return documents


def _update(document: dict[str, Any], change: Mapping[str, Any], inserting: bool) -> None:
    if not change or not next(iter(change)).startswith("$"):  # a replacement
        identity = document.get("_id")
        document.clear()
        document.update(change)
        if identity is not None:
            document["_id"] = identity
        return
    for operator, fields in change.items():
        for key, value in fields.items():
            if operator == "$set" or (operator == "$setOnInsert" and inserting):
                document[key] = value
            elif operator == "$unset":
                document.pop(key, None)
            elif operator == "$inc":
                document[key] = document.get(key, 0) + value
            elif operator == "$push":
                document.setdefault(key, []).append(value)
            elif operator != "$setOnInsert":
                raise CommandError(9, "FailedToParse", f"Unknown modifier: {operator}")


# -- the store and its commands ------------------------------------------------------------------


class Store:
    """Databases of collections of documents (by ``_id``, in insertion order), and cursors."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.collections: dict[tuple[str, str], dict[Any, dict[str, Any]]] = {}
        self.cursors: collections.OrderedDict[int, tuple[str, list[dict[str, Any]]]] = (
            collections.OrderedDict()
        )
        self.commands: collections.deque[str] = collections.deque(maxlen=10_000)
        """The name of every command received, oldest first (heartbeats included)."""

    def clear(self) -> None:
        with self.lock:
            self.collections.clear()
            self.cursors.clear()
            self.commands.clear()

    def _collection(self, db: str, name: str) -> dict[Any, dict[str, Any]]:
        return self.collections.setdefault((db, name), {})

    def _batch(
        self, db: str, name: str, documents: list[dict[str, Any]], size: int, key: str,
        single: bool = False,
    ) -> dict[str, Any]:
        first, rest = documents[:size], documents[size:]
        cursor_id = 0
        if rest and not single:
            cursor_id = next(_CURSOR_IDS)
            if len(self.cursors) >= MAX_CURSORS:
                self.cursors.popitem(last=False)
            self.cursors[cursor_id] = (f"{db}.{name}", rest)
        return {"cursor": {key: first, "id": Int64(cursor_id), "ns": f"{db}.{name}"}, "ok": 1.0}

    def run(self, command: dict[str, Any], connection_id: int) -> dict[str, Any]:
        name = next(iter(command))
        self.commands.append(name)
        handler = getattr(self, f"_cmd_{name.lower()}", None)
        if handler is None:
            return CommandError(59, "CommandNotFound", f"no such command: '{name}'").reply()
        try:
            with self.lock:
                reply: dict[str, Any] = handler(command, command.get("$db", "test"), connection_id)
                return reply
        except CommandError as error:
            return error.reply()

    # handshake and housekeeping

    def _cmd_hello(self, command: dict[str, Any], db: str, connection_id: int) -> dict[str, Any]:
        return {
            "helloOk": True,
            "isWritablePrimary": True,
            "ismaster": True,
            "maxBsonObjectSize": 16 * 1024 * 1024,
            "maxMessageSizeBytes": MAX_MESSAGE,
            "maxWriteBatchSize": 100_000,
            "localTime": datetime.datetime.now(datetime.timezone.utc),
            "logicalSessionTimeoutMinutes": 30,
            "connectionId": connection_id,
            "minWireVersion": 0,
            "maxWireVersion": WIRE_VERSION,
            "readOnly": False,
            "ok": 1.0,
        }

    _cmd_ismaster = _cmd_hello

    def _cmd_ping(self, command: dict[str, Any], db: str, connection_id: int) -> dict[str, Any]:
        return {"ok": 1.0}

    _cmd_endsessions = _cmd_ping

    def _cmd_buildinfo(
        self, command: dict[str, Any], db: str, connection_id: int
    ) -> dict[str, Any]:
        return {"version": "7.0.0", "versionArray": [7, 0, 0, 0], "ok": 1.0}

    def _cmd_drop(self, command: dict[str, Any], db: str, connection_id: int) -> dict[str, Any]:
        self.collections.pop((db, command["drop"]), None)
        return {"ns": f"{db}.{command['drop']}", "nIndexesWas": 1, "ok": 1.0}

    def _cmd_listcollections(
        self, command: dict[str, Any], db: str, connection_id: int
    ) -> dict[str, Any]:
        names = [{"name": name, "type": "collection"} for (d, name) in self.collections if d == db]
        return self._batch(db, "$cmd.listCollections", names, 101, "firstBatch")

    # writes

    def _cmd_insert(self, command: dict[str, Any], db: str, connection_id: int) -> dict[str, Any]:
        collection = self._collection(db, command["insert"])
        inserted, errors = 0, []
        for index, document in enumerate(command.get("documents", [])):
            document = dict(document)
            identity = document.setdefault("_id", ObjectId())
            if identity in collection:
                errors.append({
                    "index": index,
                    "code": 11000,
                    "errmsg": f"E11000 duplicate key error collection: {db}.{command['insert']}"
                    f" index: _id_ dup key: {{ _id: {identity!r} }}",
                })
                if command.get("ordered", True):
                    break
                continue
            collection[identity] = document
            inserted += 1
        reply: dict[str, Any] = {"n": inserted, "ok": 1.0}
        if errors:
            reply["writeErrors"] = errors
        return reply

    def _cmd_update(self, command: dict[str, Any], db: str, connection_id: int) -> dict[str, Any]:
        collection = self._collection(db, command["update"])
        matched = modified = 0
        upserted, errors = [], []
        for index, statement in enumerate(command.get("updates", [])):
            try:
                found = [d for d in collection.values() if matches(d, statement.get("q", {}))]
                if not statement.get("multi"):
                    found = found[:1]
                for document in found:
                    before = dict(document)
                    _update(document, statement["u"], inserting=False)
                    modified += document != before
                matched += len(found)
                if not found and statement.get("upsert"):
                    query = statement.get("q", {})
                    document = {k: v for k, v in query.items() if not k.startswith("$")}
                    _update(document, statement["u"], inserting=True)
                    document.setdefault("_id", query.get("_id", ObjectId()))
                    collection[document["_id"]] = document
                    upserted.append({"index": index, "_id": document["_id"]})
            except CommandError as error:
                errors.append({"index": index, "code": error.code, "errmsg": error.message})
                if command.get("ordered", True):
                    break
        reply: dict[str, Any] = {"n": matched + len(upserted), "nModified": modified, "ok": 1.0}
        if upserted:
            reply["upserted"] = upserted
        if errors:
            reply["writeErrors"] = errors
        return reply

    def _cmd_delete(self, command: dict[str, Any], db: str, connection_id: int) -> dict[str, Any]:
        collection = self._collection(db, command["delete"])
        removed = 0
        for statement in command.get("deletes", []):
            found = [k for k, d in collection.items() if matches(d, statement.get("q", {}))]
            if statement.get("limit") == 1:
                found = found[:1]
            for key in found:
                del collection[key]
            removed += len(found)
        return {"n": removed, "ok": 1.0}

    # reads

    def _cmd_find(self, command: dict[str, Any], db: str, connection_id: int) -> dict[str, Any]:
        name = command["find"]
        query = command.get("filter", {})
        check(query)
        found = [d for d in self._collection(db, name).values() if matches(d, query)]
        if "sort" in command:
            found = _sorted(found, command["sort"])
        skip, limit = command.get("skip", 0), command.get("limit", 0)
        found = found[skip:][: abs(limit)] if limit else found[skip:]
        size = command.get("batchSize") or 101
        single = bool(command.get("singleBatch")) or limit < 0
        return self._batch(db, name, found, size, "firstBatch", single)

    def _cmd_getmore(self, command: dict[str, Any], db: str, connection_id: int) -> dict[str, Any]:
        cursor_id = int(command["getMore"])
        if cursor_id not in self.cursors:
            raise CommandError(43, "CursorNotFound", f"cursor id {cursor_id} not found")
        namespace, rest = self.cursors.pop(cursor_id)
        size = command.get("batchSize") or len(rest)
        batch, rest = rest[:size], rest[size:]
        if rest:
            self.cursors[cursor_id] = (namespace, rest)
        next_id = Int64(cursor_id if rest else 0)
        return {"cursor": {"nextBatch": batch, "id": next_id, "ns": namespace}, "ok": 1.0}

    def _cmd_killcursors(
        self, command: dict[str, Any], db: str, connection_id: int
    ) -> dict[str, Any]:
        killed = [Int64(c) for c in command.get("cursors", []) if self.cursors.pop(int(c), None)]
        return {"cursorsKilled": killed, "cursorsNotFound": [], "cursorsAlive": [],
                "cursorsUnknown": [], "ok": 1.0}

    def _cmd_count(self, command: dict[str, Any], db: str, connection_id: int) -> dict[str, Any]:
        query = command.get("query") or {}
        documents = self._collection(db, command["count"]).values()
        return {"n": sum(1 for d in documents if matches(d, query)), "ok": 1.0}

    def _cmd_aggregate(
        self, command: dict[str, Any], db: str, connection_id: int
    ) -> dict[str, Any]:
        name = command["aggregate"]
        documents = list(self._collection(db, name).values()) if isinstance(name, str) else []
        for stage in command.get("pipeline", []):
            operator, argument = next(iter(stage.items()))
            if operator == "$match":
                documents = [d for d in documents if matches(d, argument)]
            elif operator == "$sort":
                documents = _sorted(documents, argument)
            elif operator == "$skip":
                documents = documents[argument:]
            elif operator == "$limit":
                documents = documents[:argument]
            elif operator == "$count":
                documents = [{argument: len(documents)}] if documents else []
            elif operator == "$group" and not isinstance(argument.get("_id"), str):
                # the shape count_documents sends: a constant _id and {$sum: <number>} fields
                group: dict[str, Any] = {"_id": argument.get("_id")}
                for field, accumulator in argument.items():
                    if field != "_id":
                        group[field] = accumulator["$sum"] * len(documents)
                documents = [group] if documents else []
            else:
                raise CommandError(
                    40324, "Location40324", f"Unrecognized pipeline stage name: '{operator}'"
                )
        size = (command.get("cursor") or {}).get("batchSize") or 101
        return self._batch(db, str(name), documents, size, "firstBatch")


# -- the wire ------------------------------------------------------------------------------------


def _read_exactly(connection: socket.socket, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = connection.recv(min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _cstring(data: bytes, offset: int) -> tuple[str, int]:
    end = data.index(b"\x00", offset)
    return data[offset:end].decode(), end + 1


def _op_msg(body: bytes) -> tuple[dict[str, Any], int]:
    """The command of an OP_MSG (document sequences folded in) and its flag bits."""
    (flags,) = struct.unpack_from("<I", body)
    offset, end = 4, len(body) - (4 if flags & CHECKSUM_PRESENT else 0)
    command: dict[str, Any] = {}
    sequences: dict[str, list[dict[str, Any]]] = {}
    while offset < end:
        kind = body[offset]
        offset += 1
        (size,) = struct.unpack_from("<i", body, offset)
        if kind == 0:
            command = bson.decode(body[offset : offset + size])
        else:  # kind 1: a document sequence (pymongo sends inserts' documents this way)
            identifier, start = _cstring(body, offset + 4)
            sequences[identifier] = bson.decode_all(body[start : offset + size])
        offset += size
    command.update(sequences)
    return command, flags


def _op_query(body: bytes) -> dict[str, Any]:
    """The command of a legacy OP_QUERY (``admin.$cmd``): the handshake of older pymongo."""
    _, offset = _cstring(body, 4)
    offset += 8  # numberToSkip, numberToReturn
    (size,) = struct.unpack_from("<i", body, offset)
    query = bson.decode(body[offset : offset + size])
    inner = query.get("$query")
    return dict(inner) if isinstance(inner, Mapping) else query


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        owner = self.server.owner
        connection: socket.socket = self.request
        connection_id = next(_CONNECTION_IDS)
        with owner.tracking(connection) as accepted:
            if accepted:
                # OSError: the client went away, or stop() shut the connection
                with contextlib.suppress(OSError):
                    self._serve(owner, connection, connection_id)

    def _serve(
        self, owner: MongoWireServer, connection: socket.socket, connection_id: int
    ) -> None:
        while True:
            header = _read_exactly(connection, 16)
            if header is None:
                return
            length, request_id, _, opcode = struct.unpack("<iiii", header)
            if not 16 <= length <= MAX_MESSAGE:
                return
            body = _read_exactly(connection, length - 16)
            if body is None:
                return
            if opcode == OP_MSG:
                command, flags = _op_msg(body)
                reply = owner.store.run(command, connection_id)
                if not flags & MORE_TO_COME:  # an unacknowledged write expects no reply
                    payload = struct.pack("<IB", 0, 0) + bson.encode(reply)
                    connection.sendall(_header(len(payload), request_id, OP_MSG) + payload)
            elif opcode == OP_QUERY:
                reply = owner.store.run(_op_query(body), connection_id)
                document = bson.encode(reply)
                payload = struct.pack("<iqii", 8, 0, 0, 1) + document  # AwaitCapable
                connection.sendall(_header(len(payload), request_id, OP_REPLY) + payload)
            else:  # OP_COMPRESSED (never negotiated) or anything else
                return


def _header(payload: int, response_to: int, opcode: int) -> bytes:
    return struct.pack("<iiii", 16 + payload, next(_REQUEST_IDS), response_to, opcode)


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, owner: MongoWireServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class MongoWireServer:
    """The stand-in server: :meth:`start` it, connect to :attr:`url`, :meth:`stop` it."""

    def __init__(self) -> None:
        self.store = Store()
        self._server: _TCPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def url(self) -> str:
        return f"mongodb://{self.host}:{self.port}"

    def start(self) -> MongoWireServer:
        self._server = _TCPServer(self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="mongo-wire-server", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # wakes every handler blocked in recv
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def tracking(self, connection: socket.socket) -> _Tracked:
        return _Tracked(self, connection)

    def __enter__(self) -> MongoWireServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _Tracked:
    """The handler's connection, known to :meth:`MongoWireServer.stop` while it is open."""

    def __init__(self, owner: MongoWireServer, connection: socket.socket) -> None:
        self.owner, self.connection = owner, connection

    def __enter__(self) -> bool:
        with self.owner._lock:
            if self.owner._server is None or len(self.owner._connections) >= MAX_CONNECTIONS:
                return False
            self.owner._connections.add(self.connection)
        return True

    def __exit__(self, *exc_info: object) -> None:
        with self.owner._lock:
            self.owner._connections.discard(self.connection)


@pytest.fixture(scope="module")
def mongo_server() -> Iterator[MongoWireServer]:
    """The stand-in server for a test module (not MongoDB: see this module's docstring)."""
    with MongoWireServer() as server:
        yield server
