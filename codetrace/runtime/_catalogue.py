"""The names instrumented code may use: adapters for ``traced()`` and hooks for ``hooks.NAME``.

This module imports nothing, so the engine can import it (to validate the ``adapter`` and
``hook`` keys of rule files) without loading the runtime. It is the single source of truth:
``_traced`` looks adapter names up in :data:`ADAPTERS`, ``hooks`` defines exactly
:data:`HOOKS`, and tests/runtime/test_catalogue.py holds both to it.

* :data:`ADAPTERS` maps an adapter name (a rule's ``adapter`` key, or its id when it has none:
  ``_codetrace.traced(callee, "NAME")``) to the module whose ``adapter`` attribute handles it,
  imported on first use. The names are a contract with already-instrumented code: never rename
  one. Any other name gets a generic INTERNAL span named by the string.
* :data:`HOOKS` lists the functions of ``codetrace.runtime.hooks`` (``_codetrace.hooks.NAME(obj)``).
"""

ADAPTERS: dict[str, str] = {
    "aiohttp.client": "codetrace.runtime._aiohttp_client",
    "asyncpg.connect": "codetrace.runtime._asyncpg",
    "asyncpg.pool": "codetrace.runtime._asyncpg",
    "boto3.client": "codetrace.runtime._botocore",
    "flask_sqlalchemy.extension": "codetrace.runtime._flask_sqlalchemy",
    "grpc.channel": "codetrace.runtime._grpc_client",
    "grpc.server": "codetrace.runtime._grpc_server",
    "httpx.client": "codetrace.runtime._httpx_client",
    "httpx.send": "codetrace.runtime._httpx",
    "mysqlclient.connect": "codetrace.runtime._mysqldb",
    "mysqlclient.query": "codetrace.runtime._mysqldb",
    "mysqlclient.transaction": "codetrace.runtime._mysqldb",
    "psycopg.connect": "codetrace.runtime._psycopg",
    "psycopg.pool": "codetrace.runtime._psycopg",
    "psycopg2.connect": "codetrace.runtime._psycopg2",
    "psycopg2.pool": "codetrace.runtime._psycopg2",
    "pymongo.client": "codetrace.runtime._pymongo",
    "pymysql.connect": "codetrace.runtime._pymysql",
    "pymysql.query": "codetrace.runtime._pymysql",
    "pymysql.transaction": "codetrace.runtime._pymysql",
    "redis.client": "codetrace.runtime._redis",
    "redis.factory": "codetrace.runtime._redis",
    "requests.send": "codetrace.runtime._requests",
    "requests.session": "codetrace.runtime._requests_session",
    "sqlalchemy.engine": "codetrace.runtime._sqlalchemy",
    "sqlite3.connect": "codetrace.runtime._sqlite",
    "sqlite3.query": "codetrace.runtime._dbapi",
    "sqlite3.transaction": "codetrace.runtime._dbapi",
    "urllib.opener": "codetrace.runtime._urllib_opener",
    "urllib.urlopen": "codetrace.runtime._urllib",
    "urllib3.pool": "codetrace.runtime._urllib3",
    "urllib3.request": "codetrace.runtime._urllib3_request",
}

HOOKS: tuple[str, ...] = ("aiohttp_app", "celery", "django", "django_settings", "flask",
                          "starlette", "wsgi")
