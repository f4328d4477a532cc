"""Fidelity: codetrace's pymongo spans cover OpenTelemetry's on one realistic program.

``fixtures/fidelity/pymongo_shop/shop.py`` (a project subclass of ``MongoClient``, a client held
on ``self``, ``with MongoClient(...)``, ``AsyncMongoClient``; inserts, a duplicate key, a query
read in two batches, updates, a bulk write, deletes, a count, an aggregation, a ping, an unknown
command) runs twice against the same server, each in its own process: under OpenTelemetry's
``PymongoInstrumentor`` (instrumented before the program is imported, its best case) with
``OTEL_SEMCONV_STABILITY_OPT_IN=database``, and after ``codetrace apply --out``. The server is
``mongo_wire_server``, a protocol stand-in on 127.0.0.1, not MongoDB (none is installable
here): both runs send the same commands to it and read the same replies.

Spans are paired in order and compared: count, kind, database, collection, server address and
port, status. The deliberate differences (``_pymongo``'s docstring) are asserted too, so a
change on either side shows:

* names: OpenTelemetry keeps the old ``{database}.{command}``; codetrace follows the stable
  rule, ``{command} {collection}`` (``{command} {database}`` without a collection);
* OpenTelemetry puts the command's name in ``db.query.text`` and sets no
  ``db.operation.name``; codetrace sets ``db.operation.name`` and no query text (the MongoDB
  conventions set none, and no document is ever captured);
* a duplicate key (a write error in an ``ok: 1`` reply, a ``DuplicateKeyError`` for the
  program) is an error for codetrace (``db.response.status_code`` ``"11000"``), a success
  for OpenTelemetry;
* ``error.type`` is the MongoDB error code (``"59"``, as the conventions prefer) where
  OpenTelemetry writes the code's name (``CommandNotFound``); codetrace adds
  ``db.response.status_code``;
* codetrace names ``getMore``'s collection and the batch size of a bulk write's ``update``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fidelity
import pytest
from mongo_wire_server import MongoWireServer, mongo_server

__all__ = ["mongo_server"]  # the fixture, imported for this module's tests

pytestmark = pytest.mark.slow  # two Python processes and an apply: about 3 s

PROGRAM = Path(__file__).parents[2] / "fixtures" / "fidelity" / "pymongo_shop"

UNDER_OPENTELEMETRY = fidelity.otel_script(
    "from opentelemetry.instrumentation.pymongo import PymongoInstrumentor",
    "PymongoInstrumentor().instrument()",
)


@pytest.fixture(scope="module")
def runs(mongo_server: MongoWireServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip("opentelemetry.instrumentation.pymongo")
    root = tmp_path_factory.mktemp("fidelity")
    out = fidelity.instrumented_copy(PROGRAM, root / "instrumented")
    return fidelity.run_both(
        UNDER_OPENTELEMETRY, PROGRAM / "shop.py", out / "shop.py", [mongo_server.url], root,
        before_each=mongo_server.store.clear,  # both runs find the same (empty) store
    )


def test_the_program_was_instrumented_at_its_construction_sites(runs: dict[str, Any]) -> None:
    source = runs["source"]
    assert 'store = _codetrace.traced(Store, "pymongo.client")(' in source
    assert 'self.client = _codetrace.traced(MongoClient, "pymongo.client")(' in source
    assert 'with _codetrace.traced(MongoClient, "pymongo.client")(' in source
    assert 'async with _codetrace.traced(AsyncMongoClient, "pymongo.client")(' in source
    assert source.count("_codetrace.traced(") == 4  # no command call site is wrapped
    otel_output, ours_output = runs["outputs"]
    assert ours_output == otel_output  # same behaviour
    assert "refused: DuplicateKeyError 11000" in ours_output
    assert "latest: 100" in ours_output


def _is_duplicate_key(span: dict[str, Any]) -> bool:
    return span["attributes"].get("db.response.status_code") == "11000"


def test_codetrace_covers_every_opentelemetry_span(runs: dict[str, Any]) -> None:
    theirs, ours = runs["otel"], runs["ours"]
    assert len(theirs) >= 25
    assert len(ours) == len(theirs)
    for mine, other in zip(ours, theirs, strict=True):
        a, b = mine["attributes"], other["attributes"]
        assert mine["kind"] == other["kind"] == "CLIENT"
        assert a["db.system.name"] == b["db.system.name"] == "mongodb"
        assert a["db.namespace"] == b["db.namespace"]
        assert a["db.operation.name"] == b["db.query.text"]  # the command, where OTel puts it
        if "db.collection.name" in b:
            assert a["db.collection.name"] == b["db.collection.name"]
        assert a["server.address"] == b["server.address"] == "127.0.0.1"
        assert a["server.port"] == b["server.port"]
        target = a.get("db.collection.name", a["db.namespace"])
        assert mine["name"] == f"{a['db.operation.name']} {target}"
        assert other["name"] == f"{b['db.namespace']}.{b['db.query.text']}"
        if not _is_duplicate_key(mine):
            assert mine["status"]["code"] == other["status"]["code"]
        assert [event["name"] for event in mine["events"]] == other["events"] == []
    assert [s["name"] for s in ours if s["name"].startswith("getMore")] == ["getMore orders"]


def test_the_documented_differences(runs: dict[str, Any]) -> None:
    theirs, ours = runs["otel"], runs["ours"]
    pairs = list(zip(ours, theirs, strict=True))
    assert all("db.query.text" not in s["attributes"] for s in ours)
    assert all("db.operation.name" not in s["attributes"] for s in theirs)
    (duplicate,) = [(m, o) for m, o in pairs if _is_duplicate_key(m)]
    assert duplicate[0]["name"] == "insert orders"
    assert duplicate[0]["status"]["code"] == "ERROR"
    assert duplicate[0]["attributes"]["error.type"] == "11000"
    assert duplicate[1]["status"]["code"] == "UNSET"
    assert "error.type" not in duplicate[1]["attributes"]
    (unknown,) = [(m, o) for m, o in pairs if m["attributes"]["db.operation.name"] ==
                  "reIndexEverything"]
    assert unknown[0]["name"] == "reIndexEverything shop"
    assert unknown[0]["attributes"]["error.type"] == "59"
    assert unknown[0]["attributes"]["db.response.status_code"] == "59"
    assert unknown[1]["attributes"]["error.type"] == "CommandNotFound"
    assert unknown[0]["status"]["code"] == unknown[1]["status"]["code"] == "ERROR"
    (more,) = [(m, o) for m, o in pairs if m["attributes"]["db.operation.name"] == "getMore"]
    assert more[0]["attributes"]["db.collection.name"] == "orders"
    assert "db.collection.name" not in more[1]["attributes"]
    batches = [m["attributes"].get("db.operation.batch.size") for m in ours]
    assert [b for b in batches if b is not None] == [2]  # the bulk write's two updates
    assert all("db.operation.batch.size" not in s["attributes"] for s in theirs)
    ping = next(m for m in ours if m["attributes"]["db.operation.name"] == "ping")
    assert ping["name"] == "ping admin" and "db.collection.name" not in ping["attributes"]
