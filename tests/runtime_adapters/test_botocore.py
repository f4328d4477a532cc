"""Adapter ``boto3.client``: AWS clients traced where they are built, through botocore's events.

The server is moto's, in server mode (``ThreadedMotoServer``: a real HTTP server on 127.0.0.1
in a thread of this process, started once for the module and stopped at its end): boto3 and
botocore are real end to end, signing, retry loop, parsing and error classes included. What
the spans say is ``_botocore``'s docstring.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber

import codetrace.runtime as rt
from codetrace.runtime import _botocore, _excluded_urls

moto_server = pytest.importorskip("moto.server")

ADAPTER = "boto3.client"
ACCESS_KEY = "AKIDCODETRACEFAKE"
SECRET_KEY = "secret-codetrace-fake-key"
TOKEN = "token-codetrace-fake"
BODY = b"body-that-must-not-be-captured"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _options(endpoint: str, **extra: Any) -> dict[str, Any]:
    return {
        "endpoint_url": endpoint,
        "region_name": "eu-west-1",
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET_KEY,
        **extra,
    }


def _s3(endpoint: str, **extra: Any) -> Any:
    return rt.traced(boto3.client, ADAPTER)("s3", **_options(endpoint, **extra))


class EmptyBody:
    """The raw body of a canned response: botocore reads it with ``stream()``."""

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield b""


def _finished(exporter: rt.InMemorySpanExporter) -> list[Any]:
    spans = list(exporter.get_finished_spans())
    exporter.clear()
    return spans


def test_each_api_call_is_one_client_span(
    endpoint: str, exporter: rt.InMemorySpanExporter
) -> None:
    s3 = _s3(endpoint)
    s3.create_bucket(
        Bucket="calls", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3.put_object(Bucket="calls", Key="k", Body=BODY)
    assert s3.get_object(Bucket="calls", Key="k")["Body"].read() == BODY
    spans = _finished(exporter)
    assert [span.name for span in spans] == ["S3.CreateBucket", "S3.PutObject", "S3.GetObject"]
    port = int(endpoint.rpartition(":")[2])
    for span in spans:
        assert span.kind == rt.SpanKind.CLIENT
        assert span.status_code == rt.StatusCode.UNSET
        request_id = span.attributes.pop("aws.request_id")
        assert isinstance(request_id, str) and request_id
        assert span.attributes == {
            "rpc.system": "aws-api",
            "rpc.service": "S3",
            "rpc.method": span.name.partition(".")[2],
            "cloud.region": "eu-west-1",
            "server.address": "127.0.0.1",
            "server.port": port,
            "http.response.status_code": 200,
        }


def test_every_construction_site_traces_its_client(
    endpoint: str, exporter: rt.InMemorySpanExporter
) -> None:
    options = _options(endpoint)
    made = [
        rt.traced(boto3.resource, ADAPTER)("dynamodb", **options).meta.client,
        rt.traced(boto3.session.Session().client, ADAPTER)("dynamodb", **options),
        rt.traced(boto3.session.Session().resource, ADAPTER)("dynamodb", **options).meta.client,
        rt.traced(botocore.session.get_session().create_client, ADAPTER)("dynamodb", **options),
    ]
    for client in made:
        client.list_tables()
    spans = _finished(exporter)
    assert [span.name for span in spans] == ["DynamoDB.ListTables"] * 4
    assert {span.attributes["rpc.service"] for span in spans} == {"DynamoDB"}
    assert {span.attributes["http.response.status_code"] for span in spans} == {200}


def test_a_client_error_is_recorded_and_raised_unchanged(
    endpoint: str, exporter: rt.InMemorySpanExporter
) -> None:
    s3 = _s3(endpoint)
    untraced = boto3.client("s3", **_options(endpoint))
    s3.create_bucket(
        Bucket="errors", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    exporter.clear()
    with pytest.raises(s3.exceptions.NoSuchKey) as traced_error:
        s3.get_object(Bucket="errors", Key="missing")
    with pytest.raises(untraced.exceptions.NoSuchKey) as plain_error:
        untraced.get_object(Bucket="errors", Key="missing")
    assert str(traced_error.value) == str(plain_error.value)
    assert traced_error.value.response["Error"] == plain_error.value.response["Error"]
    (span,) = _finished(exporter)
    assert span.name == "S3.GetObject"
    assert span.status_code == rt.StatusCode.ERROR
    assert span.status_message == "NoSuchKey"
    assert span.attributes["error.type"] == "NoSuchKey"
    assert span.attributes["http.response.status_code"] == 404
    assert span.attributes["aws.request_id"]


def test_an_unreachable_endpoint_is_recorded(exporter: rt.InMemorySpanExporter) -> None:
    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=2)
    s3 = _s3(f"http://127.0.0.1:{port}", config=config)
    with pytest.raises(EndpointConnectionError):
        s3.list_buckets()
    (span,) = _finished(exporter)
    assert span.name == "S3.ListBuckets"
    assert span.status_code == rt.StatusCode.ERROR
    assert span.attributes["error.type"] == "botocore.exceptions.EndpointConnectionError"
    assert "http.response.status_code" not in span.attributes


def test_a_retried_call_is_one_span(endpoint: str, exporter: rt.InMemorySpanExporter) -> None:
    config = Config(retries={"mode": "standard", "total_max_attempts": 3})
    s3 = _s3(endpoint, config=config)
    attempts: list[str] = []

    def unavailable_once(request: Any, **kwargs: Any) -> AWSResponse | None:
        """The caller's own handler: the first attempt gets a 503 without reaching moto."""
        attempts.append(request.method)
        if len(attempts) == 1:
            return AWSResponse(request.url, 503, {}, EmptyBody())
        return None

    s3.meta.events.register("before-send.s3.ListBuckets", unavailable_once)
    response = s3.list_buckets()
    assert attempts == ["GET", "GET"]
    assert response["ResponseMetadata"]["RetryAttempts"] == 1
    (span,) = _finished(exporter)
    assert span.name == "S3.ListBuckets"
    assert span.status_code == rt.StatusCode.UNSET
    assert span.attributes["http.response.status_code"] == 200


def test_nothing_secret_is_captured_and_presigning_makes_no_span(
    endpoint: str, exporter: rt.InMemorySpanExporter
) -> None:
    s3 = _s3(endpoint, aws_session_token=TOKEN, config=Config(signature_version="s3v4"))
    s3.create_bucket(
        Bucket="secrets", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3.put_object(Bucket="secrets", Key="private/name.txt", Body=BODY)
    exporter.clear()
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "secrets", "Key": "private/name.txt"}
    )
    assert "X-Amz-Signature=" in url and "X-Amz-Security-Token=" in url
    assert _finished(exporter) == []
    s3.get_object(Bucket="secrets", Key="private/name.txt")["Body"].read()
    with pytest.raises(ClientError):
        s3.get_object(Bucket="secrets", Key="private/other.txt")
    spans = _finished(exporter)
    assert len(spans) == 2
    texts = " ".join(
        [span.name + span.status_message + repr(span.attributes) for span in spans]
    )
    forbidden = (ACCESS_KEY, SECRET_KEY, TOKEN, BODY.decode(), "X-Amz-", "Signature",
                 "Credential", "private/", "secrets")
    assert [word for word in forbidden if word in texts] == []


def test_the_callers_handlers_still_run(
    endpoint: str, exporter: rt.InMemorySpanExporter
) -> None:
    s3 = _s3(endpoint)
    seen: list[str] = []

    def before(**kwargs: Any) -> None:
        seen.append(kwargs["event_name"])

    def canned(**kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        """A caller's handler that answers the call itself, as a stub would."""
        seen.append("canned")
        metadata = {"HTTPStatusCode": 200, "RequestId": "canned-id", "HTTPHeaders": {}}
        return AWSResponse("", 200, {}, None), {"Buckets": [], "ResponseMetadata": metadata}

    s3.meta.events.register("before-call.s3.*", before)
    s3.meta.events.register("after-call.s3.*", before)
    s3.meta.events.register("before-call.s3.ListBuckets", canned)
    assert s3.list_buckets()["Buckets"] == []
    assert seen == ["before-call.s3.ListBuckets", "canned", "after-call.s3.ListBuckets"]
    (span,) = _finished(exporter)
    assert span.name == "S3.ListBuckets"
    assert span.attributes["aws.request_id"] == "canned-id"


def test_a_stubber_still_works(endpoint: str, exporter: rt.InMemorySpanExporter) -> None:
    s3 = _s3(endpoint)
    with Stubber(s3) as stubber:
        stubber.add_response("list_buckets", {"Buckets": [{"Name": "stubbed"}]})
        stubber.add_client_error("head_bucket", "NoSuchBucket", http_status_code=404)
        stubber.add_response("get_object", {}, expected_params={"Bucket": "a", "Key": "b"})
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["stubbed"]
        with pytest.raises(ClientError) as error:
            s3.head_bucket(Bucket="x")
        assert error.value.response["Error"]["Code"] == "NoSuchBucket"
        with pytest.raises(Exception, match="Expected parameters"):
            s3.get_object(Bucket="a", Key="other")
    spans = _finished(exporter)
    assert [span.name for span in spans] == ["S3.ListBuckets", "S3.HeadBucket"]
    assert spans[1].attributes["error.type"] == "NoSuchBucket"
    assert spans[1].status_code == rt.StatusCode.ERROR


def test_a_mocked_factory_is_called_unchanged(exporter: rt.InMemorySpanExporter) -> None:
    with mock.patch("boto3.client") as factory:
        made = rt.traced(boto3.client, ADAPTER)("s3", region_name="eu-west-1")
    factory.assert_called_once_with("s3", region_name="eu-west-1")
    assert made is factory.return_value
    assert made.meta.events.register.call_count == 0  # nothing was asked of the mock
    real = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="a",
                        aws_secret_access_key="b")
    fake = mock.MagicMock(spec=real)  # a factory handing out a mock client
    assert isinstance(fake, BaseClient) and hasattr(fake, "meta")
    assert rt.traced(lambda: fake, ADAPTER)() is fake
    assert fake.mock_calls == []
    assert _finished(exporter) == []


def test_only_traced_clients_make_spans_and_only_once(
    endpoint: str, exporter: rt.InMemorySpanExporter
) -> None:
    session = boto3.session.Session()
    traced = rt.traced(session.client, ADAPTER)("s3", **_options(endpoint))
    _botocore.trace_client(traced)  # traced again: the handlers are registered once
    plain = session.client("s3", **_options(endpoint))
    default = boto3.client("s3", **_options(endpoint))
    for client in (traced, plain, default):
        client.list_buckets()
    (span,) = _finished(exporter)
    assert span.name == "S3.ListBuckets"


def test_spans_nest_under_the_current_span_per_thread(
    endpoint: str, exporter: rt.InMemorySpanExporter
) -> None:
    s3 = _s3(endpoint)
    parents: dict[str, int] = {}

    def work(name: str) -> None:
        with rt.span(name) as parent:
            parents[name] = parent.span_id
            for _ in range(3):
                s3.list_buckets()

    threads = [threading.Thread(target=work, args=(f"job-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    spans = _finished(exporter)
    calls = [span for span in spans if span.name == "S3.ListBuckets"]
    assert len(calls) == 12
    by_parent: dict[int, int] = {}
    for call in calls:
        by_parent[call.parent_id] = by_parent.get(call.parent_id, 0) + 1
    assert by_parent == {span_id: 3 for span_id in parents.values()}


def test_excluded_urls(
    endpoint: str, exporter: rt.InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_BOTOCORE_EXCLUDED_URLS", r"/quiet-bucket\b, ")
    monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "/loud-bucket")  # replaced by the above
    _excluded_urls.forget()
    s3 = _s3(endpoint)
    for bucket in ("quiet-bucket", "loud-bucket"):
        s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
        )
        s3.head_bucket(Bucket=bucket)
    spans = _finished(exporter)
    assert [span.name for span in spans] == ["S3.CreateBucket", "S3.HeadBucket"]
    _excluded_urls.forget()


def test_calls_that_never_end_stay_bounded(exporter: rt.InMemorySpanExporter) -> None:
    """A caller's ``before-call`` handler that raises after ours: no ``after-call`` comes."""
    spans = _botocore.CallSpans({})
    model = mock.Mock(service_model=mock.Mock(service_id="S3"))
    model.name = "ListBuckets"
    contexts = [{} for _ in range(_botocore.MAX_OPEN + 10)]
    for context in contexts:
        spans.before_call(model=model, params={"url": "http://h/"}, context=context)
    assert len(spans._open) == _botocore.MAX_OPEN
    spans.after_call(http_response=None, parsed={}, context=contexts[-1])
    spans.after_call(http_response=None, parsed={}, context=contexts[0])  # dropped: no-op
    spans.after_call_error(exception=ValueError(), context={})  # unknown: no-op
    assert [span.name for span in _finished(exporter)] == ["S3.ListBuckets"]
