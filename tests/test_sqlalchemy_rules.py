"""The SQLAlchemy and Flask-SQLAlchemy rules as a user meets them: ``rules``, ``explain``.

The shapes themselves are golden cases (``fixtures/golden/sqlalchemy_engines``,
``flask_sqlalchemy_factory``, ``flask_sqlalchemy_app``); here, what the CLI says about a small
project that uses both: the construction sites listed with their rule, and the statements run
through them (``db.session.execute``, ``connection.execute``) not listed as unresolved DB-API
candidates, since the engine traces them.
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from codetrace.cli import app

DB = b'''from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import create_engine, text

db = SQLAlchemy()
reports = create_engine("sqlite:///reports.db")


def totals():
    with reports.connect() as connection:
        return connection.execute(text("SELECT 1")).scalar()
'''

VIEWS = b'''from flask import Flask

from shop.db import db


class Order(db.Model):
    pass


def create_app():
    app = Flask(__name__)
    db.init_app(app)
    return app


def orders():
    db.session.execute(db.select(Order))
    db.session.commit()
'''


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout


def test_rules_lists_both() -> None:
    code, out = _run("rules")
    assert code == 0
    assert "sqlalchemy.create_engine" in out and "sqlalchemy.ext.asyncio.create_async_engine" in out
    assert "flask_sqlalchemy.SQLAlchemy()  (and project subclasses)" in out


def test_explain_lists_the_construction_sites_and_no_noise(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_bytes(b"")
    (tmp_path / "shop" / "db.py").write_bytes(DB)
    (tmp_path / "shop" / "views.py").write_bytes(VIEWS)
    code, out = _run("explain", "--json", str(tmp_path))
    assert code == 0
    documents = {Path(d["path"]).name: d for d in json.loads(out)}
    sites = [(s["line"], s["rule"], s["callee"]) for s in documents["db.py"]["sites"]]
    assert sites == [
        (4, "flask_sqlalchemy.extension", "flask_sqlalchemy.SQLAlchemy"),
        (5, "sqlalchemy.engine", "sqlalchemy.create_engine"),
    ]
    assert documents["db.py"]["unresolved"] == []
    assert [s["rule"] for s in documents["views.py"]["sites"]] == ["flask.app"]
    assert documents["views.py"]["unresolved"] == []
