"""Packaging: two distributions built from this repository, at one version.

- ``codetrace-runtime`` (``codetrace/runtime/pyproject.toml``): ``codetrace/runtime/**`` only, no
  ``codetrace/__init__.py`` (``codetrace`` is a namespace package when it is installed alone), no
  dependencies, ``py.typed``. It is what an instrumented application installs in production.
- ``codetrace`` (``pyproject.toml``): the engine and CLI, without ``codetrace/runtime/``, depending
  on ``codetrace-runtime`` of the same version.

The fast tests read the configuration. The slow ones (``python -m pytest -m slow``) build both
wheels and sdists, install the runtime wheel alone into a fresh virtual environment, and type-check
a small annotated project with ``mypy --strict`` and strict pyright before and after ``codetrace
apply``, with only the runtime installed beside its libraries. They download packages (build,
hatchling, mypy, pyright, requests, flask, types-requests) with pip.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).parent.parent
RUNTIME = ROOT / "codetrace" / "runtime"
MAX_RUNTIME_WHEEL = 1024 * 1024


def _pyproject(path: Path) -> dict[str, object]:
    with open(path, "rb") as f:
        return tomllib.load(f)


def _version() -> str:
    text = (RUNTIME / "_version.py").read_text()
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    assert match, 'codetrace/runtime/_version.py must set __version__ = "..."'
    return match.group(1)


def _table(data: object, *keys: str) -> dict[str, object]:
    for key in keys:
        assert isinstance(data, dict), keys
        data = data[key]
    assert isinstance(data, dict), keys
    return data


# ---------------------------------------------------------------------------------------------
# fast: the configuration


def test_the_version_is_written_once_and_the_engine_pins_the_runtime_to_it() -> None:
    version = _version()
    engine = _pyproject(ROOT / "pyproject.toml")
    runtime = _pyproject(RUNTIME / "pyproject.toml")
    for data, base in ((engine, ROOT), (runtime, RUNTIME)):
        project = _table(data, "project")
        assert "version" not in project and project["dynamic"] == ["version"]
        path = _table(data, "tool", "hatch", "version")["path"]
        assert isinstance(path, str)
        assert (base / path).resolve() == (RUNTIME / "_version.py").resolve()
    dependencies = _table(engine, "project")["dependencies"]
    assert isinstance(dependencies, list)
    pins = [d for d in dependencies if d.startswith("codetrace-runtime")]
    assert pins == [f"codetrace-runtime=={version}"], "bump the pin with _version.py"


def test_the_runtime_distribution_has_no_dependencies() -> None:
    project = _table(_pyproject(RUNTIME / "pyproject.toml"), "project")
    assert project["name"] == "codetrace-runtime"
    assert project["dependencies"] == []
    assert "optional-dependencies" not in project


def test_both_packages_are_typed() -> None:
    assert (ROOT / "codetrace" / "py.typed").is_file()
    assert (RUNTIME / "py.typed").is_file()


def test_the_readme_commands_install_the_runtime_from_the_checkout() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```sh\n(python3 -m venv[^\n]*)\n```", readme)
    assert len(commands) == 3  # the example, the three-service demo, the tests
    for command in commands:
        assert re.search(r'pip install -q \./codetrace/runtime "\.\[(example|services|test)\]"',
                         command)


def test_the_pre_commit_hooks_install_the_runtime_from_their_clone() -> None:
    # pre-commit runs `pip install . <additional_dependencies>` in its clone of this repository;
    # the runtime the engine pins must come from the same clone.
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    hooks = re.findall(r"^- id: ", text, re.M)
    extra = re.findall(r'^  additional_dependencies: \["\./codetrace/runtime"\]$', text, re.M)
    assert hooks and len(extra) == len(hooks)
    assert len(re.findall(r"^  language: python$", text, re.M)) == len(hooks)


# ---------------------------------------------------------------------------------------------
# slow: build, install, type-check


def _run(
    *args: str | Path, cwd: Path | None = None, timeout: float = 900, check: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    proc = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {proc.returncode}\n"
            f"--- stdout\n{proc.stdout[-6000:]}\n--- stderr\n{proc.stderr[-6000:]}"
        )
    return proc


def _venv(path: Path, *packages: str | Path) -> Path:
    _run(sys.executable, "-m", "venv", path)
    python = path / "bin" / "python"
    if packages:
        _run(python, "-m", "pip", "install", "-q", *packages)
    return python


def _pip_list(python: Path) -> dict[str, str]:
    out = _run(python, "-m", "pip", "list", "--format", "json").stdout
    return {p["name"].lower(): p["version"] for p in json.loads(out)}


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with the build front end, hatchling and the type checkers."""
    return _venv(tmp_path_factory.mktemp("tools"), "build", "hatchling>=1.21", "mypy", "pyright")


@pytest.fixture(scope="module")
def built(tools: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Both distributions, each as sdist + wheel built from that sdist (what `python -m build`
    does), and the runtime's wheel once more, built straight from the tree."""
    out = tmp_path_factory.mktemp("dist")
    _run(tools, "-m", "build", "--no-isolation", "--outdir", out / "runtime", RUNTIME)
    _run(tools, "-m", "build", "--no-isolation", "--wheel", "--outdir", out / "tree", RUNTIME)
    _run(tools, "-m", "build", "--no-isolation", "--outdir", out / "engine", ROOT)
    version = _version()
    found = {
        "runtime_wheel": out / "runtime" / f"codetrace_runtime-{version}-py3-none-any.whl",
        "runtime_sdist": out / "runtime" / f"codetrace_runtime-{version}.tar.gz",
        "runtime_tree_wheel": out / "tree" / f"codetrace_runtime-{version}-py3-none-any.whl",
        "engine_wheel": out / "engine" / f"codetrace-{version}-py3-none-any.whl",
        "engine_sdist": out / "engine" / f"codetrace-{version}.tar.gz",
    }
    for path in found.values():
        assert path.is_file(), path
    return found


def _metadata(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return zf.read(name).decode().split("\n\n", 1)[0].splitlines()


@pytest.mark.slow
def test_the_runtime_wheel_holds_the_runtime_alone(built: dict[str, Path]) -> None:
    wheel = built["runtime_wheel"]
    version = _version()
    assert wheel.stat().st_size <= MAX_RUNTIME_WHEEL, wheel.stat().st_size
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    dist_info = f"codetrace_runtime-{version}.dist-info/"
    assert all(n.startswith(("codetrace/runtime/", dist_info)) for n in names), names
    assert "codetrace/__init__.py" not in names
    assert "codetrace/runtime/py.typed" in names
    assert not [
        n for n in names if n.endswith((".pyc", "pyproject.toml", "PKG-INFO", ".gitignore"))
    ]
    shipped = {n for n in names if n.endswith(".py")}
    sources = {
        p.relative_to(ROOT).as_posix()
        for p in RUNTIME.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert shipped == sources
    metadata = _metadata(wheel)
    assert "Name: codetrace-runtime" in metadata
    assert f"Version: {version}" in metadata
    assert not [line for line in metadata if line.startswith("Requires-Dist:")]


@pytest.mark.slow
def test_the_runtime_sdist_builds_the_same_wheel(built: dict[str, Path]) -> None:
    # `python -m build` made the first wheel from the sdist; the second is straight from the tree.
    assert built["runtime_wheel"].read_bytes() == built["runtime_tree_wheel"].read_bytes()


@pytest.mark.slow
def test_the_engine_wheel_leaves_the_runtime_out_and_pins_it(built: dict[str, Path]) -> None:
    version = _version()
    with zipfile.ZipFile(built["engine_wheel"]) as zf:
        names = zf.namelist()
    assert not [n for n in names if n.startswith("codetrace/runtime")]
    assert "codetrace/__init__.py" in names and "codetrace/cli.py" in names
    assert "codetrace/py.typed" in names
    assert [n for n in names if n.startswith("codetrace/_data/rules/") and n.endswith(".toml")]
    assert [n for n in names if n.startswith("codetrace/_data/templates/")]
    metadata = _metadata(built["engine_wheel"])
    assert f"Requires-Dist: codetrace-runtime=={version}" in metadata
    assert f"Version: {version}" in metadata


_RUNTIME_ALONE_CHECK = r"""
import importlib, json, pkgutil, sys
before = set(sys.modules)  # the interpreter's own start-up (site, a .pth of setuptools...)
import codetrace.runtime
from codetrace.runtime import span, traced
import codetrace

# `codetrace` is the implicit namespace package: the engine's __init__ is not installed.
assert getattr(codetrace, "__file__", None) is None, codetrace.__file__
names = [m.name for m in pkgutil.walk_packages(codetrace.runtime.__path__, "codetrace.runtime.")]
for name in names:
    importlib.import_module(name)
attributes = codetrace.runtime.resource_attributes()
with span("packaging-check"):
    pass
foreign = sorted(
    m for m in set(sys.modules) - before
    if m.partition(".")[0] not in sys.stdlib_module_names and m.partition(".")[0] != "codetrace"
)
assert not foreign, foreign
print(json.dumps({"modules": len(names), "sdk_version": attributes.get("telemetry.sdk.version")}))
"""


@pytest.mark.slow
def test_the_runtime_installs_alone_and_imports_only_the_standard_library(
    built: dict[str, Path], tmp_path: Path
) -> None:
    python = _venv(tmp_path / "venv")
    before = _pip_list(python)
    _run(python, "-m", "pip", "install", "-q", "--no-index", built["runtime_wheel"])
    after = _pip_list(python)
    added = {name: v for name, v in after.items() if name not in before}
    assert added == {"codetrace-runtime": _version()}
    # -I: neither the checkout nor user site-packages on sys.path; cwd outside the checkout.
    out = _run(python, "-I", "-c", _RUNTIME_ALONE_CHECK, cwd=tmp_path).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["modules"] > 10
    assert result["sdk_version"] == _version()


_PROJECT = {
    "shop/__init__.py": '''\
"""A small, fully annotated service: HTTP with requests, SQL with sqlite3, an API with Flask."""
''',
    "shop/db.py": '''\
"""Orders stored with sqlite3."""

from __future__ import annotations

import sqlite3
from collections.abc import Generator
from contextlib import contextmanager


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)")
    return conn


@contextmanager
def session(path: str) -> Generator[sqlite3.Connection, None, None]:
    conn = connect(path)
    try:
        yield conn
    finally:
        conn.close()


def add_order(conn: sqlite3.Connection, item: str) -> int:
    cur = conn.execute("INSERT INTO orders (item) VALUES (?)", (item,))
    conn.commit()
    row_id = cur.lastrowid
    if row_id is None:
        raise RuntimeError("no row id")
    return row_id


def items(conn: sqlite3.Connection) -> list[str]:
    cur = conn.cursor()
    cur.execute("SELECT item FROM orders ORDER BY id")
    rows: list[tuple[str]] = cur.fetchall()
    return [item for (item,) in rows]
''',
    "shop/client.py": '''\
"""Calls to the inventory service with requests."""

from __future__ import annotations

import requests

API = "http://127.0.0.1:8001"
_session = requests.Session()


def stock(item: str) -> int:
    response = _session.get(f"{API}/stock/{item}", timeout=5)
    response.raise_for_status()
    body: dict[str, int] = response.json()
    return body["count"]


def reserve(item: str, count: int) -> bool:
    response = requests.post(f"{API}/reserve", json={"item": item, "count": count}, timeout=5)
    return response.status_code == 200


def health() -> str:
    with requests.Session() as session:
        return session.get(f"{API}/health", timeout=2).text
''',
    "shop/app.py": '''\
"""The shop's HTTP API with Flask."""

from __future__ import annotations

from flask import Flask, Response, jsonify

from shop import client, db

DB_PATH = "shop.db"


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/order/<item>")
    def order(item: str) -> Response:
        if not client.reserve(item, 1):
            return jsonify({"error": "out of stock"})
        with db.session(DB_PATH) as conn:
            order_id = db.add_order(conn, item)
        return jsonify({"id": order_id, "stock": client.stock(item)})

    return app


def make_admin() -> Flask:
    return Flask("admin")


app = create_app()
''',
    # pyright takes the Python version from the interpreter given with --pythonpath.
    "pyrightconfig.json": '{"typeCheckingMode": "strict"}\n',
}


@pytest.fixture(scope="module")
def typed_projects(
    built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, Path]:
    """The application's venv (its libraries and the runtime wheel, nothing of the engine), the
    annotated project, and its copy instrumented by this checkout's `codetrace apply --out`."""
    base = tmp_path_factory.mktemp("typed")
    app_python = _venv(
        base / "app-venv", "requests", "types-requests", "flask", built["runtime_wheel"]
    )
    assert "libcst" not in _pip_list(app_python) and "codetrace" not in _pip_list(app_python)
    source = base / "project"
    for rel, text in _PROJECT.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_text(text)
    instrumented = base / "instrumented"
    _run(sys.executable, "-m", "codetrace", "apply", "--out", instrumented, source, cwd=ROOT)
    changed = [
        rel for rel in _PROJECT if (instrumented / rel).read_text() != (source / rel).read_text()
    ]
    assert sorted(changed) == ["shop/app.py", "shop/client.py", "shop/db.py"]
    for rel in changed:
        assert "import codetrace.runtime as _codetrace" in (instrumented / rel).read_text()
    return app_python, source, instrumented


@pytest.mark.slow
def test_an_instrumented_project_passes_mypy_strict(
    tools: Path, typed_projects: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    app_python, source, instrumented = typed_projects
    for project in (source, instrumented):
        cache = tmp_path / f"mypy-{project.name}"
        mypy = (tools, "-m", "mypy", "--strict", "--cache-dir", cache)
        proc = _run(*mypy, "--python-executable", app_python, "shop", cwd=project, check=False)
        assert proc.returncode == 0, f"{project.name}:\n{proc.stdout}{proc.stderr}"
        assert "Success: no issues found in 4 source files" in proc.stdout


@pytest.mark.slow
def test_an_instrumented_project_passes_strict_pyright(
    tools: Path, typed_projects: tuple[Path, Path, Path]
) -> None:
    # The pyright package runs the type checker on Node.js, which it installs on first use.
    pyright = tools.parent / "pyright"
    probe = _run(pyright, "--version", check=False, timeout=600)
    if probe.returncode != 0:
        pytest.skip(f"pyright cannot run here: {(probe.stderr or probe.stdout)[-500:]}")
    app_python, source, instrumented = typed_projects
    for project in (source, instrumented):
        proc = _run(pyright, "--pythonpath", app_python, "--outputjson", cwd=project, check=False)
        report = json.loads(proc.stdout)
        assert report["summary"]["filesAnalyzed"] == 4, report["summary"]
        diagnostics = [d for d in report["generalDiagnostics"] if d["severity"] != "information"]
        assert proc.returncode == 0 and not diagnostics, f"{project.name}: {diagnostics}"
