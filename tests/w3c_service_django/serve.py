"""The W3C harness's service written with Django and requests, as a user would deploy it.

Same contract as ``tests/w3c_service/app.py`` (the harness POSTs a JSON list of ``{"url": ...,
"arguments": ...}``; for each item the service POSTs ``arguments`` to ``url``), no tracing code:
``tests/test_w3c_harness.py`` runs ``codetrace apply --out`` on this folder, so the project's
``w3c_site/wsgi.py`` (``application = get_wsgi_application()``, as ``startproject`` writes it)
gets the ``django`` hook (its middleware extracts the incoming trace context) and the view's
``requests.post`` the requests adapter (it is injected into each callback).

This script is the WSGI server a deployment would run (gunicorn's role): it loads
``w3c_site.wsgi.application`` and serves it with the standard library's wsgiref, one thread per
request, on 127.0.0.1 at a free port, and prints the port on its first line.
"""

from __future__ import annotations

import socketserver
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """One line per request on stderr is noise in the test's log."""


if __name__ == "__main__":
    from w3c_site.wsgi import application

    server = make_server(
        "127.0.0.1", 0, application, server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )
    print(server.server_port, flush=True)
    server.serve_forever()
