"""The ``django`` hook on a real Django project (``django_project/``) served on 127.0.0.1.

The WSGI application is served by ``wsgiref`` in a thread, the ASGI one by uvicorn in a thread
(``asgi_server``); the client is httpx traced by codetrace's ``httpx.client`` construction
adapter, so each request is a CLIENT span whose ``traceparent`` the Django server continues: one
connected trace across a real socket. The ORM runs on a real SQLite file. Django's settings are
process-wide, so this module configures them once (the PostgreSQL and fidelity tests run in
subprocesses of their own: test_django_postgres.py, test_django_fidelity.py).
"""

from __future__ import annotations

import logging
import os
import threading
import time
import wsgiref.simple_server
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_server import serve
from span_checks import SECRET, nothing_secret

import codetrace.runtime as rt
from codetrace.runtime import hooks
from codetrace.runtime._django_middleware import PATH


@pytest.fixture(scope="module")
def django_ready(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    database = tmp_path_factory.mktemp("django") / "db.sqlite3"
    names = ("CODETRACE_TEST_DJANGO_DB", "DJANGO_SETTINGS_MODULE")
    saved = {name: os.environ.get(name) for name in names}
    os.environ["CODETRACE_TEST_DJANGO_DB"] = str(database)
    os.environ["DJANGO_SETTINGS_MODULE"] = "django_project.settings"
    import django

    django.setup()
    from django.db import connection
    from django_project.shop.models import Item

    with connection.schema_editor() as editor:
        editor.create_model(Item)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class ThreadingWSGIServer(wsgiref.simple_server.WSGIServer):
    daemon_threads = True


@pytest.fixture(scope="module")
def wsgi_url(django_ready: None) -> Iterator[str]:
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    hooks.django(application)  # what `codetrace apply` writes after the assignment in wsgi.py
    httpd = wsgiref.simple_server.make_server(
        "127.0.0.1", 0, application, server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def asgi_url(django_ready: None) -> Iterator[str]:
    from django.core.asgi import get_asgi_application

    with serve(hooks.django(get_asgi_application())) as url:
        yield url


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with rt.traced(httpx.Client, "httpx.client")(timeout=10) as traced_client:
        yield traced_client


def wait_for(
    exporter: rt.InMemorySpanExporter, test: Callable[[list[rt.Span]], bool]
) -> list[rt.Span]:
    deadline = time.monotonic() + 5
    while True:
        spans = list(exporter.get_finished_spans())
        if test(spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.005)


def server_span(exporter: rt.InMemorySpanExporter) -> rt.Span:
    spans = wait_for(exporter, lambda s: any(x.kind == rt.SpanKind.SERVER for x in s))
    (span,) = [s for s in spans if s.kind == rt.SpanKind.SERVER]
    return span


def client_span(exporter: rt.InMemorySpanExporter) -> rt.Span:
    spans = exporter.get_finished_spans()
    (span,) = [s for s in spans if s.kind == rt.SpanKind.CLIENT and s.attributes.get("url.full")]
    return span


# -- requests --------------------------------------------------------------------------------------


def test_wsgi_request_continues_the_callers_trace_with_stable_attributes(
    exporter: rt.InMemorySpanExporter, wsgi_url: str, client: httpx.Client
) -> None:
    response = client.get(f"{wsgi_url}/api/items/7/?q=1", headers={"User-Agent": "tests/1.0"})
    assert response.status_code == 200 and response.json() == {"name": None}
    server = server_span(exporter)
    caller = client_span(exporter)
    assert server.trace_id == caller.trace_id
    assert server.parent_id == caller.span_id  # the client span is the server span's parent
    assert server.name == "GET api/items/<int:pk>/"
    port = int(wsgi_url.rsplit(":", 1)[1])
    assert server.attributes == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": "/api/items/7/",
        "url.query": "q=1",
        "server.address": "127.0.0.1",
        "server.port": port,
        "client.address": "127.0.0.1",
        "network.peer.address": "127.0.0.1",
        "network.protocol.version": "1.1",
        "user_agent.original": "tests/1.0",
        "http.route": "api/items/<int:pk>/",
        "http.response.status_code": 200,
    }
    assert server.status_code == rt.StatusCode.UNSET


def test_orm_statements_are_client_spans_under_the_request(
    exporter: rt.InMemorySpanExporter, wsgi_url: str, client: httpx.Client
) -> None:
    assert client.post(f"{wsgi_url}/api/items/?name=lamp").status_code == 200
    server = server_span(exporter)
    sql = [s for s in exporter.get_finished_spans() if "db.system.name" in s.attributes]
    # Django quotes its identifiers; the summary keeps them as written (``_sql``)
    assert [s.name for s in sql] == ['INSERT "shop_item"', 'SELECT "shop_item"']
    for span in sql:
        assert span.kind == rt.SpanKind.CLIENT
        assert span.parent_id == server.span_id and span.trace_id == server.trace_id
        assert span.attributes["db.system.name"] == "sqlite"
        assert str(span.attributes["db.namespace"]).endswith("db.sqlite3")
    select = sql[1].attributes
    assert select["db.query.summary"] == 'SELECT "shop_item"'
    text = str(select["db.query.text"])
    assert text.startswith('SELECT "shop_item"."id"') and '"shop_item"."price" >= %s' in text


def test_view_exception_is_recorded_on_the_500(
    exporter: rt.InMemorySpanExporter, wsgi_url: str, client: httpx.Client
) -> None:
    response = client.get(f"{wsgi_url}/boom/")
    assert response.status_code == 500  # Django's answer, unchanged
    span = server_span(exporter)
    assert span.name == "GET boom/"
    assert span.attributes["http.response.status_code"] == 500
    assert span.attributes["error.type"] == "ValueError"
    assert span.status_code == rt.StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]


def test_5xx_response_is_an_error_4xx_and_404_are_not(
    exporter: rt.InMemorySpanExporter, wsgi_url: str, client: httpx.Client
) -> None:
    assert client.get(f"{wsgi_url}/unavailable/").status_code == 503
    span = server_span(exporter)
    assert span.attributes["error.type"] == "503" and span.status_code == rt.StatusCode.ERROR
    exporter.clear()
    assert client.get(f"{wsgi_url}/nowhere/").status_code == 404
    span = server_span(exporter)
    assert span.name == "GET" and "http.route" not in span.attributes
    assert "error.type" not in span.attributes and span.status_code == rt.StatusCode.UNSET


def test_regex_route_is_the_pattern(
    exporter: rt.InMemorySpanExporter, wsgi_url: str, client: httpx.Client
) -> None:
    assert client.get(f"{wsgi_url}/archive/2024/").text == "2024"
    assert server_span(exporter).name == "GET ^archive/(?P<year>[0-9]{4})/$"


@pytest.mark.parametrize(
    "variable", ["OTEL_PYTHON_DJANGO_EXCLUDED_URLS", "OTEL_PYTHON_EXCLUDED_URLS"]
)
def test_excluded_urls_make_no_server_span(
    exporter: rt.InMemorySpanExporter,
    wsgi_url: str,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    monkeypatch.setenv(variable, r"/health/$,^nomatch")
    rt.reset()
    rt.configure(exporter=exporter)
    with httpx.Client(timeout=10) as plain:
        assert plain.get(f"{wsgi_url}/health/").text == "ok"
        assert plain.get(f"{wsgi_url}/archive/2024/").status_code == 200
    spans = wait_for(exporter, lambda s: len(s) >= 1)
    assert [s.name for s in spans] == ["GET ^archive/(?P<year>[0-9]{4})/$"]


def test_captured_headers_request_and_response(
    exporter: rt.InMemorySpanExporter,
    wsgi_url: str,
    asgi_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST", "x-request-id")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE", "content-type")
    rt.reset()
    rt.configure(exporter=exporter)
    for url in (wsgi_url, asgi_url):
        exporter.clear()
        with httpx.Client(timeout=10) as plain:
            assert plain.get(f"{url}/health/", headers={"X-Request-Id": "r-1"}).text == "ok"
        attributes = server_span(exporter).attributes
        assert attributes["http.request.header.x-request-id"] == ["r-1"]
        assert attributes["http.response.header.content-type"] == ["text/html; charset=utf-8"]


def test_disabled_runtime_traces_nothing_and_changes_nothing(
    exporter: rt.InMemorySpanExporter, wsgi_url: str
) -> None:
    rt.configure(disabled=True)
    with httpx.Client(timeout=10) as plain:
        response = plain.get(f"{wsgi_url}/boom/")
    assert response.status_code == 500
    time.sleep(0.05)
    assert exporter.get_finished_spans() == ()


def test_asgi_request_continues_the_callers_trace(
    exporter: rt.InMemorySpanExporter, asgi_url: str, client: httpx.Client
) -> None:
    assert client.get(f"{asgi_url}/async/ada/").text == "hello ada"
    server = server_span(exporter)
    caller = client_span(exporter)
    assert server.parent_id == caller.span_id and server.trace_id == caller.trace_id
    assert server.name == "GET async/<str:name>/"
    assert server.attributes["network.protocol.version"] == "1.1"
    assert server.attributes["url.scheme"] == "http"
    assert server.attributes["client.address"] == "127.0.0.1"
    assert isinstance(server.attributes["client.port"], int)  # from the ASGI scope
    assert server.attributes["http.response.status_code"] == 200


def test_asgi_sync_view_orm_spans_are_children(
    exporter: rt.InMemorySpanExporter, asgi_url: str, client: httpx.Client
) -> None:
    assert client.get(f"{asgi_url}/api/items/1/").status_code == 200
    server = server_span(exporter)
    sql = [s for s in exporter.get_finished_spans() if "db.system.name" in s.attributes]
    assert [s.name for s in sql] == ["SELECT", 'SELECT "shop_item"']
    assert all(s.parent_id == server.span_id for s in sql)
    assert client.get(f"{asgi_url}/boom/").status_code == 500
    errors = [s for s in wait_for(exporter, lambda s: len(s) >= 6) if s.name == "GET boom/"]
    assert errors and errors[0].attributes["error.type"] == "ValueError"


# -- the hook --------------------------------------------------------------------------------------


def test_hook_twice_adds_the_middleware_once_and_later_handlers_are_traced(
    exporter: rt.InMemorySpanExporter, wsgi_url: str
) -> None:
    from django.conf import settings
    from django.test import Client

    assert list(settings.MIDDLEWARE).count(PATH) == 1 and settings.MIDDLEWARE[0] == PATH
    from django.core.wsgi import get_wsgi_application

    again = get_wsgi_application()
    assert hooks.django(hooks.django(again)) is again
    assert list(settings.MIDDLEWARE).count(PATH) == 1
    response = Client().get("/archive/1999/")  # Django's test client builds its own handler
    assert response.status_code == 200
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET ^archive/(?P<year>[0-9]{4})/$"


def test_hook_leaves_what_is_not_a_handler_alone(
    django_ready: None, caplog: pytest.LogCaptureFixture
) -> None:
    def wsgi_app(environ: object, start_response: object) -> list[bytes]:
        return []

    with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
        assert hooks.django(wsgi_app) is wsgi_app
    assert "could not instrument the Django application" in caplog.text


# -- SQL outside requests --------------------------------------------------------------------------


def test_executemany_is_a_batch_and_failures_are_scrubbed(
    exporter: rt.InMemorySpanExporter, wsgi_url: str
) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO shop_item (name, price) VALUES (%s, %s)",
            [(SECRET, 1), ("b", 2), ("c", 3)],
        )
        with pytest.raises(Exception) as raised:
            cursor.execute(f"SELECT * FROM missing_table WHERE name = '{SECRET}'")
    assert type(raised.value).__module__ == "django.db.utils"  # what the app always saw
    batch, failed = exporter.get_finished_spans()
    assert batch.name == "BATCH INSERT shop_item"
    assert batch.attributes["db.operation.batch.size"] == 3
    # the text as Django's backend gets it (its SQLite cursor turns %s into ? for the driver)
    assert batch.attributes["db.query.text"] == (
        "INSERT INTO shop_item (name, price) VALUES (%s, %s)"
    )
    assert failed.attributes["error.type"] == "sqlite3.OperationalError"
    assert failed.status_code == rt.StatusCode.ERROR
    assert [e.name for e in failed.events] == ["exception"]
    nothing_secret([batch, failed])


def test_connections_opened_later_are_traced(
    exporter: rt.InMemorySpanExporter, wsgi_url: str
) -> None:
    from django.db import connection

    connection.close()

    def other_thread() -> None:
        from django.db import connection as mine

        with mine.cursor() as cursor:
            cursor.execute("SELECT 1")
        mine.close()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(5)
    with connection.cursor() as cursor:  # reconnects
        cursor.execute("SELECT 2")
    assert [s.name for s in exporter.get_finished_spans()] == ["SELECT", "SELECT"]


def test_namespace_follows_the_settings_django_changes(
    exporter: rt.InMemorySpanExporter, wsgi_url: str
) -> None:
    from django.db import connection

    original = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        connection.settings_dict["NAME"] = "test_renamed"  # as Django's test runner does
        try:
            cursor.execute("SELECT 1")
        finally:
            connection.settings_dict["NAME"] = original
    first, second = exporter.get_finished_spans()
    assert first.attributes["db.namespace"] == original
    assert second.attributes["db.namespace"] == "test_renamed"


def test_project_files_are_what_startproject_writes() -> None:
    here = Path(__file__).parent / "django_project"
    assert "get_wsgi_application()" in (here / "wsgi.py").read_text()
    assert "get_asgi_application()" in (here / "asgi.py").read_text()


def test_async_chain_gets_coroutine_hooks_so_django_adds_no_thread_hop(django_ready: None) -> None:
    from asgiref.sync import iscoroutinefunction

    from codetrace.runtime._django_middleware import TracingMiddleware

    async def get_response(request: object) -> object:
        return request

    middleware = TracingMiddleware(get_response)
    assert iscoroutinefunction(middleware)
    assert iscoroutinefunction(middleware.process_view)
    assert iscoroutinefunction(middleware.process_exception)
    plain = TracingMiddleware(lambda request: request)
    assert not iscoroutinefunction(plain) and not iscoroutinefunction(plain.process_view)
