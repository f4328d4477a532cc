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

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest_postgres import PostgresServer, postgres_server
from typer.testing import CliRunner

from codetrace.cli import app
from codetrace.runtime._sql import analyse

pytest.importorskip("opentelemetry.instrumentation.psycopg2")
pytest.importorskip("opentelemetry.instrumentation.psycopg")
pytest.importorskip("opentelemetry.sdk")

__all__ = ["postgres_server"]  # the fixture, imported for this module's tests

pytestmark = pytest.mark.slow  # four interpreters with OpenTelemetry's SDK: several seconds

PROGRAMS = Path(__file__).parents[2] / "fixtures" / "fidelity" / "postgres_shop"

UNDER_OPENTELEMETRY = """
import json, runpy, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.instrumentation.psycopg2 import Psycopg2Instrumentor

memory = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(provider)
# skip_dep_check: OpenTelemetry looks for the distribution named psycopg2 or psycopg2-binary
# and for psycopg's own version bounds; the comparison wants what it would emit.
Psycopg2Instrumentor().instrument(skip_dep_check=True)
PsycopgInstrumentor().instrument(skip_dep_check=True)
program, dsn, out = sys.argv[1:]
sys.argv = [program, dsn]
runpy.run_path(program, run_name="__main__")
with open(out, "w") as file:
    for span in memory.get_finished_spans():
        file.write(json.dumps({
            "name": span.name, "kind": span.kind.name, "attributes": dict(span.attributes),
            "status": {"code": span.status.status_code.name},
            "events": [event.name for event in span.events],
        }) + "\\n")
"""

_KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


def _run(arguments: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-W", "error", *arguments], capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _value(value: dict[str, Any]) -> Any:
    ((kind, found),) = value.items()
    return int(found) if kind == "intValue" else found


def _flat(span: dict[str, Any]) -> dict[str, Any]:
    """One span of an OTLP JSON line as the OpenTelemetry side writes it."""
    return {
        "name": span["name"],
        "kind": _KINDS[span["kind"]],
        "attributes": {a["key"]: _value(a["value"]) for a in span.get("attributes", [])},
        "status": {"code": _STATUS[span.get("status", {}).get("code", 0)]},
        "events": [event["name"] for event in span.get("events", [])],
    }


def _spans(path: Path) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if "resourceSpans" not in record:  # already one flat span
            spans.append(record)
            continue
        for resource in record["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                spans.extend(_flat(span) for span in scope["spans"])
    return spans


@pytest.fixture(scope="module")
def runs(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("fidelity")
    out = root / "instrumented"
    result = CliRunner().invoke(app, ["apply", "--out", str(out), "--no-cache", str(PROGRAMS)])
    assert result.exit_code == 0, result.stderr
    found: dict[str, dict[str, Any]] = {}
    for program in ("shop_psycopg2", "shop_psycopg"):
        otel_output = _run(
            ["-c", UNDER_OPENTELEMETRY, str(PROGRAMS / f"{program}.py"), postgres_server.dsn,
             str(root / f"{program}.otel.jsonl")],
            {"OTEL_SEMCONV_STABILITY_OPT_IN": "database"},
        )
        ours_output = _run(
            [str(out / f"{program}.py"), postgres_server.dsn],
            {"OTEL_TRACES_EXPORTER": "jsonl",
             "CODETRACE_JSONL_PATH": str(root / f"{program}.ours.jsonl")},
        )
        found[program] = {
            "source": (out / f"{program}.py").read_text(),
            "outputs": (otel_output, ours_output),
            "otel": _spans(root / f"{program}.otel.jsonl"),
            "ours": _spans(root / f"{program}.ours.jsonl"),
        }
    return found


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
        assert mine["events"] == other["events"]


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
