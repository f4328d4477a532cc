"""The catalogue: adapter and hook names, the contract between rule files and the runtime.

``_catalogue`` is read by the engine to validate rule files, so it must import nothing, and
everything it names must exist: each hook in ``codetrace.runtime.hooks``, each adapter module
with an ``adapter``. A hook name the runtime does not know never raises.
"""

from __future__ import annotations

import ast
import importlib
import logging
import pickle
from pathlib import Path

import pytest

import codetrace.runtime as rt
from codetrace.runtime import _catalogue, _traced, hooks

BUILTIN_ADAPTER_NAMES = [
    "aiohttp.client",
    "asyncpg.connect",
    "asyncpg.pool",
    "boto3.client",
    "flask_sqlalchemy.extension",
    "grpc.channel",
    "grpc.server",
    "httpx.client",
    "httpx.send",
    "mysqlclient.connect",
    "mysqlclient.query",
    "mysqlclient.transaction",
    "psycopg.connect",
    "psycopg.pool",
    "psycopg2.connect",
    "psycopg2.pool",
    "pymongo.client",
    "pymysql.connect",
    "pymysql.query",
    "pymysql.transaction",
    "redis.client",
    "redis.factory",
    "requests.send",
    "requests.session",
    "sqlalchemy.engine",
    "sqlite3.connect",
    "sqlite3.query",
    "sqlite3.transaction",
    "urllib.opener",
    "urllib.urlopen",
    "urllib3.pool",
    "urllib3.request",
]


def test_catalogue_imports_nothing() -> None:
    tree = ast.parse(Path(_catalogue.__file__).read_bytes())
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert imports == []


def test_builtin_adapter_names_never_change() -> None:
    # Instrumented code in the wild names these: renaming one would untrace it silently.
    assert sorted(_catalogue.ADAPTERS) == BUILTIN_ADAPTER_NAMES


@pytest.mark.parametrize("name", sorted(_catalogue.ADAPTERS))
def test_every_adapter_module_has_an_adapter(name: str) -> None:
    module = importlib.import_module(_catalogue.ADAPTERS[name])
    assert callable(module.adapter)
    assert _traced.adapter_for(name) is module.adapter  # traced() looks names up there


def test_every_hook_exists_in_hooks() -> None:
    assert hooks.__all__ == list(_catalogue.HOOKS)
    for name in _catalogue.HOOKS:
        assert callable(vars(hooks).get(name)), name  # defined, not made up by __getattr__
    defined = {
        name
        for name, value in vars(hooks).items()
        if callable(value) and not name.startswith("_") and value.__module__ == hooks.__name__
    }
    assert defined == set(_catalogue.HOOKS)


def test_unknown_adapter_name_gets_a_generic_span_named_by_it(
    exporter: rt.InMemorySpanExporter,
) -> None:
    assert rt.traced(lambda: 7, "mylib.thing")() == 7
    (span,) = exporter.get_finished_spans()
    assert span.name == "mylib.thing" and span.kind == rt.SpanKind.INTERNAL


def test_register_adapter_overrides_a_builtin_name() -> None:
    calls: list[str] = []

    def mine(callee: object, /, *args: object, **kwargs: object) -> object:
        calls.append("mine")
        return callee(*args, **kwargs)  # type: ignore[operator]

    original = _traced.adapter_for("sqlite3.query")
    try:
        rt.register_adapter("sqlite3.query", mine)
        assert rt.traced(len, "sqlite3.query")([1, 2]) == 2
        assert calls == ["mine"]
    finally:
        rt.register_adapter("sqlite3.query", original)


# -- hooks this runtime does not know -------------------------------------------------------------


def test_unknown_hook_returns_its_argument_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    thing = object()
    with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
        assert rt.hooks.some_future_queue(thing) is thing
        assert rt.hooks.some_future_queue(thing) is thing
    messages = [r.getMessage() for r in caplog.records if r.name == "codetrace.runtime"]
    assert len(messages) == 1
    assert "'some_future_queue'" in messages[0] and "flask" in messages[0]


def test_unknown_hook_never_raises_whatever_the_argument() -> None:
    class Odd:
        def __getattr__(self, name: str) -> object:
            raise RuntimeError(name)

    odd = Odd()
    assert hooks.some_future_library(odd) is odd
    assert hooks.some_future_library(None) is None


def test_unknown_hook_works_when_tracing_is_disabled() -> None:
    rt.configure(disabled=True)
    assert hooks.some_future_queue(42) == 42


def test_dunder_names_are_not_hooks() -> None:
    assert not hasattr(hooks, "__wrapped__")
    with pytest.raises(AttributeError):
        hooks.__path__  # noqa: B018
    assert pickle.loads(pickle.dumps(hooks.flask)) is hooks.flask
    assert "some_future_queue" not in dir(hooks)
