"""Fidelity: codetrace's psycopg2 and psycopg spans cover OpenTelemetry's on realistic programs.

``fixtures/fidelity/postgres_shop/shop_psycopg2.py`` (a connection held on ``self``,
``cursor_factory=``, ``executemany``, a ``psycopg2.sql`` query, a failing statement, ``with
conn:``, commit and rollback, a helper handed the connection) and ``shop_psycopg.py`` (psycopg 3:
``with psycopg.connect``, a project ``Connection`` subclass, the ``conn.execute`` shortcut, a row
factory, ``AsyncConnection``) run twice against the same real PostgreSQL server, each in its own
process: under OpenTelemetry's ``Psycopg2Instrumentor``/``PsycopgInstrumentor`` (instrumented
before the program is imported, their best case) with ``OTEL_SEMCONV_STABILITY_OPT_IN=database``,
and after ``codetrace apply --out``. Statement spans are paired in order and compared: count,
kind, operation, system, namespace, server, query text (OpenTelemetry's, sanitised), status and
exception events; the program's output is the same.

Deliberate differences, asserted so that a change on either side shows:

* codetrace sanitises literals in ``db.query.text`` (OpenTelemetry keeps ``name = 'pen'``);
* codetrace names spans by ``db.query.summary`` (``SELECT items2``, ``BATCH INSERT items2``),
  OpenTelemetry by the statement's first word (``SELECT``), and adds the summary,
  ``db.operation.batch.size``, ``error.type`` and ``db.response.status_code``;
* codetrace reports the server as ``server.address``/``server.port``; OpenTelemetry, under the
  ``database`` opt-in alone, still as ``net.peer.name``/``net.peer.port``;
* codetrace adds ``connect`` spans and ``COMMIT``/``ROLLBACK`` spans (when a transaction is open);
* OpenTelemetry's psycopg2 instrumentation replaces the connection's cursor factory, so a cursor
  opened with an explicit ``cursor_factory=`` (``RealDictCursor`` here) is not traced by it; the
  connection codetrace builds traces it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fidelity
import pytest
from conftest_postgres import PostgresServer, postgres_server

from codetrace.runtime._sql import analyse

pytest.importorskip("opentelemetry.instrumentation.psycopg2")
pytest.importorskip("opentelemetry.instrumentation.psycopg")
pytest.importorskip("opentelemetry.sdk")

__all__ = ["postgres_server"]  # the fixture, imported for this module's tests

pytestmark = pytest.mark.slow  # four interpreters with OpenTelemetry's SDK: several seconds

PROGRAMS = Path(__file__).parents[2] / "fixtures" / "fidelity" / "postgres_shop"

UNDER_OPENTELEMETRY = fidelity.otel_script(
    "from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor\n"
    "from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor",
    # skip_dep_check: OpenTelemetry looks for the distribution named psycopg2 or psycopg2-binary
    # and for psycopg's own version bounds; the comparison wants what it would emit.
    "Psycopg2Instrumentor().instrument(skip_dep_check=True)\n"
    "PsycopgInstrumentor().instrument(skip_dep_check=True)",
)


@pytest.fixture(scope="module")
def runs(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("fidelity")
    out = fidelity.instrumented_copy(PROGRAMS, root / "instrumented")
    return {
        program: fidelity.run_both(
            UNDER_OPENTELEMETRY, PROGRAMS / f"{program}.py", out / f"{program}.py",
            [postgres_server.dsn], root,
        )
        for program in ("shop_psycopg2", "shop_psycopg")
    }


def _statements(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in spans if "db.query.text" in s["attributes"]]


def _not_seen_by_opentelemetry(span: dict[str, Any]) -> bool:
    """The psycopg2 program's RealDictCursor statement (see the module docstring)."""
    return span["attributes"]["db.query.text"] == "SELECT price FROM items2 WHERE name = %s"


def test_the_programs_were_instrumented_at_their_connects(
    runs: dict[str, dict[str, Any]],
) -> None:
    two, three = runs["shop_psycopg2"], runs["shop_psycopg"]
    assert two["source"].count('_codetrace.traced(psycopg2.connect, "psycopg2.connect")(') == 2
    assert '_codetrace.traced(psycopg.connect, "psycopg.connect")(' in three["source"]
    assert '_codetrace.traced(Shop.connect, "psycopg.connect")(' in three["source"]
    assert '_codetrace.traced(psycopg.AsyncConnection.connect, "psycopg.connect")(' in (
        three["source"])
    for run, sites in ((two, 2), (three, 3)):
        assert run["source"].count("_codetrace.traced(") == sites  # no statement call site
        otel_output, ours_output = run["outputs"]
        assert ours_output == otel_output  # same behaviour
        assert "duplicate: 23505" in ours_output


@pytest.mark.parametrize("program", ["shop_psycopg2", "shop_psycopg"])
def test_codetrace_covers_every_opentelemetry_span(
    runs: dict[str, dict[str, Any]], program: str
) -> None:
    theirs = runs[program]["otel"]
    ours = [s for s in _statements(runs[program]["ours"]) if not _not_seen_by_opentelemetry(s)]
    assert len(theirs) >= 7
    assert len(ours) == len(theirs)
    for mine, other in zip(ours, theirs, strict=True):
        a, b = mine["attributes"], other["attributes"]
        assert mine["kind"] == other["kind"] == "CLIENT"
        assert a["db.system.name"] == b["db.system.name"] == "postgresql"
        assert a["db.namespace"] == b["db.namespace"] == "codetrace"
        assert a["server.address"] == b["net.peer.name"]
        assert a["server.port"] == b["net.peer.port"]
        assert a["db.query.text"] == analyse(b["db.query.text"], "postgresql")[0]
        # the operation: OpenTelemetry's first word; codetrace's summary starts with it
        assert mine["name"].removeprefix("BATCH ").split()[0] == other["name"]
        assert a["db.query.summary"] == mine["name"]
        assert mine["status"]["code"] == other["status"]["code"]
        assert [event["name"] for event in mine["events"]] == other["events"]


@pytest.mark.parametrize("program", ["shop_psycopg2", "shop_psycopg"])
def test_the_documented_differences(runs: dict[str, dict[str, Any]], program: str) -> None:
    theirs, ours = runs[program]["otel"], runs[program]["ours"]
    # literals: kept by OpenTelemetry, sanitised by codetrace
    assert any("'pen'" in s["attributes"]["db.query.text"] for s in theirs)
    assert not any("'pen'" in s["attributes"].get("db.query.text", "") for s in ours)
    # the failing statement: both ERROR; codetrace also names the error and the SQLSTATE
    (failed,) = [s for s in ours if s["status"]["code"] == "ERROR"]
    assert failed["attributes"]["error.type"].endswith(".errors.UniqueViolation")
    assert failed["attributes"]["db.response.status_code"] == "23505"
    assert all("error.type" not in s["attributes"] for s in theirs)
    # executemany: a batch with its size for codetrace
    (batch,) = [s for s in ours if s["name"].startswith("BATCH INSERT")]
    assert batch["attributes"]["db.operation.batch.size"] == 3
    assert all("db.operation.batch.size" not in s["attributes"] for s in theirs)
    # spans OpenTelemetry does not make: connects, transaction ends
    others = [s["name"] for s in ours if "db.query.text" not in s["attributes"]]
    assert others.count("connect codetrace") == (2 if program == "shop_psycopg2" else 3)
    assert "COMMIT" in others and "ROLLBACK" in others
    assert not any(s["name"].startswith(("connect", "COMMIT", "ROLLBACK")) for s in theirs)
    seen_only_by_codetrace = [s for s in _statements(ours) if _not_seen_by_opentelemetry(s)]
    assert len(seen_only_by_codetrace) == (1 if program == "shop_psycopg2" else 0)
