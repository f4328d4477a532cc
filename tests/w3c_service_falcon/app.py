"""The W3C harness's service written with Falcon and urllib3, as a user would write it.

Same contract as ``tests/w3c_service/app.py`` (the harness POSTs a JSON list of ``{"url": ...,
"arguments": ...}``; for each item the service POSTs ``arguments`` to ``url``), no tracing code:
``tests/test_w3c_harness.py`` runs ``codetrace apply --out`` on this folder, so ``falcon.App()``
gets the ``wsgi`` hook (its Falcon middleware extracts the incoming trace context) and
``urllib3.PoolManager()`` the ``urllib3.pool`` adapter (it is injected into each callback).

Run as a script, the standard library's wsgiref serves it (one thread per request) on 127.0.0.1
at a free port, and it prints the port on its first line.
"""

from __future__ import annotations

import socketserver
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import falcon
import urllib3

http = urllib3.PoolManager(timeout=10)


class Test:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        for action in req.get_media():
            http.request("POST", action["url"], json=action.get("arguments") or [])
        resp.media = "ok"


app = falcon.App()
app.add_route("/test", Test())


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """One line per request on stderr is noise in the test's log."""


if __name__ == "__main__":
    server = make_server(
        "127.0.0.1", 0, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler
    )
    print(server.server_port, flush=True)
    server.serve_forever()
