"""Construction adapters ``sqlalchemy.engine`` and ``flask_sqlalchemy.extension``.

Real SQLAlchemy against real SQLite files: ORM sessions, Core connections, ``text()``,
``executemany``, errors, an async engine on aiosqlite, Flask-SQLAlchemy apps built both ways,
and a traced sqlite3 driver under an engine (one span per statement, not two).
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

import codetrace.runtime as rt
from codetrace.runtime import _sqlalchemy

sa = pytest.importorskip("sqlalchemy")
orm = pytest.importorskip("sqlalchemy.orm")
text = sa.text

ENGINE = "sqlalchemy.engine"
EXTENSION = "flask_sqlalchemy.extension"


def _engine(*args: Any, **kwargs: Any) -> Any:
    return rt.traced(sa.create_engine, ENGINE)(*args, **kwargs)


def _names(exporter: rt.InMemorySpanExporter) -> list[str]:
    return [span.name for span in exporter.get_finished_spans()]


@pytest.fixture
def database(tmp_path: Path) -> str:
    return str(tmp_path / "shop.db")


# -- Core -------------------------------------------------------------------------------------


def test_core_statements_make_one_client_span_each(
    database: str, exporter: rt.InMemorySpanExporter
) -> None:
    engine = _engine(f"sqlite:///{database}")
    assert type(engine) is sa.engine.Engine  # the engine itself, untouched
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)"))
        connection.execute(text("INSERT INTO items (name) VALUES (:name)"), {"name": "secret"})
        rows = connection.execute(text("SELECT name FROM items WHERE name = 'secret'")).all()
        connection.exec_driver_sql("SELECT count(*) FROM items")
    assert rows == [("secret",)]
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == [
        "CREATE TABLE items", "INSERT items", "SELECT items", "SELECT items",
    ]
    for span in spans:
        assert span.kind == rt.SpanKind.CLIENT
        assert span.attributes["db.system.name"] == "sqlite"
        assert span.attributes["db.namespace"] == database
        assert "server.address" not in span.attributes
        assert span.status_code == rt.StatusCode.UNSET
    _, insert, select, count = (s.attributes for s in spans)
    assert insert["db.query.text"] == "INSERT INTO items (name) VALUES (?)"  # parameterised
    assert insert["db.query.summary"] == "INSERT items"
    # run without parameters: literals sanitised, never recorded
    assert select["db.query.text"] == "SELECT name FROM items WHERE name = ?"
    assert count["db.query.text"] == "SELECT count(*) FROM items"
    assert all("secret" not in str(s.attributes) for s in spans)
    assert rt.current_span() is None


def test_connections_without_connection_events_are_traced(
    database: str, exporter: rt.InMemorySpanExporter
) -> None:
    """SQLAlchemy 2.0 sets ``Connection._has_events`` False on every connection of an engine
    that has no connection-event listeners (2.1 leaves it unset): a Connection built that way
    is an ordinary one and its statements are traced. (The recall run on flask-sqlalchemy,
    whose venv has SQLAlchemy 2.0.36, found 49 of 14,043 statements when the adapter took
    ``_has_events is False`` for the first-connect checks.)"""
    engine = _engine(f"sqlite:///{database}")
    with sa.engine.Connection(engine, _has_events=False) as connection:
        connection.execute(text("SELECT 1"))
    assert _names(exporter) == ["SELECT"]


def test_the_first_connect_checks_make_no_span(
    database: str, exporter: rt.InMemorySpanExporter
) -> None:
    """The statements a dialect runs on its first connection (``SELECT pg_catalog.version()``
    on PostgreSQL) get no span, as OpenTelemetry's connection events give none."""
    engine = _engine(f"sqlite:///{database}")
    initialize = engine.dialect.initialize

    def checking(connection: Any) -> None:
        initialize(connection)
        connection.exec_driver_sql("SELECT 'first connect check'")

    engine.dialect.initialize = checking
    with engine.connect() as connection:
        connection.execute(text("SELECT 2"))
    assert _names(exporter) == ["SELECT"]
    assert exporter.get_finished_spans()[0].attributes["db.query.text"] == "SELECT ?"


def test_statements_are_children_of_the_current_span(
    database: str, exporter: rt.InMemorySpanExporter
) -> None:
    engine = _engine(f"sqlite:///{database}")
    with rt.span("handler") as handler, engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1
        assert rt.current_span() is handler  # the statement's span is never left current
    select, root = exporter.get_finished_spans()
    assert select.parent_id == handler.span_id and select.trace_id == handler.trace_id
    assert root.name == "handler"


def test_concurrent_statements_keep_their_own_spans(
    database: str, exporter: rt.InMemorySpanExporter
) -> None:
    import threading

    engine = _engine(f"sqlite:///{database}", pool_size=4)
    errors: list[BaseException] = []

    def worker(number: int) -> None:
        try:
            with rt.span(f"worker {number}"), engine.connect() as connection:
                for _ in range(20):
                    connection.execute(text("SELECT :n"), {"n": number})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    spans = exporter.get_finished_spans()
    workers = {s.span_id: s for s in spans if s.name.startswith("worker")}
    statements = [s for s in spans if s.kind == rt.SpanKind.CLIENT]
    assert len(workers) == 4 and len(statements) == 80
    per_worker = [sum(s.parent_id == w for s in statements) for w in workers]
    assert per_worker == [20, 20, 20, 20]


def test_executemany_is_one_batch_span(database: str, exporter: rt.InMemorySpanExporter) -> None:
    engine = _engine(f"sqlite:///{database}")
    items = sa.Table(
        "items", sa.MetaData(), sa.Column("id", sa.Integer), sa.Column("name", sa.Text)
    )
    with engine.begin() as connection:
        items.create(connection)
        exporter.clear()
        connection.execute(items.insert(), [{"id": i, "name": f"n{i}"} for i in range(3)])
        connection.execute(items.insert(), [{"id": 9, "name": "one"}])  # one set: no batch
        connection.exec_driver_sql("DELETE FROM items WHERE id = ?", [(0,), (1,)])
    batch, single, delete = exporter.get_finished_spans()
    assert batch.name == "BATCH INSERT items"
    assert batch.attributes["db.operation.batch.size"] == 3
    assert batch.attributes["db.query.summary"] == "BATCH INSERT items"
    assert batch.attributes["db.query.text"] == "INSERT INTO items (id, name) VALUES (?, ?)"
    assert single.name == "INSERT items" and "db.operation.batch.size" not in single.attributes
    assert delete.name == "BATCH DELETE items"
    assert delete.attributes["db.operation.batch.size"] == 2


def test_a_failing_statement_records_the_driver_error(
    database: str, exporter: rt.InMemorySpanExporter
) -> None:
    engine = _engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        with pytest.raises(sa.exc.OperationalError, match="no such table") as raised:
            connection.execute(text("SELECT * FROM missing WHERE id = :id"), {"id": 42})
        assert isinstance(raised.value.orig, sqlite3.OperationalError)
        assert connection.execute(text("SELECT 1")).scalar() == 1  # the connection still works
    failed, after = exporter.get_finished_spans()
    assert failed.name == "SELECT missing"
    assert failed.status_code == rt.StatusCode.ERROR
    assert failed.attributes["error.type"] == "sqlite3.OperationalError"
    assert failed.attributes["db.response.status_code"] == "1"
    (event,) = failed.events
    assert event.attributes["exception.type"] == "sqlite3.OperationalError"
    assert "42" not in str(event.attributes["exception.message"])  # not SQLAlchemy's wrapper
    assert after.status_code == rt.StatusCode.UNSET
    assert rt.current_span() is None


def test_a_failing_statement_records_no_literal_or_parameter(
    database: str, exporter: rt.InMemorySpanExporter
) -> None:
    engine = _engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        with pytest.raises(sa.exc.OperationalError, match="s3cr3tXYZ"):
            connection.execute(text("SELECT 's3cr3tXYZ"))  # the driver quotes the literal back
        connection.execute(text("CREATE TABLE t (x TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": "pr1vateVALUE"})
        with pytest.raises(sa.exc.IntegrityError, match="UNIQUE"):
            connection.execute(text("INSERT INTO t VALUES (:x)"), [{"x": "pr1vateVALUE"}] * 2)
    spans = exporter.get_finished_spans()
    assert [s.status_code for s in spans] == [
        rt.StatusCode.ERROR, rt.StatusCode.UNSET, rt.StatusCode.UNSET, rt.StatusCode.ERROR,
    ]
    assert spans[3].attributes["error.type"] == "sqlite3.IntegrityError"
    assert spans[3].attributes["db.operation.batch.size"] == 2
    recorded = repr([(s.name, s.attributes, s.status_message, [e.attributes for e in s.events])
                     for s in spans])
    assert "s3cr3tXYZ" not in recorded and "pr1vateVALUE" not in recorded


# -- ORM --------------------------------------------------------------------------------------


class Base(orm.DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
    name: orm.Mapped[str] = orm.mapped_column(sa.String(40))


def test_orm_session_statements(database: str, exporter: rt.InMemorySpanExporter) -> None:
    engine = _engine(f"sqlite:///{database}")
    Base.metadata.create_all(engine)
    exporter.clear()
    with orm.Session(engine) as session:
        session.add_all([User(name="ada"), User(name="bob")])
        session.commit()
        found = session.scalars(sa.select(User).where(User.name == "bob")).one()
        assert found.name == "bob"
    *inserts, select = exporter.get_finished_spans()
    # SQLAlchemy's "insertmanyvalues" (INSERT ... RETURNING, one row or several per statement,
    # SQLite gets one each): statements, not a batch, though SQLAlchemy flags them executemany
    assert [s.name for s in inserts] == ["INSERT users", "INSERT users"]
    assert all("db.operation.batch.size" not in s.attributes for s in inserts)
    assert inserts[0].attributes["db.query.text"].endswith("RETURNING id")
    assert select.name == "SELECT users"
    assert select.attributes["db.query.text"].startswith("SELECT users.id, users.name")


def test_engine_from_config_and_other_factories(
    database: str, exporter: rt.InMemorySpanExporter
) -> None:
    engine = rt.traced(sa.engine_from_config, ENGINE)({"db.url": f"sqlite:///{database}"}, "db.")
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert _names(exporter) == ["SELECT"]


# -- once per engine ----------------------------------------------------------------------------


def test_an_engine_traced_twice_makes_one_span_per_statement(
    database: str, exporter: rt.InMemorySpanExporter
) -> None:
    twice = rt.traced(rt.traced(sa.create_engine, ENGINE), ENGINE)(f"sqlite:///{database}")
    _sqlalchemy.instrument(twice)
    with twice.connect() as connection:
        connection.execute(text("SELECT :n"), {"n": 1})
    # an engine made by execution_options() hears its parent's listeners and its own
    branch = twice.execution_options(isolation_level="AUTOCOMMIT")
    _sqlalchemy.instrument(branch)
    with branch.connect() as connection:
        connection.execute(text("SELECT :n"), {"n": 2})
        with pytest.raises(sa.exc.OperationalError):
            connection.execute(text("SELECT * FROM missing"))
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["SELECT", "SELECT", "SELECT missing"]
    assert [s.attributes["db.query.text"] for s in spans[:2]] == ["SELECT ?", "SELECT ?"]
    assert len(spans[2].events) == 1


def test_the_applications_own_statement_listeners_still_run(
    database: str, exporter: rt.InMemorySpanExporter
) -> None:
    # codetrace runs each statement from a dialect listener placed first; listeners the
    # application adds must still run, in SQLAlchemy's order, and one that runs the statement
    # itself (returns True) must be the only one to run it
    engine = _engine(f"sqlite:///{database}")
    seen: list[str] = []

    def runs_it_itself(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        seen.append(f"ran {statement}")
        cursor.execute(statement, parameters)
        return True

    def only_looks(cursor: Any, statement: str, parameters: Any, context: Any) -> bool:
        seen.append(f"looked {statement}")
        return False

    def no_params(cursor: Any, statement: str, context: Any) -> bool:
        seen.append(f"no parameters {statement}")
        return False

    sa.event.listen(engine, "do_execute", only_looks)
    sa.event.listen(engine, "do_execute", runs_it_itself)
    sa.event.listen(engine, "do_execute_no_params", no_params)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (:x)"), {"x": 1})
        bare = connection.execution_options(no_parameters=True)
        assert bare.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    assert seen == [
        "looked CREATE TABLE t (x INTEGER)", "ran CREATE TABLE t (x INTEGER)",
        "looked INSERT INTO t VALUES (?)", "ran INSERT INTO t VALUES (?)",
        "no parameters SELECT count(*) FROM t",
    ]
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["CREATE TABLE t", "INSERT t", "SELECT t"]
    assert spans[2].attributes["db.query.text"] == "SELECT count(*) FROM t"


def test_descriptions_kept_per_engine_are_bounded(
    database: str, exporter: rt.InMemorySpanExporter
) -> None:
    # a statement's name and attributes are kept per engine and text; an application that
    # builds its texts (literals in them) must not grow that without bound
    engine = _engine(f"sqlite:///{database}")
    count = _sqlalchemy.MAX_DESCRIBED + 40
    with engine.connect() as connection:
        for n in range(count):
            connection.execute(text(f"SELECT {n} AS v{n}"))
        connection.execute(text("SELECT 1 AS v1"))  # kept or not, described the same way
    spans = exporter.get_finished_spans()
    assert len(spans) == count + 1
    assert {s.attributes["db.query.text"] for s in spans[-2:]} == {f"SELECT ? AS v{count - 1}",
                                                                  "SELECT ? AS v1"}
    assert spans[-1].attributes == spans[1].attributes
    described = getattr(engine.dialect, _sqlalchemy.DATABASE)[3]
    assert 0 < len(described) <= _sqlalchemy.MAX_DESCRIBED
    described.clear()
    huge = "SELECT 1 WHERE 1 IN (" + "1, " * 5000 + "1)"  # longer than _sql analyses
    with engine.connect() as connection:
        connection.exec_driver_sql(huge)
    assert not described
    assert exporter.get_finished_spans()[-1].name == "SELECT"


def test_only_real_engines_are_instrumented() -> None:
    rt.configure(exporter=rt.InMemorySpanExporter())
    with mock.patch("sqlalchemy.create_engine") as patched:
        result = rt.traced(sa.create_engine, ENGINE)("sqlite://", echo=True)
    assert result is patched.return_value
    assert patched.mock_calls == [mock.call("sqlite://", echo=True)]  # nothing read on the mock
    assert rt.traced(lambda url: url.upper(), ENGINE)("sqlite://") == "SQLITE://"


def test_disabled_tracing_leaves_the_factory_alone(database: str) -> None:
    rt.configure(disabled=True)
    assert rt.traced(sa.create_engine, ENGINE) is sa.create_engine


def test_factory_errors_propagate_unchanged() -> None:
    rt.configure(exporter=rt.InMemorySpanExporter())
    with pytest.raises(sa.exc.ArgumentError):
        _engine("not a url")


# -- attributes from the URL ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "system", "expected"),
    [
        (
            "postgresql+psycopg://app:s3cret@db.internal:5433/shop?sslmode=require",
            "postgresql",
            {"db.namespace": "shop", "server.address": "db.internal", "server.port": 5433},
        ),
        ("mysql+pymysql://app:s3cret@mysql.local/orders", "mysql",
         {"db.namespace": "orders", "server.address": "mysql.local"}),
        ("sqlite:///relative/app.db", "sqlite", {"db.namespace": "relative/app.db"}),
        ("sqlite:///file:shop.db?mode=ro&uri=true", "sqlite", {"db.namespace": "file:shop.db"}),
        ("sqlite://", "sqlite", {}),
    ],
)
def test_connection_attributes_never_hold_credentials(
    url: str, system: str, expected: dict[str, Any]
) -> None:
    attributes = _sqlalchemy.connection_attributes(system, sa.engine.make_url(url))
    assert attributes == expected
    assert "s3cret" not in str(attributes) and "app:" not in str(attributes)


def test_system_names_follow_the_semantic_conventions() -> None:
    def dialect(name: str, mariadb: bool = False) -> Any:
        return type("Dialect", (), {"name": name, "is_mariadb": mariadb})()

    assert _sqlalchemy._system(dialect("sqlite")) == "sqlite"
    assert _sqlalchemy._system(dialect("postgresql")) == "postgresql"
    assert _sqlalchemy._system(dialect("mysql")) == "mysql"
    assert _sqlalchemy._system(dialect("mysql", mariadb=True)) == "mariadb"
    assert _sqlalchemy._system(dialect("mariadb")) == "mariadb"
    assert _sqlalchemy._system(dialect("mssql")) == "microsoft.sql_server"
    assert _sqlalchemy._system(dialect("oracle")) == "oracle.db"
    assert _sqlalchemy._system(dialect("duckdb")) == "duckdb"


# -- one span per statement with a traced driver -----------------------------------------------


def test_a_traced_sqlite3_driver_under_the_engine_adds_no_statement_span(
    database: str, exporter: rt.InMemorySpanExporter
) -> None:
    def creator() -> sqlite3.Connection:
        connection: sqlite3.Connection = rt.traced(sqlite3.connect, "sqlite3.connect")(database)
        return connection

    engine = _engine(f"sqlite:///{database}", creator=creator)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (:x)"), [{"x": 1}, {"x": 2}])
        raw = connection.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()  # the driver used directly: its own span
        cursor.execute("SELECT count(*) FROM t")
    with engine.connect() as connection, pytest.raises(sa.exc.OperationalError):
        connection.execute(text("SELECT * FROM missing"))
    spans = exporter.get_finished_spans()
    # SQLAlchemy's spans carry db.namespace (from the engine URL); the driver's query spans
    # do not: each statement run through SQLAlchemy has one span, SQLAlchemy's.
    for statement in ("CREATE TABLE t (x INTEGER)", "INSERT INTO t VALUES (?)",
                      "SELECT * FROM missing"):
        (span,) = [s for s in spans if s.attributes.get("db.query.text") == statement]
        assert span.attributes["db.namespace"] == database
    by_text = {s.attributes.get("db.query.text"): s for s in spans}
    assert by_text["INSERT INTO t VALUES (?)"].name == "BATCH INSERT t"
    assert by_text["SELECT * FROM missing"].attributes["error.type"] == "sqlite3.OperationalError"
    # the driver used directly, and what SQLAlchemy does outside statements (its dialect's
    # PRAGMA on first connect, commit, rollback on check-in) keep the driver's spans
    assert by_text["SELECT count(*) FROM t"].name == "SELECT t"
    assert "db.namespace" not in by_text["SELECT count(*) FROM t"].attributes
    names = [s.name for s in spans]
    assert names[0] == f"connect {database}" and "COMMIT" in names and "PRAGMA" in names


# -- async --------------------------------------------------------------------------------------


def test_async_engine_statements(database: str, exporter: rt.InMemorySpanExporter) -> None:
    pytest.importorskip("aiosqlite")
    pytest.importorskip("greenlet")
    from sqlalchemy.ext.asyncio import create_async_engine

    async def main() -> list[Any]:
        engine = rt.traced(create_async_engine, ENGINE)(f"sqlite+aiosqlite:///{database}")
        try:
            async with engine.begin() as connection:
                await connection.execute(text("CREATE TABLE t (x INTEGER)"))
                await connection.execute(text("INSERT INTO t VALUES (:x)"), [{"x": 1}, {"x": 2}])
            with rt.span("task") as task:
                async with engine.connect() as connection:
                    rows = (await connection.execute(text("SELECT x FROM t ORDER BY x"))).all()
            assert rt.current_span() is None
            return [rows, task]
        finally:
            await engine.dispose()

    rows, task = asyncio.run(main())
    assert rows == [(1,), (2,)]
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["CREATE TABLE t", "BATCH INSERT t", "SELECT t", "task"]
    assert spans[2].parent_id == task.span_id
    assert spans[1].attributes["db.operation.batch.size"] == 2
    assert all(s.attributes["db.namespace"] == database for s in spans[:3])


# -- Flask-SQLAlchemy ------------------------------------------------------------------------------


def _app(database: str) -> Any:
    flask = pytest.importorskip("flask")
    app = flask.Flask("shop")
    app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{database}"
    app.config["SQLALCHEMY_BINDS"] = {"audit": f"sqlite:///{database}.audit"}
    return app


def test_flask_sqlalchemy_factory_pattern(database: str, exporter: rt.InMemorySpanExporter) -> None:
    flask_sqlalchemy = pytest.importorskip("flask_sqlalchemy")

    class Model(orm.DeclarativeBase):
        pass

    db = rt.traced(flask_sqlalchemy.SQLAlchemy, EXTENSION)(model_class=Model)
    assert isinstance(db, flask_sqlalchemy.SQLAlchemy)
    assert type(db).__name__ == "SQLAlchemy" and type(db) is not flask_sqlalchemy.SQLAlchemy

    class Item(db.Model):  # type: ignore[name-defined, misc]
        id: orm.Mapped[int] = orm.mapped_column(primary_key=True)
        name: orm.Mapped[str] = orm.mapped_column(sa.String(40))

    class Event(db.Model):  # type: ignore[name-defined, misc]
        __bind_key__ = "audit"
        id: orm.Mapped[int] = orm.mapped_column(primary_key=True)

    app = _app(database)
    db.init_app(app)  # engines made now, long after the extension
    with app.app_context():
        db.create_all()
        exporter.clear()
        db.session.add(Item(name="pen"))
        db.session.add(Event())
        db.session.commit()
        assert db.session.execute(db.select(Item)).scalar_one().name == "pen"
        assert Item.query.count() == 1
    names = [(s.name, s.attributes["db.namespace"]) for s in exporter.get_finished_spans()]
    assert sorted(names[:2]) == [("INSERT event", f"{database}.audit"), ("INSERT item", database)]
    assert names[2] == ("SELECT item", database)
    assert names[3][1] == database and len(names) == 4  # Model.query.count(): a subquery


def test_flask_sqlalchemy_with_the_app_and_a_project_subclass(
    database: str, exporter: rt.InMemorySpanExporter
) -> None:
    flask_sqlalchemy = pytest.importorskip("flask_sqlalchemy")
    made: list[Any] = []

    class ShopDatabase(flask_sqlalchemy.SQLAlchemy):  # type: ignore[misc]
        def _make_engine(self, bind_key: Any, options: Any, app: Any) -> Any:
            made.append(bind_key)
            return super()._make_engine(bind_key, options, app)

    app = _app(database)
    db = rt.traced(ShopDatabase, EXTENSION)(app)  # engines made in the constructor
    assert isinstance(db, ShopDatabase) and sorted(made, key=str) == [None, "audit"]
    with app.app_context():
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        with db.engines["audit"].connect() as connection:
            connection.execute(text("SELECT 2"))
        db.session.execute(text("SELECT 3"))
    assert [s.attributes["db.query.text"] for s in exporter.get_finished_spans()] == [
        "SELECT ?", "SELECT ?", "SELECT ?",
    ]


def test_flask_sqlalchemy_that_is_not_the_extension_is_called_as_is() -> None:
    rt.configure(exporter=rt.InMemorySpanExporter())
    flask_sqlalchemy = pytest.importorskip("flask_sqlalchemy")
    with mock.patch("flask_sqlalchemy.SQLAlchemy") as patched:
        assert rt.traced(flask_sqlalchemy.SQLAlchemy, EXTENSION)("app") is patched.return_value
    assert patched.mock_calls == [mock.call("app")]

    class Other:
        def __init__(self, app: Any) -> None:
            self.app = app

    assert type(rt.traced(Other, EXTENSION)("app")) is Other


def test_flask_sqlalchemy_2_shape_create_engine_is_the_funnel(
    database: str, exporter: rt.InMemorySpanExporter
) -> None:
    """Flask-SQLAlchemy 2.x has no ``_make_engine``: engines come from its public
    ``create_engine(sa_url, engine_opts)``. 2.x needs Flask < 2.3 and SQLAlchemy < 2, so its
    shape is reproduced here rather than installed."""
    from codetrace.runtime import _flask_sqlalchemy
    from codetrace.runtime._construct import traced_subclass

    class SQLAlchemy2:
        def create_engine(self, sa_url: str, engine_opts: dict[str, Any]) -> Any:
            return sa.create_engine(sa_url, **engine_opts)

    assert _flask_sqlalchemy._funnel(SQLAlchemy2) == "create_engine"
    traced = traced_subclass(SQLAlchemy2, _flask_sqlalchemy.KIND, _flask_sqlalchemy._namespace)
    assert traced is not None
    engine = traced().create_engine(f"sqlite:///{database}", {"echo": False})
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert _names(exporter) == ["SELECT"]
