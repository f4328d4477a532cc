"""Measurement hooks for benchmarks/recall, loaded by every Python process of a test run.

``run.py`` puts this folder first on ``PYTHONPATH`` of the project's test run, so the interpreter
imports this module at start-up, before pytest or the project import anything (the same moment
``opentelemetry-instrument`` uses). What it does depends on ``RECALL_MODE``:

``plain``
    nothing.
``otel``
    what ``opentelemetry-instrument`` does for the libraries measured: an SDK ``TracerProvider``
    with a ``SimpleSpanProcessor`` feeding a JSON-lines file exporter, then ``instrument()`` on
    each instrumentor installed in the project's venv (requests, httpx, sqlite3, Flask,
    SQLAlchemy, redis, aiohttp client and server, psycopg2, Celery, Django, urllib3, gRPC
    client and server, sync and aio, asyncpg).
    ``OTEL_SEMCONV_STABILITY_OPT_IN`` is set by ``run.py`` (``http,database``).
``codetrace``
    codetrace's runtime with its own pipeline (``CODETRACE_BACKEND=codetrace``) and its
    JSON-lines exporter; a processor in front of it tags each span with the library (which
    runtime adapter started it) and the call site. Nothing else: the instrumented source does
    the rest.
``truth``
    ground-truth counters. This is a measurement harness, not the product, so it patches:
    ``requests.Session.send``, ``httpx.Client.send`` and ``httpx.AsyncClient.send`` (the funnels
    every request of those clients goes through), ``sqlite3.connect`` (each connection gets a
    ``factory`` subclass that counts ``execute``/``executemany``/``executescript`` on the
    connection and its cursors, and ``commit``/``rollback``), ``flask.Flask.wsgi_app`` (requests
    an application handled), aiohttp's ``ClientSession._request`` and ``Application._handle``,
    psycopg2's connections and cursors (through ``psycopg2.connect``), Celery's task tracer
    (``build_tracer``), Django's ``BaseHandler.get_response``, urllib3's
    ``HTTPConnectionPool.urlopen``, gRPC's multi-callables (RPCs started) and the behaviours of
    the handlers its ``*_rpc_method_handler`` factories make (RPCs served), asyncpg's statement
    methods (connections, prepared statements, cursors), and on the server side ``cheroot``'s
    and ``http.server``'s request handlers (requests a loopback server received).

In every mode but ``plain`` each event records its *site*: the innermost frame whose file lies in
the project tree under test (``RECALL_PROJECT_ROOT``) and whether the library was called
directly from there (``direct``) or through other code (``via`` names it, e.g. SQLAlchemy).
Output goes to ``RECALL_OUT`` (one ``<mode>-<pid>.jsonl`` per process for spans/counts).
Everything is wrapped in ``try``: the harness must never change a test's outcome by failing.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import threading

MODE = os.environ.get("RECALL_MODE", "plain")
OUT = os.environ.get("RECALL_OUT", "")
ROOT = os.path.realpath(os.environ.get("RECALL_PROJECT_ROOT", "/nonexistent")) + os.sep
HERE = os.path.dirname(os.path.realpath(__file__)) + os.sep

# Frames of these are never "the caller": the tracers' and this harness's own code.
_SKIP_PARTS = (
    os.sep + "opentelemetry" + os.sep,
    os.sep + "wrapt" + os.sep,
    os.sep + "codetrace" + os.sep + "runtime" + os.sep,
    HERE,
    "<frozen",
)
# Library packages whose frames count as "the library itself" (a direct call goes from a
# project frame straight into one of these).
_LIB_PARTS = {
    "requests": (os.sep + "requests" + os.sep,),
    "httpx": (os.sep + "httpx" + os.sep,),
    "sqlite3": (os.sep + "sqlite3" + os.sep,),
    "flask": (os.sep + "flask" + os.sep, os.sep + "werkzeug" + os.sep),
    "sqlalchemy": (os.sep + "sqlalchemy" + os.sep, os.sep + "flask_sqlalchemy" + os.sep),
    "redis": (os.sep + "redis" + os.sep,),
    "aiohttp_client": (os.sep + "aiohttp" + os.sep,),
    "aiohttp_server": (os.sep + "aiohttp" + os.sep,),
    "psycopg2": (os.sep + "psycopg2" + os.sep,),
    "celery": (os.sep + "celery" + os.sep, os.sep + "kombu" + os.sep),
    "django": (os.sep + "django" + os.sep,),
    "urllib3": (os.sep + "urllib3" + os.sep,),
    "grpc": (os.sep + "grpc" + os.sep,),
    "grpc_client": (os.sep + "grpc" + os.sep,),
    "grpc_server": (os.sep + "grpc" + os.sep,),
    "asyncpg": (os.sep + "asyncpg" + os.sep,),
}
# Inside those packages, code that is not the library proper but a test tool built on it: a call
# through it is a call "via" other code (aiohttp's TestClient uses a session its own code built).
_NOT_LIB_PARTS = (
    os.sep + "aiohttp" + os.sep + "test_utils.py",
    os.sep + "aiohttp" + os.sep + "pytest_plugin.py",
)
_lock = threading.Lock()
_files: dict[int, object] = {}


def _short(path: str) -> str:
    if path.startswith(ROOT):
        return path[len(ROOT):]
    marker = os.sep + "site-packages" + os.sep
    if marker in path:
        return path.split(marker, 1)[1]
    return path


def site_of(frame, library: str | None = None) -> dict:
    """Innermost project frame at or above ``frame``; ``via``: the first non-library frame
    between it and the library, if any (None means the project called the library directly)."""
    via = None
    lib_parts = _LIB_PARTS.get(library or "", ())
    depth = 0
    while frame is not None and depth < 200:
        filename = frame.f_code.co_filename
        # "<frozen runpy>", "<string>": no file (realpath would put it under the working
        # directory, which is the project tree)
        real = filename if filename.startswith(("/", "<")) else os.path.realpath(filename)
        if real.startswith(ROOT):
            return {
                "site": f"{_short(real)}:{frame.f_lineno}",
                "func": frame.f_code.co_name,
                "via": via,
            }
        in_library = any(part in real for part in lib_parts) and not any(
            part in real for part in _NOT_LIB_PARTS)
        if via is None and not any(part in real for part in _SKIP_PARTS) and not in_library:
            via = _short(real)  # the innermost caller that is neither a tracer nor the library
        frame = frame.f_back
        depth += 1
    return {"site": None, "func": None, "via": via}


def _write(record: dict) -> None:
    if not OUT:
        return
    line = json.dumps(record, default=str) + "\n"
    with _lock:
        pid = os.getpid()
        handle = _files.get(pid)
        if handle is None:
            path = os.path.join(OUT, f"{MODE}-{pid}.jsonl")
            handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open, per process
            _files[pid] = handle
        handle.write(line)
        handle.flush()


# ---------------------------------------------------------------------------------------- otel

def _setup_otel() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class SiteProcessor(SpanProcessor):
        def on_start(self, span, parent_context=None):
            try:
                scope = span.instrumentation_scope.name if span.instrumentation_scope else ""
                library = scope.rsplit(".", 1)[-1]
                info = site_of(sys._getframe(1), library)
                span.set_attribute("recall.site", info["site"] or "")
                span.set_attribute("recall.via", info["via"] or "")
            except Exception:
                pass

    class FileExporter(SpanExporter):
        def export(self, spans):
            for span in spans:
                try:
                    scope = span.instrumentation_scope.name if span.instrumentation_scope else ""
                    attrs = dict(span.attributes or {})
                    _write({
                        "scope": scope,
                        "name": span.name,
                        "kind": span.kind.name,
                        "site": attrs.pop("recall.site", None) or None,
                        "via": attrs.pop("recall.via", None) or None,
                        "attributes": {k: v for k, v in attrs.items()
                                       if not k.startswith("db.statement")},
                    })
                except Exception:
                    pass
            return SpanExportResult.SUCCESS

        def shutdown(self):
            return None

    provider = TracerProvider()
    provider.add_span_processor(SiteProcessor())
    provider.add_span_processor(SimpleSpanProcessor(FileExporter()))
    trace.set_tracer_provider(provider)
    instrumentors = [
        ("opentelemetry.instrumentation.requests", "RequestsInstrumentor"),
        ("opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor"),
        ("opentelemetry.instrumentation.sqlite3", "SQLite3Instrumentor"),
        ("opentelemetry.instrumentation.flask", "FlaskInstrumentor"),
        ("opentelemetry.instrumentation.sqlalchemy", "SQLAlchemyInstrumentor"),
        ("opentelemetry.instrumentation.redis", "RedisInstrumentor"),
        ("opentelemetry.instrumentation.aiohttp_client", "AioHttpClientInstrumentor"),
        ("opentelemetry.instrumentation.aiohttp_server", "AioHttpServerInstrumentor"),
        ("opentelemetry.instrumentation.psycopg2", "Psycopg2Instrumentor"),
        ("opentelemetry.instrumentation.celery", "CeleryInstrumentor"),
        ("opentelemetry.instrumentation.django", "DjangoInstrumentor"),
        ("opentelemetry.instrumentation.urllib3", "URLLib3Instrumentor"),
        ("opentelemetry.instrumentation.grpc", "GrpcInstrumentorClient"),
        ("opentelemetry.instrumentation.grpc", "GrpcInstrumentorServer"),
        ("opentelemetry.instrumentation.grpc", "GrpcAioInstrumentorClient"),
        ("opentelemetry.instrumentation.grpc", "GrpcAioInstrumentorServer"),
        ("opentelemetry.instrumentation.asyncpg", "AsyncPGInstrumentor"),
    ]
    for module_name, class_name in instrumentors:
        try:
            module = __import__(module_name, fromlist=[class_name])
            getattr(module, class_name)().instrument()
        except Exception as exc:  # a library the project does not have
            _write({"event": "instrument-failed", "what": module_name, "error": repr(exc)})


# ----------------------------------------------------------------------------------- codetrace

_ADAPTER_FILES = {
    "_requests.py": "requests",
    "_httpx.py": "httpx",
    "_dbapi.py": "sqlite3",
    "_flask.py": "flask",
    "_sqlalchemy.py": "sqlalchemy",
    "_redis.py": "redis",
    "_aiohttp_client.py": "aiohttp_client",
    "_aiohttp_server.py": "aiohttp_server",
    "_psycopg2.py": "psycopg2",
    "_celery.py": "celery",
    "_django_middleware.py": "django",
    "_django_db.py": "django_orm",
    "_urllib3.py": "urllib3",
    "_urllib3_request.py": "urllib3",
    # client and server spans alike; run.py splits them by span kind
    "_grpc_client.py": "grpc",
    "_grpc_aio.py": "grpc",
    "_grpc_handlers.py": "grpc",
    "_grpc_server.py": "grpc",
    "_asyncpg.py": "asyncpg",
    "_asyncpg_spans.py": "asyncpg",
    "_asgi.py": "asgi",  # the ASGI hook (Starlette and other ASGI apps): SERVER spans
}


def _setup_codetrace() -> None:
    import codetrace.runtime as rt

    class TagProcessor(rt.SimpleSpanProcessor):
        """Tag each span with the runtime adapter that started it, and its call site."""

        def on_start(self, span) -> None:
            try:
                frame = sys._getframe(1)
                library = None
                probe = frame
                while probe is not None:
                    base = os.path.basename(probe.f_code.co_filename)
                    if base in _ADAPTER_FILES and (
                        os.sep + "runtime" + os.sep in probe.f_code.co_filename
                    ):
                        library = _ADAPTER_FILES[base]
                        break
                    probe = probe.f_back
                info = site_of(frame, library)
                span.attributes["recall.library"] = library or ""
                span.attributes["recall.site"] = info["site"] or ""
                span.attributes["recall.via"] = info["via"] or ""
            except Exception:
                pass

    exporter = rt.JsonLinesSpanExporter(os.path.join(OUT, f"codetrace-spans-{os.getpid()}.jsonl"))
    try:
        rt.configure(processor=TagProcessor(exporter), backend="codetrace")
    except TypeError:  # an older configure() without backend=
        rt.configure(processor=TagProcessor(exporter))


# --------------------------------------------------------------------------------------- truth

_counts: dict[tuple, int] = {}


def _count(library: str, op: str, frame) -> None:
    try:
        info = site_of(frame, library)
        key = (library, op, info["site"], info["via"])
        with _lock:
            _counts[key] = _counts.get(key, 0) + 1
    except Exception:
        pass


def _flush_counts() -> None:
    with _lock:
        items = list(_counts.items())
        _counts.clear()
    for (library, op, site, via), n in items:
        _write({"library": library, "op": op, "site": site, "via": via, "n": n})


def _wrap_method(cls, name: str, library: str, op: str, is_async: bool = False) -> None:
    original = cls.__dict__.get(name)
    if original is None or getattr(original, "_recall", False):
        return
    if is_async:
        async def wrapper(*args, **kwargs):
            _count(library, op, sys._getframe(1))
            return await original(*args, **kwargs)
    else:
        def wrapper(*args, **kwargs):
            _count(library, op, sys._getframe(1))
            return original(*args, **kwargs)
    wrapper._recall = True
    wrapper.__name__ = getattr(original, "__name__", name)
    wrapper.__qualname__ = getattr(original, "__qualname__", name)
    wrapper.__doc__ = getattr(original, "__doc__", None)
    setattr(cls, name, wrapper)


def _setup_truth() -> None:
    atexit.register(_flush_counts)
    if hasattr(os, "register_at_fork"):  # a forked child reports its own counts only
        os.register_at_fork(after_in_child=lambda: _counts.clear())
    try:
        import requests

        _wrap_method(requests.Session, "send", "requests", "send")
    except Exception:
        pass
    try:
        import httpx

        _wrap_method(httpx.Client, "send", "httpx", "send")
        _wrap_method(httpx.AsyncClient, "send", "httpx", "send", is_async=True)
    except Exception:
        pass
    try:
        import flask

        _wrap_method(flask.Flask, "wsgi_app", "flask", "request")
    except Exception:
        pass
    try:
        import http.server

        _wrap_method(http.server.BaseHTTPRequestHandler, "handle_one_request", "server",
                     "received")
    except Exception:
        pass
    try:
        import cheroot.server

        _wrap_method(cheroot.server.HTTPRequest, "respond", "server", "received")
    except Exception:
        pass
    with contextlib.suppress(Exception):
        _setup_sqlite_truth()
    with contextlib.suppress(Exception):
        _setup_redis_truth()
    with contextlib.suppress(Exception):
        _setup_aiohttp_truth()
    with contextlib.suppress(Exception):
        _setup_psycopg2_truth()
    with contextlib.suppress(Exception):
        _setup_celery_truth()
    with contextlib.suppress(Exception):
        _setup_urllib3_truth()
    with contextlib.suppress(Exception):
        _setup_grpc_truth()
    with contextlib.suppress(Exception):
        _setup_asyncpg_truth()
    try:
        import django.core.handlers.base

        _wrap_method(django.core.handlers.base.BaseHandler, "get_response", "django", "request")
    except Exception:
        pass


def _setup_urllib3_truth() -> None:
    """urllib3: one count per outermost call of ``HTTPConnectionPool.urlopen``.

    Every request of every urllib3 client (a pool, a ``PoolManager`` hop, ``urllib3.request``,
    requests' adapter) goes through a pool's ``urlopen``; a pool's own retries and same-host
    redirects call it again from inside, which is the same operation (one span on both
    tracers' side), so only the outermost call in a thread is counted."""
    import urllib3.connectionpool

    cls = urllib3.connectionpool.HTTPConnectionPool
    original = cls.__dict__.get("urlopen")
    if original is None or getattr(original, "_recall", False):
        return
    local = threading.local()

    def urlopen(*args, **kwargs):
        depth = getattr(local, "depth", 0)
        if depth == 0:
            _count("urllib3", "request", sys._getframe(1))
        local.depth = depth + 1
        try:
            return original(*args, **kwargs)
        finally:
            local.depth = depth

    urlopen._recall = True
    urlopen.__name__ = urlopen.__qualname__ = "urlopen"
    urlopen.__doc__ = original.__doc__
    cls.urlopen = urlopen


def _setup_grpc_truth() -> None:
    """gRPC: one count per RPC a client starts (``grpc_client``), one per RPC a server hands to
    a handler (``grpc_server``); sync and ``grpc.aio``.

    Client: the multi-callables a channel hands out (``channel.unary_unary(...)``, what a
    generated stub's methods are) start every RPC: ``__call__``, ``with_call`` and ``future``
    of grpc's sync ones (``grpc._channel``) and ``__call__`` of grpc.aio's. An intercepted
    channel's multi-callable ends in the underlying channel's, once per RPC the interceptors
    let through (a client interceptor that retries makes two RPCs, and two counts).

    Server: the sync server is Python but grpc.aio's is Cython, whose dispatch cannot be
    patched; both take their handlers from ``grpc.unary_unary_rpc_method_handler`` and its
    three siblings (generated ``add_*Servicer_to_server`` code and server interceptors that
    re-wrap a handler call them), so the wrapped factories give each handler a behaviour that
    counts when it is called. A server interceptor's behaviour calls the next handler's: only
    the outermost call in a thread or task counts (a context variable), i.e. one per RPC the
    server ran a handler for. The behaviour keeps its kind (function, coroutine function, async
    generator function): grpc.aio's server picks how to run it by that kind."""
    import contextvars
    import inspect

    import grpc
    import grpc._channel as sync_channel

    for cls_name, methods in (("_UnaryUnaryMultiCallable", ("__call__", "with_call", "future")),
                              ("_UnaryStreamMultiCallable", ("__call__",)),
                              ("_SingleThreadedUnaryStreamMultiCallable", ("__call__",)),
                              ("_StreamUnaryMultiCallable", ("__call__", "with_call", "future")),
                              ("_StreamStreamMultiCallable", ("__call__",))):
        cls = getattr(sync_channel, cls_name, None)
        for method in methods if cls is not None else ():
            _wrap_method(cls, method, "grpc_client", "rpc")
    with contextlib.suppress(Exception):
        import grpc.aio._channel as aio_channel

        for cls_name in ("UnaryUnaryMultiCallable", "UnaryStreamMultiCallable",
                         "StreamUnaryMultiCallable", "StreamStreamMultiCallable"):
            cls = getattr(aio_channel, cls_name, None)
            if cls is not None:
                _wrap_method(cls, "__call__", "grpc_client", "rpc")

    inside = contextvars.ContextVar("recall_grpc_behaviour", default=False)

    def counting(behavior):
        if behavior is None or getattr(behavior, "_recall", False):
            return behavior
        if inspect.isasyncgenfunction(behavior):
            async def wrapped(*args, **kwargs):
                outer = not inside.get()
                if outer:
                    _count("grpc_server", "rpc", sys._getframe(1))
                    inside.set(True)
                try:
                    async for item in behavior(*args, **kwargs):
                        yield item
                finally:
                    if outer:
                        inside.set(False)
        elif inspect.iscoroutinefunction(behavior):
            async def wrapped(*args, **kwargs):
                outer = not inside.get()
                if outer:
                    _count("grpc_server", "rpc", sys._getframe(1))
                    inside.set(True)
                try:
                    return await behavior(*args, **kwargs)
                finally:
                    if outer:
                        inside.set(False)
        else:
            def wrapped(*args, **kwargs):
                outer = not inside.get()
                if outer:
                    _count("grpc_server", "rpc", sys._getframe(1))
                    inside.set(True)
                try:
                    return behavior(*args, **kwargs)
                finally:
                    if outer:
                        inside.set(False)
        wrapped._recall = True
        wrapped.__name__ = getattr(behavior, "__name__", "behavior")
        wrapped.__qualname__ = getattr(behavior, "__qualname__", "behavior")
        return wrapped

    def wrap_factory(name: str) -> None:
        original = getattr(grpc, name, None)
        if original is None or getattr(original, "_recall", False):
            return

        def factory(behavior, *args, **kwargs):
            return original(counting(behavior), *args, **kwargs)

        factory._recall = True
        factory.__name__ = factory.__qualname__ = name
        factory.__doc__ = original.__doc__
        setattr(grpc, name, factory)

    for name in ("unary_unary_rpc_method_handler", "unary_stream_rpc_method_handler",
                 "stream_unary_rpc_method_handler", "stream_stream_rpc_method_handler"):
        wrap_factory(name)


def _setup_asyncpg_truth() -> None:
    """asyncpg: one count per round trip a statement method makes (op ``query``), and per
    ``asyncpg.connect`` (op ``connect``, in the JSON).

    Counted: ``Connection.execute``/``executemany``/``fetch``/``fetchrow``/``fetchval``/
    ``fetchmany`` and the four COPY methods (a pool's ``fetch``... acquire a connection and call
    its method, a transaction's ``BEGIN``/``COMMIT``/``ROLLBACK`` and a pool's reset query on
    release go through ``Connection.execute``), ``PreparedStatement.fetch``/``fetchrow``/
    ``fetchval``/``fetchmany``/``executemany``, ``Cursor.fetch``/``fetchrow``/``forward``, and a
    cursor iterator's ``__anext__`` when it goes to the server for the next ``prefetch`` rows
    (not when it hands out a row already fetched: codetrace's unit; OpenTelemetry makes a span
    per ``__anext__``). Only the outermost of these in a task counts (a context variable): a
    method asyncpg calls inside another is the same operation."""
    import contextvars

    import asyncpg
    import asyncpg.connection
    import asyncpg.cursor
    import asyncpg.prepared_stmt

    inside = contextvars.ContextVar("recall_asyncpg_call", default=False)

    def wrap(cls, name: str, round_trip=None) -> None:
        original = cls.__dict__.get(name)
        if original is None or getattr(original, "_recall", False):
            return

        async def counted(self, *args, **kwargs):
            outer = not inside.get() and (round_trip is None or round_trip(self))
            if not outer:
                return await original(self, *args, **kwargs)
            _count("asyncpg", "query", sys._getframe(1))
            token = inside.set(True)
            try:
                return await original(self, *args, **kwargs)
            finally:
                with contextlib.suppress(ValueError):
                    inside.reset(token)

        counted._recall = True
        counted.__name__ = getattr(original, "__name__", name)
        counted.__qualname__ = getattr(original, "__qualname__", name)
        counted.__doc__ = getattr(original, "__doc__", None)
        setattr(cls, name, counted)

    for name in ("execute", "executemany", "fetch", "fetchrow", "fetchval", "fetchmany",
                 "copy_from_table", "copy_from_query", "copy_to_table",
                 "copy_records_to_table"):
        wrap(asyncpg.connection.Connection, name)
    for name in ("fetch", "fetchrow", "fetchval", "fetchmany", "executemany"):
        wrap(asyncpg.prepared_stmt.PreparedStatement, name)
    for name in ("fetch", "fetchrow", "forward"):
        wrap(asyncpg.cursor.Cursor, name)

    def fetches(iterator) -> bool:
        """Whether this ``__anext__`` goes to the server (asyncpg's own conditions)."""
        exhausted = getattr(iterator, "_exhausted", False)
        return not exhausted and (not getattr(iterator, "_portal_name", None)
                                  or not getattr(iterator, "_buffer", None))

    wrap(asyncpg.cursor.CursorIterator, "__anext__", fetches)

    real_connect = asyncpg.connection.connect
    if not getattr(real_connect, "_recall", False):
        async def connect(*args, **kwargs):
            _count("asyncpg", "connect", sys._getframe(1))
            return await real_connect(*args, **kwargs)

        connect._recall = True
        connect.__doc__ = real_connect.__doc__
        asyncpg.connect = connect
        asyncpg.connection.connect = connect


def _setup_celery_truth() -> None:
    """Celery: one count per task execution (op ``run``), eager or in a worker.

    Every execution goes through the function ``celery.app.trace.build_tracer`` returns (eager:
    ``Task.apply`` builds one and calls it; a worker builds one per task type and calls it per
    message), so the wrapped ``build_tracer`` returns a function that counts each call. The
    site is the frame that asked for the execution (``delay()``, ``apply_async()``,
    ``apply()`` in eager mode). Messages published (``before_task_publish``) are counted apart
    (op ``publish``), through ``Task.apply_async`` when it does not run eagerly."""
    import celery.app.task
    import celery.app.trace

    real_build = celery.app.trace.build_tracer
    if getattr(real_build, "_recall", False):
        return

    def build_tracer(*args, **kwargs):
        tracer = real_build(*args, **kwargs)

        def counted(*targs, **tkwargs):
            _count("celery", "run", sys._getframe(1))
            return tracer(*targs, **tkwargs)

        return counted

    build_tracer._recall = True
    celery.app.trace.build_tracer = build_tracer
    from celery.signals import before_task_publish

    def published(**_kwargs):
        _count("celery", "publish", sys._getframe(1))

    before_task_publish.connect(published, weak=False)


def _setup_aiohttp_truth() -> None:
    """aiohttp: one count per request a ``ClientSession`` sends, one per request an
    ``Application`` handles.

    ``ClientSession._request`` is the coroutine every request method (``get``, ``request``,
    ``post``...) builds, redirects included (one call, as both tracers make one span per call);
    it is counted when it is called, synchronously, so the site is the frame that called the
    request method, not whatever task awaits it. ``Application._handle`` is what aiohttp's
    server calls for each request it parsed (test server or real one)."""
    import aiohttp
    import aiohttp.web_app

    original = aiohttp.ClientSession.__dict__.get("_request")
    if original is not None and not getattr(original, "_recall", False):
        def _request(*args, **kwargs):
            _count("aiohttp_client", "request", sys._getframe(1))
            return original(*args, **kwargs)

        _request._recall = True
        _request.__name__ = _request.__qualname__ = "_request"
        aiohttp.ClientSession._request = _request
    _wrap_method(aiohttp.web_app.Application, "_handle", "aiohttp_server", "request",
                 is_async=True)


def _setup_redis_truth() -> None:
    """redis-py: one count per command sent outside a pipeline, one per pipeline execution.

    That is the unit both tracers use (one span per ``execute_command``, one per
    ``Pipeline.execute``), counted at the same funnels: ``Redis.execute_command`` (every command
    method ends there; a ``Pipeline`` overrides it to queue, so queued commands are not counted
    there), ``Pipeline.immediate_execute_command`` (a command run at once while ``WATCH``-ing)
    and ``Pipeline.execute``, sync and ``redis.asyncio``. An ``execute()`` with nothing queued
    and nothing watched sends nothing: it is counted apart (``pipeline_empty``), not in the row.
    """
    import redis.client

    def count_pipeline(pipeline) -> None:
        sends = bool(getattr(pipeline, "command_stack", None)) or bool(
            getattr(pipeline, "watching", False))
        _count("redis", "pipeline" if sends else "pipeline_empty", sys._getframe(2))

    def wrap_execute(cls, is_async: bool) -> None:
        original = cls.__dict__.get("execute")
        if original is None or getattr(original, "_recall", False):
            return
        if is_async:
            async def execute(self, *args, **kwargs):
                count_pipeline(self)
                return await original(self, *args, **kwargs)
        else:
            def execute(self, *args, **kwargs):
                count_pipeline(self)
                return original(self, *args, **kwargs)
        execute._recall = True
        execute.__name__ = execute.__qualname__ = "execute"
        execute.__doc__ = getattr(original, "__doc__", None)
        cls.execute = execute

    _wrap_method(redis.client.Redis, "execute_command", "redis", "command")
    _wrap_method(redis.client.Pipeline, "immediate_execute_command", "redis", "command")
    wrap_execute(redis.client.Pipeline, False)
    try:
        import redis.asyncio.client as aio
    except Exception:
        return
    _wrap_method(aio.Redis, "execute_command", "redis", "command", is_async=True)
    _wrap_method(aio.Pipeline, "immediate_execute_command", "redis", "command", is_async=True)
    wrap_execute(aio.Pipeline, True)


def _setup_psycopg2_truth() -> None:
    """psycopg2: one count per statement method a cursor runs (``execute``, ``executemany``,
    ``callproc``: op ``query``; ``copy_expert``, ``copy_from``, ``copy_to``: op ``copy``), and
    ``commit``/``rollback`` (op ``transaction``), ``connect`` (op ``connect``).

    psycopg2's connection and cursor are C types whose methods cannot be replaced, so the
    wrapped ``psycopg2.connect`` opens every connection as a counting subclass of the
    ``connection_factory`` asked for (``psycopg2.extensions.connection`` by default), and that
    connection's ``cursor()`` hands out counting subclasses of the cursor class psycopg2 would
    use. A connection class that picks its cursor class itself in ``cursor()``
    (``LoggingConnection``, ``DictConnection``) returns an instance of a Python class: it is
    made an instance of the counting subclass of that class (same layout)."""
    import psycopg2
    import psycopg2.extensions as ext

    real_connect = psycopg2.connect
    cursor_classes: dict[type, type] = {}
    connection_classes: dict[type, type] = {}

    def counting_cursor(base: type) -> type:
        cls = cursor_classes.get(base)
        if cls is None:
            def method(name: str, op: str):
                def counted(self, *args, **kwargs):
                    _count("psycopg2", op, sys._getframe(1))
                    return getattr(super(cls, self), name)(*args, **kwargs)
                counted.__name__ = name
                return counted

            namespace = {name: method(name, "query")
                         for name in ("execute", "executemany", "callproc")}
            namespace.update({name: method(name, "copy")
                              for name in ("copy_expert", "copy_from", "copy_to")})
            cls = type(base.__name__, (base,), namespace)
            cls.__qualname__ = base.__qualname__
            cursor_classes[base] = cls
        return cls

    def counting_connection(base: type) -> type:
        cls = connection_classes.get(base)
        if cls is None:
            picks_its_own = base.cursor is not ext.connection.cursor

            def cursor(self, *args, **kwargs):
                if picks_its_own:
                    made = super(cls, self).cursor(*args, **kwargs)
                    kind = type(made)
                    if kind is not ext.cursor and isinstance(made, ext.cursor):
                        with contextlib.suppress(TypeError):
                            made.__class__ = counting_cursor(kind)
                    return made
                factory = kwargs.get("cursor_factory")
                if factory is None and len(args) < 2:
                    factory = self.cursor_factory or ext.cursor
                if isinstance(factory, type) and issubclass(factory, ext.cursor):
                    kwargs["cursor_factory"] = counting_cursor(factory)
                return super(cls, self).cursor(*args, **kwargs)

            def commit(self):
                _count("psycopg2", "transaction", sys._getframe(1))
                return super(cls, self).commit()

            def rollback(self):
                _count("psycopg2", "transaction", sys._getframe(1))
                return super(cls, self).rollback()

            cls = type(base.__name__, (base,), {"cursor": cursor, "commit": commit,
                                                "rollback": rollback})
            cls.__qualname__ = base.__qualname__
            connection_classes[base] = cls
        return cls

    def connect(dsn=None, connection_factory=None, cursor_factory=None, **kwargs):
        _count("psycopg2", "connect", sys._getframe(1))
        base = connection_factory if connection_factory is not None else ext.connection
        if isinstance(base, type) and issubclass(base, ext.connection):
            connection_factory = counting_connection(base)
        return real_connect(dsn, connection_factory=connection_factory,
                            cursor_factory=cursor_factory, **kwargs)

    connect.__doc__ = real_connect.__doc__
    psycopg2.connect = connect


def _setup_sqlite_truth() -> None:
    import sqlite3
    import sqlite3.dbapi2

    real_connect = sqlite3.connect
    cursor_classes: dict[type, type] = {}
    connection_classes: dict[type, type] = {}

    def counting_cursor(base: type) -> type:
        cls = cursor_classes.get(base)
        if cls is None:
            class CountingCursor(base):  # type: ignore[misc, valid-type]
                def execute(self, *args, **kwargs):
                    _count("sqlite3", "query", sys._getframe(1))
                    return super().execute(*args, **kwargs)

                def executemany(self, *args, **kwargs):
                    _count("sqlite3", "query", sys._getframe(1))
                    return super().executemany(*args, **kwargs)

                def executescript(self, *args, **kwargs):
                    _count("sqlite3", "query", sys._getframe(1))
                    return super().executescript(*args, **kwargs)

            CountingCursor.__name__ = base.__name__
            CountingCursor.__qualname__ = base.__qualname__
            cls = cursor_classes[base] = CountingCursor
        return cls

    def counting_connection(base: type) -> type:
        cls = connection_classes.get(base)
        if cls is None:
            class CountingConnection(base):  # type: ignore[misc, valid-type]
                def cursor(self, factory=None):
                    if factory is None:
                        return super().cursor(counting_cursor(sqlite3.Cursor))
                    if isinstance(factory, type) and issubclass(factory, sqlite3.Cursor):
                        return super().cursor(counting_cursor(factory))
                    return super().cursor(factory)

                def execute(self, *args, **kwargs):
                    _count("sqlite3", "query", sys._getframe(1))
                    return super().execute(*args, **kwargs)

                def executemany(self, *args, **kwargs):
                    _count("sqlite3", "query", sys._getframe(1))
                    return super().executemany(*args, **kwargs)

                def executescript(self, *args, **kwargs):
                    _count("sqlite3", "query", sys._getframe(1))
                    return super().executescript(*args, **kwargs)

                def commit(self):
                    _count("sqlite3", "transaction", sys._getframe(1))
                    return super().commit()

                def rollback(self):
                    _count("sqlite3", "transaction", sys._getframe(1))
                    return super().rollback()

            CountingConnection.__name__ = base.__name__
            CountingConnection.__qualname__ = base.__qualname__
            cls = connection_classes[base] = CountingConnection
        return cls

    def connect(*args, **kwargs):
        _count("sqlite3", "connect", sys._getframe(1))
        factory = kwargs.get("factory")
        if len(args) < 6:  # factory is the 6th positional parameter
            base = factory if factory is not None else sqlite3.Connection
            if isinstance(base, type) and issubclass(base, sqlite3.Connection):
                kwargs["factory"] = counting_connection(base)
        return real_connect(*args, **kwargs)

    connect.__doc__ = real_connect.__doc__
    sqlite3.connect = connect
    sqlite3.dbapi2.connect = connect


def _main() -> None:
    if MODE == "plain" or not OUT:
        return
    try:
        os.makedirs(OUT, exist_ok=True)
        if MODE == "otel":
            _setup_otel()
        elif MODE == "codetrace":
            _setup_codetrace()
        elif MODE == "truth":
            _setup_truth()
    except Exception as exc:
        with contextlib.suppress(Exception):
            _write({"event": "setup-failed", "mode": MODE, "error": repr(exc)})


_main()
