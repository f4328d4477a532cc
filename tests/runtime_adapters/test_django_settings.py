"""The ``django_settings`` hook: a Django project traced from its settings module alone.

Test suites, management commands and workers never import wsgi.py: Django's test ``Client``
builds its own handler from ``settings.MIDDLEWARE`` (the recall benchmark's django-filter and
edx-celeryutils, 0 server spans and 0 statements before this hook). So the test project
(``django_project/``) is instrumented with ``codetrace apply --out`` and driven, in a fresh
interpreter, by a script that uses the test ``Client`` and never imports wsgi.py: every request
is a SERVER span and every statement a CLIENT span under it. With wsgi.py imported too (both
hooks in the program), each request is still one span and each statement one span.

The in-process tests hold the hook to the runtime's promises: it returns what the settings
module assigned (list or tuple, codetrace's middleware first, once) and never raises.
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path
from typing import Any

import pytest
from fidelity import codetrace_spans, instrumented_copy, run_under_codetrace

from codetrace.runtime import _log, hooks
from codetrace.runtime._django_middleware import PATH

PROJECT = Path(__file__).parent / "django_project"

#: a test suite's way in: settings, ``django.setup()``, the test Client; wsgi.py never imported
CLIENT_SCRIPT = textwrap.dedent('''
    import os, sys, tempfile
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    os.environ["DJANGO_SETTINGS_MODULE"] = "django_project.settings"
    with tempfile.TemporaryDirectory() as folder:
        os.environ["CODETRACE_TEST_DJANGO_DB"] = str(Path(folder) / "db.sqlite3")
        import django

        django.setup()
        from django.db import connection
        from django.test import Client
        from django_project.shop.models import Item

        with connection.schema_editor() as editor:
            editor.create_model(Item)
        client = Client(raise_request_exception=False)
        for method, target in [("POST", "/api/items/?name=lamp"), ("GET", "/api/items/"),
                               ("GET", "/api/items/1/"), ("GET", "/health/")]:
            response = getattr(client, method.lower())(target)
            print(method, target, response.status_code)
        connection.close()
        print("wsgi imported:", "django_project.wsgi" in sys.modules)
''')


@pytest.fixture(scope="module")
def instrumented(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("django_settings")
    instrumented_copy(PROJECT, root / "django_project")
    return root


def _by_request(spans: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each SERVER span's name → the names of its CLIENT children, in order."""
    servers = [s for s in spans if s["kind"] == "SERVER"]
    return {server["name"]: [s["name"] for s in spans if s["kind"] == "CLIENT"
                             and s["parent_span_id"] == server["span_id"]]
            for server in servers}


def test_apply_wraps_the_settings_middleware(instrumented: Path) -> None:
    settings = (instrumented / "django_project" / "settings.py").read_text()
    assert 'MIDDLEWARE = _codetrace.hooks.django_settings(["django.middleware.common.' \
        'CommonMiddleware"])' in settings


def test_test_client_without_wsgi_is_traced(instrumented: Path) -> None:
    script = instrumented / "client_calls.py"
    script.write_text(CLIENT_SCRIPT)
    output = run_under_codetrace(script, [str(instrumented)], instrumented / "client.jsonl",
                                 warnings_are_errors=False)
    assert "POST /api/items/?name=lamp 200" in output and "wsgi imported: False" in output
    spans = codetrace_spans(instrumented / "client.jsonl")
    requests = _by_request(spans)
    assert sorted(requests) == ["GET api/items/", "GET api/items/<int:pk>/", "GET health/",
                                "POST api/items/"]
    assert requests["POST api/items/"] == ['INSERT "shop_item"', 'SELECT "shop_item"']
    assert requests["GET api/items/<int:pk>/"] == ["SELECT", 'SELECT "shop_item"']
    assert requests["GET health/"] == []


def test_both_hooks_one_span_per_request_and_per_statement(instrumented: Path) -> None:
    """serve_and_call.py imports the instrumented wsgi.py: the settings hook ran first, then the
    application hook, which finds the middleware listed and adds it no second time."""
    wsgi = (instrumented / "django_project" / "wsgi.py").read_text()
    assert "_codetrace.hooks.django(application)" in wsgi
    output = run_under_codetrace(instrumented / "django_project" / "serve_and_call.py", [],
                                 instrumented / "served.jsonl", warnings_are_errors=False)
    assert output.count("\n") == 8
    spans = codetrace_spans(instrumented / "served.jsonl")
    assert len([s for s in spans if s["kind"] == "SERVER"]) == 8
    requests = _by_request(spans)
    assert requests["POST api/items/"] == ['INSERT "shop_item"', 'SELECT "shop_item"']
    assert requests["GET api/items/<int:pk>/"] == ["SELECT", 'SELECT "shop_item"']


@pytest.mark.parametrize("kind", [list, tuple])
def test_hook_puts_the_middleware_first_once_keeping_the_type(kind: type) -> None:
    given = kind(["django.middleware.common.CommonMiddleware"])
    listed = hooks.django_settings(given)
    assert type(listed) is kind
    assert list(listed) == [PATH, "django.middleware.common.CommonMiddleware"]
    assert list(given) == ["django.middleware.common.CommonMiddleware"]  # not changed in place
    assert hooks.django_settings(listed) is listed
    assert hooks.django_settings(kind()) == kind([PATH])


def test_hook_never_raises_and_logs_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_log, "_seen", set())
    odd = {"not": "a list"}
    with caplog.at_level(logging.WARNING, logger="codetrace"):
        assert hooks.django_settings(odd) is odd
        assert hooks.django_settings([1, 2]) == [1, 2]
    assert len([r for r in caplog.records if "Django middleware" in r.getMessage()]) == 1
