"""The ``django`` hook's SQL spans on a real PostgreSQL server, end to end.

The test project (``django_project/``) is instrumented with ``codetrace apply --out`` and its
``serve_and_call.py`` run in a fresh interpreter against a private PostgreSQL cluster
(``conftest_postgres``), exporting JSON lines: each statement of a request is a CLIENT span of
the request's trace, with what the project's ``DATABASES`` setting says about the server.
Slow: it starts a PostgreSQL server and a Python process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest_postgres import PostgresServer, postgres_server
from fidelity import codetrace_spans, instrumented_copy, run_under_codetrace

pytestmark = pytest.mark.slow

__all__ = ["postgres_server"]  # the fixture, imported for this module's tests

PROJECT = Path(__file__).parent / "django_project"


@pytest.fixture(scope="module")
def spans(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    root = tmp_path_factory.mktemp("django_postgres")
    out = instrumented_copy(PROJECT, root / "django_project")
    output = run_under_codetrace(
        out / "serve_and_call.py", [], root / "spans.jsonl", warnings_are_errors=False,
        env={"CODETRACE_TEST_DJANGO_DB": postgres_server.url},
    )
    assert "POST /api/items/?name=lamp 200" in output
    return codetrace_spans(root / "spans.jsonl")


def test_statements_are_postgresql_client_spans_of_the_request(
    spans: list[dict[str, Any]], postgres_server: PostgresServer
) -> None:
    by_id = {s["span_id"]: s for s in spans}
    (post,) = [s for s in spans if s["name"] == "POST api/items/"]
    children = [s for s in spans if s["parent_span_id"] == post["span_id"]]
    assert [s["name"] for s in children] == ['INSERT "shop_item"', 'SELECT "shop_item"']
    for child in children:
        assert child["kind"] == "CLIENT" and child["trace_id"] == post["trace_id"]
        attributes = child["attributes"]
        assert attributes["db.system.name"] == "postgresql"
        assert attributes["db.namespace"] == postgres_server.database
        assert attributes["server.address"] == "127.0.0.1"
        assert attributes["server.port"] == postgres_server.port
    insert = children[0]["attributes"]["db.query.text"]
    assert insert.startswith('INSERT INTO "shop_item" ("name", "price") VALUES (%s, %s)')
    assert by_id[post["parent_span_id"]]["kind"] == "CLIENT"  # the program's httpx call


def test_a_failing_view_leaves_the_database_spans_clean(spans: list[dict[str, Any]]) -> None:
    (boom,) = [s for s in spans if s["name"] == "GET boom/"]
    assert boom["attributes"]["error.type"] == "ValueError"
    assert not any(s["status"]["code"] == "ERROR" for s in spans
                   if "db.system.name" in s["attributes"])
