"""A program for the Django fidelity test and the end-to-end check: serve the project's WSGI
application (``wsgi.py``) with ``wsgiref`` on 127.0.0.1 in a thread, call its routes with an
httpx client, print each answer, stop the server.

It runs as a script from the project's own folder (``python django_project/serve_and_call.py``),
as is or after ``codetrace apply --out``; the project package is imported from the folder above
this one, and the SQLite database is a fresh temporary file unless ``CODETRACE_TEST_DJANGO_DB``
names one.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import wsgiref.simple_server
from pathlib import Path
from typing import Any

import httpx

CALLS = [
    ("GET", "/api/items/7/?q=1"),
    ("POST", "/api/items/?name=lamp"),
    ("GET", "/api/items/"),
    ("GET", "/archive/2024/"),
    ("GET", "/boom/"),
    ("GET", "/unavailable/"),
    ("GET", "/nowhere/"),
    ("GET", "/health/"),
]


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", f"{here.name}.settings")
    with tempfile.TemporaryDirectory() as folder:
        os.environ.setdefault("CODETRACE_TEST_DJANGO_DB", str(Path(folder) / "db.sqlite3"))
        import importlib

        application = importlib.import_module(f"{here.name}.wsgi").application
        from django.db import connection

        models = importlib.import_module(f"{here.name}.shop.models")
        with connection.schema_editor() as editor:
            editor.create_model(models.Item)
        httpd = wsgiref.simple_server.make_server(
            "127.0.0.1", 0, application, handler_class=QuietHandler
        )
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            base = f"http://127.0.0.1:{httpd.server_address[1]}"
            client = httpx.Client(timeout=10, headers={"User-Agent": "fidelity/1.0"})
            with client:
                for method, target in CALLS:
                    response = client.request(method, base + target)
                    print(method, target, response.status_code, len(response.content))
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(10)
        connection.close()


if __name__ == "__main__":
    main()
