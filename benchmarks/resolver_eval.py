"""Evaluate receiver-type engines on codetrace's cases: codetrace's resolver, jedi, mypy.

    .venv/bin/python benchmarks/resolver_eval.py            # everything, 3 runs per timing
    .venv/bin/python benchmarks/resolver_eval.py --quick    # 1 run per timing
    .venv/bin/python benchmarks/resolver_eval.py --details  # also the per-site answers

What it does (docs/resolver-evaluation.md has the results and the reasoning):

* Sites: every call in the cases whose callee's last name is one a rule matches on (``get``,
  ``execute``, ``Flask``, ...), found with :mod:`ast`. That takes in the library calls and their
  look-alikes (``dict.get``, a project class's ``execute``) alike; all engines get the same list.
* Truth: :data:`TRUTH`, written by reading each case: the callee's qualified name as the rules
  spell it, ``-`` for "not a call the rules mean", or ``either:<name>`` where the callee depends
  on the runtime class and both answers are defensible (not scored).
* Engines answer per site with a qualified name: codetrace from ``codetrace explain --json``;
  jedi from ``Script.infer`` on the callee's name; mypy from the exported type map (receiver
  type of the ``MemberExpr``, looked up through the MRO). Names are normalised with the rules'
  ``[aliases]`` (``requests.sessions.Session`` -> ``requests.Session``) and :data:`EXTRA_ALIASES`.
* Analysis environment: a separate venv (made once under ``--cache``) with the libraries at the
  versions in :data:`SAMPLE_PACKAGES`, and a second one that also sees ``types-requests``, so that
  "with stubs" and "without" are the same venv but for the stubs. jedi and mypy read that venv;
  codetrace needs no environment at all.
* Large sample: whole packages copied out of that venv (users of requests, sqlite3 and Flask, see
  :data:`SAMPLE_COPY`) plus ``fixtures/example``. No truth there: timing and agreement only.
* Every engine runs in a fresh worker process per measurement (this script with ``--worker``),
  so cold start, caches and peak memory (VmHWM of the worker and its children) are its own.

Not a test: it lives outside tests/ and pytest does not collect it.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tokenize
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # the project supports 3.10, where tomli is the same parser
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
GOLDEN = FIXTURES / "golden"
HARDCASES = FIXTURES / "hardcases"
RULES = REPO / "rules"

#: what the analysis venv holds (pip resolves the rest); the large sample is copied out of it
SAMPLE_PACKAGES = (
    "requests==2.34.2", "flask==3.1.3", "httpx==0.28.1", "sqlite-utils==4.2.1",
    "requests-toolbelt==1.0.0", "cachecontrol==0.14.4", "responses==0.26.3",
)
#: the last requests without py.typed (2.34.0 added it): mypy then needs types-requests
UNTYPED_REQUESTS = "requests==2.33.1"
STUB_PACKAGES = ("types-requests==2.33.0.20261030",)
#: top-level packages of the analysis venv copied into the large sample
#: (not flask, requests, httpx: a library with rules inside the project root becomes project
#: code to codetrace, and its own calls are then not the library's)
SAMPLE_COPY = ("requests_toolbelt", "cachecontrol", "responses", "sqlite_utils", "werkzeug")

#: cases codetrace refuses or skips by policy, not by resolution: left out of the scoring
EXCLUDED_FILES = {
    "golden/already_instrumented/input.py": "already instrumented: codetrace skips the file",
    "golden/binds_marker/input.py": "binds the marker name: codetrace refuses the file",
    "golden/ignore_file/input.py": "`# codetrace: ignore` file",
}
EXCLUDED_SITES = {
    ("golden/ignore_directives/input.py", 5): "`# codetrace: ignore` line",
    ("golden/ignore_directives/input.py", 11): "`# codetrace: ignore` function",
    ("golden/ignore_directives/input.py", 17): "`# codetrace: ignore` class",
}

#: (file under fixtures/, line, callee's last name) -> expected callee, by reading the cases
TRUTH: dict[tuple[str, int, str], str] = {
    ("golden/async_with_httpx/input.py", 8, "get"): "httpx.AsyncClient.get",
    ("golden/async_with_httpx/input.py", 9, "post"): "httpx.AsyncClient.post",
    ("golden/await_and_async/input.py", 8, "get"): "requests.get",
    ("golden/crlf_newlines/input.py", 5, "get"): "requests.get",
    ("golden/db_attribute_chain/input.py", 6, "connect"): "sqlite3.connect",
    ("golden/db_attribute_chain/input.py", 13, "execute"): "sqlite3.Connection.execute",
    ("golden/db_attribute_chain/input.py", 18, "execute"): "sqlite3.Connection.execute",
    ("golden/db_attribute_chain/input.py", 19, "executemany"): "sqlite3.Cursor.executemany",
    ("golden/db_attribute_chain/input.py", 20, "commit"): "sqlite3.Connection.commit",
    ("golden/db_attribute_chain/input.py", 21, "execute"): "sqlite3.Connection.execute",
    ("golden/db_factories/input.py", 7, "connect"): "sqlite3.connect",
    ("golden/db_factories/input.py", 12, "connect"): "sqlite3.connect",
    ("golden/db_factories/input.py", 17, "execute"): "sqlite3.Connection.execute",
    # conn = get_conn(), unannotated, returns flask.g.db which get_conn itself set
    ("golden/db_factories/input.py", 23, "execute"): "sqlite3.Connection.execute",
    ("golden/db_factories/input.py", 25, "execute"): "sqlite3.Cursor.execute",
    ("golden/db_factories/input.py", 26, "rollback"): "sqlite3.Connection.rollback",
    ("golden/expression_contexts/input.py", 3, "get"): "requests.get",
    ("golden/expression_contexts/input.py", 4, "get"): "requests.get",
    ("golden/expression_contexts/input.py", 5, "head"): "requests.head",
    ("golden/expression_contexts/input.py", 8, "get"): "requests.get",
    ("golden/expression_contexts/input.py", 13, "head"): "requests.head",
    ("golden/expression_contexts/input.py", 13, "get"): "requests.get",
    ("golden/expression_contexts/input.py", 17, "get"): "requests.get",
    ("golden/expression_contexts/input.py", 21, "get"): "requests.get",
    ("golden/expression_contexts/input.py", 25, "get"): "requests.get",
    ("golden/expression_contexts/input.py", 29, "get"): "requests.get",
    ("golden/flask_factory/input.py", 5, "Flask"): "flask.Flask",
    ("golden/flask_factory/input.py", 12, "Flask"): "flask.Flask",
    ("golden/flask_factory/input.py", 16, "Flask"): "flask.Flask",
    ("golden/flask_factory/input.py", 21, "Flask"): "flask.Flask",
    ("golden/flask_module_level/input.py", 8, "Flask"): "flask.Flask",
    ("golden/flask_module_level/input.py", 9, "get"): "-",  # os.environ.get
    ("golden/flask_module_level/input.py", 12, "get"): "-",  # @app.get: Flask's route decorator
    ("golden/from_import/input.py", 5, "get"): "requests.get",
    ("golden/from_import/input.py", 6, "send"): "requests.request",  # `request as send`
    ("golden/httpx_client_attribute/input.py", 9, "get"): "httpx.Client.get",
    ("golden/httpx_client_attribute/input.py", 13, "get"): "httpx.get",
    ("golden/ignore_directives/input.py", 6, "get"): "requests.get",
    ("golden/import_alias/input.py", 5, "post"): "requests.post",
    ("golden/latin1_encoding/input.py", 8, "get"): "requests.get",
    ("golden/module_call/input.py", 6, "get"): "requests.get",
    ("golden/multiline_call_with_comments/input.py", 5, "post"): "requests.post",
    ("golden/no_trailing_newline/input.py", 2, "get"): "requests.get",
    ("golden/not_the_library/input.py", 11, "get"): "-",  # dict
    ("golden/not_the_library/input.py", 12, "get"): "-",  # dict
    ("golden/not_the_library/input.py", 13, "get"): "-",  # project class Store
    ("golden/not_the_library_execute/input.py", 15, "get"): "-",  # dict
    ("golden/not_the_library_execute/input.py", 16, "execute"): "-",  # project class Runner
    ("golden/not_the_library_execute/input.py", 20, "connect"): "sqlite3.connect",
    # `Connection if flag else Runner()`: instrumenting it would trace Runner calls too
    ("golden/not_the_library_execute/input.py", 21, "execute"): "-",
    # self may be a Tolerant, whose get is the project's override: either answer is defensible
    ("golden/project_subclass/input.py", 8, "get"): "either:requests.Session.get",
    ("golden/project_subclass/input.py", 11, "request"): "requests.Session.request",
    # super() in Tolerant(Api(requests.Session)): the next get in the MRO is Session.get
    ("golden/project_subclass/input.py", 17, "get"): "requests.Session.get",
    ("golden/project_subclass/input.py", 20, "get"): "-",  # Tolerant.get, the project's own
    ("golden/project_subclass/input.py", 25, "post"): "requests.Session.post",
    ("golden/project_subclass/input.py", 30, "get"): "requests.Session.get",
    ("golden/self_referencing/input.py", 17, "get"): "requests.Session.get",
    # two calls on the line, both on a Session: registry.session and s
    ("golden/self_referencing/input.py", 30, "get"): "requests.Session.get",
    ("golden/self_session_attributes/input.py", 12, "get"): "requests.Session.get",
    ("golden/self_session_attributes/input.py", 20, "put"): "requests.Session.put",
    ("golden/self_session_attributes/input.py", 29, "head"): "requests.Session.head",
    ("golden/semicolons_and_suites/input.py", 4, "Flask"): "flask.Flask",
    ("golden/semicolons_and_suites/input.py", 5, "get"): "requests.get",
    ("golden/semicolons_and_suites/input.py", 6, "get"): "requests.get",
    ("golden/session_annotated/input.py", 8, "get"): "requests.Session.get",
    ("golden/session_annotated/input.py", 12, "delete"): "requests.Session.delete",
    ("golden/session_annotated/input.py", 16, "put"): "requests.Session.put",
    ("golden/session_annotated/input.py", 21, "options"): "requests.Session.options",
    ("golden/session_assigned/input.py", 7, "head"): "requests.Session.head",
    ("golden/session_assigned/input.py", 13, "send"): "requests.Session.send",
    ("golden/session_in_with/input.py", 6, "get"): "requests.Session.get",
    ("golden/shadowed_name/input.py", 7, "get"): "-",  # local `get = dict(a=1).get`
    # the module ends with `requests = None`: when later() runs, `requests` is None
    ("golden/shadowed_name/input.py", 11, "get"): "-",
    ("hardcases/hardapp/db.py", 12, "connect"): "sqlite3.connect",
    ("hardcases/hardapp/db.py", 20, "connect"): "sqlite3.connect",
    ("hardcases/hardapp/db.py", 26, "connect"): "sqlite3.connect",
    ("hardcases/hardapp/http.py", 19, "get"): "requests.Session.get",
    ("hardcases/hardapp/http.py", 30, "post"): "requests.Session.post",
    ("hardcases/hardapp/services.py", 11, "head"): "requests.Session.head",
    ("hardcases/hardapp/services.py", 15, "execute"): "sqlite3.Connection.execute",
    ("hardcases/hardapp/views.py", 10, "get"): "requests.Session.get",
    ("hardcases/hardapp/views.py", 23, "execute"): "sqlite3.Connection.execute",
    ("hardcases/hardapp/views.py", 24, "executemany"): "sqlite3.Cursor.executemany",
    ("hardcases/hardapp/views.py", 25, "commit"): "sqlite3.Connection.commit",
    ("hardcases/hardapp/views.py", 26, "execute"): "sqlite3.Connection.execute",
    ("hardcases/hardapp/views.py", 30, "execute"): "sqlite3.Connection.execute",
    # conn = get_request_db(), unannotated, returns flask.g.db set to sqlite3.connect(...)
    ("hardcases/hardapp/views.py", 35, "execute"): "sqlite3.Connection.execute",
    ("hardcases/hardapp/views.py", 40, "get"): "-",  # dict
    ("hardcases/hardapp/views.py", 41, "execute"): "-",  # project class Runner
}

#: names the engines give that the rules' [aliases] do not cover
EXTRA_ALIASES = {
    "_sqlite3": "sqlite3",  # mypy: typeshed defines connect in _sqlite3 (3.11+)
}


# --------------------------------------------------------------------------------------------
# rules: the names a call must end with, the qualified names they match, the aliases


@dataclass(frozen=True)
class Rules:
    calls: frozenset[str]
    last_names: frozenset[str]
    aliases: dict[str, str]

    def normalise(self, name: str) -> str:
        """Longest alias prefix at a dot boundary wins, repeatedly (``_sqlite3`` then ...)."""
        for _ in range(4):
            parts = name.split(".")
            for cut in range(len(parts), 0, -1):
                prefix = ".".join(parts[:cut])
                if prefix in self.aliases:
                    name = ".".join([self.aliases[prefix], *parts[cut:]])
                    break
            else:
                return name
        return name


def load_rules() -> Rules:
    calls: set[str] = set()
    aliases: dict[str, str] = dict(EXTRA_ALIASES)
    for path in sorted(RULES.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        aliases.update(data.get("aliases", {}))
        for rule in data.get("rule", []):
            calls.update(rule["match"]["call"])
    return Rules(frozenset(calls), frozenset(c.rsplit(".", 1)[-1] for c in calls), aliases)


# --------------------------------------------------------------------------------------------
# sites


@dataclass(frozen=True)
class Site:
    rel: str  # display path: under fixtures/ for the golden set, under the sample root otherwise
    line: int
    col: int  # ast col_offset of the Call (UTF-8 bytes, 0-based)
    end_line: int
    end_col: int
    name: str  # the callee's last name
    kind: str  # "attr" | "name" | "super"
    q_line: int  # where jedi is asked: the callee's name, 1-based line
    q_col: int  # ... 0-based character column
    char_col: int  # the Call's 0-based character column (codetrace reports it 1-based)

    @property
    def key(self) -> str:
        return f"{self.rel}:{self.line}:{self.col}:{self.end_line}:{self.end_col}"


@dataclass(frozen=True)
class SourceFile:
    path: str  # absolute
    rel: str
    root: str  # import root (project path for jedi, search path for mypy)
    module: str  # module name under root
    mypy_module: str  # unique module name for the one mypy build
    sites: tuple[Site, ...]


def _decode(data: bytes) -> tuple[str, str]:
    encoding, _ = tokenize.detect_encoding(iter(data.splitlines(keepends=True)).__next__)
    return data.decode(encoding), encoding


def _chars(lines: Sequence[bytes], encoding: str, line: int, col: int) -> int:
    return len(lines[line - 1][:col].decode(encoding, errors="replace"))


def find_sites(path: Path, rel: str, rules: Rules) -> tuple[Site, ...]:
    data = path.read_bytes()
    _, encoding = _decode(data)
    lines = data.splitlines(keepends=True)
    try:
        tree = ast.parse(data)
    except SyntaxError:
        return ()
    found: list[Site] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            name = func.attr
            assert func.end_lineno is not None and func.end_col_offset is not None
            q_line = func.end_lineno
            q_col = _chars(lines, encoding, q_line, func.end_col_offset) - len(name)
            kind = "super" if (isinstance(func.value, ast.Call)
                               and isinstance(func.value.func, ast.Name)
                               and func.value.func.id == "super") else "attr"
        elif isinstance(func, ast.Name):
            name, q_line = func.id, func.lineno
            q_col = _chars(lines, encoding, q_line, func.col_offset)
            kind = "name"
        else:
            continue
        if name not in rules.last_names:
            continue
        assert node.end_lineno is not None and node.end_col_offset is not None
        found.append(Site(rel, node.lineno, node.col_offset, node.end_lineno,
                          node.end_col_offset, name, kind, q_line, q_col,
                          _chars(lines, encoding, node.lineno, node.col_offset)))
    return tuple(sorted(found, key=lambda s: (s.line, s.col, s.end_line, s.end_col)))


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def golden_files(rules: Rules) -> list[SourceFile]:
    files: list[SourceFile] = []
    for path in sorted(GOLDEN.glob("*/input.py")):
        rel = path.relative_to(FIXTURES).as_posix()
        if rel in EXCLUDED_FILES:
            continue
        sites = tuple(s for s in find_sites(path, rel, rules)
                      if (rel, s.line) not in EXCLUDED_SITES)
        files.append(SourceFile(str(path), rel, str(path.parent), "input",
                                f"golden_{path.parent.name}", sites))
    for path in sorted(HARDCASES.rglob("*.py")):
        rel = path.relative_to(FIXTURES).as_posix()
        module = _module_name(path, HARDCASES)
        files.append(SourceFile(str(path), rel, str(HARDCASES), module, module,
                                find_sites(path, rel, rules)))
    return files


def tree_files(root: Path, rules: Rules) -> list[SourceFile]:
    files = []
    for path in sorted(root.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(root).as_posix()
        module = _module_name(path, root)
        files.append(SourceFile(str(path), rel, str(root), module, module,
                                find_sites(path, rel, rules)))
    return files


# --------------------------------------------------------------------------------------------
# environments: the analysis venvs, the large sample


@dataclass(frozen=True)
class Envs:
    """Three analysis environments that differ only in how requests is typed."""

    inline: Path  # requests >= 2.33: ships py.typed and inline annotations
    untyped: Path  # requests 2.33: no py.typed, so mypy ignores its source
    stubs: Path  # the untyped venv's site-packages plus types-requests (the classic setup)

    @staticmethod
    def python(venv: Path) -> str:
        return str(venv / "bin" / "python")

    @staticmethod
    def site_packages(venv: Path) -> Path:
        return sorted((venv / "lib").glob("python3*/site-packages"))[0]

    def labelled(self) -> list[tuple[str, Path]]:
        return [("requests 2.34, inline types", self.inline),
                ("requests 2.33 + types-requests", self.stubs),
                ("requests 2.33, no stubs", self.untyped)]


def _run(cmd: Sequence[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")


def prepare_envs(cache: Path) -> Envs:
    """Make the analysis venvs once (pip, from the package registry), then reuse them."""
    envs = Envs(cache / "venv-inline", cache / "venv-untyped", cache / "venv-stubs")
    stamp = cache / "envs.json"
    wanted = json.dumps([SAMPLE_PACKAGES, UNTYPED_REQUESTS, STUB_PACKAGES,
                         sys.version_info[:2]])
    if stamp.exists() and stamp.read_text() == wanted:
        return envs
    print(f"making the analysis venvs under {cache} ...", file=sys.stderr)
    for old in (envs.inline, envs.untyped, envs.stubs, cache / "stubs"):
        shutil.rmtree(old, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    for venv, packages in ((envs.inline, SAMPLE_PACKAGES),
                           (envs.untyped, (*SAMPLE_PACKAGES[1:], UNTYPED_REQUESTS))):
        _run([base, "-m", "venv", str(venv)])
        _run([Envs.python(venv), "-m", "pip", "install", "-q", "--disable-pip-version-check",
              *packages])
    _run([Envs.python(envs.inline), "-m", "pip", "install", "-q", "--disable-pip-version-check",
          "--no-deps", "--target", str(cache / "stubs"), *STUB_PACKAGES])
    _run([base, "-m", "venv", "--without-pip", str(envs.stubs)])
    pth = Envs.site_packages(envs.stubs) / "resolver_eval.pth"
    pth.write_text(f"{cache / 'stubs'}\n{Envs.site_packages(envs.untyped)}\n")
    stamp.write_text(wanted)
    return envs


def prepare_sample(cache: Path, envs: Envs) -> Path:
    root = cache / "sample"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    site = Envs.site_packages(envs.inline)
    for name in SAMPLE_COPY:
        shutil.copytree(site / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    example = FIXTURES / "example"
    for path in sorted(example.rglob("*.py")):
        target = root / path.relative_to(example)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return root


# --------------------------------------------------------------------------------------------
# workers: one engine, one task, in a fresh process; JSON out


def _peak_rss_mib() -> float:
    """VmHWM of this process plus its live children (jedi's environment subprocess)."""
    def hwm(pid: str) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    total = hwm("self")
    me = str(os.getpid())
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                ppid = (proc / "stat").read_text().rsplit(")", 1)[1].split()[1]
            except (OSError, IndexError):
                continue
            if ppid == me:
                total += hwm(proc.name)
    return round(total / 1024, 1)


def _files_of(task: dict[str, Any]) -> list[SourceFile]:
    return [SourceFile(**{**f, "sites": tuple(Site(**s) for s in f["sites"])})
            for f in task["files"]]


def worker_jedi(task: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    import jedi

    jedi.settings.cache_directory = task["jedi_cache"]
    environment = jedi.create_environment(task["venv"], safe=False)
    environment.get_sys_path()  # starts the environment's subprocess now, not in the first query
    startup = time.perf_counter() - t0
    files = _files_of(task)
    projects: dict[str, Any] = {}
    answers: dict[str, list[str]] = {}
    passes: list[float] = []
    retried = rescued = 0
    for _ in range(task["passes"]):
        t = time.perf_counter()
        for f in files:
            if not f.sites:
                continue
            project = projects.get(f.root)
            if project is None:
                project = projects[f.root] = jedi.Project(f.root, environment_path=task["venv"])
            code, _ = _decode(Path(f.path).read_bytes())
            script = jedi.Script(code, path=f.path, project=project, environment=environment)
            for s in f.sites:
                try:
                    names = script.infer(s.q_line, s.q_col)
                    how = "infer"
                    if not names:
                        # one Script has one inference state, and its execution budget
                        # (total_function_execution_limit = 200) runs out in a big file:
                        # after that it infers nothing. A fresh Script starts over.
                        fresh = jedi.Script(code, path=f.path, project=project,
                                            environment=environment)
                        names = fresh.infer(s.q_line, s.q_col)
                        retried += 1
                        if names:
                            rescued += 1
                        else:
                            names = fresh.goto(s.q_line, s.q_col, follow_imports=True)
                            how = "goto"
                    answers[s.key] = sorted({f"{how}:{n.full_name}" for n in names
                                             if n.full_name})
                except Exception as exc:  # jedi raises on odd positions; count it as a miss
                    answers[s.key] = [f"error:{type(exc).__name__}"]
        passes.append(time.perf_counter() - t)
    return {"startup": startup, "passes": passes, "answers": answers,
            "retried": retried // len(passes), "rescued": rescued // len(passes)}


def _mypy_owners(typ: Any, name: str, depth: int = 0) -> list[str]:
    """Where attribute ``name`` of a value of mypy type ``typ`` is defined: 'pkg.Class.name'."""
    from mypy import types as mt

    typ = mt.get_proper_type(typ)
    if depth > 5 or typ is None:
        return []
    if isinstance(typ, mt.Instance):
        for info in typ.type.mro:
            if name in info.names:
                return [f"{info.fullname}.{name}"]
        return []
    if isinstance(typ, mt.UnionType):
        return [o for item in typ.items for o in _mypy_owners(item, name, depth + 1)]
    if isinstance(typ, mt.TypeVarType):
        return _mypy_owners(typ.upper_bound, name, depth + 1)
    if isinstance(typ, (mt.TupleType, mt.TypedDictType, mt.LiteralType)):
        fallback = getattr(typ, "partial_fallback", None) or getattr(typ, "fallback", None)
        return _mypy_owners(fallback, name, depth + 1)
    if isinstance(typ, mt.TypeType):
        return _mypy_owners(typ.item, name, depth + 1)
    if isinstance(typ, mt.CallableType | mt.Overloaded):
        return _mypy_owners(typ.fallback, name, depth + 1)
    return []  # AnyType (the usual miss), NoneType, UninhabitedType, ...


def _mypy_answer(call: Any, types: dict[Any, Any]) -> list[str]:
    from mypy import nodes
    from mypy import types as mt

    callee = call.callee
    if isinstance(callee, nodes.MemberExpr):
        if callee.fullname:  # a module's attribute: requests.get -> requests.api.get
            return [callee.fullname]
        receiver = types.get(callee.expr)
        if receiver is None:
            return ["no-type"]
        owners = _mypy_owners(receiver, callee.name)
        if not owners and isinstance(mt.get_proper_type(receiver), mt.AnyType):
            return ["Any"]
        return owners
    if isinstance(callee, nodes.SuperExpr):
        info = callee.info
        if info is None:
            return []
        for base in info.mro[1:]:
            if callee.name in base.names:
                return [f"{base.fullname}.{callee.name}"]
        return []
    if isinstance(callee, nodes.NameExpr):
        node = callee.node
        if isinstance(node, nodes.FuncBase | nodes.TypeInfo | nodes.Decorator):
            return [node.fullname]
        typ = mt.get_proper_type(types.get(callee))
        if isinstance(typ, mt.CallableType) and typ.definition is not None:
            return [typ.definition.fullname]
        if isinstance(typ, mt.Overloaded) and typ.items and typ.items[0].definition:
            return [typ.items[0].definition.fullname]
        return ["Any"] if isinstance(typ, mt.AnyType) else []
    return []


def worker_mypy(task: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    from mypy import build, nodes
    from mypy.modulefinder import BuildSource
    from mypy.options import Options
    from mypy.server.subexpr import get_subexpressions

    startup = time.perf_counter() - t0
    files = _files_of(task)
    by_module = {f.mypy_module: f for f in files}
    answers: dict[str, list[str]] = {}
    passes: list[float] = []
    errors = 0
    unmatched = 0
    for _ in range(task["passes"]):
        t = time.perf_counter()
        options = Options()
        options.export_types = True
        options.preserve_asts = True
        # cold: no cache at all. warm: a cache another process filled, every analysed file
        # edited since (a comment appended), so only the libraries come from the cache
        options.incremental = bool(task.get("cache_dir"))
        options.cache_dir = task.get("cache_dir") or os.devnull
        options.follow_imports = "silent"
        options.ignore_missing_imports = True
        options.check_untyped_defs = task["check_untyped_defs"]
        options.python_executable = task["python"]
        options.python_version = sys.version_info[:2]
        nonce = task.get("nonce")
        sources = [
            BuildSource(f.path, f.mypy_module, base_dir=f.root,
                        text=None if nonce is None
                        else _decode(Path(f.path).read_bytes())[0] + f"\n# {nonce}\n")
            for f in files
        ]
        result = build.build(sources, options)
        errors = len(result.errors)
        unmatched = 0
        for module, f in by_module.items():
            wanted = {(s.line, s.col, s.end_line, s.end_col): s for s in f.sites}
            tree = result.files.get(module)
            if tree is None or not wanted:
                continue
            for expr in get_subexpressions(tree):
                if isinstance(expr, nodes.CallExpr):
                    where = (expr.line, expr.column, expr.end_line, expr.end_column)
                    site = wanted.pop(where, None)
                    if site is not None:
                        answers[site.key] = _mypy_answer(expr, result.types)
            unmatched += len(wanted)
        passes.append(time.perf_counter() - t)
    return {"startup": startup, "passes": passes, "answers": answers, "errors": errors,
            "unmatched": unmatched}


def worker_codetrace(task: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    from typer.testing import CliRunner

    from codetrace.cli import app

    startup = time.perf_counter() - t0
    passes: list[float] = []
    documents: list[dict[str, Any]] = []
    for _ in range(task["passes"]):
        t = time.perf_counter()
        result = CliRunner().invoke(app, ["explain", "--json", *task["paths"]])
        passes.append(time.perf_counter() - t)
        documents = json.loads(result.stdout)
    return {"startup": startup, "passes": passes, "documents": documents}


WORKERS = {"jedi": worker_jedi, "mypy": worker_mypy, "codetrace": worker_codetrace}


def worker_main(engine: str, task_path: str) -> None:
    task = json.loads(Path(task_path).read_text())
    out = WORKERS[engine](task)
    out["peak_rss_mib"] = _peak_rss_mib()
    sys.stdout.write(json.dumps(out))


# --------------------------------------------------------------------------------------------
# running workers and reading their answers


@dataclass
class Run:
    wall: float  # the worker process, start to exit
    startup: float  # import (and, for jedi, environment) inside the worker
    passes: list[float]
    rss: float
    raw: dict[str, Any]


def run_worker(engine: str, task: dict[str, Any], scratch: Path) -> Run:
    task_path = scratch / f"task-{engine}.json"
    task_path.write_text(json.dumps(task))
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", engine, "--task", str(task_path)],
        capture_output=True, text=True, cwd=REPO, check=False,
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{engine} worker failed:\n{proc.stderr[-4000:]}")
    raw = json.loads(proc.stdout)
    return Run(wall, raw["startup"], raw["passes"], raw["peak_rss_mib"], raw)


def file_task(files: Sequence[SourceFile]) -> list[dict[str, Any]]:
    return [asdict(f) for f in files]


def codetrace_answers(documents: Iterable[dict[str, Any]],
                      files: Sequence[SourceFile]) -> dict[str, list[str]]:
    """codetrace's explain JSON onto the sites: callee for matches, 'unresolved: why' else."""
    by_path = {str(Path(f.path).resolve()): f for f in files}
    answers: dict[str, list[str]] = {}
    for doc in documents:
        f = by_path.get(str((REPO / doc["path"]).resolve()))
        if f is None:
            continue
        if doc.get("error"):
            for s in f.sites:
                answers[s.key] = [f"file error: {doc['error']}"]
            continue
        entries = [(s["line"], s["column"], s["callee"], s["callee"]) for s in doc["sites"]]
        entries += [(u["line"], u["column"], u["method"], f"unresolved: {u['reason']}")
                    for u in doc["unresolved"]]
        for line, column, name, answer in entries:
            here = [s for s in f.sites if s.line == line and s.char_col + 1 == column]
            named = [s for s in here if s.name == name.rsplit(".", 1)[-1]]
            chosen = named or (here if len(here) == 1 else [])
            if chosen:
                answers[chosen[0].key] = [answer]
            else:
                answers[f"{f.rel}:{line}:?{column}:extra"] = [answer]
    return answers


def verdict(answer: Sequence[str], rules: Rules) -> tuple[str, str]:
    """(the one rule callee the engine names, or '', a short form of what it said)."""
    names = {rules.normalise(a.split(":", 1)[1] if a.startswith(("infer:", "goto:")) else a)
             for a in answer}
    names = {n for n in names if not n.startswith(("unresolved", "file error"))}
    if not names:
        return "", "nothing"
    matched = {n for n in names if n in rules.calls}
    if len(names) == 1:
        (only,) = names
        return (only if matched else ""), only
    said = " | ".join(sorted(names))
    return "", f"ambiguous: {said}"


# --------------------------------------------------------------------------------------------
# scoring


@dataclass
class Score:
    library: int = 0  # library sites in the truth
    found: int = 0
    wrong_callee: int = 0  # a library site named as another library call
    lookalikes: int = 0
    false_matches: int = 0  # a look-alike named as a library call
    missed: list[str] | None = None
    wrong: list[str] | None = None

    @property
    def coverage(self) -> float:
        return 100.0 * self.found / self.library if self.library else 0.0


def score(files: Sequence[SourceFile], answers: dict[str, list[str]], rules: Rules) -> Score:
    sc = Score(missed=[], wrong=[])
    assert sc.missed is not None and sc.wrong is not None
    for f in files:
        for s in f.sites:
            expected = TRUTH[(f.rel, s.line, s.name)]
            got, said = verdict(answers.get(s.key, []), rules)
            where = f"{f.rel}:{s.line} {s.name}"
            if expected.startswith("either:"):
                if got and got != expected.split(":", 1)[1]:
                    sc.wrong.append(f"{where}: {said}")
            elif expected == "-":
                sc.lookalikes += 1
                if got:
                    sc.false_matches += 1
                    sc.wrong.append(f"{where}: {said} (expected no match)")
            else:
                sc.library += 1
                if got == expected:
                    sc.found += 1
                elif got:
                    sc.wrong_callee += 1
                    sc.wrong.append(f"{where}: {said} (expected {expected})")
                else:
                    sc.missed.append(f"{where}: {said}")
    return sc


def check_truth(files: Sequence[SourceFile]) -> list[SourceFile]:
    """The files with only the sites :data:`TRUTH` knows; the others are named and left out."""
    present = {(f.rel, s.line, s.name) for f in files for s in f.sites}
    missing = sorted(present - TRUTH.keys())
    stale = sorted(TRUTH.keys() - present)
    if missing:
        print(f"warning: no truth for {missing}: left out (add them to TRUTH)")
    if stale:
        print(f"warning: TRUTH entries without a site (fixtures changed?): {stale}")
    return [SourceFile(f.path, f.rel, f.root, f.module, f.mypy_module,
                       tuple(s for s in f.sites if (f.rel, s.line, s.name) in TRUTH))
            for f in files]


# --------------------------------------------------------------------------------------------
# the measurements


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def per_k(seconds: float, sites: int) -> float:
    return 1000.0 * seconds / sites if sites else float("nan")


@dataclass
class Row:
    engine: str
    score: Score | None
    sites: int
    cold: list[float]  # seconds to answer every site, fresh process (engine work only)
    warm: list[float]  # same, engine's own cache warm (jedi: disk cache; others: second pass)
    wall: list[float]  # whole worker process, fresh
    startup: list[float]
    rss: list[float]
    note: str = ""


def measure_codetrace(files: Sequence[SourceFile], paths: Sequence[str], runs: int,
                      scratch: Path, rules: Rules) -> tuple[Row, dict[str, list[str]], list[float]]:
    task = {"paths": list(paths), "passes": 3}
    results = [run_worker("codetrace", task, scratch) for _ in range(runs)]
    answers = codetrace_answers(results[0].raw["documents"], files)
    cli: list[float] = []
    cli_rss: list[float] = []
    exe = Path(sys.executable).parent / "codetrace"
    for _ in range(runs):
        t = time.perf_counter()
        proc = subprocess.Popen([str(exe), "explain", "--json", *paths], cwd=REPO,
                                stdout=subprocess.DEVNULL)
        _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0  # reaped here; keep Popen from waiting again
        cli.append(time.perf_counter() - t)
        cli_rss.append(usage.ru_maxrss / 1024)
    n = sum(len(f.sites) for f in files)
    # the worker makes 3 passes, so its wall time and memory are not one run's: the CLI's are
    row = Row("codetrace", score(files, answers, rules) if files[0].rel in _TRUTH_FILES else None,
              n, [r.passes[0] for r in results], [min(r.passes[1:]) for r in results],
              cli, [r.startup for r in results], cli_rss)
    return row, answers, cli


_TRUTH_FILES = {rel for rel, _, _ in TRUTH}


def measure_jedi(files: Sequence[SourceFile], venv: Path, runs: int, scratch: Path,
                 rules: Rules, label: str) -> tuple[Row, dict[str, list[str]]]:
    cold: list[float] = []
    warm: list[float] = []
    walls: list[float] = []
    startups: list[float] = []
    rss: list[float] = []
    answers: dict[str, list[str]] = {}
    for i in range(runs):
        cache = scratch / f"jedi-cache-{label}-{i}"
        shutil.rmtree(cache, ignore_errors=True)
        task = {"files": file_task(files), "venv": str(venv), "jedi_cache": str(cache),
                "passes": 1}
        first = run_worker("jedi", task, scratch)  # empty disk cache
        again = run_worker("jedi", {**task, "passes": 2}, scratch)  # disk cache warm, then hot
        cold.append(first.passes[0])
        warm.append(again.passes[0])
        walls.append(first.wall)
        startups.append(first.startup)
        rss.append(first.rss)
        answers = first.raw["answers"]
        shutil.rmtree(cache, ignore_errors=True)
        if i == 0:
            hot = again.passes[1]
    n = sum(len(f.sites) for f in files)
    sc = score(files, answers, rules) if files[0].rel in _TRUTH_FILES else None
    row = Row(f"jedi ({label})", sc, n, cold, warm, walls, startups, rss,
              note=f"hot (same process, 2nd pass): {per_k(hot, n):.1f} s/1k sites; "
                   f"{first.raw['retried']} sites asked again with a fresh Script, "
                   f"{first.raw['rescued']} of them answered only then")
    return row, answers


def measure_mypy(files: Sequence[SourceFile], python: str, check_untyped: bool, runs: int,
                 scratch: Path, rules: Rules, label: str) -> tuple[Row, dict[str, list[str]]]:
    task = {"files": file_task(files), "python": python, "check_untyped_defs": check_untyped,
            "passes": 1}
    results: list[Run] = []
    warm: list[float] = []
    for i in range(runs):
        results.append(run_worker("mypy", task, scratch))
        cache = scratch / f"mypy-cache-{i}"
        shutil.rmtree(cache, ignore_errors=True)
        run_worker("mypy", {**task, "cache_dir": str(cache), "nonce": "fill"}, scratch)
        again = run_worker("mypy", {**task, "cache_dir": str(cache), "nonce": "edit"}, scratch)
        warm.append(again.passes[0])
        if again.raw["answers"] != results[0].raw["answers"]:
            print(f"note: mypy ({label}) answers differently with a warm cache", file=sys.stderr)
        shutil.rmtree(cache, ignore_errors=True)
    answers = results[0].raw["answers"]
    n = sum(len(f.sites) for f in files)
    sc = score(files, answers, rules) if files[0].rel in _TRUTH_FILES else None
    note = (f"{results[0].raw['errors']} mypy errors reported; "
            f"{results[0].raw['unmatched']} sites not found in mypy's tree")
    row = Row(f"mypy ({label})", sc, n, [r.passes[0] for r in results], warm,
              [r.wall for r in results], [r.startup for r in results],
              [r.rss for r in results], note=note)
    return row, answers


def startup_cost(engine: str, scratch: Path, envs: Envs, runs: int, rules: Rules) -> float:
    """Fresh process, one file, one site: what answering the first question costs."""
    one = scratch / "startup" / "one.py"
    one.parent.mkdir(parents=True, exist_ok=True)
    one.write_text('import requests\n\nrequests.get("http://127.0.0.1/")\n')
    files = tree_files(one.parent, rules)
    walls: list[float] = []
    for i in range(runs):
        if engine == "codetrace":
            task: dict[str, Any] = {"paths": [str(one)], "passes": 1}
        elif engine == "jedi":
            cache = scratch / f"jedi-startup-{i}"
            shutil.rmtree(cache, ignore_errors=True)
            task = {"files": file_task(files), "venv": str(envs.inline),
                    "jedi_cache": str(cache), "passes": 1}
        else:
            task = {"files": file_task(files), "python": Envs.python(envs.inline),
                    "check_untyped_defs": True, "passes": 1}
        walls.append(run_worker(engine, task, scratch).wall)
    return median(walls)


# --------------------------------------------------------------------------------------------
# report


def _s(values: Sequence[float], n: int) -> str:
    return f"{per_k(median(values), n):,.1f}" if values else "-"


def table(rows: Sequence[Row], title: str) -> str:
    out = [f"\n### {title}\n"]
    head = ("| engine | library sites found | coverage | wrong matches | look-alikes left alone "
            "| s / 1,000 sites, cold | s / 1,000 sites, warm | process wall s "
            "| peak RSS MiB |")
    out += [head, "|---" * 9 + "|"]
    for r in rows:
        if r.score is not None:
            sc = r.score
            wrong = str(sc.wrong_callee + sc.false_matches)
            found = f"{sc.found} / {sc.library}"
            cov = f"{sc.coverage:.0f} %"
            left = f"{sc.lookalikes - sc.false_matches} / {sc.lookalikes}"
        else:
            found, cov, wrong, left = f"({r.sites} sites)", "-", "-", "-"
        out.append(f"| {r.engine} | {found} | {cov} | {wrong} | {left} | {_s(r.cold, r.sites)} "
                   f"| {_s(r.warm, r.sites)} | {median(r.wall):.2f} | {median(r.rss):.0f} |")
    notes = [f"- {r.engine}: {r.note}" for r in rows if r.note]
    return "\n".join(out + (["", *notes] if notes else []))


def _codetrace_state(answer: Sequence[str]) -> str:
    if not answer:
        return "silent"
    if answer[0].startswith("unresolved"):
        return "unresolved"
    if answer[0].startswith("file error"):
        return "file error"
    return "match"


def agreement(files: Sequence[SourceFile], engines: dict[str, dict[str, list[str]]],
              rules: Rules) -> str:
    """Large sample: what each engine names a rule callee, by what codetrace said there."""
    out = ["\n### Large sample: sites named as a rule callee, by codetrace's state there\n"]
    others = [e for e in engines if e != "codetrace"]
    states = ("match", "unresolved", "silent", "file error")
    sites: Counter[str] = Counter()
    named: Counter[tuple[str, str]] = Counter()
    same: Counter[str] = Counter()
    differ: list[str] = []
    for f in files:
        for s in f.sites:
            raw = engines["codetrace"].get(s.key, [])
            state = _codetrace_state(raw)
            sites[state] += 1
            base = verdict(raw, rules)[0] if state == "match" else ""
            got = {e: verdict(engines[e].get(s.key, []), rules) for e in others}
            for e in others:
                if got[e][0]:
                    named[(e, state)] += 1
                    if got[e][0] == base:
                        same[e] += 1
            if any(got[e][0] != base for e in others):
                said = "; ".join(f"{e}={got[e][0] or got[e][1]}" for e in others)
                why = f" ({raw[0]})" if raw and state != "match" else ""
                differ.append(f"- {f.rel}:{s.line} `.{s.name}()`: codetrace="
                              f"{base or state}{why}; {said}")
    out.append("| codetrace said | sites | " + " | ".join(f"{e} names a rule callee"
                                                           for e in others) + " |")
    out.append("|---" * (2 + len(others)) + "|")
    for state in states:
        cells = " | ".join(str(named[(e, state)]) for e in others)
        out.append(f"| {state} | {sites[state]} | {cells} |")
    out.append("\n" + "; ".join(f"{e} agrees with codetrace's callee on {same[e]} of "
                                f"{sites['match']} matches" for e in others))
    out.append(f"\n{len(differ)} sites where jedi or mypy differs from codetrace:\n")
    return "\n".join(out + differ)


def fallback(files: Sequence[SourceFile], engines: dict[str, dict[str, list[str]]], envs: Envs,
             runs: int, scratch: Path, rules: Rules) -> str:
    """jedi as a tier after codetrace: asked only where codetrace left a candidate unresolved."""
    ours = engines["codetrace"]
    subset = [
        SourceFile(f.path, f.rel, f.root, f.module, f.mypy_module,
                   tuple(s for s in f.sites
                         if _codetrace_state(ours.get(s.key, [])) == "unresolved"))
        for f in files
    ]
    subset = [f for f in subset if f.sites]
    n = sum(len(f.sites) for f in subset)
    walls: list[float] = []
    query: list[float] = []
    answers: dict[str, list[str]] = {}
    for i in range(runs):
        cache = scratch / f"jedi-fallback-{i}"
        shutil.rmtree(cache, ignore_errors=True)
        run = run_worker("jedi", {"files": file_task(subset), "venv": str(envs.inline),
                                  "jedi_cache": str(cache), "passes": 1}, scratch)
        walls.append(run.wall)
        query.append(run.passes[0])
        answers = run.raw["answers"]
        shutil.rmtree(cache, ignore_errors=True)
    gained = Counter(verdict(answers.get(s.key, []), rules)[0] for f in subset for s in f.sites)
    named = sum(v for k, v in gained.items() if k)
    return (f"\n### jedi as a fallback tier (large sample)\n\n"
            f"asked only at codetrace's {n} unresolved candidates in {len(subset)} files: "
            f"{named} named as a rule callee; cold, median of {runs}: "
            f"{median(query):.1f} s of queries, {median(walls):.1f} s process wall "
            f"({per_k(median(query), n):.1f} s / 1,000 candidates)\n"
            + "\n".join(f"- {k}: {v}" for k, v in gained.most_common() if k))


def details(files: Sequence[SourceFile], engines: dict[str, dict[str, list[str]]],
            rules: Rules) -> str:
    out = ["\n### Per-site answers (golden + hardcases)\n",
           "| site | truth | " + " | ".join(engines) + " |", "|---" * (len(engines) + 2) + "|"]
    for f in files:
        for s in f.sites:
            cells = []
            for answers in engines.values():
                got, said = verdict(answers.get(s.key, []), rules)
                cells.append(got or f"({said})")
            truth = TRUTH[(f.rel, s.line, s.name)]
            out.append(f"| {f.rel}:{s.line} `{s.name}` | {truth} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def codetrace_vs_truth(files: Sequence[SourceFile], answers: dict[str, list[str]],
                       rules: Rules) -> str:
    lines = ["\n### codetrace against the hand-written truth\n"]
    sc = score(files, answers, rules)
    lines += [f"- wrong: {w}" for w in sc.wrong or []]
    lines += [f"- missed: {m}" for m in sc.missed or []]
    extra = [k for k in answers if k.endswith(":extra")]
    lines += [f"- reported at a call not in the site list: {k} {answers[k]}" for k in extra]
    return "\n".join(lines if len(lines) > 1 else [*lines, "- no disagreement"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="runs per timing (median is shown)")
    parser.add_argument("--quick", action="store_true", help="1 run per timing")
    parser.add_argument("--no-large", action="store_true", help="skip the large sample")
    parser.add_argument("--details", action="store_true", help="print the per-site answers")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "codetrace-resolver-eval",
                        help="where the analysis venvs and the sample live")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--task", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args.worker, args.task)
        return 0
    runs = 1 if args.quick else args.runs
    try:
        __import__("codetrace.cli")
    except ImportError as exc:
        raise SystemExit(f"codetrace is not importable from {sys.executable} ({exc}): run "
                         "this with the project's venv, .venv/bin/python") from None
    rules = load_rules()
    args.cache.mkdir(parents=True, exist_ok=True)
    envs = prepare_envs(args.cache)
    scratch = Path(tempfile.mkdtemp(prefix="resolver-eval-"))
    have = {}
    for engine in ("jedi", "mypy"):
        try:
            __import__(engine)
            have[engine] = True
        except ImportError:
            have[engine] = False
            print(f"{engine} is not installed in {sys.executable}: skipped "
                  f"(.venv/bin/pip install {engine})")
    report: list[str] = [f"python {sys.version.split()[0]}"]
    if have["jedi"]:
        import jedi

        report.append(f"jedi {jedi.__version__}")
    if have["mypy"]:
        from mypy.version import __version__ as mypy_version

        report.append(f"mypy {mypy_version}")
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "codetrace"],
                           capture_output=True, text=True, check=False).stdout.strip()
    report.append(f"codetrace at {head or '?'}{' + uncommitted changes' if dirty else ''}")
    print("; ".join(report) + f"; analysis venvs under {args.cache}; runs per timing: {runs}")

    files = check_truth(golden_files(rules))
    n = sum(len(f.sites) for f in files)
    print(f"golden + hardcases: {len(files)} files, {n} sites "
          f"({sum(1 for v in TRUTH.values() if v == '-')} look-alikes)")
    paths = [f.path for f in files if f.rel.startswith("golden/")] + [str(HARDCASES)]
    rows: list[Row] = []
    golden_answers: dict[str, dict[str, list[str]]] = {}
    row, answers, cli = measure_codetrace(files, paths, runs, scratch, rules)
    row.note = (f"`codetrace explain --json` CLI wall time {median(cli):.2f} s "
                f"= {per_k(median(cli), n):,.1f} s/1k sites incl. start-up")
    rows.append(row)
    golden_answers["codetrace"] = answers
    if have["jedi"]:
        for label, venv in envs.labelled():
            row, answers = measure_jedi(files, venv, runs, scratch, rules, label)
            rows.append(row)
            golden_answers[row.engine] = answers
    if have["mypy"]:
        for env_label, venv in envs.labelled():
            for untyped in (True, False):
                label = f"{env_label}, check_untyped_defs={'on' if untyped else 'off'}"
                row, answers = measure_mypy(files, Envs.python(venv), untyped, runs, scratch,
                                            rules, label)
                rows.append(row)
                golden_answers[row.engine] = answers
    print(table(rows, f"Golden cases + hardcases ({n} sites)"))
    print(codetrace_vs_truth(files, golden_answers["codetrace"], rules))
    for name, row in ((r.engine, r) for r in rows if r.score and r.engine != "codetrace"):
        assert row.score is not None
        print(f"\n{name}: missed {len(row.score.missed or [])}, wrong {len(row.score.wrong or [])}")
        for w in row.score.wrong or []:
            print(f"  wrong  {w}")
        for m in row.score.missed or []:
            print(f"  missed {m}")
    if args.details:
        print(details(files, golden_answers, rules))

    engines_start = ["codetrace"] + [e for e in ("jedi", "mypy") if have[e]]
    starts = {e: startup_cost(e, scratch, envs, runs, rules) for e in engines_start}
    print("\n### Start-up: fresh process, one file, one site (median wall s)\n")
    print(" | ".join(f"{e}: {starts[e]:.2f}" for e in engines_start))

    raw: dict[str, Any] = {"golden": {k: v for k, v in golden_answers.items()},
                           "startup": starts}
    if not args.no_large:
        sample = prepare_sample(args.cache, envs)
        large = tree_files(sample, rules)
        n_large = sum(len(f.sites) for f in large)
        loc = sum(len(Path(f.path).read_bytes().splitlines()) for f in large)
        print(f"\nlarge sample: {sample} ({', '.join(SAMPLE_COPY)}, fixtures/example): "
              f"{len(large)} files, {loc:,} lines, {n_large} sites")
        large_rows: list[Row] = []
        large_answers: dict[str, dict[str, list[str]]] = {}
        row, answers, cli = measure_codetrace(large, [str(sample)], runs, scratch, rules)
        row.note = (f"`codetrace explain --json` CLI wall time {median(cli):.2f} s "
                    f"= {per_k(median(cli), n_large):,.1f} s/1k sites incl. start-up")
        large_rows.append(row)
        large_answers["codetrace"] = answers
        if have["jedi"]:
            row, answers = measure_jedi(large, envs.inline, runs, scratch, rules,
                                        "requests 2.34, inline types")
            large_rows.append(row)
            large_answers["jedi"] = answers
        if have["mypy"]:
            row, answers = measure_mypy(large, Envs.python(envs.inline), True, runs, scratch,
                                        rules, "requests 2.34, check_untyped_defs=on")
            large_rows.append(row)
            large_answers["mypy"] = answers
        print(table(large_rows, f"Large sample ({n_large} sites, no truth: timing)"))
        print(agreement(large, large_answers, rules))
        if have["jedi"]:
            print(fallback(large, large_answers, envs, runs, scratch, rules))
        raw["large"] = large_answers
    load = os.getloadavg()
    print(f"\nload average at the end (1/5/15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"on {os.cpu_count()} CPUs (other work on the machine inflates the timings)")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1, default=str))
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
