"""Fidelity: codetrace's Redis cluster spans cover OpenTelemetry's on one realistic program.

``fixtures/fidelity/redis_cluster_shop/shop.py`` (``RedisCluster.from_url`` held on ``self``,
commands on keys of the three nodes, a pipeline over the nodes, a one-slot transaction, a
``FLUSHALL`` sent to every primary, a failing command, ``redis.asyncio.RedisCluster``) runs
twice against the same real three-node cluster, each in its own process: under
OpenTelemetry's ``RedisInstrumentor`` (which wraps ``RedisCluster.execute_command`` and
``ClusterPipeline.execute``, sync and asyncio) with ``OTEL_SEMCONV_STABILITY_OPT_IN=database``,
and after ``codetrace apply --out``. Spans are paired in order and compared: kind, name, query
text, status, events.

Documented differences, asserted so a change on either side shows:

* OpenTelemetry patches ``redis.Redis.execute_command`` for every instance, so the
  ``CLUSTER SLOTS`` redis-py sends through its own per-node client while the sync cluster
  client discovers the topology is a span there; codetrace traces the client the project built,
  not redis-py's internals: no span (the ``COMMAND`` the cluster client sends through its own
  funnel at construction is a span on both sides).
* OpenTelemetry reads the connection attributes from ``connection_pool``, which a cluster
  client does not have: its cluster spans carry neither ``db.system.name`` nor a server.
  codetrace sets ``db.system.name``, ``db.namespace`` ``"0"``, ``db.operation.name`` and, for
  a command, ``server.address``/``server.port`` of the node it was sent to; errors get
  ``error.type`` and ``db.response.status_code``.
* A pipeline is named ``PIPELINE``/``MULTI`` (OpenTelemetry: its commands, ``SET SET SADD``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fidelity
import pytest
from conftest_redis_cluster import RedisCluster, redis_cluster

__all__ = ["redis_cluster"]  # the fixture, imported for this module's tests

pytestmark = pytest.mark.slow

PROGRAM = Path(__file__).parents[2] / "fixtures" / "fidelity" / "redis_cluster_shop"

UNDER_OPENTELEMETRY = fidelity.otel_script(
    "from opentelemetry.instrumentation.redis import RedisInstrumentor",
    "RedisInstrumentor().instrument()",
)


@pytest.fixture(scope="module")
def runs(redis_cluster: RedisCluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("fidelity")
    out = fidelity.instrumented_copy(PROGRAM, root / "instrumented")
    result = fidelity.run_both(UNDER_OPENTELEMETRY, PROGRAM / "shop.py", out / "shop.py",
                               [redis_cluster.url], root)
    result["ports"] = redis_cluster.ports
    return result


def _internal(span: dict[str, Any]) -> bool:
    """OpenTelemetry's span of redis-py's own topology discovery."""
    return span["name"] == "CLUSTER SLOTS" and "net.peer.name" in span["attributes"]


def _is_pipeline(span: dict[str, Any]) -> bool:
    return "db.redis.pipeline_length" in span["attributes"]


def test_the_program_was_instrumented_at_its_construction_sites(runs: dict[str, Any]) -> None:
    source = runs["source"]
    assert '_codetrace.traced(RedisCluster.from_url, "redis.factory")(' in source
    assert '_codetrace.traced(redis.asyncio.RedisCluster.from_url, "redis.factory")(' in source
    assert source.count("_codetrace.traced(") == 2  # no command call site is wrapped
    otel_output, ours_output = runs["outputs"]
    assert ours_output == otel_output  # same behaviour
    assert "order: [1, 2]" in ours_output and "refused: WRONGTYPE" in ours_output


def test_codetrace_covers_every_opentelemetry_span(runs: dict[str, Any]) -> None:
    theirs = [s for s in runs["otel"] if not _internal(s)]
    ours = runs["ours"]
    assert len(theirs) >= 15
    assert len(ours) == len(theirs)
    for mine, other in zip(ours, theirs, strict=True):
        a, b = mine["attributes"], other["attributes"]
        assert mine["kind"] == other["kind"] == "CLIENT"
        assert a["db.system.name"] == "redis"
        assert a["db.query.text"] == b["db.query.text"]  # the same sanitised text
        assert mine["status"]["code"] == other["status"]["code"]
        assert [event["name"] for event in mine["events"]] == other["events"]
        assert a["db.namespace"] == "0"
        if _is_pipeline(other):
            assert a["db.operation.batch.size"] == b["db.redis.pipeline_length"]
            assert mine["name"] in ("MULTI", "PIPELINE")
            assert "server.address" not in a
        else:
            assert mine["name"] == other["name"] == a["db.operation.name"]
            assert a["server.address"] == "127.0.0.1"
            assert a["server.port"] in runs["ports"]
    assert sum(_is_pipeline(s) for s in theirs) == 3
    # the keys of the program live on more than one node, and the spans say so
    assert len({s["attributes"].get("server.port") for s in ours} - {None}) >= 2


def test_the_documented_differences(runs: dict[str, Any]) -> None:
    otel, ours = runs["otel"], runs["ours"]
    assert [s["name"] for s in otel if _internal(s)] == ["CLUSTER SLOTS"]
    assert not any(s["name"] == "CLUSTER SLOTS" for s in ours)
    theirs = [s for s in otel if not _internal(s)]
    pipelines = [(m, o) for m, o in zip(ours, theirs, strict=True) if _is_pipeline(o)]
    assert [(m["name"], o["name"]) for m, o in pipelines] == [
        ("PIPELINE", "SET SET SET SADD"), ("MULTI", "RPUSH INCRBY"),
        ("PIPELINE", "INCRBY EXPIRE"),
    ]
    # OpenTelemetry's cluster spans: no system, no server (a cluster has no connection_pool)
    for span in theirs:
        assert "db.system.name" not in span["attributes"]
        assert not {"server.address", "net.peer.name"} & set(span["attributes"])
    (failed,) = [s for s in ours if s["status"]["code"] == "ERROR"]
    assert failed["name"] == "LPUSH"
    assert failed["attributes"]["error.type"] == "redis.exceptions.ResponseError"
    assert failed["attributes"]["db.response.status_code"] == "WRONGTYPE"
    assert all("error.type" not in s["attributes"] for s in theirs)
    assert all(not any(k.startswith("db.redis.") for k in s["attributes"]) for s in ours)
