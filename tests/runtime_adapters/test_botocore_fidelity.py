"""Fidelity: codetrace's AWS spans cover OpenTelemetry's botocore spans on one realistic program.

``fixtures/fidelity/aws_shop/shop.py`` (an S3 client built by a helper, a DynamoDB resource
built from a ``boto3.session.Session``, a low-level ``botocore`` client, a ``NoSuchKey``
failure, a presigned URL) runs twice against the same moto server on 127.0.0.1 (its state
reset between the runs), each in its own process: under OpenTelemetry's
``BotocoreInstrumentor`` (instrumented before the program is imported, its best case) and
after ``codetrace apply --out``. Spans are paired in order and compared: count, kind, name,
``rpc.*``, region, server, request id, status code and status. The documented differences
(``_botocore``'s docstring) are asserted too, so a change on either side shows.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fidelity import instrumented_copy, otel_script, run_both

pytestmark = pytest.mark.slow
moto_server = pytest.importorskip("moto.server")
pytest.importorskip("opentelemetry.instrumentation.botocore")

PROGRAM = Path(__file__).parents[2] / "fixtures" / "fidelity" / "aws_shop"
SCRIPT = otel_script(
    "from opentelemetry.instrumentation.botocore import BotocoreInstrumentor",
    "BotocoreInstrumentor().instrument()",
)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def runs(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("fidelity")
    out = instrumented_copy(PROGRAM, root / "instrumented")

    def reset() -> None:
        request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    return run_both(
        SCRIPT, PROGRAM / "shop.py", out / "shop.py", [endpoint], root,
        before_each=reset,
    )


def test_the_program_was_instrumented_at_its_construction_sites(runs: dict[str, Any]) -> None:
    source = runs["source"]
    assert '_codetrace.traced(boto3.client, "boto3.client")(' in source
    assert '.resource, "boto3.client")(' in source
    assert "_codetrace.traced(botocore.session.get_session().create_client," in source
    assert source.count("_codetrace.traced(") == 3  # no API call site is wrapped
    otel_output, ours_output = runs["outputs"]
    assert ours_output == otel_output  # same behaviour
    assert "missing: NoSuchKey" in ours_output and "order: 3" in ours_output


def test_codetrace_covers_every_opentelemetry_span(runs: dict[str, Any], endpoint: str) -> None:
    theirs, ours = runs["otel"], runs["ours"]
    assert [s["name"] for s in theirs] == [
        "S3.CreateBucket", "S3.PutObject", "S3.GetObject", "S3.GetObject",
        "DynamoDB.CreateTable", "DynamoDB.PutItem", "DynamoDB.GetItem", "STS.GetCallerIdentity",
    ]
    assert len(ours) == len(theirs)
    port = int(endpoint.rpartition(":")[2])
    for mine, other in zip(ours, theirs, strict=True):
        a, b = mine["attributes"], other["attributes"]
        assert mine["kind"] == other["kind"] == "CLIENT"
        assert mine["name"] == other["name"]
        for key in ("rpc.system", "rpc.service", "rpc.method", "cloud.region",
                    "server.address", "server.port"):
            assert a[key] == b[key], key
        assert a["server.port"] == port
        assert a["http.response.status_code"] == b["http.status_code"]
        assert mine["status"]["code"] == other["status"]["code"]
        assert isinstance(a["aws.request_id"], str) and isinstance(b["aws.request_id"], str)
    statuses = [s["status"]["code"] for s in ours]
    assert statuses == ["UNSET"] * 3 + ["ERROR"] + ["UNSET"] * 4


def test_the_documented_differences(runs: dict[str, Any]) -> None:
    theirs, ours = runs["otel"], runs["ours"]
    (failed,) = [s for s in ours if s["status"]["code"] == "ERROR"]
    # codetrace names the error by botocore's code; OpenTelemetry sets no error.type
    assert failed["attributes"]["error.type"] == "NoSuchKey"
    assert all("error.type" not in s["attributes"] for s in theirs)
    # the stable status attribute name, not OpenTelemetry's old one; no retry count
    assert all("http.status_code" not in s["attributes"] for s in ours)
    assert all("retry_attempts" in s["attributes"] for s in theirs)
    assert all("retry_attempts" not in s["attributes"] for s in ours)
    # OpenTelemetry's DynamoDB extension adds service attributes codetrace does not make
    dynamo = [s for s in theirs if s["attributes"]["rpc.service"] == "DynamoDB"]
    assert all(s["attributes"]["aws.dynamodb.table_names"] == ["orders"] for s in dynamo)
    assert all(not any(k.startswith("aws.dynamodb.") for k in s["attributes"]) for s in ours)
    # nothing secret on either side: no credentials, no presigned URL
    for span in ours:
        text = repr(span)
        assert "AKIDSHOPFAKE" not in text and "shop-secret-fake" not in text
        assert "Signature" not in text and "Expires" not in text
