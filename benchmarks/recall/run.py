#!/usr/bin/env python3
"""Recall of codetrace against OpenTelemetry's auto-instrumentation and a ground-truth counter.

    python benchmarks/recall/run.py [--project NAME ...] [--work /tmp/recall-work]
                                    [--codetrace PATH] [--modes plain,otel,codetrace,truth]
                                    [--timeout SECONDS] [--report-only]

For each project of ``projects.py`` (one at a time): fetch its pinned sdist, build a venv (the
project with its dependencies, its test tools, the OpenTelemetry SDK and contrib
instrumentations, codetrace's runtime), make an instrumented copy with ``codetrace apply``, check
that ``codetrace strip`` gives the original bytes back, run ``codetrace explain --json``, then run
the project's tests four times, each in a fresh copy of the tree:

* ``plain``      the original tree, no tracing;
* ``otel``       the original tree under the OpenTelemetry SDK + instrumentors
                 (``harness/sitecustomize.py``);
* ``codetrace``  the instrumented tree, codetrace's runtime exporting to a file;
* ``truth``      the original tree with ground-truth counters (harness/sitecustomize.py).

It prints a table per project and library, writes ``results.md`` and ``results.json`` next to this
file (``--out`` to change), and lists the call sites that the ground truth (or OpenTelemetry) saw
and codetrace did not, joined with ``explain``'s reason. See README.md in this folder.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import filecmp
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import servers as project_servers  # noqa: E402
from projects import COMMON_TEST_PACKAGES, OTEL_PACKAGES, PROJECTS  # noqa: E402

REPO = HERE.parent.parent
HARNESS = HERE / "harness"
MODES = ("plain", "otel", "codetrace", "truth")
LIBRARIES = ("requests", "httpx", "sqlite3", "sqlalchemy", "redis", "flask", "aiohttp_client",
             "aiohttp_server", "psycopg2", "celery", "django", "django_orm", "urllib3",
             "grpc_client", "grpc_server", "asyncpg", "asgi")
# The operations a database row compares (the others, connect and commit/rollback, are in the
# JSON): statements; for psycopg2 also its COPY methods, which codetrace traces and
# OpenTelemetry's dbapi integration does not (counted apart in the JSON as well).
STATEMENT_OPS = {"sqlite3": ("query",), "sqlalchemy": ("query",), "django_orm": ("query",),
                 "psycopg2": ("query", "copy"), "celery": ("run",), "asyncpg": ("query",)}


def is_statement(library: str, op: str) -> bool:
    """Whether an event of ``library`` with ``op`` counts in the row (always, outside the
    database rows)."""
    return library not in STATEMENT_OPS or op in STATEMENT_OPS[library]
# Rows that count requests a server handled: a request has no call site; the site that matters
# is where the application is built (no missed-site table for them).
SERVER_ROWS = ("flask", "aiohttp_server", "django", "grpc_server")
# SQL that SQLAlchemy issues reaches sqlite3 too: OpenTelemetry makes a sqlalchemy span and a
# sqlite3 span for it, codetrace one sqlalchemy span (its engine events), the ground truth counts
# one sqlite3 statement whose first caller outside sqlite3 is SQLAlchemy. Such statements are
# counted in the sqlalchemy row only; the OpenTelemetry driver spans for them are set apart.
VIA_SQLALCHEMY = ("sqlalchemy/", "flask_sqlalchemy/")
VIA_DJANGO = ("django/",)
OTEL_SCOPES = {
    "opentelemetry.instrumentation.requests": "requests",
    "opentelemetry.instrumentation.httpx": "httpx",
    "opentelemetry.instrumentation.sqlite3": "sqlite3",
    "opentelemetry.instrumentation.flask": "flask",
    "opentelemetry.instrumentation.sqlalchemy": "sqlalchemy",
    "opentelemetry.instrumentation.redis": "redis",
    "opentelemetry.instrumentation.aiohttp_client": "aiohttp_client",
    "opentelemetry.instrumentation.aiohttp_server": "aiohttp_server",
    "opentelemetry.instrumentation.psycopg2": "psycopg2",
    "opentelemetry.instrumentation.celery": "celery",
    "opentelemetry.instrumentation.django": "django",
    "opentelemetry.instrumentation.urllib3": "urllib3",
    "opentelemetry.instrumentation.grpc": "grpc",  # split by span kind (by_kind)
    "opentelemetry.instrumentation.asyncpg": "asyncpg",
}


def by_kind(library: str, kind: str | None) -> str:
    """gRPC's row by span kind: one instrumentation (one adapter family on codetrace's side)
    makes both the CLIENT spans of the RPCs a channel starts and the SERVER spans of the RPCs
    a server handles."""
    if library == "grpc":
        return {"CLIENT": "grpc_client", "SERVER": "grpc_server"}.get(kind or "", "grpc")
    return library


def via_sqlalchemy(via: str | None) -> bool:
    return bool(via) and via.startswith(VIA_SQLALCHEMY)


def regroup(library: str, via: str | None, *, oracle: bool) -> str:
    """The row a sqlite3 statement counts in: ``sqlalchemy`` when SQLAlchemy issued it.

    ``oracle`` is true for the ground truth (one count per statement); a tracer's own driver span
    for a statement SQLAlchemy issued is the second span of that statement, set apart."""
    if library == "sqlite3" and via_sqlalchemy(via):
        return "sqlalchemy" if oracle else "sqlite3 (under sqlalchemy)"
    if library == "sqlite3" and via and via.startswith(VIA_DJANGO):
        # Django's ORM (and its test runner's setup) issued it: the django_orm row, where
        # codetrace's spans are its execute_wrapper's and OpenTelemetry's (which has no Django
        # SQL instrumentation) its sqlite3 driver spans
        return "django_orm" if oracle else "sqlite3 (under django)"
    if library == "urllib3" and via and via.startswith("requests/"):
        # a request requests sends: its row has it; neither tracer makes a second span for it
        return "urllib3 (under requests)"
    return library


def log(message: str) -> None:
    print(f"[recall {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(cmd, *, timeout: float, cwd=None, env=None, stdout=None, stderr=None, check=False):
    """Run ``cmd`` in its own process group; kill the whole group on timeout. Returns
    (returncode or None on timeout, seconds)."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [str(c) for c in cmd], cwd=cwd, env=env, stdout=stdout, stderr=stderr,
        start_new_session=True,
    )
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        rc = None
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers (servers, workers) of this run only
        if proc.poll() is None:
            proc.wait()
    elapsed = time.monotonic() - start
    if check and rc != 0:
        raise RuntimeError(f"command failed ({rc}): {' '.join(map(str, cmd))}")
    return rc, elapsed


def capture(cmd, *, timeout: float, cwd=None, env=None) -> tuple[int | None, str, str]:
    proc = subprocess.Popen(
        [str(c) for c in cmd], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        rc = None
    return rc, out, err


# ----------------------------------------------------------------------------------- preparing

def dist_name(spec: str) -> tuple[str, str]:
    name, version = spec.split("==")
    return name, version


def interpreter(cfg: dict) -> str:
    wanted = cfg.get("python")
    if not wanted:
        return sys.executable
    candidates = [shutil.which(wanted), *sorted(
        str(p) for p in Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")).glob(
            f"versions/*/bin/{wanted}"))]
    for candidate in candidates:  # a pyenv shim on PATH may refuse to run: try each
        if candidate and capture([candidate, "-c", "pass"], timeout=60)[0] == 0:
            return candidate
    raise RuntimeError(f"this project needs {wanted}, which was not found")


def fetch_sdist(work: Path, spec: str, python: str = sys.executable) -> Path:
    name, version = dist_name(spec)
    folder = work / "sdists"
    folder.mkdir(parents=True, exist_ok=True)
    norm = {name.lower(), name.lower().replace("-", "_")}

    def find():
        for path in folder.glob("*.tar.gz"):
            stem = path.name[: -len(".tar.gz")]
            base, _, ver = stem.rpartition("-")
            if base.lower() in norm and ver == version:
                return path
        return None

    found = find()
    if found is None:
        log(f"downloading the sdist of {spec}")
        run([python, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", name,
             spec, "-d", folder], timeout=600, check=True)
        found = find()
        if found is None:
            raise RuntimeError(f"no sdist for {spec} in {folder}")
    return found


def extract(sdist: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tarfile.open(sdist) as tar:
        tar.extractall(dest, filter="data")
    (top,) = [p for p in dest.iterdir() if p.is_dir()]
    return top


def runtime_source() -> tuple[list[str], str]:
    runtime_dir = REPO / "codetrace" / "runtime"
    if (runtime_dir / "pyproject.toml").exists():
        return [str(runtime_dir)], "codetrace/runtime (codetrace-runtime distribution)"
    return ["--no-deps", str(REPO)], "the repository (pip install --no-deps)"


def prepare_venv(work: Path, name: str, cfg: dict, sdist: Path) -> Path:
    venv = work / "venvs" / name
    wanted = "\n".join([*([interpreter(cfg)] if cfg.get("python") else []), str(sdist),
                         *cfg["test_packages"], *COMMON_TEST_PACKAGES, *OTEL_PACKAGES])
    marker = venv / "recall-requirements.txt"
    python = venv / "bin" / "python"
    if not (marker.exists() and marker.read_text() == wanted and python.exists()):
        log(f"{name}: building the venv")
        if venv.exists():
            shutil.rmtree(venv)
        run([interpreter(cfg), "-m", "venv", venv], timeout=300, check=True)
        with open(work / f"pip-{name}.log", "w") as logf:
            run([python, "-m", "pip", "install", "-q", sdist, *cfg["test_packages"],
                 *COMMON_TEST_PACKAGES, *OTEL_PACKAGES], timeout=1800, stdout=logf,
                stderr=subprocess.STDOUT, check=True)
        marker.write_text(wanted)
    return python


def install_runtime(work: Path, name: str, python: Path) -> str:
    args, what = runtime_source()
    for _attempt in range(4):
        with open(work / f"pip-runtime-{name}.log", "w") as logf:
            run([python, "-m", "pip", "install", "-q", "--force-reinstall", *args],
                timeout=600, stdout=logf, stderr=subprocess.STDOUT)
        rc, out, err = capture(
            [python, "-c", "import codetrace.runtime as r, codetrace.runtime._version as v;"
             "print(getattr(v, '__version__', '?'))"], timeout=60)
        if rc == 0:
            return f"{what}, version {out.strip()}"
        log(f"{name}: the runtime does not import yet ({err.strip().splitlines()[-1:]}); retrying")
        time.sleep(45)
    raise RuntimeError("codetrace.runtime does not import in the project venv")


def codetrace_cli(codetrace: str, args: list, *, cwd=None) -> tuple[int | None, str, str]:
    """The CLI may be broken for a moment while others refactor: retry after a crash (a
    Python traceback on stderr, or no output where JSON was asked for)."""
    for _attempt in range(4):
        rc, out, err = capture([codetrace, *args], timeout=900, cwd=cwd)
        crashed = "Traceback (most recent call last)" in err or (
            "--json" in args and not out.strip())
        if not crashed:
            return rc, out, err
        last = (err.strip().splitlines() or ["no output"])[-1]
        log(f"codetrace {args[0]} crashed ({last}); retrying in 40 s")
        time.sleep(40)
    return rc, out, err


def tree_files(root: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(root)): p for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def compare_trees(a: Path, b: Path) -> list[str]:
    fa, fb = tree_files(a), tree_files(b)
    diffs = sorted(set(fa) ^ set(fb))
    for rel in sorted(set(fa) & set(fb)):
        if not filecmp.cmp(fa[rel], fb[rel], shallow=False):
            diffs.append(rel)
    return diffs


# ------------------------------------------------------------------------------------- running

def run_tests(work: Path, name: str, cfg: dict, python: Path, mode: str, source: Path,
              timeout: float, ports: dict[str, int] | None = None) -> dict:
    rundir = work / "runs" / name / mode
    if rundir.exists():
        shutil.rmtree(rundir)
    shutil.copytree(source, rundir, symlinks=True)
    for folder in cfg.get("mkdirs", []):
        (rundir / folder).mkdir(parents=True, exist_ok=True)
    out = work / "out" / name / mode
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTEL_", "CODETRACE_", "PYTHON", "VIRTUAL_ENV", "RECALL_"))}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(HARNESS), str(rundir / cfg["pythonpath"])]),
        "PYTHONHASHSEED": "0",
        "RECALL_MODE": mode,
        "RECALL_OUT": str(out),
        "RECALL_PROJECT_ROOT": str(rundir),
        "OTEL_SEMCONV_STABILITY_OPT_IN": "http,database",
        "CODETRACE_BACKEND": "codetrace",
        "CODETRACE_CACHE_DIR": str(work / "cache"),
        "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(python.parent.parent),
    })
    # "{redis_port}" in a value: the port of the server run.py started for the project
    env.update({k: v.format(**(ports or {})) for k, v in cfg.get("env", {}).items()})
    if mode == "codetrace":
        # Fallback if the harness cannot configure the runtime in code: the runtime's own
        # variables still send the spans to a file.
        env["OTEL_TRACES_EXPORTER"] = "jsonl"
        env["CODETRACE_JSONL_PATH"] = str(out / "codetrace-env.jsonl")
    junit = out / "junit.xml"
    cmd = [python, "-m", "pytest", *cfg["pytest_args"], "-p", "no:cacheprovider", "-q",
           f"--junitxml={junit}", "--timeout=120", "--continue-on-collection-errors",
           "-o", "junit_logging=no"]
    log(f"{name}: tests, {mode}")
    with open(out / "pytest.log", "w") as logf:
        rc, seconds = run(cmd, timeout=timeout, cwd=rundir, env=env, stdout=logf,
                          stderr=subprocess.STDOUT)
    tail = (out / "pytest.log").read_text(errors="replace").strip().splitlines()[-1:]
    log(f"{name}: {mode} rc={rc} in {seconds:.0f} s: {tail[0] if tail else ''}")
    return {"rc": rc, "seconds": round(seconds, 1), "summary": tail[0] if tail else "",
            "outcomes": parse_junit(junit), "rundir": str(rundir), "out": str(out)}


def _took(seconds: float | None) -> str:
    return "(reused from the last run)" if seconds is None else f"{seconds:.0f} s"


def parse_junit(path: Path) -> dict[str, str]:
    outcomes: dict[str, str] = {}
    if not path.exists():
        return outcomes
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return outcomes
    for case in root.iter("testcase"):
        key = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "error"
                break
            if child.tag == "skipped":
                outcome = "skipped"
        # a test can appear twice (call failed, teardown errored): keep the worst
        if outcomes.get(key) not in ("failed", "error"):
            outcomes[key] = outcome
    return outcomes


def outcome_diff(base: dict[str, str], other: dict[str, str]) -> list[str]:
    diffs = []
    for key in sorted(set(base) | set(other)):
        if base.get(key) != other.get(key):
            diffs.append(f"{key}: {base.get(key, 'absent')} -> {other.get(key, 'absent')}")
    return diffs


# ------------------------------------------------------------------------------------ counting

def read_jsonl(folder: Path, pattern: str) -> list[dict]:
    records = []
    for path in sorted(folder.glob(pattern)):
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if line:
                    with contextlib.suppress(json.JSONDecodeError):
                        records.append(json.loads(line))
    return records


def read_codetrace_jsonl(folder: Path, pattern: str) -> list[dict]:
    """The spans in the runtime's JSON-lines files, as flat records (``kind`` as a name,
    ``attributes`` as a dict). Each line is an OTLP JSON ``ExportTraceServiceRequest``; the
    runtime's own reader flattens it, loaded from its file so this script needs no install."""
    import importlib.util

    location = REPO / "codetrace" / "runtime" / "_otlp" / "_json_records.py"
    spec = importlib.util.spec_from_file_location("codetrace_json_records", location)
    assert spec is not None and spec.loader is not None
    reader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reader)
    records = []
    for document in read_jsonl(folder, pattern):
        with contextlib.suppress(AttributeError, KeyError, TypeError, ValueError):
            records.extend(reader.span_records(document))
    return records


def otel_spans(out: Path) -> list[dict]:
    spans = []
    for record in read_jsonl(out, "otel-*.jsonl"):
        library = OTEL_SCOPES.get(record.get("scope", ""))
        if library is None:
            continue
        library = regroup(by_kind(library, record.get("kind")), record.get("via"), oracle=False)
        attrs = record.get("attributes") or {}
        spans.append({"library": library, "kind": record.get("kind"),
                      "name": record.get("name"), "site": record.get("site"),
                      "via": record.get("via"),
                      # a redis Pipeline.execute() with nothing queued: sends nothing
                      "empty_pipeline": attrs.get("db.redis.pipeline_length") == 0})
    return spans


def codetrace_library(record: dict) -> tuple[str, str]:
    attrs = record.get("attributes") or {}
    library = by_kind(attrs.get("recall.library") or "", record.get("kind"))
    system = attrs.get("db.system.name") or attrs.get("db.system")
    if system == "postgresql" and library in ("", "sqlite3"):
        # the DB-API span code shared by the drivers (_dbapi_connection.py) made it: the
        # system says which driver (psycopg2 is the only PostgreSQL driver measured here)
        library = "psycopg2"
    if not library:
        if system:
            library = "sqlite3"
        elif record.get("kind") == "SERVER":
            library = "flask"
        elif record.get("kind") == "CLIENT":
            library = "http(unknown)"
        else:
            library = "other"
    op = "span"
    if library == "sqlite3":
        name = attrs.get("db.operation.name", "")
        op = ("connect" if name == "connect"
              else "transaction" if name in ("COMMIT", "ROLLBACK", "commit", "rollback")
              else "query")
    elif library in ("sqlalchemy", "django_orm"):
        op = "query"  # every span of theirs is a statement
    elif library == "celery":
        op = {"CONSUMER": "run", "PRODUCER": "publish"}.get(record.get("kind") or "", "span")
    elif library == "asyncpg":
        op = "connect" if attrs.get("db.operation.name") == "connect" else "query"
    elif library == "psycopg2":
        name = attrs.get("db.operation.name", "")
        op = ("connect" if name == "connect"
              else "transaction" if name in ("COMMIT", "ROLLBACK")
              else "copy" if name == "COPY" or str(
                  attrs.get("db.query.summary") or record.get("name") or "").startswith("COPY ")
              else "query")
    return library, op


def codetrace_spans(out: Path) -> list[dict]:
    spans = []
    for record in read_codetrace_jsonl(out, "codetrace-*.jsonl"):
        attrs = record.get("attributes") or {}
        library, op = codetrace_library(record)
        library = regroup(library, attrs.get("recall.via"), oracle=False)
        spans.append({"library": library, "op": op, "kind": record.get("kind"),
                      "name": record.get("name"), "site": attrs.get("recall.site") or None,
                      "via": attrs.get("recall.via") or None,
                      # written through OTEL_TRACES_EXPORTER by a process the harness did not
                      # reach (a child started with its own PYTHONPATH): OTel's start-up and the
                      # ground truth do not reach it either, so it is counted apart
                      "unreached": "recall.library" not in attrs})
    return spans


def truth_counts(out: Path) -> list[dict]:
    records = [r for r in read_jsonl(out, "truth-*.jsonl") if "library" in r]
    for r in records:
        r["library"] = regroup(r["library"], r.get("via"), oracle=True)
    return records


class LineMap:
    """Map a line of an instrumented file back to the original file's line (codetrace adds an
    import line and hook lines; wrapped calls keep their lines)."""

    def __init__(self, instrumented_root: Path, original_root: Path):
        self.inst, self.orig = instrumented_root, original_root
        self.cache: dict[str, dict[int, int]] = {}

    def map(self, site: str | None) -> str | None:
        if not site or ":" not in site:
            return site
        rel, _, line = site.rpartition(":")
        if rel not in self.cache:
            mapping: dict[int, int] = {}
            try:
                a = (self.inst / rel).read_text(errors="replace").splitlines()
                b = (self.orig / rel).read_text(errors="replace").splitlines()
                matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
                for tag, i1, i2, j1, j2 in matcher.get_opcodes():
                    if tag in ("equal", "replace"):
                        for k in range(i2 - i1):
                            mapping[i1 + k + 1] = min(j1 + k, j2 - 1) + 1
                    elif tag == "delete":  # inserted by codetrace: attribute to the line above
                        for k in range(i2 - i1):
                            mapping[i1 + k + 1] = max(j1, 1)
            except OSError:
                pass
            self.cache[rel] = mapping
        mapped = self.cache[rel].get(int(line))
        return f"{rel}:{mapped}" if mapped else site


# -------------------------------------------------------------------------------------- explain

def load_explain(text: str, root: Path) -> list[dict]:
    try:
        documents = json.loads(text)
    except json.JSONDecodeError:
        return []
    for doc in documents:
        path = Path(doc.get("path", ""))
        try:
            doc["rel"] = str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            doc["rel"] = str(path)
    return documents


def explain_lookup(documents: list[dict], site: str) -> tuple[str, str]:
    """What explain says about the call at ``site`` (``rel:line``): ("matched", rule) or
    ("unresolved", reason) or ("none", "")."""
    rel, _, line_text = site.rpartition(":")
    line = int(line_text)
    for doc in documents:
        if doc["rel"] != rel:
            continue
        best = None
        for entry in doc.get("sites", []):
            if line - 4 <= entry["line"] <= line and (best is None or entry["line"] > best[0]):
                best = (entry["line"], "matched",
                            f"{entry['rule']} by {entry['resolved_by']}"
                            + (f" (skipped: {entry['skipped']})" if entry.get("skipped") else ""))
        for entry in doc.get("unresolved", []):
            if line - 4 <= entry["line"] <= line and (best is None or entry["line"] > best[0]):
                best = (entry["line"], "unresolved",
                            f"{entry['receiver']}.{entry['method']}(): {entry['reason']}")
        if best:
            return best[1], best[2]
        return "none", "explain lists nothing near this line"
    return "none", "explain lists nothing in this file"


# -------------------------------------------------------------------------------------- project

def measure(work: Path, name: str, codetrace: str, modes: list[str], timeout: float,
            reuse: bool = False) -> dict:
    cfg = PROJECTS[name]
    started = time.monotonic()
    sdist = fetch_sdist(work, cfg["dist"], interpreter(cfg))
    orig = extract(sdist, work / "trees" / name / "orig")
    overlay = HERE / "overlays" / f"{orig.name}"
    added = []
    if overlay.is_dir():  # files the sdist should have shipped (see overlays/*/README.md)
        for src in sorted(overlay.rglob("*")):
            rel = src.relative_to(overlay)
            if src.is_file() and rel.parts[0] not in ("README.md", "LICENSE"):
                dest = orig / rel
                if not dest.exists():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, dest)
                    added.append(str(rel))
    python = prepare_venv(work, name, cfg, sdist)
    runtime = install_runtime(work, name, python)
    _rc, head, _ = capture(["git", "-C", REPO, "log", "-1", "--format=%h"], timeout=30)
    _rc, dirty, _ = capture(["git", "-C", REPO, "status", "--porcelain", "--", "codetrace",
                             "rules", "templates"], timeout=30)
    result: dict = {"project": name, "dist": cfg["dist"], "runtime": runtime,
                    "overlay_files": added, "started": time.strftime("%Y-%m-%d %H:%M"),
                    "codetrace_commit": head.strip() + (" + uncommitted changes"
                                                        if dirty.strip() else "")}

    # instrument, strip, explain
    instrumented = work / "trees" / name / "instrumented"
    if instrumented.exists():
        shutil.rmtree(instrumented)
    shutil.copytree(orig, instrumented, symlinks=True)
    rc, _out, err = codetrace_cli(codetrace, ["apply", "--no-cache", str(instrumented)])
    if rc == 2 and "no such option" in err.lower():
        rc, _out, err = codetrace_cli(codetrace, ["apply", str(instrumented)])
    result["apply"] = {"rc": rc, "stderr_tail": err.strip().splitlines()[-3:],
                       "changed_files": compare_trees(orig, instrumented)}
    stripped = work / "trees" / name / "stripped"
    if stripped.exists():
        shutil.rmtree(stripped)
    shutil.copytree(instrumented, stripped, symlinks=True)
    rc_s, _, err_s = codetrace_cli(codetrace, ["strip", str(stripped)])
    strip_diffs = compare_trees(orig, stripped)
    result["strip"] = {"rc": rc_s, "exact": rc_s == 0 and not strip_diffs,
                       "differing_files": strip_diffs[:20],
                       "stderr_tail": err_s.strip().splitlines()[-3:]}
    rc_e, out_e, err_e = codetrace_cli(codetrace, ["explain", "--json", str(orig)])
    explain = load_explain(out_e, orig)
    result["explain"] = {
        "rc": rc_e,
        "stderr_tail": err_e.strip().splitlines()[-3:],
        "files": len(explain),
        "sites": sum(len(d.get("sites", [])) for d in explain),
        "sites_by_rule": dict(Counter(s["rule"] for d in explain for s in d.get("sites", []))),
        "unresolved": sum(len(d.get("unresolved", [])) for d in explain),
        "unresolved_by_reason": dict(Counter(
            u["reason"] for d in explain for u in d.get("unresolved", [])).most_common(12)),
        "errors": [f"{d['rel']}: {d.get('error')}" for d in explain if d.get("error")][:10],
    }
    (work / "out" / name).mkdir(parents=True, exist_ok=True)
    (work / "out" / name / "explain.json").write_text(out_e)
    log(f"{name}: apply rc={rc}, {len(result['apply']['changed_files'])} files changed; "
        f"strip exact={result['strip']['exact']}; explain: {result['explain']['sites']} sites, "
        f"{result['explain']['unresolved']} unresolved")

    # the four runs
    runs = {}
    with contextlib.ExitStack() as stack:
        started_servers = {
            kind: stack.enter_context(project_servers.start(
                kind, cfg.get(f"{kind}_port"), log_dir=work / "out" / name))
            for kind in cfg.get("servers", [])}
        ports = {f"{kind}_port": server.port for kind, server in started_servers.items()}
        if started_servers:
            log(f"{name}: started " + ", ".join(
                f"{kind} on 127.0.0.1:{server.port}" for kind, server in started_servers.items()))
        for mode in modes:
            source = instrumented if mode == "codetrace" else orig
            for server in started_servers.values():
                server.reset()  # each run starts from the same (empty) state
            runs[mode] = run_tests(work, name, cfg, python, mode, source, timeout, ports)
    for mode in MODES if reuse else ():
        previous = work / "out" / name / mode
        if mode not in runs and (previous / "junit.xml").exists():
            # --reuse: the last run of this mode, as it was left in the work folder
            log(f"{name}: {mode} reused from {previous}")
            runs[mode] = {"rc": None, "seconds": None, "summary": "(reused)",
                          "outcomes": parse_junit(previous / "junit.xml"),
                          "rundir": str(work / "runs" / name / mode), "out": str(previous)}
    result["runs"] = {m: {k: v for k, v in r.items() if k not in ("outcomes",)}
                      for m, r in runs.items()}
    for m, r in runs.items():
        result["runs"][m]["tests"] = dict(Counter(r["outcomes"].values()))
    if "plain" in runs:
        base = runs["plain"]["outcomes"]
        result["unchanged"] = {}
        for m in runs:
            if m == "plain":
                continue
            diffs = outcome_diff(base, runs[m]["outcomes"])
            result["unchanged"][m] = {"same": not diffs and bool(base), "diffs": diffs[:30],
                                      "n_diffs": len(diffs)}

    # counting
    otel = otel_spans(Path(runs["otel"]["out"])) if "otel" in runs else []
    ct_all = codetrace_spans(Path(runs["codetrace"]["out"])) if "codetrace" in runs else []
    ct = [s for s in ct_all if not s["unreached"]]
    unreached = Counter(s["library"] for s in ct_all if s["unreached"])
    if unreached:
        result["codetrace_unreached_process"] = dict(unreached)
    truth = truth_counts(Path(runs["truth"]["out"])) if "truth" in runs else []
    if "codetrace" in runs:
        linemap = LineMap(Path(runs["codetrace"]["rundir"]), orig)
        for span in ct:
            span["site"] = linemap.map(span["site"])
    libraries = list(dict.fromkeys(
        cfg["libraries"] + [s["library"] for s in otel if s["library"] in LIBRARIES]
        + [s["library"] for s in ct if s["library"] in LIBRARIES]))
    # a library the test servers use, not the project (see projects.py)
    libraries = [lib for lib in libraries if lib not in cfg.get("ignore_libraries", ())]
    table = []
    for library in libraries:
        if library == "sqlalchemy":
            # one span per statement on both sides: OpenTelemetry's "connect" spans (one per
            # Engine.connect()) have no counterpart in the ground truth's statements
            # OpenTelemetry sees a statement SQLAlchemy issues twice, through its SQLAlchemy
            # instrumentation and through the driver's (sqlite3): the column counts the larger.
            # Its SQLAlchemy instrumentation instruments nothing on a SQLAlchemy newer than the
            # range it declares (0.66b1 stops before 2.1), where only the driver spans remain.
            n_otel = max(
                sum(1 for s in otel if s["library"] == library and s["name"] != "connect"),
                sum(1 for s in otel if s["library"] == "sqlite3 (under sqlalchemy)"))
            n_ct = sum(1 for s in ct if s["library"] == library)
            n_truth = sum(r["n"] for r in truth if r["library"] == library and r["op"] == "query")
            extra = {
                "otel_connect": sum(1 for s in otel if s["library"] == library
                                    and s["name"] == "connect"),
                "otel_driver_spans_under_sqlalchemy": sum(
                    1 for s in otel if s["library"] == "sqlite3 (under sqlalchemy)"),
                "codetrace_driver_spans_under_sqlalchemy": sum(
                    1 for s in ct if s["library"] == "sqlite3 (under sqlalchemy)"),
            }
        elif library == "django_orm":
            n_otel = sum(1 for s in otel if s["library"] == "sqlite3 (under django)")
            n_ct = sum(1 for s in ct if s["library"] == library)
            n_truth = sum(r["n"] for r in truth if r["library"] == library and r["op"] == "query")
            extra = {
                "codetrace_driver_spans_under_django": sum(
                    1 for s in ct if s["library"] == "sqlite3 (under django)"),
                # statements issued from the project's code (the rest: the test runner's
                # database set-up, migrations, outside the project tree)
                "truth_from_project_code": sum(r["n"] for r in truth if r["library"] == library
                                               and r["op"] == "query" and r["site"]),
                "codetrace_from_project_code": sum(1 for s in ct if s["library"] == library
                                                   and s["site"]),
            }
        elif library == "celery":
            # one CONSUMER span per task execution on both sides (eager executions included);
            # PRODUCER spans (messages published) are counted apart
            n_otel = sum(1 for s in otel if s["library"] == library and s["kind"] == "CONSUMER")
            n_ct = sum(1 for s in ct if s["library"] == library and s["kind"] == "CONSUMER")
            n_truth = sum(r["n"] for r in truth if r["library"] == library and r["op"] == "run")
            extra = {
                "otel_producer": sum(1 for s in otel if s["library"] == library
                                     and s["kind"] == "PRODUCER"),
                "codetrace_producer": sum(1 for s in ct if s["library"] == library
                                          and s["kind"] == "PRODUCER"),
                "truth_publish": sum(r["n"] for r in truth if r["library"] == library
                                     and r["op"] == "publish"),
                "truth_direct": sum(r["n"] for r in truth if r["library"] == library
                                    and r["op"] == "run" and not r["via"] and r["site"]),
            }
        elif library == "psycopg2":
            # statements: execute/executemany/callproc, and the COPY methods (codetrace traces
            # them, OpenTelemetry's dbapi integration does not: copies counted apart below)
            n_otel = sum(1 for s in otel if s["library"] == library)
            n_ct = sum(1 for s in ct if s["library"] == library and is_statement(library, s["op"]))
            n_truth = sum(r["n"] for r in truth if r["library"] == library
                          and is_statement(library, r["op"]))
            extra = {
                **{f"{side}_{op}": sum(1 for s in spans if s["library"] == library
                                       and s["op"] == op)
                   for side, spans in (("codetrace", ct),)
                   for op in ("copy", "connect", "transaction")},
                **{f"truth_{op}": sum(r["n"] for r in truth if r["library"] == library
                                      and r["op"] == op)
                   for op in ("copy", "connect", "transaction")},
                "truth_direct": sum(r["n"] for r in truth if r["library"] == library
                                    and is_statement(library, r["op"]) and not r["via"]
                                    and r["site"]),
            }
        elif library == "asyncpg":
            # round trips of the statement methods (connect spans and counts in the JSON);
            # OpenTelemetry makes a span per cursor-iterator step, row by row (see README)
            n_otel = sum(1 for s in otel if s["library"] == library)
            n_ct = sum(1 for s in ct if s["library"] == library and s["op"] == "query")
            n_truth = sum(r["n"] for r in truth if r["library"] == library
                          and r["op"] == "query")
            extra = {
                "codetrace_connect": sum(1 for s in ct if s["library"] == library
                                         and s["op"] == "connect"),
                "truth_connect": sum(r["n"] for r in truth if r["library"] == library
                                     and r["op"] == "connect"),
                "otel_cursor_steps": sum(1 for s in otel if s["library"] == library
                                         and str(s["name"]).startswith("CURSOR")),
                "truth_direct": sum(r["n"] for r in truth if r["library"] == library
                                    and r["op"] == "query" and not r["via"] and r["site"]),
            }
        elif library == "sqlite3":
            n_otel = sum(1 for s in otel if s["library"] == library)
            n_ct = sum(1 for s in ct if s["library"] == library and s["op"] == "query")
            n_truth = sum(r["n"] for r in truth if r["library"] == library and r["op"] == "query")
            extra = {
                "codetrace_connect": sum(1 for s in ct if s["library"] == library
                                         and s["op"] == "connect"),
                "codetrace_transaction": sum(1 for s in ct if s["library"] == library
                                             and s["op"] == "transaction"),
                "truth_connect": sum(r["n"] for r in truth if r["library"] == library
                                     and r["op"] == "connect"),
                "truth_transaction": sum(r["n"] for r in truth if r["library"] == library
                                         and r["op"] == "transaction"),
                "truth_query_direct": sum(r["n"] for r in truth if r["library"] == library
                                          and r["op"] == "query" and not r["via"]
                                          and r["site"]),
            }
        elif library == "redis":
            # one span per command sent outside a pipeline and one per pipeline execution, on
            # all three sides; an execute() of an empty pipeline sends nothing: OpenTelemetry
            # still makes a span for it (in the OTel column, and counted apart), codetrace does
            # not, the ground truth counts it apart
            n_otel = sum(1 for s in otel if s["library"] == library)
            n_ct = sum(1 for s in ct if s["library"] == library)
            n_truth = sum(r["n"] for r in truth if r["library"] == library
                          and r["op"] != "pipeline_empty")
            extra = {
                "otel_empty_pipelines": sum(1 for s in otel if s["library"] == library
                                            and s.get("empty_pipeline")),
                "truth_empty_pipelines": sum(r["n"] for r in truth if r["library"] == library
                                             and r["op"] == "pipeline_empty"),
                "truth_pipelines": sum(r["n"] for r in truth if r["library"] == library
                                       and r["op"] == "pipeline"),
                "truth_direct": sum(r["n"] for r in truth if r["library"] == library
                                    and r["op"] != "pipeline_empty" and not r["via"]
                                    and r["site"]),
            }
        else:
            n_otel = sum(1 for s in otel if s["library"] == library)
            n_ct = sum(1 for s in ct if s["library"] == library)
            n_truth = sum(r["n"] for r in truth if r["library"] == library)
            extra = {"truth_direct": sum(r["n"] for r in truth if r["library"] == library
                                         and not r["via"] and r["site"])}
            if library in ("requests", "httpx"):
                extra["server_received"] = sum(r["n"] for r in truth if r["library"] == "server")
        table.append({
            "library": library, "otel": n_otel, "codetrace": n_ct,
            "truth": n_truth if "truth" in runs else None,
            "ratio_truth": round(n_ct / n_truth, 3) if n_truth else None,
            "ratio_otel": round(n_ct / n_otel, 3) if n_otel else None,
            "otel_over_truth": round(n_otel / n_truth, 3) if n_truth else None,
            **extra,
        })
    unknown = Counter(s["library"] for s in ct if s["library"] not in LIBRARIES)
    if unknown:
        result["codetrace_unclassified"] = dict(unknown)
    result["table"] = table

    # misses: sites the oracle (truth, else OTel) saw that codetrace did not, by count
    ct_sites = Counter((s["library"], s["site"]) for s in ct
                       if s["site"] and is_statement(s["library"], s["op"]))
    misses = []
    for library in libraries:
        oracle: Counter = Counter()
        indirect: Counter = Counter()
        if truth:
            for r in truth:
                if r["library"] != library or (
                        not is_statement(library, r["op"])) or (
                        r["op"] == "pipeline_empty"):
                    continue
                if r["site"] and not r["via"]:
                    oracle[r["site"]] += r["n"]
                else:
                    indirect[r["via"] or "(outside the project tree)"] += r["n"]
            source_name = "truth"
        else:
            for s in otel:
                if s["library"] != library:
                    continue
                if s["site"] and not s["via"]:
                    oracle[s["site"]] += 1
                else:
                    indirect[s["via"] or "(outside the project tree)"] += 1
            source_name = "otel"
        if library in SERVER_ROWS:
            # A request is not a call site: the site that matters is where the app is built.
            continue
        for site, n in oracle.most_common():
            got = ct_sites.get((library, site), 0)
            if got >= n:
                continue
            status, reason = explain_lookup(explain, site)
            misses.append({"library": library, "site": site, "oracle": source_name,
                           "seen": n, "codetrace": got, "explain": status, "reason": reason,
                           "code": source_line(orig, site)})
        result.setdefault("indirect", {})[library] = dict(indirect.most_common(8))
    # surplus: spans codetrace made at a site beyond what the oracle saw there (e.g. calls on a
    # Mock standing in for a Session: the wrapped call ran, the library did not)
    for row in table:
        library = row["library"]
        oracle_sites: Counter = Counter()
        if truth:
            for r in truth:
                if r["library"] == library and r["site"] and (
                        is_statement(library, r["op"])) and (
                        r["op"] != "pipeline_empty"):
                    oracle_sites[r["site"]] += r["n"]
        else:
            oracle_sites.update(s["site"] for s in otel if s["library"] == library and s["site"])
        surplus = Counter()
        for (lib, site), n in ct_sites.items():
            if lib == library and n > oracle_sites.get(site, 0):
                surplus[site] = n - oracle_sites.get(site, 0)
        row["codetrace_surplus"] = sum(surplus.values())
        row["surplus_sites"] = dict(surplus.most_common(5))
    misses.sort(key=lambda m: -(m["seen"] - m["codetrace"]))
    result["misses"] = misses[:40]
    result["flask_apps"] = flask_sites(explain, orig)
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def source_line(root: Path, site: str) -> str:
    rel, _, line = site.rpartition(":")
    try:
        lines = (root / rel).read_text(errors="replace").splitlines()
        return lines[int(line) - 1].strip()[:120]
    except (OSError, IndexError, ValueError):
        return ""


def flask_sites(explain: list[dict], root: Path) -> dict:
    matched = [f"{d['rel']}:{s['line']}" for d in explain for s in d.get("sites", [])
               if s["rule"].startswith("flask")]
    return {"matched": len(matched), "examples": matched[:5]}


# -------------------------------------------------------------------------------------- report

def fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def yes_no(flag) -> str:
    return "—" if flag is None else ("yes" if flag else "**no**")


def render(results: list[dict], meta: dict) -> str:
    lines = [
        "# Recall: codetrace vs OpenTelemetry auto-instrumentation vs ground truth",
        "",
        f"Last updated {meta['date']} by `{meta['command']}` ({meta['seconds']:.0f} s); "
        f"runtime from {meta['runtime']}. Each project's section says when, and with which "
        "codetrace commit, it was measured.",
        "",
        "| project | library | OTel spans | codetrace spans | ground truth | codetrace / truth "
        "| codetrace / OTel | OTel / truth | tests unchanged (codetrace / OTel) | strip exact |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['project']} | — | failed: {r['error']} | | | | | | | |")
            continue
        unchanged = r.get("unchanged", {})
        same = (f"{yes_no(unchanged.get('codetrace', {}).get('same'))} / "
                f"{yes_no(unchanged.get('otel', {}).get('same'))}")
        for row in r["table"]:
            lines.append(
                f"| {r['project']} | {row['library']} | {fmt(row['otel'])} | "
                f"{fmt(row['codetrace'])} | {fmt(row['truth'])} | {fmt(row['ratio_truth'])} | "
                f"{fmt(row['ratio_otel'])} | {fmt(row['otel_over_truth'])} | {same} | "
                f"{yes_no(r['strip']['exact'])} |")
    lines += ["", "sqlite3 rows count statements (`execute`/`executemany`/`executescript` on "
              "connections and cursors); codetrace's connect and commit/rollback spans and the "
              "ground truth's are in the JSON. `flask` counts SERVER spans / requests handled. "
              "`redis` counts commands sent outside a pipeline plus pipeline executions; "
              "OpenTelemetry also makes a span for an `execute()` of an empty pipeline (which "
              "sends nothing): in its column, and counted apart in the JSON "
              "(`otel_empty_pipelines`).",
              ""]
    for r in results:
        if "error" in r:
            continue
        lines += [f"## {r['project']} ({r['dist']})", "",
                  f"measured {r.get('started', '?')} with codetrace "
                  f"{r.get('codetrace_commit', '?')}", ""]
        runs = r.get("runs", {})
        lines.append("runs: " + "; ".join(
            f"{m} {_took(v['seconds'])} {v['tests']}" for m, v in runs.items()))
        ex = r["explain"]
        lines.append(f"\napply: {len(r['apply']['changed_files'])} files changed; explain: "
                     f"{ex['sites']} sites {ex['sites_by_rule']}, {ex['unresolved']} unresolved "
                     f"{ex['unresolved_by_reason']}")
        if ex["errors"]:
            lines.append(f"\nexplain errors: {ex['errors']}")
        if not r["strip"]["exact"]:
            lines.append(f"\nstrip differs: {r['strip']['differing_files']} "
                         f"{r['strip']['stderr_tail']}")
        for mode, u in r.get("unchanged", {}).items():
            if not u["same"]:
                lines.append(f"\ntests changed under {mode} ({u['n_diffs']}): "
                             + "; ".join(u["diffs"][:8]))
        for row in r["table"]:
            if row.get("codetrace_surplus"):
                lines.append(f"\n{row['library']}: {row['codetrace_surplus']} codetrace spans "
                             "beyond what the oracle saw at the same sites (calls that did not "
                             f"reach the library, e.g. on a Mock): {row['surplus_sites']}")
        if r.get("codetrace_unclassified"):
            lines.append(f"\n**warning**: codetrace spans of no known library (a runtime adapter "
                         f"that did not load?): {r['codetrace_unclassified']}")
        if r.get("codetrace_unreached_process"):
            lines.append("\ncodetrace spans from a child process that resets PYTHONPATH, which "
                         "OTel's start-up (ours or opentelemetry-instrument's) and the ground "
                         f"truth do not reach, not counted above: "
                         f"{r['codetrace_unreached_process']}")
        if r.get("overlay_files"):
            lines.append(f"\nfiles added to the sdist from overlays/: {len(r['overlay_files'])}")
        for library, via in r.get("indirect", {}).items():
            if via:
                lines.append(f"\n{library} calls made by other code (not project call sites): "
                             + ", ".join(f"{k} x{v}" for k, v in via.items()))
        if r["misses"]:
            lines += ["", "| missed site | library | seen (oracle) | codetrace | explain | code |",
                      "|---|---|---|---|---|---|"]
            for m in r["misses"][:15]:
                code = m["code"].replace("|", "\\|")
                lines.append(f"| `{m['site']}` | {m['library']} | {m['seen']} ({m['oracle']}) | "
                             f"{m['codetrace']} | {m['explain']}: {m['reason']} | `{code}` |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", action="append", choices=sorted(PROJECTS),
                        help="only this project (repeatable); default: all")
    parser.add_argument("--work", type=Path, default=Path("/tmp/recall-work"))
    parser.add_argument("--codetrace", default=str(REPO / ".venv" / "bin" / "codetrace"))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--timeout", type=float, default=1500, help="seconds per test run")
    parser.add_argument("--reuse", action="store_true",
                        help="for the modes not run, use their last run left in the work folder "
                             "(after a change that only affects codetrace: --modes codetrace)")
    parser.add_argument("--out", type=Path, default=HERE,
                        help="folder for results.md and results.json")
    parser.add_argument("--report-only", action="store_true",
                        help="re-render results.md from results.json")
    args = parser.parse_args(argv)
    results_json = args.out / "results.json"
    if args.report_only:
        data = json.loads(results_json.read_text())
        text = render(data["results"], data["meta"])
        (args.out / "results.md").write_text(text + "\n")
        print(text)
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    modes = [m for m in args.modes.split(",") if m]
    names = args.project or list(PROJECTS)
    started = time.monotonic()
    previous = {}
    if results_json.exists() and args.project:
        try:  # a partial run updates its projects and keeps the others
            previous = {r["project"]: r for r in json.loads(results_json.read_text())["results"]}
        except (ValueError, KeyError):
            previous = {}
    results = []
    for name in names:
        try:
            results.append(measure(args.work, name, args.codetrace, modes, args.timeout,
                                   args.reuse))
        except Exception as exc:  # one project failing never stops the others
            log(f"{name}: failed: {exc!r}")
            results.append({"project": name, "error": repr(exc)[:300]})
    merged = {**previous, **{r["project"]: r for r in results}}
    ordered = [merged[n] for n in PROJECTS if n in merged]
    _rc, git, _ = capture(["git", "-C", REPO, "log", "-1", "--format=%h %cs"], timeout=30)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "command": "python benchmarks/recall/run.py" + (
            "".join(f" --project {n}" for n in args.project) if args.project else "") + (
            " (the other projects' rows are from their own runs: each section says when)"
            if set(previous) - set(args.project or ()) else ""),
        "seconds": time.monotonic() - started,
        "git": git.strip(),
        "runtime": next((r.get("runtime") for r in results if r.get("runtime")), "?"),
        "python": sys.version.split()[0],
        "otel_packages": OTEL_PACKAGES,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    results_json.write_text(json.dumps({"meta": meta, "results": ordered}, indent=1) + "\n")
    text = render(ordered, meta)
    (args.out / "results.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
