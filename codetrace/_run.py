"""One run of ``apply`` or ``strip`` over many files: the layer between the CLI and the engine.

Files are independent; a failing file is reported and the run goes on. Output flags become one
:class:`WriteBack` value early, and everything below switches on it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import hashlib
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pathspec

from codetrace import _cache, _directives, _discover, _engine, _rules
from codetrace._config import Config
from codetrace._context import FileContext
from codetrace._format import black_style
from codetrace._options import Options
from codetrace._prefilter import Prefilter
from codetrace._progress import Progress
from codetrace._project import ProjectIndex
from codetrace._report import Report
from codetrace._result import FileResult
from codetrace._ruleset import RuleSet
from codetrace._write import WriteError, atomic_write, copy_file, unified_diff


class WriteBack(enum.Enum):
    YES = "in place"
    DIFF = "diff"
    CHECK = "check"
    OUT = "out"


@dataclass(frozen=True)
class Job:
    action: str  # "apply" | "strip"
    paths: tuple[Path, ...]
    write_back: WriteBack
    config: Config
    ruleset: RuleSet
    out: Path | None = None
    jobs: int = 1
    cache: bool = False
    #: report where each site and unresolved candidate stands (``explain``), not only counts
    locate: bool = False
    #: every name a rule selection may use (all loaded rules, selected or not): an
    #: ``ignore[...]`` directive naming something else is reported
    known_rules: frozenset[str] = frozenset()

    @functools.cached_property
    def options(self) -> Options:
        """Engine options, the project's black settings read once per run."""
        return Options(runtime=self.config.runtime,
                       style=black_style(self.config.source, self.config.format))


#: below this many files per worker a pool costs more than it saves
PARALLEL_THRESHOLD = 8


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def _display(path: Path) -> str:
    try:
        relative = os.path.relpath(os.path.abspath(path), os.getcwd())
    except ValueError:  # another drive on Windows
        return path.as_posix()
    if relative.startswith(".."):
        return path.as_posix()
    return Path(relative).as_posix()


def project_roots(sources: Sequence[_discover.Source]) -> list[Path]:
    """Import roots: the folder above each source's top-level package."""
    roots: dict[Path, None] = {}
    for source in sources:
        root = Path(os.path.dirname(os.path.abspath(source.path)))
        for _ in range(source.module_name.count(".")):
            root = root.parent
        if source.is_package:
            root = root.parent
        roots[root] = None
    return list(roots)


def process(
    job: Job,
    source: _discover.Source,
    prefilter: Prefilter | None,
    project: ProjectIndex | None = None,
    data: bytes | None = None,
    shown: str | None = None,
) -> FileResult:
    """Read one file (unless ``data`` is given: stdin) and run the engine on it (no writing).

    ``prefilter`` None: the caller already knows the file passes it.
    """
    shown = shown or _display(source.path)
    if data is None:
        try:
            data = source.path.read_bytes()
        except OSError as exc:
            return FileResult(shown, "error", error=f"cannot read: {exc.strerror or exc}",
                              line=1)
    file = FileContext(
        shown, job.ruleset, job.options, module_name=source.module_name,
        is_package=source.is_package, project=project, prefilter=prefilter, locate=job.locate,
    )
    result = _engine.instrument(data, file) if job.action == "apply" else _engine.strip(data, file)
    if result.status == "changed":
        result = dataclasses.replace(result, read_digest=digest(data))
    warnings = directive_warnings(job, data)
    if warnings:
        result = dataclasses.replace(result, warnings=warnings)
    return result


def directive_warnings(job: Job, data: bytes) -> tuple[tuple[int, str], ...]:
    """``# codetrace: ignore[...]`` naming no known rule ignores nothing for that name: said,
    not silently treated as a blanket ignore."""
    if job.action != "apply" or not job.known_rules or b"codetrace:" not in data:
        return ()
    text = data.decode("utf-8", "replace")
    found: list[tuple[int, str]] = []
    for line, written, names in _directives.bracketed(text):
        if not names:
            found.append((line, f"`{written}` names no rule: it ignores nothing"))
        for name in names:
            problem = _rules.unknown_selector([name], job.known_rules)
            if problem:
                found.append((line, f"{problem} in `{written}`: it ignores nothing for it"))
    return tuple(found)


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _still(path: Path, read_digest: str) -> bool:
    """Is ``path`` still the bytes that were read (and readable)?"""
    try:
        return digest(path.read_bytes()) == read_digest
    except OSError:
        return False


def new_project(job: Job, sources: Sequence[_discover.Source]) -> ProjectIndex:
    return _project_for(job, project_roots(sources))


def _project_for(job: Job, roots: Sequence[Path]) -> ProjectIndex:
    return ProjectIndex(roots, runtime=job.config.runtime,
                        prefilter=Prefilter.for_rules(job.ruleset))


def _out_target(job: Job, source: _discover.Source) -> Path:
    assert job.out is not None
    if source.path.is_file() and source.root == source.path.parent and len(job.paths) == 1 \
            and job.paths[0].is_file():
        return job.out / source.path.name
    return job.out / source.path.resolve().relative_to(source.root.resolve())


# worker-process state, set once per worker by _init_worker (fork start: inherited cheaply)
_WORKER: tuple[Job, ProjectIndex] | None = None


def _init_worker(job: Job, roots: list[Path], parent: int | None = None) -> None:
    global _WORKER
    _WORKER = (job, _project_for(job, roots))
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _arm_workers() -> None:
    """Make every process forked from here on die with this one, even a worker stuck before
    it runs any Python (a lock taken by another thread at fork time): Linux's parent-death
    signal, set in the child right after the fork. Elsewhere the workers' watchdog thread
    does it. SIGTERM gets its default action back in the child."""
    global _ARMED
    if _ARMED:
        return
    _ARMED = True
    prctl = None
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            prctl = None
    parent = os.getpid()

    def in_child() -> None:
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if prctl is not None:
            prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the parent died before the signal was armed
                os._exit(1)

    os.register_at_fork(after_in_child=in_child)


_ARMED = False


def _exit_with(parent: int) -> None:
    """A worker ends when its parent does (killed with SIGKILL, it cannot tell us)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _work(source: _discover.Source) -> tuple[FileResult, float]:
    """One file ``run`` already let through the prefilter (so it is not run again here)."""
    assert _WORKER is not None
    job, project = _WORKER
    started = time.perf_counter()
    result = process(job, source, None, project)
    return result, time.perf_counter() - started


def _results(
    job: Job, sources: list[_discover.Source], roots: list[Path], progress: Progress,
) -> Iterator[tuple[FileResult, float]]:
    """Results in input order: in this process, or in a pool of ``job.jobs`` processes.
    ``progress`` counts files as they finish, in whatever order that is."""
    if job.jobs <= 1 or len(sources) < 2 * PARALLEL_THRESHOLD:
        _init_worker(job, roots)
        for source in sources:
            done = _work(source)
            progress.step()
            yield done
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    _arm_workers()
    with ProcessPoolExecutor(
        max_workers=job.jobs, mp_context=context, initializer=_init_worker,
        initargs=(job, roots, os.getpid()),
    ) as pool:
        # largest files first, so no worker is left with a long file at the end; results are
        # still taken in input order, which keeps the output deterministic
        order = sorted(range(len(sources)), key=lambda i: -_size(sources[i]))
        # the workers fork on the first submit: not while the status line is being written
        # (a child would inherit the stream's lock held)
        with progress.paused():
            futures = {index: pool.submit(_work, sources[index]) for index in order}
            for future in futures.values():
                future.add_done_callback(lambda _: progress.step())
        for index in range(len(sources)):
            yield futures.pop(index).result()


def _size(source: _discover.Source) -> int:
    try:
        return source.path.stat().st_size
    except OSError:
        return 0


def run(job: Job, report: Report) -> int:
    """Process every file of ``job``; return the exit code."""
    progress = Progress.on_terminal(report.stream, quiet=report.quiet).start()
    report.progress = progress
    try:
        return _run(job, report, progress)
    finally:
        progress.close()
        report.progress = None


def _run(job: Job, report: Report, progress: Progress) -> int:
    sources = list(_discover.iter_sources(job.paths, job.config, found=progress.found))
    progress.begin(len(sources))
    project = new_project(job, sources)
    roots = list(project.roots)
    # files named one by one (a pre-commit hook) changed: the cache could only cost time
    use_cache = job.cache and any(path.is_dir() for path in job.paths)
    cache = _open_cache(job, roots) if use_cache else None
    exclude = pathspec.GitIgnoreSpec.from_lines(job.config.exclude)

    # cheap work here: cached files and files the prefilter rules out are settled in-process
    settled: dict[int, FileResult] = {}
    todo: list[_discover.Source] = []
    for index, source in enumerate(sources):
        cached = cache.get(source.path) if cache is not None else None
        if cached is not None:
            settled[index] = dataclasses.replace(cached, path=_display(source.path))
            progress.step()
            continue
        if job.action == "apply":
            data = _read(source)
            if data is not None and not _may_match(data, source, project):
                settled[index] = FileResult(_display(source.path), "unchanged",
                                            warnings=directive_warnings(job, data))
                progress.step()
                continue
        todo.append(source)
    computed = _results(job, todo, roots, progress)
    unchanged: dict[Path, FileResult] = {}
    written: set[Path] = set()
    for index, source in enumerate(sources):
        if index in settled:
            result, elapsed = settled[index], 0.0
        else:
            result, elapsed = next(computed)
        stays = not result.warnings and (result.status == "unchanged" or (
            result.status == "changed" and job.write_back is WriteBack.YES
        ))
        if _write(job, source, result, report, written) and stays:
            # written: its sites are instrumented now, as the next run will find them
            unchanged[source.path] = result if result.status == "unchanged" else (
                dataclasses.replace(result, instrumented=result.instrumented + sum(
                    1 for site in result.sites if not site.skipped)))
        report.file(result, elapsed)
    if job.write_back is WriteBack.OUT:
        _copy_rest(job, written, report)
    if cache is not None:
        wrote_sources = job.write_back is WriteBack.YES and report.changed > 0
        now = _cache.fingerprint(roots, exclude) if wrote_sources else cache.fingerprint
        cache.save(now, unchanged)
    return report.finish()


def _read(source: _discover.Source) -> bytes | None:
    try:
        return source.path.read_bytes()
    except OSError:
        return None  # the worker reports the read error


def _may_match(data: bytes, source: _discover.Source, project: ProjectIndex) -> bool:
    assert project.reach is not None
    return project.reach.passes(data, source.module_name, source.is_package)


def _open_cache(job: Job, roots: list[Path]) -> _cache.Cache:
    rule_files = sorted({rule.source for rule in job.ruleset.rules})
    # the rules in force, not the config's lists: --select/--ignore change them too
    in_force = [f"rule:{rule.id}" for rule in job.ruleset.rules]
    name = _cache.key(job.action, rule_files, in_force, job.config.runtime, roots,
                      repr(job.options.style))
    exclude = pathspec.GitIgnoreSpec.from_lines(job.config.exclude)
    return _cache.Cache.load(name, _cache.fingerprint(roots, exclude))


def _write(
    job: Job, source: _discover.Source, result: FileResult, report: Report, written: set[Path]
) -> bool:
    """Write back one result as the job says; False (and an error reported) if writing failed."""
    if job.write_back is WriteBack.OUT:
        target = _out_target(job, source)
        written.add(target.resolve())
        try:
            if result.status == "changed" and result.output is not None:
                atomic_write(target, result.output, like=source.path)
            else:
                copy_file(source.path, target)
        except WriteError as exc:
            report.error(result.path, 1, str(exc))
            return False
        return True
    if result.status != "changed" or result.output is None:
        return True
    if job.write_back is WriteBack.YES:
        try:
            if source.path.is_symlink():  # never replace a link with a regular file
                report.error(result.path, 1, "is a symbolic link: codetrace does not write "
                             "through links (name the file it points to); left as it is")
                return False
            # written only if the file is still what was read (an editor may have saved it)
            if result.read_digest and not _still(source.path, result.read_digest):
                report.error(result.path, 1, "changed on disk while codetrace ran; left as it "
                             "is (run again)")
                return False
            atomic_write(source.path, result.output)
        except WriteError as exc:
            report.error(result.path, 1, f"{exc}; file left untouched")
            return False
    elif job.write_back is WriteBack.DIFF:
        original = source.path.read_bytes()
        text = unified_diff(result.path, original, result.output)
        if report.progress is not None:
            report.progress.write(text, sys.stdout)
        else:
            sys.stdout.write(text)
    return True


def _copy_rest(job: Job, written: set[Path], report: Report) -> None:
    """``--out`` gives a whole copy of the tree: files we did not process are copied as they are."""
    assert job.out is not None
    patterns = _discover.Patterns.from_config(job.config, include=False)
    for root in job.paths:
        if not root.is_dir():
            continue
        for path in _discover.walk(root, patterns):
            target = job.out / path.resolve().relative_to(root.resolve())
            if target.resolve() in written:
                continue
            try:
                copy_file(path, target)
            except WriteError as exc:
                report.error(_display(path), 1, str(exc))


def check_out_dir(out: Path, paths: Sequence[Path]) -> str | None:
    """``--out`` may not be an input, lie inside one (the copy would copy itself), or contain
    one (``--out proj proj/pkg``: the "copy" would be written over the originals). By real
    path, so a link to an input is one too."""
    target = out.resolve()
    for path in paths:
        root = path.resolve()
        if target == root or (root.is_dir() and root in target.parents) \
                or target in root.parents:
            return f"--out {out} must be outside {path}, and must not contain it"
    return None


def run_stdin(job: Job, data: bytes, path: Path, report: Report, out: BinaryIO) -> int:
    """``codetrace apply --stdin-filename PATH -``, for editors: the text comes on stdin and
    goes to ``out`` (instrumented, or as it came when nothing changes or the file fails),
    a diff with ``--diff``, nothing with ``--check``. ``PATH`` names the file for the config,
    the module name and the messages; it need not exist. Exit codes are those of a file run.
    An excluded ``PATH`` with force-exclude comes back unchanged, as ruff does."""
    shown = _display(path)
    patterns = _discover.Patterns.from_config(job.config)
    result = FileResult(shown, "unchanged")
    if not patterns.named_excluded(path):
        name, is_package = _discover.module_name_for(path)
        source = _discover.Source(path, path.parent, name, is_package)
        project = new_project(job, [source])
        result = process(job, source, Prefilter.for_rules(job.ruleset), project, data=data,
                         shown=shown)
    output = result.output if result.status == "changed" and result.output is not None else data
    if job.write_back is WriteBack.YES:
        out.write(output)
    elif job.write_back is WriteBack.DIFF and output != data:
        out.write(unified_diff(shown, data, output).encode("utf-8"))
    out.flush()
    report.file(result)
    return report.finish()
