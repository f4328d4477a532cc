"""The development set: pinned projects, how to get their sources, and how to run their tests.

Every version is pinned, and so are the OpenTelemetry packages (one compatible set for all
projects). Sources come from the project's sdist (``pip download --no-deps --no-binary``), which
for these projects contains the test suite; where the newest release's sdist does not (or does
not fit the brief), the substitution is written next to the pin.
"""

from __future__ import annotations

# One compatible OpenTelemetry set: SDK + the contrib instrumentations for the four libraries.
OTEL_PACKAGES = [
    "opentelemetry-api==1.45.1",
    "opentelemetry-sdk==1.45.1",
    "opentelemetry-instrumentation==0.66b1",
    "opentelemetry-instrumentation-requests==0.66b1",
    "opentelemetry-instrumentation-httpx==0.66b1",
    "opentelemetry-instrumentation-sqlite3==0.66b1",
    "opentelemetry-instrumentation-flask==0.66b1",
    "opentelemetry-instrumentation-sqlalchemy==0.66b1",
]

COMMON_TEST_PACKAGES = ["pytest-timeout==2.4.0"]

PROJECTS: dict[str, dict] = {
    "prawcore": {
        "dist": "prawcore==4.0.0",
        "libraries": ["requests"],
        # prawcore 4 records its HTTP exchanges with vcrpy cassettes (betamax until 2.x).
        "test_packages": ["pytest==8.4.2", "vcrpy==7.0.0"],
        "pythonpath": ".",
        "pytest_args": ["tests"],
    },
    "cachecontrol": {
        # 0.14.4 (newest) ships an sdist without tests/; 0.14.3 is the newest sdist that has them.
        "dist": "cachecontrol==0.14.3",
        "libraries": ["requests"],
        "test_packages": ["pytest==8.4.2", "cherrypy==18.10.0", "filelock==3.20.0",
                          "redis==6.4.0"],
        "pythonpath": ".",
        "pytest_args": ["tests"],
    },
    "openai": {
        # 3.x moved to the httpx2 fork (which the httpx instrumentation does not cover);
        # 2.54.0 is the last release on httpx.
        "dist": "openai==2.54.0",
        "libraries": ["httpx"],
        "test_packages": ["pytest==8.4.2", "pytest-asyncio==1.2.0", "respx==0.22.0",
                          "inline-snapshot==0.29.0", "dirty-equals==0.10.0", "rich==14.1.0",
                          "jsonschema==4.23.0"],
        "pythonpath": "src",
        # tests/api_resources need the Prism mock server of the OpenAPI spec (not offline);
        # pyproject's addopts adds "-n auto" (xdist), replaced to keep one process.
        "pytest_args": ["tests", "--ignore=tests/api_resources", "-o", "addopts=--tb=short"],
    },
    "diskcache": {
        "dist": "diskcache==5.6.3",
        "libraries": ["sqlite3"],
        # tests/test_doctest.py imports diskcache.djangocache, which imports Django.
        "test_packages": ["pytest==8.4.2", "Django==4.2.16"],
        "pythonpath": ".",
        # test_djangocache needs tests/settings.py, which the sdist does not ship.
        # test_memoize_stampede calls the cache in a loop for one second of wall time: how many
        # statements it runs depends on how fast the process is (56,000 untraced, 24,000 traced
        # in one measurement), so no two runs can be compared on it. Before it was deselected it
        # made all of diskcache's 0.91 (core.py:1165: 54,640 statements in the truth run, 23,257
        # spans in the codetrace run).
        "pytest_args": ["tests", "--ignore=tests/test_djangocache.py",
                        "--deselect=tests/test_recipes.py::test_memoize_stampede"],
    },
    "sqlitedict": {
        "dist": "sqlitedict==2.1.0",
        "libraries": ["sqlite3"],
        "test_packages": ["pytest==8.4.2"],
        "pythonpath": ".",
        "mkdirs": ["tests/db"],  # the project's Makefile creates it before the tests
        "pytest_args": ["tests"],
    },
    "flask-restx": {
        "dist": "flask-restx==1.3.2",
        "libraries": ["flask"],
        "test_packages": ["pytest==8.4.2", "pytest-flask==1.3.0", "pytest-mock==3.15.1",
                          "Faker==37.8.0", "blinker==1.9.0", "pytest-benchmark==5.1.0",
                          "Flask==3.1.2", "Werkzeug==3.1.3"],
        "pythonpath": ".",
        "pytest_args": ["tests"],
    },
    "flask-appbuilder": {
        # The Flask + SQLAlchemy application of our choice. The first choice, the flaskbb forum
        # (2.2.0), does not import on the Pythons here: it evaluates a TYPE_CHECKING-only
        # annotation at import (it needs Python 3.14's deferred annotations). Flask-AppBuilder's
        # suite builds whole applications (`self.app = Flask(__name__)`, models, views, REST
        # API, security) on SQLite and drives them through the test client.
        "dist": "flask-appbuilder==5.3.0",
        "libraries": ["flask", "sqlite3", "sqlalchemy"],
        "test_packages": ["pytest==8.4.2", "hiro==1.1.1", "parameterized==0.9.0",
                          "jmespath==1.0.1", "Authlib==1.6.5",
                          # marshmallow 4 breaks its schemas (KeyError in 78 tests)
                          "marshmallow==3.26.1", "marshmallow-sqlalchemy==1.4.2"],
        "pythonpath": ".",
        "env": {"SQLALCHEMY_DATABASE_URI": "sqlite:///"},  # as the project's tox "api-sqlite"
        "pytest_args": ["tests"],
    },
    "flask-sqlalchemy": {
        # A second Flask + SQLAlchemy project: its suite builds Flask apps and runs SQLAlchemy
        # on SQLite (pysqlite); every statement is issued by SQLAlchemy, none by the project.
        "dist": "flask-sqlalchemy==3.1.1",
        "libraries": ["flask", "sqlite3", "sqlalchemy"],
        "test_packages": ["pytest==8.4.2", "Flask==3.0.3", "Werkzeug==3.0.6",
                          "SQLAlchemy==2.0.36", "blinker==1.9.0"],
        "pythonpath": "src",
        "pytest_args": ["tests"],
    },
    "walrus": {
        # redis-py from a real project: walrus's `Database` is a subclass of `redis.Redis` (with
        # containers, models, locks, caches, full-text search and rate limits built on commands,
        # pipelines and Lua scripts), and its suite talks to a real Redis server (db 15) that it
        # finds through WALRUS_REDIS_HOST / WALRUS_REDIS_PORT. rq was the first choice; its suite
        # hard-codes localhost:6379 and runs jobs in forked work horses that end with os._exit
        # (which loses the ground truth's counts).
        "dist": "walrus==0.9.8",
        "libraries": ["redis"],
        # the redis instrumentation is added here, not to OTEL_PACKAGES, so that the other
        # projects' venvs are not rebuilt for it (same 0.66b1 set)
        "test_packages": ["pytest==8.4.2", "redis==6.4.0",
                          "opentelemetry-instrumentation-redis==0.66b1"],
        "pythonpath": ".",
        "servers": ["redis"],  # run.py starts one on a free port, FLUSHALL before each run
        "env": {"WALRUS_REDIS_HOST": "127.0.0.1", "WALRUS_REDIS_PORT": "{redis_port}"},
        # the test modules are not named test_*.py; walrus/tests/__init__.py star-imports them
        # all (collecting it too would run every test twice), hence the pattern
        "pytest_args": ["walrus/tests", "-o", "python_files=[a-z]*.py"],
    },
    "aiohttp-retry": {
        # aiohttp, client and server: aiohttp_retry's RetryClient builds its own
        # `ClientSession()` unless one is handed in, and its tests serve the project's
        # `web.Application()` (tests/app.py) on a real loopback server through pytest-aiohttp's
        # `aiohttp_client` fixture (a TestClient, whose session aiohttp's test_utils builds).
        # The sdist lacks tests/app.py and tests/__init__.py: added from the tag v2.9.1
        # (overlays/aiohttp_retry-2.9.1).
        "dist": "aiohttp-retry==2.9.1",
        "libraries": ["aiohttp_client", "aiohttp_server"],
        # the aiohttp instrumentations are added here, not to OTEL_PACKAGES, so that the other
        # projects' venvs are not rebuilt for them (same 0.66b1 set)
        "test_packages": ["pytest==8.4.2", "aiohttp==3.14.5", "pytest-aiohttp==1.1.1",
                          "opentelemetry-instrumentation-aiohttp-client==0.66b1",
                          "opentelemetry-instrumentation-aiohttp-server==0.66b1"],
        "pythonpath": ".",
        "pytest_args": ["tests"],
    },
    "pgcopy": {
        # psycopg2 on a real PostgreSQL: pgcopy's CopyManager reads the table's columns with
        # catalog queries and loads rows with `cursor.copy_expert(COPY ... FROM STDIN BINARY)`;
        # its tests open `psycopg2.connect(connection_factory=LoggingConnection, ...)` to the
        # server named by POSTGRES_HOST/PORT/USER/DB (creating the database when missing).
        # The sdist lacks tests/conftest.py, tests/db.py and tests/__init__.py: added from the
        # tag 1.6.2 (overlays/pgcopy-1.6.2). 1.6.2 is the newest release (2.0a1 is a pre-release).
        "dist": "pgcopy==1.6.2",
        "libraries": ["psycopg2"],
        # psycopg2 is built from its sdist (Debian's libpq-dev and pg_config); the psycopg2
        # instrumentation is added here, not to OTEL_PACKAGES (same 0.66b1 set)
        "test_packages": ["pytest==8.4.2", "psycopg2==2.9.10", "pytz==2025.2",
                          "opentelemetry-instrumentation-psycopg2==0.66b1"],
        "pythonpath": ".",
        "servers": ["postgres"],  # run.py starts a private cluster, databases dropped per run
        "env": {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "{postgres_port}",
                "POSTGRES_USER": "postgres", "POSTGRES_DB": "pgcopy_test"},
        "pytest_args": ["tests"],
    },
    "edx-celeryutils": {
        # Celery (eager) and Django's ORM: Open edX's task base classes (logged tasks, tasks
        # that persist their failures as Django models) and the management commands that
        # re-run them, tested with a project Celery app (`app = Celery('proj')` in
        # test_utils/celery.py, CELERY_ALWAYS_EAGER) on Django + SQLite through pytest-django.
        # The sdist lacks the settings, URLconf and test_utils: added from the repository
        # (overlays/edx_celeryutils-2.0.0). Django 5.2 and Celery 5.7 (the versions codetrace's
        # rules were tested with; the project's classifiers say Django 4.2, its constraints
        # Celery < 6).
        "dist": "edx-celeryutils==2.0.0",
        "libraries": ["celery", "django_orm"],
        "test_packages": ["pytest==8.4.2", "pytest-django==4.14.0", "Django==5.2.19",
                          "celery==5.7.0", "django-model-utils==5.0.0", "jsonfield==3.2.0",
                          "ddt==1.7.2", "freezegun==1.5.5", "mock==5.2.0",
                          "opentelemetry-instrumentation-celery==0.66b1",
                          "opentelemetry-instrumentation-django==0.66b1"],
        "pythonpath": ".",
        "env": {"DJANGO_SETTINGS_MODULE": "test_settings"},  # tox.ini's [pytest] setting
        "pytest_args": ["tests", "celery_utils"],
    },
    "django-filter": {
        # Django server requests and ORM SQL: django-filter's suite (models, filtersets,
        # generic views, DRF integration) runs on SQLite in memory with Django's test Client /
        # DRF's APIClient. Like most Django apps and their test suites it has no wsgi.py or
        # asgi.py, where codetrace's django rules put the hook: that is measured, not worked
        # around. Run through pytest-django (its own runner is Django's, `runtests.py`).
        "dist": "django-filter==26.2",
        "libraries": ["django", "django_orm"],
        "test_packages": ["pytest==8.4.2", "pytest-django==4.14.0", "Django==5.2.19",
                          "djangorestframework==3.16.1", "pytz==2025.2",
                          "opentelemetry-instrumentation-django==0.66b1"],
        "pythonpath": ".",
        "env": {"DJANGO_SETTINGS_MODULE": "tests.settings"},  # as runtests.py sets it
        "pytest_args": ["tests"],
    },
    "elastic-transport": {
        # aiohttp's client from a real project, with requests, httpx and urllib3 beside it:
        # Elastic's transport builds one HTTP node per client library (`aiohttp.ClientSession(`
        # in _node/_http_aiohttp.py, `requests.Session()`, `httpx.AsyncClient(`, urllib3
        # `HTTPConnectionPool`s) and its tests drive them against servers on 127.0.0.1:
        # pytest-httpbin's httpbin (a Flask app in a thread) and pytest-httpserver's (werkzeug).
        "dist": "elastic-transport==9.4.2",
        "libraries": ["aiohttp_client", "requests", "httpx", "urllib3"],
        # its `develop` extra, pinned (the sphinx ones left out)
        "test_packages": ["pytest==8.4.2", "pytest-asyncio==1.2.0", "pytest-mock==3.15.1",
                          "pytest-httpbin==2.1.0", "pytest-httpserver==1.2.1", "trustme==1.2.1",
                          "requests==2.32.5", "aiohttp==3.14.5", "httpx==0.28.1",
                          "respx==0.22.0", "orjson==3.13.0", "anyio==4.16.0", "trio==0.35.0",
                          "urllib3==2.5.0",
                          "opentelemetry-instrumentation-aiohttp-client==0.66b1",
                          "opentelemetry-instrumentation-urllib3==0.66b1"],
        # httpbin, the test server, is a Flask app in site-packages: OpenTelemetry's Flask
        # instrumentation makes SERVER spans for it, which are not the project's
        "ignore_libraries": ["flask"],
        "pythonpath": ".",
        # setup.cfg's addopts asks for pytest-cov. Left out, as they need the internet:
        # test_tls_versions.py (badssl.com) and test_urllib3_chain_certs.py (www.elastic.co).
        "pytest_args": ["tests", "-o", "addopts=",
                        "--ignore=tests/node/test_tls_versions.py",
                        "--ignore=tests/node/test_urllib3_chain_certs.py"],
    },
    "grpc-interceptor": {
        # gRPC, sync and grpc.aio, client and server: grpc-interceptor's test helper
        # (grpc_interceptor/testing/dummy_client.py, part of the package) starts a real server on
        # localhost, `grpc.server(ThreadPoolExecutor(...), interceptors=...)` or, in a thread of
        # its own loop, `grpc_aio.server(interceptors=...)`, and opens
        # `grpc.insecure_channel(...)` (wrapped in `grpc.intercept_channel` with the project's
        # client interceptors) or `grpc_aio.insecure_channel(...)` to it; the tests make every
        # kind of RPC (unary and streaming both ways) through the project's server and client
        # interceptors. The sdist ships no tests/: added from the tag v0.15.4
        # (overlays/grpc-interceptor-0.15.4). 0.15.4 is the newest release.
        "dist": "grpc-interceptor==0.15.4",
        "libraries": ["grpc_client", "grpc_server"],
        # the project's `testing` extra (protobuf) and pytest-asyncio (one test); the gRPC
        # instrumentation is added here, not to OTEL_PACKAGES (same 0.66b1 set). The generated
        # dummy_pb2.py (protoc 3.x era) imports and runs on protobuf 7.
        "test_packages": ["pytest==8.4.2", "pytest-asyncio==1.2.0", "grpcio==1.85.3",
                          "protobuf==7.36.2",
                          "opentelemetry-instrumentation-grpc==0.66b1"],
        "pythonpath": "src",
        "pytest_args": ["tests"],
    },
    "databases": {
        # asyncpg on a real PostgreSQL: encode's `databases` (async query layer over SQLAlchemy
        # Core) runs PostgreSQL through its asyncpg backend (databases/backends/postgres.py:
        # `asyncpg.create_pool(...)`, connections acquired from it, `fetch`/`fetchrow`/
        # `fetchval`/`execute`, transactions, cursors for `iterate()`), and its suite runs every
        # test against the URLs in TEST_DATABASE_URLS. 0.9.0 is the newest release.
        "dist": "databases==0.9.0",
        "libraries": ["asyncpg"],
        # the `asyncpg` extra; the suite's fixture creates and drops its tables with a sync
        # SQLAlchemy engine (psycopg2, built from its sdist) and tests/test_integration.py
        # serves a Starlette app through its TestClient (httpx). The asyncpg instrumentation is
        # added here, not to OTEL_PACKAGES (same 0.66b1 set). Starlette 0.52.1, the last before
        # 1.0 removed `app.on_event`, which test_integration.py uses.
        "test_packages": ["pytest==8.4.2", "asyncpg==0.32.0", "SQLAlchemy==2.0.36",
                          "psycopg2==2.9.10", "starlette==0.52.1", "httpx==0.28.1",
                          "opentelemetry-instrumentation-asyncpg==0.66b1"],
        # the fixture's DDL (SQLAlchemy + psycopg2) and the TestClient's httpx requests are the
        # test harness's, and so is the Starlette app test_integration.py serves (codetrace's
        # ASGI hook traces it: its SERVER spans are the `asgi` row), not what is measured here
        "ignore_libraries": ["sqlalchemy", "psycopg2", "httpx", "sqlite3", "asgi"],
        "pythonpath": ".",
        "servers": ["postgres"],  # run.py starts a private cluster, databases dropped per run
        "env": {"TEST_DATABASE_URLS":
                "postgresql+asyncpg://postgres@127.0.0.1:{postgres_port}/postgres"},
        # test_connection_options.py imports the aiopg and asyncmy backends, and three tests
        # open `sqlite:///` URLs (aiosqlite): not installed, they fail the same in the four runs
        "pytest_args": ["tests"],
    },
}
