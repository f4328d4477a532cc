"""Fidelity: codetrace's asyncpg spans cover OpenTelemetry's on one realistic program.

``fixtures/fidelity/asyncpg_shop/shop.py`` (a project connection class given to
``asyncpg.connect``, DDL, inserts with parameters, ``executemany``, ``fetch``/``fetchrow``/
``fetchval``, a prepared statement, transactions committed and rolled back, a unique violation,
a pool handed to a helper) runs twice against the same real PostgreSQL server, each in its own
process: under OpenTelemetry's ``AsyncPGInstrumentor`` (instrumented before the program is
imported, its best case) with ``OTEL_SEMCONV_STABILITY_OPT_IN=database``, and after ``codetrace
apply --out``. Spans are paired in order and compared: kind, query text, the database and
server, status. The documented differences (``_asyncpg_spans``'s docstring) are asserted too, so
a change on either side shows. Deliberately, codetrace:

* adds a span for ``connect()`` and for ``prepare()`` (each a round trip OpenTelemetry leaves
  out; the pool's own connects get none, as there);
* names spans by ``db.query.summary`` (``SELECT products``, ``BATCH INSERT products``), as the
  conventions say, where OpenTelemetry takes the first word of the text (``SELECT``, ``BEGIN;``);
* replaces literals in ``db.query.text`` (OpenTelemetry keeps ``VALUES ('pen', 1, 1)``);
* records ``db.operation.batch.size``, ``db.response.status_code`` (the SQLSTATE) and a
  qualified ``error.type`` (``asyncpg.exceptions.UniqueViolationError``, theirs the bare name);
* omits ``network.transport`` (not an attribute of the database conventions).

Both make spans for ``BEGIN``/``COMMIT``/``ROLLBACK`` and for the reset query a pool sends when a
connection is released. OpenTelemetry's cursor spans (one per row of ``async for``) are not
exercised here: codetrace makes one per round trip (tests/runtime_adapters/test_asyncpg.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fidelity
import pytest
from conftest_postgres import PostgresServer, postgres_server

from codetrace.runtime._sql import analyse

__all__ = ["postgres_server"]  # the fixture, imported for this module's tests

pytestmark = pytest.mark.slow  # two interpreters (one imports the OpenTelemetry SDK): ~6 s

PROGRAM = Path(__file__).parents[2] / "fixtures" / "fidelity" / "asyncpg_shop"

UNDER_OPENTELEMETRY = fidelity.otel_script(
    "from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor",
    "AsyncPGInstrumentor().instrument()",
)


@pytest.fixture(scope="module")
def runs(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("fidelity")
    out = fidelity.instrumented_copy(PROGRAM, root / "instrumented")
    return fidelity.run_both(
        UNDER_OPENTELEMETRY, PROGRAM / "shop.py", out / "shop.py", [postgres_server.url], root
    )


def _paired(runs: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """codetrace's statement spans with OpenTelemetry's, in order (its extra spans left out:
    the ``connect`` and ``PREPARE`` round trips OpenTelemetry does not trace)."""
    ours = [s for s in runs["ours"] if not s["name"].startswith(("connect", "PREPARE "))]
    assert len(ours) == len(runs["otel"]), [s["name"] for s in ours]
    return list(zip(ours, runs["otel"], strict=True))


def test_the_program_was_instrumented_at_its_construction_sites(runs: dict[str, Any]) -> None:
    source = runs["source"]
    assert '_codetrace.traced(asyncpg.connect, "asyncpg.connect")(' in source
    assert '_codetrace.traced(asyncpg.create_pool, "asyncpg.pool")(' in source
    assert source.count("_codetrace.traced(") == 2  # no statement call site is wrapped
    otel_output, ours_output = runs["outputs"]
    assert ours_output == otel_output  # same behaviour
    assert "report [('pen', 2)]" in ours_output


def test_codetrace_covers_every_opentelemetry_span(runs: dict[str, Any]) -> None:
    pairs = _paired(runs)
    assert len(pairs) >= 19
    for mine, other in pairs:
        a, b = mine["attributes"], other["attributes"]
        assert mine["kind"] == other["kind"] == "CLIENT"
        for key in ("db.system.name", "db.namespace", "server.address", "server.port"):
            assert a[key] == b[key], key
        # the same text, literals replaced (parameterised text is the same text)
        assert a["db.query.text"] == analyse(b["db.query.text"], "postgresql")[0]
        # OpenTelemetry names a span by the first word of its text; codetrace by its summary
        assert mine["name"].removeprefix("BATCH ").split()[0] == other["name"].rstrip(";")
        assert mine["status"]["code"] == other["status"]["code"]
        assert [event["name"] for event in mine["events"]] == other["events"]
        if "error.type" in b:
            assert a["error.type"] == f"asyncpg.exceptions.{b['error.type']}"
    # transactions: BEGIN/COMMIT/ROLLBACK are spans on both sides, and the pool's reset query
    names = [mine["name"] for mine, _ in pairs]
    assert names.count("BEGIN") == 2 and names.count("COMMIT") == 1
    assert names.count("ROLLBACK") == 1
    assert pairs[-1][0]["attributes"]["db.query.text"].startswith("SELECT pg_advisory_unlock_all")


def test_the_documented_differences(runs: dict[str, Any]) -> None:
    ours, theirs = runs["ours"], runs["otel"]
    # spans codetrace adds: the connect (not the pool's own) and the prepare round trip
    assert [s["name"] for s in ours if s["name"].startswith(("connect", "PREPARE "))] == [
        "connect codetrace", "PREPARE SELECT products",
    ]
    assert ours[0]["attributes"]["db.operation.name"] == "connect"
    pairs = _paired(runs)
    # literals: OpenTelemetry keeps them, codetrace replaces them
    (failed,) = [(m, o) for m, o in pairs if o["status"]["code"] == "ERROR"]
    assert failed[1]["attributes"]["db.query.text"] == (
        "INSERT INTO products (name, price, stock) VALUES ('pen', 1, 1)"
    )
    assert failed[0]["attributes"]["db.query.text"] == (
        "INSERT INTO products (name, price, stock) VALUES (?, ?, ?)"
    )
    # errors: a qualified class name and the SQLSTATE; OpenTelemetry's name alone, no code
    assert failed[0]["attributes"]["error.type"] == "asyncpg.exceptions.UniqueViolationError"
    assert failed[0]["attributes"]["db.response.status_code"] == "23505"
    assert all("db.response.status_code" not in s["attributes"] for s in theirs)
    # summaries and batches, which OpenTelemetry does not record
    assert all("db.query.summary" in m["attributes"] for m, _ in pairs)
    assert all("db.query.summary" not in s["attributes"] for s in theirs)
    (batch,) = [m for m, _ in pairs if m["name"].startswith("BATCH ")]
    assert batch["attributes"]["db.operation.batch.size"] == 3
    assert all("db.operation.batch.size" not in s["attributes"] for s in theirs)
    # network.transport is not among the database conventions' attributes: codetrace omits it
    assert all(s["attributes"]["network.transport"] == "tcp" for s in theirs)
    assert all("network.transport" not in s["attributes"] for s in ours)
