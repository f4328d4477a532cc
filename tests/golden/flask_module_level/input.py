"""The service."""
from __future__ import annotations

import os

from flask import Flask, jsonify

app = Flask(__name__)
app.config["DEBUG"] = os.environ.get("DEBUG") == "1"


@app.get("/")
def index():
    return jsonify(ok=True)
