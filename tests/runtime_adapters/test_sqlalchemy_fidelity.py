"""Fidelity: codetrace's SQLAlchemy spans cover OpenTelemetry's on one realistic program.

``fixtures/fidelity/sqlalchemy_shop/shop.py`` (ORM session, Core, ``text()``, ``executemany``, a
failing statement, a Flask-SQLAlchemy app with the factory pattern) runs twice, each in its own
process on real SQLite files: under OpenTelemetry's ``SQLAlchemyInstrumentor`` (instrumented
before the program is imported, its best case) with ``OTEL_SEMCONV_STABILITY_OPT_IN=database``,
and after ``codetrace apply --out``. Statement spans are paired in order and compared: count,
kind, operation, stable attributes, status. The documented differences (``_sqlalchemy``'s
docstring) are asserted too, so a change on either side shows: OpenTelemetry's ``connect``
spans (one per ``Engine.connect``, a pool checkout), its span name ``{operation} {database}``
and the same string as ``db.operation.name``, its unsanitised text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fidelity
import pytest

from codetrace.runtime._sql import analyse

pytest.importorskip("sqlalchemy")
pytest.importorskip("flask_sqlalchemy")
pytest.importorskip("opentelemetry.instrumentation.sqlalchemy")
pytest.importorskip("opentelemetry.sdk")

PROGRAM = Path(__file__).parents[2] / "fixtures" / "fidelity" / "sqlalchemy_shop"

UNDER_OPENTELEMETRY = fidelity.otel_script(
    "from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor",
    # skip_dep_check: OpenTelemetry 0.66 declares "sqlalchemy < 2.1" and, without it,
    # instruments nothing at all on SQLAlchemy 2.1 (one log line); the comparison wants what it
    # would emit.
    "SQLAlchemyInstrumentor().instrument(skip_dep_check=True)",
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("fidelity")
    otel_dir, ours_dir = root / "otel", root / "codetrace"
    otel_dir.mkdir()
    ours_dir.mkdir()
    out = fidelity.instrumented_copy(PROGRAM, root / "instrumented")
    # not run_both: each run is given its own directory of SQLite files
    otel_output = fidelity.run_under_opentelemetry(
        UNDER_OPENTELEMETRY, PROGRAM / "shop.py", [str(otel_dir)], root / "otel.jsonl"
    )
    ours_output = fidelity.run_under_codetrace(
        out / "shop.py", [str(ours_dir)], root / "ours.jsonl"
    )
    return {
        "source": (out / "shop.py").read_text(),
        "outputs": (otel_output, ours_output),
        "otel": fidelity.otel_spans(root / "otel.jsonl"),
        "ours": fidelity.codetrace_spans(root / "ours.jsonl"),
        "directories": (str(otel_dir), str(ours_dir)),
    }


def test_the_program_was_instrumented_at_its_construction_sites(runs: dict[str, Any]) -> None:
    source = runs["source"]
    assert '_codetrace.traced(create_engine, "sqlalchemy.engine")(' in source
    assert '_codetrace.traced(SQLAlchemy, "flask_sqlalchemy.extension")(' in source
    otel_output, ours_output = runs["outputs"]
    assert ours_output == otel_output  # same behaviour
    assert "orders: 2" in ours_output


def _statements(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in spans if s["name"] != "connect"]


def test_codetrace_covers_every_opentelemetry_statement_span(runs: dict[str, Any]) -> None:
    otel_dir, ours_dir = runs["directories"]
    theirs, ours = _statements(runs["otel"]), runs["ours"]
    assert len(theirs) >= 15
    assert len(ours) == len(theirs)
    for mine, other in zip(ours, theirs, strict=True):
        a, b = mine["attributes"], other["attributes"]
        assert mine["kind"] == other["kind"] == "CLIENT"
        assert a["db.system.name"] == b["db.system.name"] == "sqlite"
        assert a["db.namespace"].replace(ours_dir, "") == b["db.namespace"].replace(otel_dir, "")
        assert a["db.query.text"] == analyse(b["db.query.text"], "sqlite")[0]  # sanitised
        # the operation: OpenTelemetry's first word; codetrace's summary starts with it
        operation = other["name"].split()[0]
        assert mine["name"].removeprefix("BATCH ").split()[0] == operation
        assert a["db.query.summary"] == mine["name"]
        assert mine["status"]["code"] == other["status"]["code"]
        for key in ("server.address", "server.port"):
            assert (key in a) == (key in b)


def test_the_documented_differences(runs: dict[str, Any]) -> None:
    otel_dir, _ = runs["directories"]
    theirs, ours = runs["otel"], runs["ours"]
    connects = [s for s in theirs if s["name"] == "connect"]
    assert connects and all(s["kind"] == "CLIENT" for s in connects)  # none in codetrace
    statements = _statements(theirs)
    first = statements[0]
    assert first["name"] == f"{first['name'].split()[0]} {otel_dir}/catalogue.db"
    assert first["attributes"]["db.operation.name"] == first["name"]
    assert all("db.operation.name" not in s["attributes"] for s in ours)
    # a literal in text run without parameters: kept by OpenTelemetry, sanitised by codetrace
    (update,) = [s for s in statements if s["attributes"]["db.query.text"].startswith("UPDATE")]
    assert "'pen'" in update["attributes"]["db.query.text"]
    assert all("'pen'" not in s["attributes"]["db.query.text"] for s in ours)
    # the failing statement: both ERROR; codetrace also names the error and the code
    (failed,) = [s for s in ours if s["status"]["code"] == "ERROR"]
    assert failed["attributes"]["error.type"] == "sqlite3.OperationalError"
    assert failed["attributes"]["db.response.status_code"] == "1"
    assert all("error.type" not in s["attributes"] for s in statements)
    # executemany: a batch for codetrace
    batches = [s for s in ours if s["name"].startswith("BATCH ")]
    assert [s["attributes"]["db.operation.batch.size"] for s in batches] == [2]
