"""The public surface, the import cost and the standard-library-only promise."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import codetrace.runtime as rt

EXPECTED_API = [
    "BatchSpanProcessor",
    "ConsoleSpanExporter",
    "Context",
    "Event",
    "InMemorySpanExporter",
    "JsonLinesSpanExporter",
    "OTLPSpanExporter",
    "SimpleSpanProcessor",
    "Span",
    "SpanKind",
    "StatusCode",
    "configure",
    "current_span",
    "extract",
    "force_flush",
    "hooks",
    "inject",
    "make_dbapi_adapter",
    "register_adapter",
    "register_exporter",
    "reset",
    "resource_attributes",
    "shutdown",
    "span",
    "span_function",
    "traced",
    "traced_context",
    "use_context",
]


def test_public_surface_is_exactly_the_curated_list() -> None:
    # Changing the public API is a decision: update EXPECTED_API (and the docs) with it.
    assert rt.__all__ == EXPECTED_API
    assert rt.__all__ == sorted(rt.__all__)
    for name in rt.__all__:
        assert hasattr(rt, name), name


LAZY_API = {
    "BatchSpanProcessor": "codetrace.runtime._batch",
    "OTLPSpanExporter": "codetrace.runtime._otlp",
    "make_dbapi_adapter": "codetrace.runtime._dbapi",
}
"""Public names loaded on first access (their modules cost milliseconds to import)."""


def test_no_public_name_outside_all() -> None:
    public = {name for name in vars(rt) if not name.startswith("_")}
    assert public <= set(rt.__all__)
    assert set(rt.__all__) - public <= set(LAZY_API)  # the lazy ones not yet touched
    assert {name for name in dir(rt) if not name.startswith("_")} == set(rt.__all__)


def test_public_names_are_what_they_claim() -> None:
    from codetrace.runtime._batch import BatchSpanProcessor
    from codetrace.runtime._dbapi import make_dbapi_adapter
    from codetrace.runtime._otlp._http import OTLPSpanExporter

    assert rt.BatchSpanProcessor is BatchSpanProcessor
    assert rt.OTLPSpanExporter is OTLPSpanExporter
    assert rt.make_dbapi_adapter is make_dbapi_adapter
    with pytest.raises(AttributeError):
        rt.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def test_the_public_pieces_work_together() -> None:
    """A batch processor over an exporter, and a DB-API adapter made by the public factory."""
    exporter = rt.InMemorySpanExporter()
    processor = rt.BatchSpanProcessor(exporter, schedule_delay_ms=60_000)
    rt.configure(processor=processor, sampler="always_on")
    adapter = rt.make_dbapi_adapter("sqlite")
    rt.register_adapter("public.sqlite.query", adapter)
    import sqlite3

    connection = sqlite3.connect(":memory:")
    try:
        rt.traced(connection.execute, "public.sqlite.query")("SELECT 1")
    finally:
        connection.close()
    assert processor.force_flush(5.0)
    (finished,) = exporter.get_finished_spans()
    assert finished.name == "SELECT"
    assert finished.attributes["db.system.name"] == "sqlite"
    assert rt.OTLPSpanExporter(endpoint="http://127.0.0.1:9/v1/traces").protocol == "http/protobuf"
    rt.reset()


def test_lazy_public_names_load_their_module_on_first_access_only() -> None:
    out = _run(
        f"""
        import sys
        import codetrace.runtime as rt
        lazy = {LAZY_API!r}
        print(sorted(name for name, module in lazy.items() if module in sys.modules))
        for name in sorted(lazy):
            getattr(rt, name)
        print(sorted(name for name, module in lazy.items() if module in sys.modules))
        """
    )
    assert out.splitlines() == ["[]", repr(sorted(LAZY_API))]


def test_hooks_namespace() -> None:
    # the exact list is _catalogue.HOOKS (tests/runtime/test_catalogue.py); these must stay
    assert {"aiohttp_app", "flask"} <= set(rt.hooks.__all__)
    assert callable(rt.hooks.flask) and callable(rt.hooks.aiohttp_app)


def test_kind_and_status_numbers_are_otlp() -> None:
    assert (rt.SpanKind.INTERNAL, rt.SpanKind.SERVER, rt.SpanKind.CLIENT) == (1, 2, 3)
    assert (rt.SpanKind.PRODUCER, rt.SpanKind.CONSUMER) == (4, 5)
    assert (rt.StatusCode.UNSET, rt.StatusCode.OK, rt.StatusCode.ERROR) == (0, 1, 2)


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(__import__("pathlib").Path(rt.__file__).parents[2]),
    )
    return result.stdout


def test_import_adds_only_standard_library_modules() -> None:
    out = _run(
        """
        import sys
        before = set(sys.modules)
        import codetrace.runtime
        added = set(sys.modules) - before
        foreign = sorted(
            name for name in added
            if name.split(".")[0] not in sys.stdlib_module_names
            and name.split(".")[0] != "codetrace"
        )
        print(foreign)
        print(sorted(name for name in added if name.startswith("codetrace.") and "_otlp" in name))
        """
    )
    assert out.splitlines() == ["[]", "[]"]


def test_import_does_not_load_heavy_modules() -> None:
    # What makes an import cost milliseconds; the runtime loads these on first use only.
    out = _run(
        """
        import sys
        before = set(sys.modules)
        import codetrace.runtime
        added = set(sys.modules) - before
        heavy = ["typing", "logging", "json", "threading", "urllib.parse", "re", "inspect",
                 "enum", "asyncio", "traceback", "random", "functools", "collections"]
        print(sorted(name for name in heavy if name in added))
        """
    )
    assert out.strip() == "[]"


def test_ids_differ_across_fork() -> None:
    out = _run(
        """
        import os
        import codetrace.runtime as rt
        with rt.span("warm-up"):
            pass
        read, write = os.pipe()
        pid = os.fork()
        with rt.span("x") as s:
            pass
        if pid == 0:
            os.write(write, s.trace_id.to_bytes(16, "big"))
            os._exit(0)
        os.waitpid(pid, 0)
        print(int.from_bytes(os.read(read, 16), "big") != s.trace_id)
        """
    )
    assert out.strip() == "True"


def test_import_is_fast() -> None:
    out = _run(
        """
        import time
        start = time.perf_counter()
        import codetrace.runtime
        print(time.perf_counter() - start)
        """
    )
    # A few ms on a quiet machine with bytecode cached; generous for CI and uncached bytecode.
    assert float(out) < 0.1


def test_import_and_first_span_emit_no_warnings() -> None:
    # -W error turns any warning into a failure of the subprocess.
    out = _run(
        """
        import codetrace.runtime as rt
        with rt.span("x"):
            rt.traced(len, "some.rule")([1, 2])
        print("ok")
        """
    )
    assert out.strip() == "ok"


def test_disabled_traced_returns_the_callee_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    rt.reset()

    def f() -> int:
        return 1

    assert rt.traced(f, "requests.send") is f
    assert rt.traced(f, "any.rule") is f
    with rt.span("x") as s:
        assert rt.current_span() is None
        assert not s.is_recording()
    carrier: dict[str, str] = {}
    rt.inject(carrier)
    assert carrier == {}


def test_disabled_is_read_at_import() -> None:
    out = _run(
        """
        import os
        os.environ["OTEL_SDK_DISABLED"] = "TRUE"
        import codetrace.runtime as rt
        print(rt.traced(len, "x") is len)
        """
    )
    assert out.strip() == "True"


def test_disabled_can_be_reconfigured_in_code() -> None:
    rt.configure(disabled=True)
    assert rt.traced(len, "x") is len
    rt.configure(disabled=False)
    assert rt.traced(len, "x") is not len
