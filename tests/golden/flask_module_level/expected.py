"""The service."""
from __future__ import annotations

import os

from flask import Flask, jsonify
import codetrace.runtime as _codetrace

app = Flask(__name__)
_codetrace.hooks.flask(app)
app.config["DEBUG"] = os.environ.get("DEBUG") == "1"


@app.get("/")
def index():
    return jsonify(ok=True)
