"""The console exporter prints each finished trace as a tree: offsets, durations, bars, status."""

from __future__ import annotations

import http.server
import io
import re
import sys
from collections.abc import Callable, Iterator

import pytest

import codetrace.runtime as rt
from codetrace.runtime import Span, SpanKind, StatusCode, _console
from codetrace.runtime._console import ConsoleSpanExporter

TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736
BASE = 1_700_000_000_000_000_000


def made(
    name: str,
    span_id: int,
    parent: int,
    kind: int,
    start_ms: float,
    duration_ms: float,
    attributes: dict[str, object] | None = None,
    *,
    trace: int = TRACE,
    remote: bool = False,
    error: str | None = None,
) -> Span:
    """A finished span with chosen ids and times (as an exporter receives it)."""
    span = Span(
        name,
        trace,
        span_id,
        parent,
        1,
        "",
        kind,
        BASE + round(start_ms * 1e6),
        dict(attributes or {}),  # type: ignore[arg-type]
        is_remote_parent=remote,
    )
    span.end_ns = span.start_ns + round(duration_ms * 1e6)
    if error is not None:
        span.status_code, span.status_message = StatusCode.ERROR, error
    return span


def request_with_two_calls() -> list[Span]:
    """A server span (its parent in another process) calling two services; one refused. In the
    order they end."""
    server = made(
        "GET /orders/{id}",
        0xA1,
        0x00F067AA0BA902B7,
        SpanKind.SERVER,
        0,
        152.3,
        {
            "http.request.method": "GET",
            "url.path": "/orders/42",
            "url.scheme": "http",
            "http.route": "/orders/{id}",
            "http.response.status_code": 500,
        },
        remote=True,
        error="",
    )
    inventory = made(
        "GET",
        0xB2,
        0xA1,
        SpanKind.CLIENT,
        1.2,
        40.1,
        {
            "http.request.method": "GET",
            "url.full": "http://inventory/items/42",
            "server.address": "inventory",
            "http.response.status_code": 200,
        },
    )
    pricing = made(
        "GET",
        0xC3,
        0xA1,
        SpanKind.CLIENT,
        45.0,
        100.0,
        {
            "http.request.method": "GET",
            "url.full": "http://pricing/42",
            "error.type": "requests.exceptions.ConnectionError",
        },
        error="ConnectionError: refused",
    )
    return [inventory, pricing, server]


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shop")
    rt.reset()
    yield


def export_each(exporter: ConsoleSpanExporter, spans: list[Span]) -> None:
    for span in spans:
        exporter.export([span])


def test_a_request_prints_as_a_tree_once_its_root_ends(shop: None) -> None:
    stream = io.StringIO()
    exporter = ConsoleSpanExporter(stream)
    inventory, pricing, server = request_with_two_calls()
    export_each(exporter, [inventory, pricing])
    assert stream.getvalue() == ""  # the children wait for the server span
    exporter.export([server])
    assert stream.getvalue() == (
        "codetrace: trace 4bf92f3577b34da6a3ce929d0e0e4736  service=shop  3 spans  152.3ms"
        "  remote parent 00f067aa0ba902b7\n"
        "  +0.000ms  152.3ms  |████████████████████████|  GET /orders/{id}  SERVER ERROR"
        "  url.path=/orders/42 http.response.status_code=500\n"
        "  +1.200ms  40.10ms  |███████                 |  ├─ GET  CLIENT"
        "  url.full=http://inventory/items/42 http.response.status_code=200\n"
        "  +45.00ms  100.0ms  |       ████████████████ |  └─ GET  CLIENT ERROR"
        ' "ConnectionError: refused"  url.full=http://pricing/42'
        " error.type=requests.exceptions.ConnectionError\n"
    )


class AsciiStream(io.StringIO):
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "ascii"


def test_a_terminal_that_cannot_draw_boxes_gets_ascii(shop: None) -> None:
    stream = AsciiStream()
    export_each(ConsoleSpanExporter(stream), request_with_two_calls())
    lines = stream.getvalue().splitlines()
    assert lines[1].startswith("  +0.000ms  152.3ms  |########################|  GET /orders")
    assert "|#######                 |  |- GET  CLIENT" in lines[2]
    assert "|       ################ |  `- GET  CLIENT ERROR" in lines[3]
    stream.getvalue().encode("ascii")


def test_children_are_in_start_order_and_nested(shop: None) -> None:
    stream = io.StringIO()
    root = made("job", 1, 0, SpanKind.INTERNAL, 0, 100)
    spans = [
        made("second", 3, 1, SpanKind.INTERNAL, 50, 10),  # ends first, starts later
        made("grandchild", 4, 2, SpanKind.CLIENT, 20, 5, {"db.system.name": "sqlite"}),
        made("first", 2, 1, SpanKind.INTERNAL, 10, 80),
        made("third", 5, 1, SpanKind.INTERNAL, 95, 5, {"order.id": 17, "note": "two words"}),
        root,
    ]
    export_each(ConsoleSpanExporter(stream), spans)
    text = [line.split("|")[-1] for line in stream.getvalue().splitlines()[1:]]
    assert text == [
        "  job  INTERNAL",
        "  ├─ first  INTERNAL",
        "  │  └─ grandchild  CLIENT  db.system.name=sqlite",
        "  ├─ second  INTERNAL",
        "  └─ third  INTERNAL  order.id=17 note='two words'",
    ]
    assert stream.getvalue().splitlines()[0].endswith("  service=shop  5 spans  100.0ms")


def test_one_span_traces_print_one_line_with_their_ids(shop: None) -> None:
    stream = io.StringIO()
    query = made(
        "SELECT orders",
        0xB7AD6B7169203331,
        0,
        SpanKind.CLIENT,
        0,
        0.412,
        {"db.system.name": "sqlite", "db.query.text": "SELECT *\n  FROM orders WHERE id = ?"},
        trace=0x0AF7651916CD43DD8448EB211C80319C,
    )
    ConsoleSpanExporter(stream).export([query])
    assert stream.getvalue() == (
        "codetrace: 0.412ms  SELECT orders  CLIENT  db.system.name=sqlite"
        " db.query.text='SELECT * FROM orders WHERE id = ?'"
        "  trace=0af7651916cd43dd8448eb211c80319c span=b7ad6b7169203331\n"
    )


def test_long_values_are_shortened() -> None:
    stream = io.StringIO()
    span = made("q", 1, 0, SpanKind.CLIENT, 0, 1, {"db.query.text": "SELECT " + "x, " * 100})
    ConsoleSpanExporter(stream).export([span])
    shown = re.search(r"db\.query\.text=('[^']*')", stream.getvalue())
    assert shown is not None
    assert len(shown.group(1)) == _console.MAX_VALUE_CHARS + 2  # the quotes
    assert shown.group(1).endswith("...'")


def test_events_other_than_exceptions_are_named() -> None:
    stream = io.StringIO()
    span = made("job", 1, 0, SpanKind.INTERNAL, 0, 1, error="ValueError: x")
    for name in ("exception", "retry", "retry", "cache miss", "done"):
        span.events.append(rt.Event(name, span.start_ns))
    ConsoleSpanExporter(stream).export([span])
    assert '  job  INTERNAL ERROR "ValueError: x"  events=retry,retry,cache miss,+1  ' in (
        stream.getvalue()
    )


def test_a_span_that_outlives_its_parent_prints_as_a_continuation(shop: None) -> None:
    stream = io.StringIO()
    exporter = ConsoleSpanExporter(stream)
    exporter.export([made("request", 1, 0, SpanKind.SERVER, 0, 10)])
    assert stream.getvalue().count("\n") == 1  # alone: one line
    stream.truncate(0)
    stream.seek(0)
    # a background task started by the request, ending after it, with a child of its own
    export_each(
        exporter,
        [
            made("send mail", 3, 2, SpanKind.CLIENT, 12, 3),
            made("task", 2, 1, SpanKind.INTERNAL, 5, 20),
        ],
    )
    header, task, mail = stream.getvalue().splitlines()
    assert header.startswith(f"codetrace: trace {TRACE:032x}  service=shop  2 spans  20.00ms")
    assert header.endswith("  continues span 0000000000000001")
    assert task.endswith("|  task  INTERNAL") and task.startswith("  +0.000ms")
    assert mail.endswith("|  └─ send mail  CLIENT") and mail.startswith("  +7.000ms")


def test_waiting_spans_are_printed_flat_at_shutdown(shop: None) -> None:
    stream = io.StringIO()
    rt.configure(exporter=ConsoleSpanExporter(stream))
    root = rt.span("root")
    root.activate()
    with rt.span("child-1"), rt.span("grandchild"):
        pass
    root.deactivate()
    assert stream.getvalue() == ""  # the root is still open
    rt.reset()  # shuts the exporter down
    lines = stream.getvalue().splitlines()
    assert [line.split()[2] for line in lines] == ["grandchild", "child-1"]
    assert all(f"trace={root.trace_id:032x}" in line for line in lines)
    assert all(line.startswith("codetrace: ") for line in lines)


def test_bounds_print_a_trace_flat_when_it_is_too_big(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_console, "MAX_SPANS_PER_TRACE", 3)
    stream = io.StringIO()
    exporter = ConsoleSpanExporter(stream)
    export_each(exporter, [made(f"c{i}", 10 + i, 1, SpanKind.INTERNAL, i, 1) for i in range(3)])
    assert stream.getvalue() == ""
    exporter.export([made("c3", 13, 1, SpanKind.INTERNAL, 3, 1)])
    assert [line.split()[2] for line in stream.getvalue().splitlines()] == [
        "c0",
        "c1",
        "c2",
        "c3",
    ]
    exporter.export([made("root", 1, 0, SpanKind.INTERNAL, 0, 10)])  # later spans: flat too
    assert stream.getvalue().splitlines()[-1].split()[2] == "root"
    assert exporter._waiting == {} and exporter._waiting_count == 0


def test_bounds_print_the_oldest_trace_when_too_many_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_console, "MAX_TRACES", 2)
    monkeypatch.setattr(_console, "MAX_SPANS", 4)
    stream = io.StringIO()
    exporter = ConsoleSpanExporter(stream)
    for trace in (1, 2):
        exporter.export([made(f"t{trace}", 10 + trace, 1, SpanKind.INTERNAL, 0, 1, trace=trace)])
    assert stream.getvalue() == ""
    exporter.export([made("t3", 13, 1, SpanKind.INTERNAL, 0, 1, trace=3)])  # too many traces
    assert [line.split()[2] for line in stream.getvalue().splitlines()] == ["t1"]
    export_each(exporter, [made(f"t3-{i}", 20 + i, 1, SpanKind.INTERNAL, 0, 1, trace=3)
                           for i in range(3)])  # too many spans: the oldest trace goes
    assert [line.split()[2] for line in stream.getvalue().splitlines()] == ["t1", "t2"]
    assert exporter._waiting_count == 4 and list(exporter._waiting) == [3]


def test_a_very_deep_trace_prints(shop: None) -> None:
    stream = io.StringIO()
    depth = _console.MAX_SPANS_PER_TRACE  # as deep as a tree gets; deeper than recursion goes
    assert depth + 1 >= sys.getrecursionlimit()
    spans = [made(f"s{i}", i + 2, i + 1, SpanKind.INTERNAL, i * 0.001, 1) for i in range(depth)]
    spans.reverse()  # the deepest ends first
    export_each(ConsoleSpanExporter(stream), [*spans, made("root", 1, 0, SpanKind.INTERNAL, 0, 2)])
    lines = stream.getvalue().splitlines()
    assert len(lines) == depth + 2
    assert lines[-1].rstrip().endswith(f"└─ s{depth - 1}  INTERNAL")


def test_a_forked_child_drops_the_parents_waiting_spans() -> None:
    stream = io.StringIO()
    exporter = ConsoleSpanExporter(stream)
    exporter.export([made("child", 2, 1, SpanKind.INTERNAL, 0, 1)])
    exporter._after_fork_in_child()
    exporter.shutdown()
    assert stream.getvalue() == ""


# -- a real request --------------------------------------------------------------------------------


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_real_server_span_with_two_calls(
    serve_http: Callable[[type[http.server.BaseHTTPRequestHandler]], str],
    refused_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    requests = pytest.importorskip("requests")
    base = serve_http(Handler)
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shop")
    rt.reset()
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    incoming = rt.extract({"traceparent": traceparent})
    with rt.span("GET /orders/{id}", kind=SpanKind.SERVER, parent=incoming):
        rt.traced(requests.get, "requests.send")(base + "/items/42", timeout=5)
        with pytest.raises(requests.ConnectionError):
            rt.traced(requests.get, "requests.send")(refused_url, timeout=5)
    err = capsys.readouterr().err
    pattern = (
        r"codetrace: trace 4bf92f3577b34da6a3ce929d0e0e4736  service=shop  3 spans  \S+ms"
        r"  remote parent 00f067aa0ba902b7\n"
        r"  +\+0\.000ms  +\S+  \|█+\|  GET /orders/\{id\}  SERVER\n"
        r"  +\+\S+ms  +\S+  \| *█+ *\|  ├─ GET  CLIENT  url\.full=http://127\.0\.0\.1:\d+/items/42"
        r" http\.response\.status_code=200\n"
        r"  +\+\S+ms  +\S+  \| *█+ *\|  └─ GET  CLIENT ERROR \"ConnectionError: [^\n]*\""
        r"  url\.full=http://127\.0\.0\.1:\d+/\S*"
        r" error\.type=requests\.exceptions\.ConnectionError\n"
    )
    assert re.fullmatch(pattern, err), err
