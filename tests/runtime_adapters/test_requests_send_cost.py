"""What a traced ``requests`` send costs, counted in Python calls, and the shortcuts it takes.

Issue 9's target is a traced ``Session`` request within 15 µs of an untraced one
(``benchmarks/runtime_construction.py`` measures it). Timings are too noisy for a test on a
shared machine, so these tests count what decides them: the Python functions one request
enters, traced and untraced, against a real server (``sys.setprofile`` sees every Python
call of this thread). They also pin the behaviour of the shortcuts: the request a session
builds for itself gets the trace headers in place, any request a caller holds is copied first.
"""

from __future__ import annotations

import sys
import unittest.mock  # noqa: F401 - loaded as in any test suite: the mock checks then run
from collections import Counter
from collections.abc import Callable
from typing import Any

import requests

import codetrace.runtime as rt
from codetrace.runtime._tracecontext import parse_traceparent

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _calls(call: Callable[[], Any]) -> Counter[str]:
    """The Python functions ``call()`` enters in this thread, by ``module-ish:function``."""
    call()  # warm: connections open, caches filled, modules imported
    counts: Counter[str] = Counter()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            path = "/".join(frame.f_code.co_filename.replace("\\", "/").split("/")[-2:])
            counts[f"{path}:{frame.f_code.co_name}"] += 1

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return counts


def _in(counts: Counter[str], part: str) -> int:
    return sum(n for name, n in counts.items() if part in name)


def _sent_traceparent(response: requests.Response) -> list[str]:
    return [v for k, v in response.json()["headers"] if k == "traceparent"]


class _OneMoreHeader(requests.Session):
    """The floor any tracer pays: one more header on the request a session builds."""

    def send(self, request: Any, **kwargs: Any) -> Any:
        request.headers["traceparent"] = TRACEPARENT
        return super().send(request, **kwargs)


def test_traced_send_runs_no_requests_header_code_beyond_the_header_itself(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    # Copying the request's headers through CaseInsensitiveDict's Python methods (a generator
    # per iteration, a call per item) used to be most of what a traced send added.
    url = server + "/items?id=7"
    floor_session = _OneMoreHeader()
    floor = _calls(lambda: floor_session.get(url))
    traced_session = rt.traced(requests.Session, "requests.session")()
    traced = _calls(lambda: traced_session.get(url))
    assert _in(traced, "requests/structures.py") <= _in(floor, "requests/structures.py")
    assert _in(traced, "_collections_abc") <= _in(floor, "_collections_abc")


def test_codetrace_functions_entered_per_traced_send(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    url = server + "/items?id=7"
    session = rt.traced(requests.Session, "requests.session")()
    ours = {k: n for k, n in _calls(lambda: session.get(url)).items() if "runtime/" in k}
    # send, traced_send, the mock check, the span and its end, the URL's attributes, the trace
    # headers (3 calls), the processor and the exporter: a budget, so that a new call on this
    # path is a decision. It was 23.
    assert sum(ours.values()) <= 12, repr(ours)


def test_call_site_functions_entered_per_traced_get(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    url = server + "/items?id=7"
    session = requests.Session()
    counts = _calls(lambda: rt.traced(session.get, "requests.send")(url))
    ours = {k: n for k, n in counts.items() if "runtime/" in k}
    assert sum(ours.values()) <= 18, repr(ours)  # it was 19


def test_the_request_a_session_builds_itself_carries_the_headers_in_place(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    session = rt.traced(requests.Session, "requests.session")()
    seen: list[Any] = []
    response = session.get(server + "/a", hooks={"response": lambda r, **kw: seen.append(r)})
    (span,) = exporter.get_finished_spans()
    (header,) = _sent_traceparent(response)
    assert parse_traceparent(header)[:2] == (span.trace_id, span.span_id)  # type: ignore[index]
    assert response.request.headers["traceparent"] == header
    assert seen == [response]


def test_a_request_the_caller_prepared_with_the_session_is_copied(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    session = rt.traced(requests.Session, "requests.session")()
    prepared = session.prepare_request(requests.Request("GET", server + "/p"))
    before = dict(prepared.headers)
    response = session.send(prepared)
    assert dict(prepared.headers) == before
    assert response.request is not prepared
    (span,) = exporter.get_finished_spans()
    (header,) = _sent_traceparent(response)
    assert parse_traceparent(header)[:2] == (span.trace_id, span.span_id)  # type: ignore[index]


def test_a_shared_request_from_an_overridden_prepare_request_is_copied(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    """A project that hands out one cached ``PreparedRequest`` must never see it changed."""
    cache: dict[str, Any] = {}

    class Caching(requests.Session):
        def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
            if request.url not in cache:
                cache[request.url] = super().prepare_request(request)
            return cache[request.url]  # type: ignore[no-any-return]

    session = rt.traced(Caching, "requests.session")()
    first = session.get(server + "/shared")
    second = session.get(server + "/shared")
    assert "traceparent" not in cache[server + "/shared"].headers
    one, two = exporter.get_finished_spans()
    assert parse_traceparent(_sent_traceparent(first)[0])[1] == one.span_id  # type: ignore[index]
    assert parse_traceparent(_sent_traceparent(second)[0])[1] == two.span_id  # type: ignore[index]


def test_tracing_disabled_after_the_session_was_built_leaves_no_span_current(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    session = rt.traced(requests.Session, "requests.session")()
    rt.configure(disabled=True)
    response = session.get(server + "/off")
    assert response.status_code == 200 and rt.current_span() is None
    assert _sent_traceparent(response) == []


def test_a_bytes_traceparent_on_the_request_is_kept(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    session = rt.traced(requests.Session, "requests.session")()
    prepared = session.prepare_request(requests.Request("GET", server + "/b"))
    prepared.headers[b"traceparent"] = TRACEPARENT  # type: ignore[index]
    response = session.send(prepared)
    assert _sent_traceparent(response) == [TRACEPARENT]
