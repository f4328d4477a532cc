"""The service the W3C trace-context harness drives, written as a user would write it.

The harness POSTs a JSON list of ``{"url": ..., "arguments": ...}``; for each item the service
POSTs ``arguments`` to ``url`` (``tests/w3c_harness/README.md``, "Implement Test Service"). There
is no tracing code here: ``tests/test_w3c_harness.py`` runs ``codetrace apply --out`` on this
folder, so ``Flask(__name__)`` gets the flask hook (the incoming trace context is extracted) and
``requests.post`` the requests adapter (it is injected into each callback), and serves the
instrumented copy.

Run as a script it serves on 127.0.0.1 at a free port and prints the port on its first line.
"""

from __future__ import annotations

import requests
from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue

app = Flask(__name__)


@app.post("/test")
def test() -> ResponseReturnValue:
    for action in request.get_json():
        requests.post(action["url"], json=action.get("arguments") or [], timeout=10)
    return jsonify("ok")


if __name__ == "__main__":
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(server.port, flush=True)
    server.serve_forever()
