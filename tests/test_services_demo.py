"""The three-service demo (``fixtures/services``) gives ONE connected trace after ``apply``.

front (FastAPI) -> stock (aiohttp) -> Celery over a real redis-server -> a real worker
process -> PostgreSQL through SQLAlchemy: three service processes, each exporting over
OTLP/HTTP to the demo's own collector on 127.0.0.1. The test applies codetrace to a copy of
the demo, runs it as the README says, and reads the spans the collector received
(``DEMO_SPANS_JSON``): the accepted order must be one trace whose spans chain from the front's
server span down to the INSERT, the program's answers must be those of the un-instrumented
demo, and ``strip`` must give the demo's bytes back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from codetrace.cli import app

DEMO = Path(__file__).resolve().parent.parent / "fixtures" / "services"

pytestmark = pytest.mark.slow


def _run_demo(tree: Path, spans_file: Path) -> subprocess.CompletedProcess[str]:
    if os.environ.get("CODETRACE_SKIP_SERVERS") == "1":
        pytest.skip("CODETRACE_SKIP_SERVERS=1: the demo needs redis-server and PostgreSQL")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(DEMO_SPANS_JSON=str(spans_file), OTEL_TRACES_EXPORTER="console")
    env.pop("BROKER_URL", None)
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, str(tree / "run_demo.py")], env=env, text=True,
                          capture_output=True, timeout=240, cwd=tree)


def _chain(span: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    chain = [span]
    while chain[-1]["parent_span_id"] in by_id and len(chain) < 50:
        chain.append(by_id[chain[-1]["parent_span_id"]])
    return chain


@pytest.fixture(scope="module")
def plain_answers(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    tree = tmp_path_factory.mktemp("plain") / "services"
    shutil.copytree(DEMO, tree, ignore=shutil.ignore_patterns("__pycache__"))
    spans_file = tree.parent / "spans.json"
    done = _run_demo(tree, spans_file)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(spans_file.read_text()) == []
    return [line for line in done.stdout.splitlines() if line.startswith("order ")]


def test_one_connected_trace_across_three_processes(tmp_path: Path,
                                                    plain_answers: list[str]) -> None:
    tree = tmp_path / "services"
    # as the README does: an instrumented copy, written from inside this repository (where
    # `codetrace` is first-party) and stripped where it is not (_import_order tries both)
    result = CliRunner().invoke(app, ["apply", "--out", str(tree), str(DEMO)])
    assert result.exit_code == 0, result.output
    spans_file = tmp_path / "spans.json"
    done = _run_demo(tree, spans_file)
    assert done.returncode == 0, done.stderr[-3000:]

    # the program answers exactly as it did un-instrumented (the task id aside)
    answers = [line for line in done.stdout.splitlines() if line.startswith("order ")]
    assert [a.split("'task'")[0] for a in answers] == [a.split("'task'")[0] for a in plain_answers]
    assert answers[0].startswith("order 200") and answers[1].startswith("order 409")

    spans = json.loads(spans_file.read_text())
    inserts = [s for s in spans if s["kind"] == "client" and s["name"].startswith("INSERT")]
    assert len(inserts) == 1, [s["name"] for s in spans]
    trace = [s for s in spans if s["trace_id"] == inserts[0]["trace_id"]]
    by_id = {s["span_id"]: s for s in trace}
    chain = _chain(inserts[0], by_id)
    described = [(s["service"], s["kind"]) for s in reversed(chain)]
    assert described == [
        ("front", "server"), ("front", "client"), ("stock", "server"), ("stock", "producer"),
        ("worker", "consumer"), ("worker", "client"),
    ], described
    root = chain[-1]
    assert root["parent_span_id"] == "" and root["name"] == "POST /orders"
    assert root["attributes"]["http.route"] == "/orders"
    assert by_id[chain[3]["span_id"]]["attributes"].get("http.route") == "/reservations"
    insert = inserts[0]["attributes"]
    assert insert["db.system.name"] == "postgresql" and insert["db.namespace"] == "shop"
    assert "pear" not in json.dumps(insert)  # parameters are never captured
    # the refused order is its own trace, its server span an error-free 409
    refused = [s for s in spans if s["name"] == "POST /orders" and s is not root]
    assert len(refused) == 1 and refused[0]["trace_id"] != root["trace_id"]
    assert refused[0]["attributes"]["http.response.status_code"] == 409
    # every process printed its own part as a console tree too
    assert "POST /orders" in done.stderr and "orders.record" in done.stderr

    # and strip gives the demo's bytes back
    result = CliRunner().invoke(app, ["strip", str(tree)])
    assert result.exit_code == 0, result.output
    for original in DEMO.rglob("*.py"):
        assert (tree / original.relative_to(DEMO)).read_bytes() == original.read_bytes()
