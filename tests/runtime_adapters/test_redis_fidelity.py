"""Fidelity: codetrace's Redis spans cover OpenTelemetry's on one realistic program.

``fixtures/fidelity/redis_shop/shop.py`` (a project subclass built by ``from_url``,
``redis.from_url``, ``with redis.Redis(...)``, a pipeline, a WATCH/MULTI transaction run by
``transaction()``, a failing command, a callback handed the client, ``redis.asyncio``) runs
twice against the same real ``redis-server``, each in its own process: under OpenTelemetry's
``RedisInstrumentor`` (instrumented before the program is imported, its best case) with
``OTEL_SEMCONV_STABILITY_OPT_IN=database``, and after ``codetrace apply --out``. Spans are
paired in order and compared: count, kind, name, query text, status. The documented
differences (``_redis_spans``'s docstring, docs/runtime-contract.md) are asserted too, so a
change on either side shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fidelity
import pytest
from conftest_redis import RedisServer, redis_server

__all__ = ["redis_server"]  # the fixture, imported for this module's tests

PROGRAM = Path(__file__).parents[2] / "fixtures" / "fidelity" / "redis_shop"

UNDER_OPENTELEMETRY = fidelity.otel_script(
    "from opentelemetry.instrumentation.redis import RedisInstrumentor",
    "RedisInstrumentor().instrument()",
)


@pytest.fixture(scope="module")
def runs(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("fidelity")
    out = fidelity.instrumented_copy(PROGRAM, root / "instrumented")
    return fidelity.run_both(UNDER_OPENTELEMETRY, PROGRAM / "shop.py", out / "shop.py",
                             [redis_server.url], root)


def test_the_program_was_instrumented_at_its_construction_sites(runs: dict[str, Any]) -> None:
    source = runs["source"]
    assert '_codetrace.traced(Store.from_url, "redis.factory")(' in source
    assert '_codetrace.traced(redis.from_url, "redis.factory")(' in source
    assert '_codetrace.traced(aioredis.from_url, "redis.factory")(' in source
    assert '_codetrace.traced(redis.Redis, "redis.client")(' in source
    assert source.count("_codetrace.traced(") == 4  # no command call site is wrapped
    otel_output, ours_output = runs["outputs"]
    assert ours_output == otel_output  # same behaviour
    assert "orders: ['penx2']" in ours_output


def _is_pipeline(span: dict[str, Any]) -> bool:
    return "db.redis.pipeline_length" in span["attributes"]


def test_codetrace_covers_every_opentelemetry_span(runs: dict[str, Any]) -> None:
    theirs, ours = runs["otel"], runs["ours"]
    assert len(theirs) >= 15
    assert len(ours) == len(theirs)
    for mine, other in zip(ours, theirs, strict=True):
        a, b = mine["attributes"], other["attributes"]
        assert mine["kind"] == other["kind"] == "CLIENT"
        assert a["db.system.name"] == b["db.system.name"] == "redis"
        assert a["db.query.text"] == b["db.query.text"]  # the same sanitised text
        assert mine["status"]["code"] == other["status"]["code"]
        assert [event["name"] for event in mine["events"]] == other["events"]
        # the server: OpenTelemetry sends the old network attributes under `database` alone
        assert a["server.address"] == b["net.peer.name"]
        assert a["server.port"] == b["net.peer.port"]
        if _is_pipeline(other):
            assert a["db.operation.batch.size"] == b["db.redis.pipeline_length"]
            assert mine["name"] in ("MULTI", "PIPELINE")
        else:
            assert mine["name"] == other["name"] == a["db.operation.name"]
    assert sum(_is_pipeline(s) for s in theirs) == 3


def test_the_documented_differences(runs: dict[str, Any]) -> None:
    theirs, ours = runs["otel"], runs["ours"]
    pipelines = [(m, o) for m, o in zip(ours, theirs, strict=True) if _is_pipeline(o)]
    # OpenTelemetry names a pipeline by its commands; codetrace as the conventions say
    assert [(m["name"], o["name"]) for m, o in pipelines] == [
        ("PIPELINE", "SET SET SADD"), ("MULTI", "DECRBY RPUSH"), ("MULTI", "INCRBY EXPIRE"),
    ]
    # attributes codetrace adds: the database index, the operation; errors named and coded
    assert all(s["attributes"]["db.namespace"] == "0" for s in ours)
    assert all("db.namespace" not in s["attributes"] for s in theirs)
    assert all("db.operation.name" not in s["attributes"] for s in theirs)
    (failed,) = [s for s in ours if s["status"]["code"] == "ERROR"]
    assert failed["name"] == "LPUSH"
    assert failed["attributes"]["error.type"] == "redis.exceptions.ResponseError"
    assert failed["attributes"]["db.response.status_code"] == "WRONGTYPE"
    assert all("error.type" not in s["attributes"] for s in theirs)
    # OpenTelemetry's own attributes outside the conventions
    assert all("db.redis.args_length" in s["attributes"] for s in theirs if not _is_pipeline(s))
    assert all(not any(k.startswith("db.redis.") for k in s["attributes"]) for s in ours)
