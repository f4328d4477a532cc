"""One run of ``apply`` or ``strip`` over many files: the layer between the CLI and the engine.

Files are independent; a failing file is reported and the run goes on. Output flags become one
:class:`WriteBack` value early, and everything below switches on it.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pathspec

from codetrace import _discover, _engine
from codetrace._advice import Options
from codetrace._config import Config
from codetrace._engine import FileResult, Prefilter
from codetrace._project import ProjectIndex
from codetrace._report import Report
from codetrace._rules import RuleSet
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


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def project_roots(sources: Sequence[_discover.Source]) -> list[Path]:
    """Import roots: the folder above each source's top-level package."""
    roots: dict[Path, None] = {}
    for source in sources:
        root = source.path.resolve().parent
        for _ in range(source.module_name.count(".")):
            root = root.parent
        if source.is_package:
            root = root.parent
        roots[root] = None
    return list(roots)


def process(
    job: Job, source: _discover.Source, prefilter: Prefilter, project: ProjectIndex | None = None
) -> FileResult:
    """Read one file and run the engine on it (no writing)."""
    shown = _display(source.path)
    try:
        data = source.path.read_bytes()
    except OSError as exc:
        return FileResult(shown, "error", error=f"cannot read: {exc.strerror or exc}", line=1)
    options = Options(runtime=job.config.runtime)
    if job.action == "apply":
        return _engine.instrument(
            data, shown, job.ruleset, options, module_name=source.module_name,
            is_package=source.is_package, prefilter=prefilter, project=project,
        )
    return _engine.strip(data, shown, options)


def new_project(job: Job, sources: Sequence[_discover.Source]) -> ProjectIndex:
    return ProjectIndex(project_roots(sources), marker=Options().marker,
                        runtime=job.config.runtime)


def _out_target(job: Job, source: _discover.Source) -> Path:
    assert job.out is not None
    if source.path.is_file() and source.root == source.path.parent and len(job.paths) == 1 \
            and job.paths[0].is_file():
        return job.out / source.path.name
    return job.out / source.path.resolve().relative_to(source.root.resolve())


def run(job: Job, report: Report) -> int:
    """Process every file of ``job``; return the exit code."""
    prefilter = Prefilter.for_rules(job.ruleset)
    sources = list(_discover.iter_sources(job.paths, job.config))
    project = new_project(job, sources)
    written: set[Path] = set()
    for source in sources:
        result = process(job, source, prefilter, project)
        if job.write_back is WriteBack.OUT:
            target = _out_target(job, source)
            written.add(target.resolve())
            data = result.output if result.status == "changed" else None
            try:
                if data is not None:
                    atomic_write(target, data, like=source.path)
                else:
                    copy_file(source.path, target)
            except WriteError as exc:
                report.error(result.path, 1, str(exc))
                continue
        elif result.status == "changed" and result.output is not None:
            if job.write_back is WriteBack.YES:
                try:
                    atomic_write(source.path, result.output)
                except WriteError as exc:
                    report.error(result.path, 1, f"{exc}; file left untouched")
                    continue
            elif job.write_back is WriteBack.DIFF:
                original = source.path.read_bytes()
                sys.stdout.write(unified_diff(result.path, original, result.output))
        report.file(result)
    if job.write_back is WriteBack.OUT:
        _copy_rest(job, written, report)
    return report.finish()


def _copy_rest(job: Job, written: set[Path], report: Report) -> None:
    """``--out`` gives a whole copy of the tree: files we did not process are copied as they are."""
    assert job.out is not None
    exclude = pathspec.GitIgnoreSpec.from_lines(job.config.exclude)
    for root in job.paths:
        if not root.is_dir():
            continue
        for path in _discover.walk(root, None, exclude):
            target = job.out / path.resolve().relative_to(root.resolve())
            if target.resolve() in written:
                continue
            try:
                copy_file(path, target)
            except WriteError as exc:
                report.error(_display(path), 1, str(exc))


def check_out_dir(out: Path, paths: Sequence[Path]) -> str | None:
    """``--out`` may not be one of the inputs or inside one (the copy would copy itself)."""
    target = out.resolve()
    for path in paths:
        root = path.resolve()
        if target == root or (root.is_dir() and root in target.parents):
            return f"--out {out} must be outside {path}"
    return None
