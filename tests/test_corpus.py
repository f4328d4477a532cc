"""Scale correctness on real code written by others: the installed packages and the stdlib.

Every ``.py`` file of the test environment's site-packages and of the standard library goes
through the engine. Every ``STRIDE``-th file (sorted, so the sample is the same on every run)
goes through the whole pipeline with no prefilter (parse, collect, resolve, match); the others go
through the prefilter first, as ``codetrace apply`` does, so that every file that can be
instrumented is. For each file:

- instrumented: the output compiles, applying again changes nothing, and stripping gives the
  input back byte for byte (checked here, independently of the engine's own self-check); the
  prefilter lets the file through (on the no-prefilter sample: no file missed);
- error: the message is one line, with a line number, and the file is in a known class that
  is verified independently here (Python rejects it, it does not decode, libcst cannot parse it,
  libcst does not round-trip it, libcst's parser hits the recursion limit). Anything else — the
  engine's self-check failing, an internal error, a recursion in our own code — fails the test.

The counts are printed. Runs in a process pool (one worker per core); about 60 s on 2 cores.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import re
import sys
import sysconfig
import time
import tokenize
import warnings
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import libcst as cst
import pytest

from codetrace._advice import Options
from codetrace._discover import module_name_for
from codetrace._engine import FileResult, Prefilter, instrument, strip
from codetrace._rules import RuleSet, builtin_rule_files, load_rules

STRIDE = 3  # every STRIDE-th file skips the prefilter (the full pipeline runs on it)
MIN_FILES = 500  # fewer files than this means the environment was not found: fail, not pass
SKIP_PARTS = frozenset({"site-packages", "dist-packages", "__pycache__"})
ERROR_LINE = re.compile(r"^error: \S.*:[1-9][0-9]*: \S[^\n]*$")

# Error kinds that real code may legitimately produce; anything else is a bug of ours.
KNOWN_KINDS = frozenset({
    "python rejects it", "does not decode", "libcst cannot parse it",
    "libcst does not round-trip it", "libcst parser recursion",
})


@dataclass(frozen=True)
class Job:
    label: str  # "site-packages/..." or "stdlib/...": stable across machines
    path: str
    full: bool  # no prefilter: the whole pipeline runs


@dataclass(frozen=True)
class Outcome:
    label: str
    full: bool
    candidate: bool  # passes the prefilter
    status: str
    calls: int = 0
    hooks: int = 0
    kind: str = ""  # error kind
    error: str = ""
    problems: tuple[str, ...] = ()
    seconds: float = 0.0


def _roots() -> list[tuple[str, Path]]:
    paths = sysconfig.get_paths()
    roots: dict[Path, str] = {}
    for key in ("purelib", "platlib"):
        roots.setdefault(Path(paths[key]).resolve(), "site-packages")
    roots.setdefault(Path(paths["stdlib"]).resolve(), "stdlib")
    return [(label, root) for root, label in roots.items() if root.is_dir()]


def _python_files(root: Path) -> Iterator[Path]:
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIP_PARTS)
        here = Path(directory)
        # codetrace itself is not "code written by others" (and is installed here in CI)
        if here == root and "codetrace" in subdirs:
            subdirs.remove("codetrace")
        for name in sorted(files):
            if name.endswith(".py"):
                yield here / name


def corpus() -> list[Job]:
    found: dict[str, Path] = {}
    for label, root in _roots():
        for path in _python_files(root):
            found.setdefault(f"{label}/{path.relative_to(root).as_posix()}", path)
    return [Job(label, str(found[label]), i % STRIDE == 0)
            for i, label in enumerate(sorted(found))]


@functools.cache
def _setup() -> tuple[RuleSet, Prefilter, Options]:
    ruleset = load_rules(builtin_rule_files())
    return ruleset, Prefilter.for_rules(ruleset), Options()


# ---------------------------------------------------------------------------------------------
# independent verification of error kinds


def _python_parses(data: bytes, path: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(data, path, "exec", flags=0x400, dont_inherit=True)  # ast.PyCF_ONLY_AST
    except (SyntaxError, ValueError):
        return False
    return True


def _decodes(data: bytes) -> bool:
    try:
        encoding, _ = tokenize.detect_encoding(BytesIO(data).readline)
        data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return False
    return True


def _error_kind(data: bytes, path: str, result: FileResult) -> str:
    """What kind of failure this is, established without trusting the engine's message."""
    message = result.error
    if not _decodes(data):
        return "does not decode" if "encoding" in message or "decode" in message else ""
    if not _python_parses(data, path):
        return "python rejects it" if message.startswith("syntax error") else ""
    try:
        module = cst.parse_module(data)
    except RecursionError:
        return "libcst parser recursion" if "recursion" in message else ""
    except Exception:
        return "libcst cannot parse it" if "parse" in message else ""
    if module.bytes != data:
        return "libcst does not round-trip it" if "byte for byte" in message else ""
    return ""  # libcst reads the file fine: the failure is ours


def _compiles(data: bytes, path: str) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(data, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


# ---------------------------------------------------------------------------------------------
# one file


def check(job: Job) -> Outcome:
    ruleset, prefilter, options = _setup()
    data = Path(job.path).read_bytes()
    module_name, is_package = module_name_for(Path(job.path))
    candidate = prefilter.may_match(data)
    started = time.perf_counter()
    result = instrument(data, job.label, ruleset, options, module_name=module_name,
                        is_package=is_package, prefilter=None if job.full else prefilter)
    seconds = time.perf_counter() - started
    problems: list[str] = []
    kind = ""
    if result.status == "error":
        kind = _error_kind(data, job.path, result) or "ours"
        shown = f"error: {job.label}:{result.line}: {result.error}"
        if not ERROR_LINE.match(shown):
            problems.append(f"error is not one line with a line number: {shown!r}")
        if kind == "ours":
            problems.append(f"engine error on a file libcst reads: line {result.line}: "
                            f"{result.error}")
    elif result.status == "changed":
        output = result.output or b""
        if not candidate:
            problems.append("instrumented, but the prefilter would have skipped it")
        if output == data or result.calls + result.hooks == 0:
            problems.append("reported as changed with nothing instrumented")
        broken = _compiles(output, job.path)
        if broken:
            problems.append(f"output does not compile: {broken}")
        again = instrument(output, job.label, ruleset, options, module_name=module_name,
                           is_package=is_package)
        if again.status == "error":
            problems.append(f"applying twice fails: line {again.line}: {again.error}")
        elif again.output is not None and again.output != output:
            problems.append("applying twice changes the file again")
        stripped = strip(output, job.label, options)
        if stripped.status != "changed" or stripped.output != data:
            problems.append(f"strip(apply(x)) != x (strip: {stripped.status} {stripped.error})")
    return Outcome(job.label, job.full, candidate, result.status, result.calls, result.hooks,
                   kind, result.error, tuple(problems), seconds)


# ---------------------------------------------------------------------------------------------
# the test


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def run_all(jobs: list[Job]) -> list[Outcome]:
    # Biggest files first so the pool finishes evenly.
    ordered = sorted(jobs, key=lambda j: -os.path.getsize(j.path))
    workers = _workers()
    if workers == 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [check(job) for job in ordered]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            return list(pool.map(check, ordered, chunksize=4))


def summary(outcomes: list[Outcome], seconds: float) -> str:
    by_root = Counter(o.label.split("/", 1)[0] for o in outcomes)
    status = Counter(o.status for o in outcomes)
    kinds = Counter(o.kind for o in outcomes if o.status == "error")
    changed = [o for o in outcomes if o.status == "changed"]
    slowest = sorted(outcomes, key=lambda o: -o.seconds)[:3]
    lines = [
        f"corpus: {len(outcomes)} files seen ({', '.join(f'{n} {r}' for r, n in sorted(by_root.items()))}); "
        f"{sum(o.full for o in outcomes)} through the full pipeline (no prefilter), "
        f"{sum(o.candidate for o in outcomes)} pass the prefilter",
        f"corpus: {status['changed']} instrumented, "
        f"{sum(o.calls for o in changed)} call sites, {sum(o.hooks for o in changed)} hooks; "
        f"{status['unchanged']} unchanged; {status['error']} errors"
        + "".join(f"; {n} {k}" for k, n in sorted(kinds.items())),
        f"corpus: {seconds:.1f} s with {_workers()} workers; slowest: "
        + ", ".join(f"{o.label} {o.seconds:.1f} s" for o in slowest),
    ]
    return "\n".join(lines)


def test_real_code_at_scale(capsys: pytest.CaptureFixture[str]) -> None:
    jobs = corpus()
    assert len(jobs) >= MIN_FILES, f"only {len(jobs)} files found under {_roots()}"
    started = time.perf_counter()
    outcomes = run_all(jobs)
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print("\n" + summary(outcomes, elapsed))
    problems = [f"{o.label}: {p}" for o in outcomes for p in o.problems]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:30])
    assert any(o.status == "changed" for o in outcomes), "nothing instrumented at all"
    unknown = {o.kind for o in outcomes if o.status == "error"} - KNOWN_KINDS
    assert not unknown, unknown


if __name__ == "__main__":  # python tests/test_corpus.py: the counts, without pytest
    t0 = time.perf_counter()
    results = run_all(corpus())
    print(summary(results, time.perf_counter() - t0))
    for outcome in results:
        for problem in outcome.problems:
            print(f"{outcome.label}: {problem}")
    sys.exit(1 if any(o.problems for o in results) else 0)
