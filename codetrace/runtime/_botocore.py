"""Adapter ``boto3.client``: AWS clients traced where they are built, through botocore's events.

``_codetrace.traced(boto3.client, "boto3.client")("s3", ...)`` (also ``boto3.resource``,
``boto3.session.Session().client``/``.resource`` and botocore's ``Session.create_client``)
calls the factory unchanged, then registers three handlers on the client's own event emitter
(``client.meta.events``; a resource's ``meta.client``), botocore's documented extension point:

* ``before-call.*.*`` starts the span, ``after-call.*.*`` ends it with the parsed response,
  ``after-call-error.*.*`` ends it with the exception the HTTP layer raised. botocore emits the
  pair once per API call, around ``Endpoint.make_request``, which holds the retry loop: a call
  retried three times is one span, as with OpenTelemetry (which wraps
  ``BaseClient._make_api_call`` instead: we must not patch). The three events share the call's
  ``context`` dict, which is how an ending finds its span (by identity; nothing is written
  into the dict).
* Each client has its own emitter (botocore copies the session's for every client), so nothing
  global changes and other clients stay untraced. The handlers carry ``unique_id``\\ s: a client
  traced twice (a wrapped factory that calls another) is registered once.
* The span is not made current: nothing of the application runs inside an API call, and a call
  that never reaches ``after-call`` (a later ``before-call`` handler of the caller's raising)
  must not leave a span current. Such a span is never ended; at most :data:`MAX_OPEN` wait per
  client (the oldest is dropped past that).

What the spans say (as OpenTelemetry's botocore instrumentation):

* CLIENT, named ``{rpc.service}.{rpc.method}`` (``S3.GetObject``); ``rpc.system = "aws-api"``,
  ``rpc.service`` the service id (``S3``, ``DynamoDB``), ``rpc.method`` the operation name,
  ``cloud.region`` the client's region, ``server.address``/``server.port`` from the client's
  endpoint URL (the configured endpoint, not a bucket's virtual host; port by scheme when the
  URL has none, where OpenTelemetry says 443 whatever the scheme). Service-specific
  attributes (OpenTelemetry's DynamoDB, SQS, SNS, Lambda, Bedrock extensions) are not made.
* From the response: ``aws.request_id`` (``ResponseMetadata.RequestId``, else the
  ``x-amzn-RequestId``/``x-amz-request-id``/``x-amz-id-2`` header) and
  ``http.response.status_code`` (the stable name; OpenTelemetry still writes the old
  ``http.status_code``).
* Failure: a response with status 400 or more (botocore raises a ``ClientError``) gets
  ``error.type`` = the error code botocore raises with (``NoSuchKey``; the status as text when
  the body has none) and status ``ERROR`` described by that code; a 3xx (``304`` from a
  conditional GET, also a ``ClientError``) is not an error, as OpenTelemetry decides. An
  exception from the HTTP layer (``EndpointConnectionError``, a timeout) gets ``error.type`` =
  its qualified class and status ``ERROR``. The server's error message is never copied.

Excluded URLs (``_excluded_urls``): ``OTEL_PYTHON_BOTOCORE_EXCLUDED_URLS``, else
``OTEL_PYTHON_EXCLUDED_URLS``, comma-separated regular expressions searched in the request's
URL as botocore built it before signing (``http://127.0.0.1:5000/bucket/key?tagging``, no
credentials in it): a call whose URL matches makes no span. OpenTelemetry's botocore
instrumentation reads neither variable; codetrace applies them to every HTTP client alike.

Never captured: parameters, bodies, headers, credentials, request URLs (signed or not).
``generate_presigned_url`` makes no API call and so no span. No trace header is injected:
OpenTelemetry injects only AWS X-Ray's ``X-Amzn-Trace-Id`` (the one header AWS services pass
on), never ``traceparent``, and codetrace has no X-Ray propagator.

Left alone (called unchanged, the result untouched): a mock callee
(``mock.patch("boto3.client")``), anything that does not return a botocore client or an
object whose ``meta.client`` is one. ``botocore.stub.Stubber`` keeps working: it answers from
its own ``before-call`` handler, registered after ours, so a stubbed call is still one span.
``botocore``/``boto3`` are never imported, only looked up in :data:`sys.modules`.
"""

from __future__ import annotations

import sys

from ._construct import is_class
from ._excluded_urls import excluded
from ._http import host_and_port, is_mock, split_url
from ._log import warn_once
from ._tracer import span as start_span
from ._values import SpanKind, StatusCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._span import Span

SYSTEM = "aws-api"
MAX_OPEN = 1024
"""API calls started and not yet ended, per client, before the oldest is dropped."""
UNIQUE_ID = "codetrace.botocore"
_REQUEST_ID_HEADERS = ("x-amzn-RequestId", "x-amz-request-id", "x-amz-id-2")


class CallSpans:
    """One client's handlers: a span from ``before-call`` to ``after-call``/``after-call-error``."""

    __slots__ = ("_open", "base")

    def __init__(self, base: dict[str, object]) -> None:
        self.base = base
        self._open: dict[int, tuple[object, Span]] = {}

    def before_call(self, model: Any = None, params: Any = None, context: Any = None,
                    **kwargs: Any) -> None:
        try:
            if context is None:
                return
            url = params.get("url") if type(params) is dict else None
            if type(url) is str and excluded(url, "OTEL_PYTHON_BOTOCORE_EXCLUDED_URLS"):
                return
            service = str(model.service_model.service_id)
            operation = str(model.name)
            attributes: dict[str, object] = {
                "rpc.system": SYSTEM,
                "rpc.service": service,
                "rpc.method": operation,
                **self.base,
            }
            span = start_span(f"{service}.{operation}", kind=SpanKind.CLIENT,
                              attributes=attributes)
        except Exception as exc:
            warn_once("botocore-before", "codetrace: AWS call left untraced", exc=exc)
            return
        waiting = self._open
        if len(waiting) >= MAX_OPEN:
            try:
                oldest: object = next(iter(waiting))
            except (RuntimeError, StopIteration):  # another thread changed it meanwhile
                oldest = None
            waiting.pop(oldest, None)  # type: ignore[call-overload]
        waiting[id(context)] = (context, span)

    def after_call(self, http_response: Any = None, parsed: Any = None, context: Any = None,
                   **kwargs: Any) -> None:
        span = self._pop(context)
        if span is None:
            return
        try:
            if span.is_recording():
                record_response(span, http_response, parsed, context)
        except Exception as exc:
            warn_once("botocore-after", "codetrace: odd AWS response", exc=exc)
        span.end()

    def after_call_error(self, exception: object = None, context: Any = None,
                         **kwargs: Any) -> None:
        span = self._pop(context)
        if span is None:
            return
        try:
            if span.is_recording():
                cls = type(exception)
                kind = cls.__qualname__
                module = cls.__module__
                if module and module != "builtins":
                    kind = f"{module}.{kind}"
                span.set_attribute("error.type", kind)
                span.set_status(StatusCode.ERROR, cls.__name__)
        except Exception as exc:
            warn_once("botocore-error", "codetrace: odd AWS error", exc=exc)
        span.end()

    def _pop(self, context: object) -> Span | None:
        entry = self._open.pop(id(context), None)
        if entry is None or entry[0] is not context:
            return None
        return entry[1]


def record_response(span: Span, http_response: Any, parsed: Any, context: Any) -> None:
    """``aws.request_id``, ``http.response.status_code`` and, for a failure, the error."""
    metadata = parsed.get("ResponseMetadata") if isinstance(parsed, dict) else None
    metadata = metadata if isinstance(metadata, dict) else {}
    request_id = metadata.get("RequestId")
    if not request_id:
        headers = metadata.get("HTTPHeaders")
        if isinstance(headers, dict):
            for name in _REQUEST_ID_HEADERS:
                request_id = headers.get(name) or headers.get(name.lower())
                if request_id:
                    break
    if request_id and type(request_id) is str:
        span.set_attribute("aws.request_id", request_id)
    status = metadata.get("HTTPStatusCode")
    if type(status) is not int:
        status = getattr(http_response, "status_code", None)
    if type(status) is not int:
        return
    span.set_attribute("http.response.status_code", status)
    if status < 400:
        return
    code = context.get("error_code_override") if isinstance(context, dict) else None
    if not code:
        error = parsed.get("Error") if isinstance(parsed, dict) else None
        code = error.get("Code") if isinstance(error, dict) else None
    kind = code if type(code) is str and code else str(status)
    span.set_attribute("error.type", kind)
    span.set_status(StatusCode.ERROR, kind)


# -- construction --------------------------------------------------------------------------------


def _client_of(made: object) -> object | None:
    """The botocore client ``made`` is or holds (a resource's ``meta.client``), or ``None``."""
    module = sys.modules.get("botocore.client")
    found = getattr(module, "BaseClient", None) if module is not None else None
    if not is_class(found):
        return None
    base: type = found  # type: ignore[assignment] # is_class said so
    if is_mock(made):  # ``Mock(spec=BaseClient)`` passes isinstance: ask it nothing
        return None
    if isinstance(made, base):
        return made
    meta = getattr(made, "meta", None)
    client = getattr(meta, "client", None) if meta is not None else None
    return client if isinstance(client, base) and not is_mock(client) else None


def client_attributes(client: Any) -> dict[str, object]:
    """The attributes every span of ``client`` has: region and configured endpoint."""
    attributes: dict[str, object] = {}
    region = client.meta.region_name
    if type(region) is str and region:
        attributes["cloud.region"] = region
    endpoint = client.meta.endpoint_url
    parts = split_url(endpoint) if type(endpoint) is str else None
    if parts is not None:
        host, port = host_and_port(parts[1], parts[0])
        if host:
            attributes["server.address"] = host
            if port is not None:
                attributes["server.port"] = port
    return attributes


def trace_client(client: Any) -> None:
    """Register the span handlers on ``client``'s emitter (once: they carry ``unique_id``\\ s)."""
    events = client.meta.events
    spans = CallSpans(client_attributes(client))
    events.register("before-call.*.*", spans.before_call, unique_id=f"{UNIQUE_ID}.before")
    events.register("after-call.*.*", spans.after_call, unique_id=f"{UNIQUE_ID}.after")
    events.register(
        "after-call-error.*.*", spans.after_call_error, unique_id=f"{UNIQUE_ID}.error"
    )


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``callee(*args, **kwargs)``; a botocore client it returns (or holds) is traced."""
    made = callee(*args, **kwargs)
    if is_mock(callee):
        return made
    try:
        client = _client_of(made)
        if client is not None:
            trace_client(client)
    except Exception as exc:
        warn_once("botocore-client", "codetrace: AWS client left untraced", exc=exc)
    return made
