"""codetrace spans through the OpenTelemetry API: one trace, one context, one export pipeline.

Each scenario runs in its own interpreter (``bridge_support``), with an SDK ``TracerProvider``
installed globally and the SDK's ``InMemorySpanExporter`` as the only exporter: what the tests
read is what the SDK exported, never codetrace's own objects.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.trace")

from bridge_support import by_name, run_script, spans_of

from codetrace.runtime._otlp._json_records import read_json_lines


def assert_child(child: dict[str, Any], parent: dict[str, Any]) -> None:
    assert child["trace_id"] == parent["trace_id"], (child["name"], parent["name"])
    assert child["parent_id"] == parent["span_id"], (child["name"], parent["name"])


# -- parent and child, both ways -------------------------------------------------------------


def test_codetrace_span_inside_handwritten_span_is_its_child() -> None:
    spans = by_name(
        spans_of(
            """
            import codetrace.runtime as rt
            with tracer.start_as_current_span("handwritten"):
                with rt.span("codetrace"):
                    pass
            dump()
            """
        )
    )
    assert_child(spans["codetrace"], spans["handwritten"])
    assert spans["codetrace"]["scope"] == "codetrace"  # started by codetrace's own tracer
    assert spans["handwritten"]["parent_id"] is None


def test_handwritten_span_inside_codetrace_span_and_traced_call_is_its_child() -> None:
    spans = by_name(
        spans_of(
            """
            import codetrace.runtime as rt

            def work():
                with tracer.start_as_current_span("inside-traced-call"):
                    return 42

            with rt.span("outer"):
                with tracer.start_as_current_span("inside-span"):
                    pass
                assert rt.traced(work, "myapp.work")() == 42
            dump()
            """
        )
    )
    assert_child(spans["inside-span"], spans["outer"])
    assert_child(spans["myapp.work"], spans["outer"])
    assert_child(spans["inside-traced-call"], spans["myapp.work"])
    assert spans["outer"]["parent_id"] is None


def test_alternating_nesting_is_one_trace_in_order() -> None:
    spans = by_name(
        spans_of(
            """
            import codetrace.runtime as rt
            with tracer.start_as_current_span("h1"):
                with rt.span("c1"):
                    with tracer.start_as_current_span("h2"):
                        with rt.span("c2") as c2:
                            assert rt.current_span() is c2
                    with rt.span("c3"):  # after h2 closed: back under c1
                        pass
                with rt.span("c4"):  # after c1 closed: back under h1
                    pass
            with rt.span("c5"):  # outside everything: a new trace
                pass
            dump()
            """
        )
    )
    assert_child(spans["c1"], spans["h1"])
    assert_child(spans["h2"], spans["c1"])
    assert_child(spans["c2"], spans["h2"])
    assert_child(spans["c3"], spans["c1"])
    assert_child(spans["c4"], spans["h1"])
    assert spans["c5"]["parent_id"] is None
    assert spans["c5"]["trace_id"] != spans["h1"]["trace_id"]


def test_codetrace_span_ids_are_the_sdk_spans_ids() -> None:
    (line,) = spans_of(
        """
        import codetrace.runtime as rt
        with rt.span("one") as s:
            ids = (format(s.trace_id, "032x"), format(s.span_id, "016x"), s.trace_flags & 1)
            otel = trace.get_current_span().get_span_context()
            assert (otel.trace_id, otel.span_id) == (s.trace_id, s.span_id)
        assert s.duration_ns > 0
        print(json.dumps(ids))
        dump()
        """
    )
    assert line["name"] == "one"


# -- attributes, status, events, kinds -------------------------------------------------------


def test_attributes_events_status_and_renames_reach_the_sdk_span() -> None:
    spans = by_name(
        spans_of(
            """
            import codetrace.runtime as rt
            with rt.span("start-name", attributes={"given": 1, "dropped": None}) as s:
                s.set_attribute("later", "x")
                s.set_attributes({"list": [1, 2], "flag": True})
                s.add_event("checkpoint", {"step": 2})
                s.update_name("final-name")
                s.set_status(rt.StatusCode.OK)
            dump()
            """
        )
    )
    span = spans["final-name"]
    assert span["attributes"] == {"given": 1, "later": "x", "list": [1, 2], "flag": True}
    assert [event["name"] for event in span["events"]] == ["checkpoint"]
    assert span["events"][0]["attributes"] == {"step": 2}
    assert span["status"] == "OK"
    assert span["start"] < span["end"]


def test_exception_is_recorded_with_error_status() -> None:
    spans = by_name(
        spans_of(
            """
            import codetrace.runtime as rt

            def fail():
                raise ValueError("bad input")

            try:
                with rt.span("block"):
                    rt.traced(fail, "myapp.fail")()
            except ValueError:
                pass
            dump()
            """
        )
    )
    for name in ("block", "myapp.fail"):
        span = spans[name]
        assert span["status"] == "ERROR"
        assert span["description"] == "ValueError: bad input"
        assert span["attributes"]["error.type"] == "ValueError"
        (event,) = span["events"]
        assert event["name"] == "exception"
        assert event["attributes"]["exception.type"] == "ValueError"
        assert event["attributes"]["exception.message"] == "bad input"
        assert "Traceback" in event["attributes"]["exception.stacktrace"]


def test_kinds_are_mapped_to_the_apis_kinds() -> None:
    spans = by_name(
        spans_of(
            """
            import codetrace.runtime as rt
            for kind in ("INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"):
                with rt.span(kind, kind=getattr(rt.SpanKind, kind)):
                    pass
            dump()
            """
        )
    )
    assert {name: span["kind"] for name, span in spans.items()} == {
        name: name for name in ("INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
    }


def test_the_sdks_sampler_decides() -> None:
    result = run_script(
        """
        from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
        provider.sampler = ALWAYS_OFF  # the SDK's sampler, read at each start
        import codetrace.runtime as rt
        with rt.span("dropped") as s:
            s.set_attribute("ignored", 1)
            headers = {}
            rt.inject(headers)
        flags = int(headers["traceparent"][-2:], 16)
        print(s.is_recording(), s.trace_flags & 1, flags & 1, s.span_id != 0)
        dump()
        """
    )
    assert result.returncode == 0, result.stderr
    first, last = result.stdout.splitlines()
    # not recorded, not exported, but the ids still travel, with the sampled flag off
    assert first == "False 0 0 True"
    assert json.loads(last) == []


# -- requests against a real server ------------------------------------------------------------

HTTP_SERVER = """
import http.server
import threading

received = []

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        received.append({k.lower(): v for k, v in self.headers.items()})
        status = 404 if self.path.startswith("/missing") else 200
        body = b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
port = server.server_address[1]
threading.Thread(target=server.serve_forever, daemon=True).start()
"""


def test_traced_requests_call_lands_on_the_sdk_span_with_headers_from_it() -> None:
    pytest.importorskip("requests")
    result = run_script(
        prelude=HTTP_SERVER,
        code="""
        import requests
        from opentelemetry import baggage, context
        import codetrace.runtime as rt

        session = requests.Session()
        with tracer.start_as_current_span("handler"):
            token = context.attach(baggage.set_baggage("tenant", "acme"))
            try:
                response = rt.traced(session.get, "requests.send")(
                    f"http://user:pw@127.0.0.1:{port}/items?id=7", timeout=5
                )
                missing = rt.traced(session.get, "requests.send")(
                    f"http://127.0.0.1:{port}/missing", timeout=5
                )
            finally:
                context.detach(token)
        assert response.status_code == 200 and missing.status_code == 404
        print(json.dumps(received))
        dump()
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    headers_line, spans_line = result.stdout.strip().splitlines()
    received = json.loads(headers_line)
    spans = json.loads(spans_line)
    handler = next(span for span in spans if span["name"] == "handler")
    ok, missing = (span for span in spans if span["name"] == "GET")
    assert_child(ok, handler)
    assert_child(missing, handler)
    assert ok["kind"] == "CLIENT"
    port = ok["attributes"]["server.port"]
    assert ok["attributes"] == {
        "http.request.method": "GET",
        "url.full": f"http://REDACTED:REDACTED@127.0.0.1:{port}/items?id=7",
        "server.address": "127.0.0.1",
        "server.port": port,
        "http.response.status_code": 200,
    }
    assert ok["status"] == "UNSET"
    assert missing["status"] == "ERROR"
    assert missing["attributes"]["error.type"] == "404"
    assert missing["attributes"]["http.response.status_code"] == 404
    # The server saw the SDK span's ids (W3C), and the hand-written OpenTelemetry baggage.
    for headers, span in zip(received, (ok, missing), strict=True):
        version, trace_id, span_id, flags = headers["traceparent"].split("-")
        assert (version, trace_id, span_id) == ("00", span["trace_id"], span["span_id"])
        assert int(flags, 16) & 1  # sampled (recent SDKs also set the level-2 random flag)
        assert headers["baggage"] == "tenant=acme"


# -- context crossing: use_context, inject, async ------------------------------------------------


def test_remote_parent_from_extract_is_the_parent_of_both_kinds_of_span() -> None:
    spans = by_name(
        spans_of(
            """
            import codetrace.runtime as rt
            incoming = {
                "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "baggage": "user=42",
            }
            ctx = rt.extract(incoming)
            assert ctx.baggage_dict() == {"user": "42"}
            with rt.use_context(ctx):
                with tracer.start_as_current_span("handwritten"):
                    pass
                with rt.span("codetrace", kind=rt.SpanKind.SERVER):
                    out = {}
                    rt.inject(out)
            with rt.span("explicit-parent", parent=ctx):
                pass
            assert out["baggage"] == "user=42", out
            dump()
            """
        )
    )
    for name in ("handwritten", "codetrace", "explicit-parent"):
        assert spans[name]["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
        assert spans[name]["parent_id"] == "b7ad6b7169203331"
        assert spans[name]["parent_remote"] is True


def test_inject_inside_a_handwritten_span_propagates_that_span() -> None:
    result = run_script(
        """
        import codetrace.runtime as rt
        with rt.span("codetrace"):
            with tracer.start_as_current_span("handwritten") as hand:
                headers = {}
                rt.inject(headers)
                expected = format(hand.get_span_context().span_id, "016x")
        print(headers["traceparent"].split("-")[2] == expected)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_two_asyncio_tasks_keep_their_own_parents() -> None:
    spans = by_name(
        spans_of(
            """
            import asyncio
            import codetrace.runtime as rt

            async def task(name):
                with rt.span(f"task-{name}"):
                    await asyncio.sleep(0.01)
                    with tracer.start_as_current_span(f"hand-{name}"):
                        await asyncio.sleep(0.01)
                        with rt.span(f"leaf-{name}"):
                            await asyncio.sleep(0)

            async def traced_coroutine():
                await asyncio.sleep(0)
                with tracer.start_as_current_span("hand-in-traced-coroutine"):
                    await asyncio.sleep(0)

            async def main():
                with rt.span("root"):
                    await asyncio.gather(task("a"), task("b"))
                    await rt.traced(traced_coroutine, "myapp.coro")()

            asyncio.run(main())
            dump()
            """
        )
    )
    for name in ("a", "b"):
        assert_child(spans[f"task-{name}"], spans["root"])
        assert_child(spans[f"hand-{name}"], spans[f"task-{name}"])
        assert_child(spans[f"leaf-{name}"], spans[f"hand-{name}"])
    assert_child(spans["myapp.coro"], spans["root"])
    assert_child(spans["hand-in-traced-coroutine"], spans["myapp.coro"])


def test_threads_with_traced_context_follow_the_caller() -> None:
    spans = by_name(
        spans_of(
            """
            from concurrent.futures import ThreadPoolExecutor
            import codetrace.runtime as rt

            def work(n):
                with tracer.start_as_current_span(f"hand-{n}"):
                    with rt.span(f"codetrace-{n}"):
                        return n

            with rt.span("root"):
                with ThreadPoolExecutor(2) as pool:
                    assert sorted(pool.map(rt.traced_context(work), [1, 2])) == [1, 2]
            dump()
            """
        )
    )
    for n in (1, 2):
        assert_child(spans[f"hand-{n}"], spans["root"])
        assert_child(spans[f"codetrace-{n}"], spans[f"hand-{n}"])


# -- Flask ------------------------------------------------------------------------------------


def test_flask_server_span_parents_handwritten_spans_in_view_and_stream() -> None:
    pytest.importorskip("flask")
    spans = by_name(
        spans_of(
            """
            import flask
            import codetrace.runtime as rt

            app = rt.hooks.flask(flask.Flask("bridge"))

            @app.get("/users/<int:uid>")
            def user(uid):
                with tracer.start_as_current_span("in-view"):
                    pass
                def chunks():
                    with tracer.start_as_current_span("in-stream"):
                        yield b"x"
                return flask.Response(chunks())

            response = app.test_client().get(
                "/users/7",
                headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
            )
            assert response.data == b"x"
            response.close()  # the WSGI server's close() ends the server span
            dump()
            """
        )
    )
    server = spans["GET /users/<int:uid>"]
    assert server["kind"] == "SERVER"
    assert server["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert server["parent_id"] == "b7ad6b7169203331"
    assert server["attributes"]["http.route"] == "/users/<int:uid>"
    assert server["attributes"]["http.response.status_code"] == 200
    assert_child(spans["in-view"], server)
    assert_child(spans["in-stream"], server)


def test_cross_service_codetrace_only_client_and_bridged_flask_server() -> None:
    """Two processes: a bridged Flask server, and a client with codetrace's own pipeline."""
    pytest.importorskip("flask")
    pytest.importorskip("requests")
    import subprocess
    import sys

    from bridge_support import REPO, SDK_SETUP, clean_env

    server_code = SDK_SETUP + (
        "import sys, threading, flask\n"
        "from werkzeug.serving import make_server\n"
        "import codetrace.runtime as rt\n"
        "app = rt.hooks.flask(flask.Flask('server'))\n"
        "@app.get('/ping')\n"
        "def ping():\n"
        "    with tracer.start_as_current_span('in-view'):\n"
        "        return 'pong'\n"
        "server = make_server('127.0.0.1', 0, app)\n"
        "threading.Thread(target=server.serve_forever, daemon=True).start()\n"
        "print(server.server_port, flush=True)\n"
        "sys.stdin.readline()\n"
        "server.shutdown()\n"
        "dump()\n"
    )
    server = subprocess.Popen(
        [sys.executable, "-W", "error", "-c", server_code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(REPO),
        env=clean_env(),
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        client = run_script(
            f"""
            import json, requests
            import codetrace.runtime as rt
            memory = rt.InMemorySpanExporter()
            rt.configure(exporter=memory)
            with rt.span("client-root"):
                assert rt.traced(requests.get, "requests.send")(
                    "http://127.0.0.1:{port}/ping", timeout=5
                ).text == "pong"
            import sys
            assert "opentelemetry" not in sys.modules  # a codetrace-only service
            print(json.dumps([
                [s.name, format(s.trace_id, "032x"), format(s.span_id, "016x")]
                for s in memory.get_finished_spans()
            ]))
            """,
            setup=False,
        )
        assert client.returncode == 0, client.stderr
        out, err = server.communicate("done\n", timeout=30)
    finally:
        server.kill()
    assert server.returncode == 0, err
    client_spans = {
        name: (trace_id, span_id) for name, trace_id, span_id in json.loads(client.stdout)
    }
    server_spans = by_name(json.loads(out.strip().splitlines()[-1]))
    request_trace, request_span = client_spans["GET"]
    served = server_spans["GET /ping"]
    assert served["trace_id"] == request_trace == client_spans["client-root"][0]
    assert served["parent_id"] == request_span
    assert served["parent_remote"] is True
    assert_child(server_spans["in-view"], served)


# -- switches ---------------------------------------------------------------------------------


def test_disabled_tracing_creates_nothing_anywhere() -> None:
    result = run_script(
        """
        import codetrace.runtime as rt

        def work():
            return 1

        assert rt.traced(work, "myapp.work") is work
        with rt.span("nothing") as s:
            assert not s.is_recording()
        headers = {}
        rt.inject(headers)
        assert headers == {}
        dump()
        """,
        OTEL_SDK_DISABLED="true",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout) == []


def test_backend_codetrace_keeps_codetrace_pipeline_despite_the_sdk(tmp_path: Any) -> None:
    path = tmp_path / "spans.jsonl"
    spans = by_name(
        spans_of(
            """
            import codetrace.runtime as rt
            with tracer.start_as_current_span("handwritten"):
                with rt.span("codetrace"):
                    pass
            dump()
            """,
            CODETRACE_BACKEND="codetrace",
            OTEL_TRACES_EXPORTER="jsonl",
            CODETRACE_JSONL_PATH=str(path),
        )
    )
    assert list(spans) == ["handwritten"]
    (record,) = read_json_lines(path)
    assert record["name"] == "codetrace"
    assert record["parent_span_id"] is None  # two separate worlds


def test_auto_without_a_provider_never_imports_opentelemetry(tmp_path: Any) -> None:
    path = tmp_path / "spans.jsonl"
    result = run_script(
        """
        import sys
        import codetrace.runtime as rt
        with rt.span("codetrace"):
            headers = {}
            rt.inject(headers)
        rt.extract(headers)
        print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
        """,
        setup=False,
        OTEL_TRACES_EXPORTER="jsonl",
        CODETRACE_JSONL_PATH=str(path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert [record["name"] for record in read_json_lines(path)] == ["codetrace"]


def test_auto_with_the_api_imported_but_no_provider_keeps_codetrace(tmp_path: Any) -> None:
    path = tmp_path / "spans.jsonl"
    result = run_script(
        """
        from opentelemetry import trace
        import codetrace.runtime as rt
        with rt.span("codetrace"):
            pass
        """,
        setup=False,
        OTEL_TRACES_EXPORTER="jsonl",
        CODETRACE_JSONL_PATH=str(path),
    )
    assert result.returncode == 0, result.stderr
    assert [record["name"] for record in read_json_lines(path)] == ["codetrace"]


def test_backend_otel_follows_a_provider_installed_later() -> None:
    result = run_script(
        """
        from opentelemetry import trace
        import codetrace.runtime as rt
        with rt.span("before-the-provider") as early:  # the API's proxy: not recorded
            assert not early.is_recording()
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        memory = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(memory))
        trace.set_tracer_provider(provider)
        tracer = trace.get_tracer("handwritten")
        with tracer.start_as_current_span("handwritten"):
            with rt.span("after-the-provider"):
                pass
        print(sorted(
            (s.name, s.parent.span_id if s.parent else None) for s in memory.get_finished_spans()
        ) == sorted([
            ("handwritten", None),
            ("after-the-provider", next(
                s.context.span_id for s in memory.get_finished_spans() if s.name == "handwritten"
            )),
        ]))
        """,
        setup=False,
        CODETRACE_BACKEND="otel",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip() == "True"


def test_configure_backend_argument() -> None:
    result = run_script(
        """
        import codetrace.runtime as rt
        mine = rt.InMemorySpanExporter()
        rt.configure(exporter=mine)  # an exporter given in code: codetrace's own pipeline
        with rt.span("mine"):
            pass
        rt.configure(backend="otel")
        with rt.span("sdk"):
            pass
        try:
            rt.configure(backend="otel", exporter=mine)
        except ValueError:
            pass
        else:
            raise AssertionError("backend='otel' with an exporter must be refused")
        assert rt.force_flush()
        rt.shutdown()  # flushes the SDK provider, does not shut it down
        with rt.span("after-shutdown"):
            pass
        print([s.name for s in mine.get_finished_spans()])
        dump()
        """
    )
    assert result.returncode == 0, result.stderr
    mine, sdk = result.stdout.strip().splitlines()
    assert mine == "['mine']"
    assert [span["name"] for span in json.loads(sdk)] == ["sdk", "after-shutdown"]


def test_detection_happens_once() -> None:
    result = run_script(
        """
        calls = []
        real = trace.get_tracer_provider
        def counting():
            calls.append(1)
            return real()
        trace.get_tracer_provider = counting
        import codetrace.runtime as rt
        with rt.span("first"):
            pass
        after_first = len(calls)
        for _ in range(100):
            with rt.span("more"):
                rt.inject({})
        print(after_first, len(calls))
        """
    )
    assert result.returncode == 0, result.stderr
    first, total = map(int, result.stdout.split())
    assert first == total  # nothing more after the first span
    assert first <= 2  # the detection, and get_tracer's own lookup


# -- a misbehaving API -------------------------------------------------------------------------

BROKEN_PROVIDER = """
import json
import logging
from opentelemetry import trace

class BrokenTracer(trace.Tracer):
    def start_span(self, *args, **kwargs):
        raise RuntimeError("broken tracer")

    def start_as_current_span(self, *args, **kwargs):
        raise RuntimeError("broken tracer")

class BrokenProvider(trace.TracerProvider):  # a real provider, as far as detection can tell
    def get_tracer(self, *args, **kwargs):
        return BrokenTracer()

trace.set_tracer_provider(BrokenProvider())
records = []

class Keep(logging.Handler):
    def emit(self, record):
        records.append(record.getMessage())

logging.getLogger("codetrace.runtime").addHandler(Keep())
logging.getLogger("codetrace.runtime").propagate = False
"""


def test_a_failing_api_falls_back_to_codetrace_with_one_log(tmp_path: Any) -> None:
    path = tmp_path / "spans.jsonl"
    result = run_script(
        prelude=BROKEN_PROVIDER,
        code="""
        import codetrace.runtime as rt
        assert rt.traced(lambda: 7, "myapp.first")() == 7
        for _ in range(3):
            with rt.span("later"):
                pass
        print(json.dumps(records))
        """,
        setup=False,
        OTEL_TRACES_EXPORTER="jsonl",
        CODETRACE_JSONL_PATH=str(path),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    (record,) = json.loads(result.stdout)
    assert "OpenTelemetry API failed" in record
    names = [record["name"] for record in read_json_lines(path)]
    assert names == ["myapp.first", "later", "later", "later"]


def test_a_failing_span_end_is_logged_once_and_swallowed() -> None:
    result = run_script(
        """
        import logging
        records = []

        class Keep(logging.Handler):
            def emit(self, record):
                records.append(record.getMessage())

        logging.getLogger("codetrace.runtime").addHandler(Keep())
        logging.getLogger("codetrace.runtime").propagate = False

        from opentelemetry.sdk.trace import Span as SdkSpan
        def broken_end(self, end_time=None):
            raise RuntimeError("broken end")
        SdkSpan.end = broken_end

        import codetrace.runtime as rt
        for _ in range(3):
            with rt.span("x"):
                pass
        print(json.dumps(records))
        """
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["codetrace: an OpenTelemetry span failed to end"]


def test_backend_otel_without_the_api_keeps_codetrace_with_one_log(tmp_path: Any) -> None:
    path = tmp_path / "spans.jsonl"
    result = run_script(
        """
        import json, logging, sys
        sys.modules["opentelemetry"] = None  # as if the API were not installed
        records = []

        class Keep(logging.Handler):
            def emit(self, record):
                records.append(record.getMessage())

        logging.getLogger("codetrace.runtime").addHandler(Keep())
        logging.getLogger("codetrace.runtime").propagate = False
        import codetrace.runtime as rt
        for _ in range(2):
            with rt.span("codetrace"):
                pass
        print(json.dumps(records))
        """,
        setup=False,
        CODETRACE_BACKEND="otel",
        OTEL_TRACES_EXPORTER="jsonl",
        CODETRACE_JSONL_PATH=str(path),
    )
    assert result.returncode == 0, result.stderr
    (record,) = json.loads(result.stdout)
    assert "cannot use the OpenTelemetry API" in record
    assert len(path.read_text().splitlines()) == 2


def test_opentelemetry_requests_instrumentation_does_not_add_a_second_span() -> None:
    """Under ``opentelemetry-instrument`` (here: ``RequestsInstrumentor``), one span per call."""
    pytest.importorskip("requests")
    pytest.importorskip("opentelemetry.instrumentation.requests")
    result = run_script(
        prelude=HTTP_SERVER,
        code="""
        import requests
        from opentelemetry.instrumentation.requests import RequestsInstrumentor
        import codetrace.runtime as rt

        RequestsInstrumentor().instrument()
        session = requests.Session()
        with tracer.start_as_current_span("handler"):
            rt.traced(session.get, "requests.send")(f"http://127.0.0.1:{port}/a", timeout=5)
            session.get(f"http://127.0.0.1:{port}/b", timeout=5)  # not traced by codetrace
        print(json.dumps(received))
        dump()
        """,
    )
    assert result.returncode == 0, result.stderr
    headers_line, spans_line = result.stdout.strip().splitlines()
    spans = json.loads(spans_line)
    assert sorted((span["name"], span["scope"]) for span in spans) == [
        ("GET", "codetrace"),
        ("GET", "opentelemetry.instrumentation.requests"),
        ("handler", "handwritten"),
    ]
    ours = next(span for span in spans if span["scope"] == "codetrace")
    first, _second = json.loads(headers_line)
    assert first["traceparent"].split("-")[2] == ours["span_id"]


def test_traced_httpx_calls_sync_and_async_join_the_sdk_trace() -> None:
    pytest.importorskip("httpx")
    result = run_script(
        prelude=HTTP_SERVER,
        code="""
        import asyncio
        import httpx
        import codetrace.runtime as rt

        async def main():
            async with httpx.AsyncClient() as client:
                with tracer.start_as_current_span("async-handler"):
                    await rt.traced(client.get, "httpx.send")(f"http://127.0.0.1:{port}/a")

        asyncio.run(main())
        with httpx.Client() as client, tracer.start_as_current_span("sync-handler"):
            rt.traced(client.get, "httpx.send")(f"http://127.0.0.1:{port}/b")
        print(json.dumps(received))
        dump()
        """,
    )
    assert result.returncode == 0, result.stderr
    headers_line, spans_line = result.stdout.strip().splitlines()
    spans = json.loads(spans_line)
    clients = [span for span in spans if span["kind"] == "CLIENT"]
    handlers = {span["name"]: span for span in spans if span["kind"] != "CLIENT"}
    assert len(clients) == 2
    for client, handler, headers in zip(
        clients, ("async-handler", "sync-handler"), json.loads(headers_line), strict=True
    ):
        assert_child(client, handlers[handler])
        assert client["attributes"]["http.response.status_code"] == 200
        assert headers["traceparent"].split("-")[1:3] == [client["trace_id"], client["span_id"]]
