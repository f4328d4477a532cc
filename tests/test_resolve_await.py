"""``await f(...)`` resolves to what ``f`` is declared to return (its awaited result).

A coroutine function's ``[types]`` entry (``"asyncpg.connect" = "asyncpg.Connection"``) says
what the call gives once awaited, so ``conn = await asyncpg.connect(dsn)`` types ``conn``: its
methods are the library's (traced by the object, not listed by ``explain`` as unresolved DB-API
candidates). Anything else awaited stays unknown.
"""

from __future__ import annotations

import pytest
from test_resolve import _check_resolved, _check_unknown

from codetrace._model import Ref
from codetrace._rules import RuleSet

AWAITED = [
    pytest.param(
        "import asyncpg\nasync def f():\n    conn = await asyncpg.connect(d)\n"
        "    await conn.execute(q)\n",
        "conn.execute", Ref("asyncpg.Connection.execute"), id="declared_coroutine_function"),
    pytest.param(
        "from asyncpg import create_pool\nasync def f():\n    pool = await create_pool(d)\n"
        "    await pool.fetch(q)\n",
        "pool.fetch", Ref("asyncpg.Pool.fetch"), id="declared_through_from_import"),
]

STILL_UNKNOWN = [
    pytest.param("async def f():\n    c = await make()\n    c.get(u)\n", "c.get",
                 "an awaited value", id="undeclared_callee"),
    pytest.param("async def f(task):\n    c = await task\n    c.get(u)\n", "c.get",
                 "an awaited value", id="awaited_name"),
    # a project's ``async def`` is left as before (the resolver does not read coroutine
    # annotations yet): only declared library callables are typed through ``await``
    pytest.param(
        "import requests\nasync def make() -> requests.Session:\n    ...\n"
        "async def f():\n    s = await make()\n    s.get(u)\n",
        "s.get", "an awaited value", id="project_async_def"),
]


@pytest.mark.parametrize(("source", "expression", "expected"), AWAITED)
def test_awaited_calls_resolve(
    source: str, expression: str, expected: Ref, ruleset: RuleSet
) -> None:
    _check_resolved(source, expression, expected, ruleset)


@pytest.mark.parametrize(("source", "expression", "reason"), STILL_UNKNOWN)
def test_other_awaited_values_stay_unknown(
    source: str, expression: str, reason: str, ruleset: RuleSet
) -> None:
    _check_unknown(source, expression, reason, ruleset)
