"""Benchmark: ``codetrace apply --diff`` on a large tree of real code, against the floor.

    python benchmarks/apply_tree.py                  # build (once) and measure the corpus
    python benchmarks/apply_tree.py --json           # the same figures as a JSON document
    python benchmarks/apply_tree.py --corpus DIR ... # any tree(s) instead of the corpus

The corpus is built the same way on any machine, under a cache folder (``--cache-dir``, default
``$XDG_CACHE_HOME/codetrace-bench``, else ``~/.cache/codetrace-bench``), and reused when present.
Not inside the repository: codetrace honours the ``.gitignore`` files above the paths it is given
up to the repository's top, so a git-ignored corpus folder would be an empty tree to it.

- ``corpus-venv/``: a virtual environment with ``pip install django flask requests sqlalchemy
  httpx`` (and their dependencies); its site-packages is the first tree;
- ``stdlib-X.Y/``: a copy of this interpreter's standard library (``sysconfig``'s ``stdlib``)
  without its ``site-packages`` (which differs from machine to machine); the second tree;
- ``precommit/``: the ``.py`` files of the corpus's django, plus one new module that imports
  requests: the pre-commit case, ``codetrace apply --diff`` on that one changed file.

Measured, each ``--repeat`` times (medians printed):

- the floor, in this process: read every file codetrace would look at, the prefilter
  (``codetrace._prefilter.Prefilter``: the substring test on the rules' modules, then the
  import-line regex), ``ast.parse`` of the files that pass. Wall and CPU time, one core;
- ``codetrace apply --diff TREE...`` as a subprocess (stdout to /dev/null; ``--jobs N`` when the
  CLI has it; when it has a cache, a cold run on an empty ``$CODETRACE_CACHE_DIR`` then a warm
  run on what the cold run left there). Wall, CPU (user+sys of the process and its workers),
  peak RSS (of the largest process), and the counts of the summary line codetrace prints on
  stderr (kept in ``last-stderr.txt`` in the cache folder);
- the pre-commit case: wall time of the one-file run, and that minus the start-up (``python -c
  pass``, ``python -c "import codetrace.cli"`` measured separately).

Not a test: run it by hand. It takes a few minutes (the first run also builds the corpus).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from codetrace import __version__ as codetrace_version
from codetrace import _config, _discover, _rules
from codetrace._prefilter import Prefilter

PACKAGES = ("django", "flask", "requests", "sqlalchemy", "httpx")
SKIP_STDLIB = shutil.ignore_patterns("site-packages", "dist-packages", "__pycache__", "*.pyc")
SUMMARY = re.compile(r"(\d+) files? (?:would be )?instrumented, (\d+) call sites?, (\d+) hooks?")
COUNTS = {
    "unchanged": re.compile(r"(\d+) files? left unchanged"),
    "failed": re.compile(r"(\d+) files? failed"),
    "unresolved": re.compile(r"(\d+) sites? unresolved"),
    "skipped": re.compile(r"(\d+) sites? skipped"),
}
PRECOMMIT_MODULE = '''\
"""A module changed in a large project: what pre-commit hands to `codetrace apply`."""

import requests
from django.conf import settings
from django.http import JsonResponse

SESSION = requests.Session()


def notify(event):
    response = SESSION.post(settings.WEBHOOK_URL, json=event, timeout=5)
    response.raise_for_status()
    return response.json()


def status(name):
    with requests.Session() as session:
        reply = session.get(f"https://status.example.com/{name}", timeout=5)
    return JsonResponse({"name": name, "status": reply.status_code})


def ping():
    return requests.head("https://status.example.com/", timeout=2).ok
'''


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# the corpus


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "codetrace-bench"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_corpus_venv(cache: Path) -> Path:
    """The corpus venv's site-packages, creating the venv on first use."""
    venv = cache / "corpus-venv"
    done = venv / "bench-installed.txt"
    if not done.is_file():
        say(f"creating {venv} and installing {' '.join(PACKAGES)} (once) ...")
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = str(venv_python(venv))
        subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        *PACKAGES], check=True)
        freeze = subprocess.run([python, "-m", "pip", "freeze", "--all"], check=True,
                                capture_output=True, text=True).stdout
        done.write_text(freeze)
    purelib = subprocess.run(
        [str(venv_python(venv)), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    return Path(purelib)


def ensure_stdlib_copy(cache: Path) -> Path:
    """A copy of the standard library without site-packages (which varies by machine)."""
    target = cache / f"stdlib-{sys.version_info.major}.{sys.version_info.minor}"
    if not (target / "os.py").is_file():
        say(f"copying the standard library to {target} (once) ...")
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(sysconfig.get_paths()["stdlib"], target, ignore=SKIP_STDLIB,
                        symlinks=True)
    return target


def ensure_precommit_project(cache: Path, site_packages: Path) -> Path:
    """A large project (django's .py files) with one new module that imports requests."""
    project = cache / "precommit"
    changed = project / "django" / "contrib" / "bench_webhooks.py"
    if not changed.is_file():
        say(f"building the pre-commit project in {project} (once) ...")
        shutil.rmtree(project, ignore_errors=True)
        shutil.copytree(site_packages / "django", project / "django",
                        ignore=_only_python_files)
        changed.write_text(PRECOMMIT_MODULE)
    return changed


def _only_python_files(directory: str, names: list[str]) -> set[str]:
    return {n for n in names
            if n == "__pycache__" or (not n.endswith(".py")
                                      and not os.path.isdir(os.path.join(directory, n)))}


def installed_versions(cache: Path) -> dict[str, str]:
    freeze = cache / "corpus-venv" / "bench-installed.txt"
    if not freeze.is_file():
        return {}
    versions = {}
    for line in freeze.read_text().splitlines():
        name, _, version = line.partition("==")
        if name.lower() in PACKAGES:
            versions[name.lower()] = version
    return versions


# ---------------------------------------------------------------------------------------------
# measuring


@dataclass
class Corpus:
    trees: list[str]
    files: int
    lines: int
    megabytes: float
    candidates: int  # pass codetrace's text prefilter (direct imports only)
    discovery_s: float  # codetrace's own discovery (include/exclude/.gitignore), one run


@dataclass
class Floor:
    wall_s: float
    cpu_s: float
    candidates: int


@dataclass
class Run:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    exit_code: int
    rewritten: int = 0
    sites: int = 0
    hooks: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    summary: str = ""


def ruleset_and_config(trees: Sequence[Path]) -> tuple[_rules.RuleSet, _config.Config]:
    """The rules and config ``codetrace apply TREES`` would use (same files, same prefilter)."""
    config = _config.load_config(_config.find_pyproject(list(trees)))
    files = [*(_rules.builtin_rule_files() if config.builtin_rules else []), *config.rules]
    return _rules.load_rules(files).without(config.disable), config


def list_files(trees: Sequence[Path], config: _config.Config) -> tuple[list[Path], float]:
    started = time.perf_counter()
    files = [source.path for source in _discover.iter_sources(list(trees), config)]
    return files, time.perf_counter() - started


def floor_once(files: Sequence[Path], prefilter: Prefilter) -> Floor:
    """Read every file, prefilter it, ``ast.parse`` the ones that pass."""
    wall, cpu = time.perf_counter(), time.process_time()
    candidates = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escapes and the like in third-party code
        for path in files:
            data = path.read_bytes()
            if prefilter.may_match(data):
                candidates += 1
                with contextlib.suppress(SyntaxError, ValueError):
                    ast.parse(data)
    return Floor(time.perf_counter() - wall, time.process_time() - cpu, candidates)


def run_measured(command: Sequence[str], cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> tuple[Run, str]:
    """Run ``command`` (stdout to /dev/null); its own wall, CPU and peak RSS, and its stderr."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd,
                                   env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    # ru_maxrss is in KiB on Linux, bytes on macOS. wait4 gives the child's own usage plus that
    # of the workers it waited for: CPU is the sum, peak RSS the largest single process.
    rss = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    run = Run(wall, usage.ru_utime + usage.ru_stime, rss, process.returncode)
    return run, stderr


def parse_summary(run: Run, stderr: str) -> Run:
    lines = [line for line in stderr.splitlines() if SUMMARY.search(line)]
    if not lines:
        return run
    run.summary = lines[-1]
    found = SUMMARY.search(run.summary)
    assert found is not None
    run.rewritten, run.sites, run.hooks = (int(g) for g in found.groups())
    for name, pattern in COUNTS.items():
        count = pattern.search(run.summary)
        run.counts[name] = int(count.group(1)) if count else 0
    return run


def codetrace_command() -> list[str]:
    script = Path(sys.executable).with_name("codetrace")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "codetrace"]


@dataclass
class CliFeatures:
    jobs: bool
    cache: bool  # the CLI has a cache (``--no-cache``); its folder is $CODETRACE_CACHE_DIR


def cli_features() -> CliFeatures:
    text = subprocess.run([*codetrace_command(), "apply", "--help"], capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "200"}).stdout
    options = set(re.findall(r"--[a-z][a-z-]*", text))
    return CliFeatures("--jobs" in options, "--no-cache" in options)


def codetrace_runs(
    command: list[str], features: CliFeatures, repeat: int, scratch: Path,
    cwd: Path | None = None, keep: Path | None = None,
) -> tuple[list[Run], list[Run]]:
    """Cold runs (an empty cache folder, or no cache) and warm runs (the cache the cold run of
    the same round filled). The OS's file cache is warm for both: the corpus was just read."""
    cold: list[Run] = []
    warm: list[Run] = []
    for i in range(repeat):
        cache_dir = scratch / f"cache-{i}"
        shutil.rmtree(cache_dir, ignore_errors=True)
        env = {**os.environ, "CODETRACE_CACHE_DIR": str(cache_dir)}
        run, stderr = run_measured(command, cwd, env)
        cold.append(parse_summary(run, stderr))
        if keep is not None and i == 0:
            keep.write_text(stderr)
        if features.cache:
            run, stderr = run_measured(command, cwd, env)
            warm.append(parse_summary(run, stderr))
        say(f"  run {i + 1}/{repeat}: cold {cold[-1].wall_s:.2f} s"
            + (f", warm {warm[-1].wall_s:.2f} s" if warm else ""))
        shutil.rmtree(cache_dir, ignore_errors=True)
    return cold, warm


def median_run(runs: Sequence[Run]) -> Run | None:
    if not runs:
        return None
    middle = sorted(runs, key=lambda r: r.wall_s)[len(runs) // 2]
    return Run(
        statistics.median(r.wall_s for r in runs), statistics.median(r.cpu_s for r in runs),
        max(r.peak_rss_mb for r in runs), middle.exit_code, middle.rewritten, middle.sites,
        middle.hooks, middle.counts, middle.summary,
    )


def codetrace_revision() -> str:
    """The git revision of the codetrace being measured (``+dirty`` with local changes)."""
    import codetrace

    where = Path(codetrace.__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=where, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=where,
                               text=True, capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def startup(command: Sequence[str], repeat: int) -> float:
    times = []
    for _ in range(max(repeat, 5)):
        started = time.perf_counter()
        subprocess.run(command, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# ---------------------------------------------------------------------------------------------
# report


def table(rows: list[tuple[str, str]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k:<{width}}  {v}" for k, v in rows)


def fmt_run(run: Run | None) -> str:
    if run is None:
        return "n/a (this codetrace has no cache)"
    return (f"{run.wall_s:6.2f} s wall, {run.cpu_s:6.2f} s CPU, peak RSS {run.peak_rss_mb:.0f} MB"
            f" (exit {run.exit_code})")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "n/a"


def report_text(doc: dict[str, object], corpus: Corpus, floor: Floor, cold: Run,
                warm: Run | None, pre: dict[str, float] | None) -> str:
    out = [
        f"codetrace {doc['codetrace']} ({doc['revision']}) on {doc['machine']}, "
        f"Python {doc['python']}; --jobs {doc['jobs'] or 'n/a'}; medians of {doc['repeat']}; "
        f"{doc['date']}",
        f"command: {doc['command']}",
        "",
        "corpus",
        table([
            ("trees", " + ".join(corpus.trees)),
            ("files / lines", f"{corpus.files:,} .py files, {corpus.lines:,} lines, "
                              f"{corpus.megabytes:.1f} MB"),
            ("candidates (text prefilter)", f"{corpus.candidates:,}"),
            ("codetrace's discovery", f"{corpus.discovery_s:.2f} s (listing the files, once)"),
        ]),
        "",
        "results",
        table([
            ("floor (read+prefilter+ast)", f"{floor.wall_s:6.2f} s wall, {floor.cpu_s:6.2f} s CPU"
                                           " (one core, in-process)"),
            ("codetrace cold", fmt_run(cold)),
            ("codetrace warm", fmt_run(warm)),
            ("files rewritten / sites", f"{cold.rewritten} files, {cold.sites} call sites, "
                                        f"{cold.hooks} hooks"),
            ("other counts", ", ".join(f"{v} {k}" for k, v in cold.counts.items()) or "-"),
            ("ratio codetrace/floor", f"cold {ratio(cold.wall_s, floor.wall_s)} wall, "
                                      f"{ratio(cold.cpu_s, floor.cpu_s)} CPU"
                                      + (f"; warm {ratio(warm.wall_s, floor.wall_s)} wall"
                                         if warm else "")),
        ]),
    ]
    if pre is not None:
        out += ["", "pre-commit: one changed file (imports requests) in a large project (django)",
                table([
                    ("python -c pass", f"{pre['python_s']:.3f} s"),
                    ('python -c "import codetrace.cli"', f"{pre['import_s']:.3f} s"),
                    ("codetrace apply --diff FILE", f"{pre['wall_s']:.3f} s wall "
                                                    f"({pre['sites']:.0f} sites)"),
                    ("  minus python start-up", f"{pre['wall_s'] - pre['python_s']:.3f} s"),
                    ("  minus import codetrace.cli", f"{pre['wall_s'] - pre['import_s']:.3f} s"),
                ])]
    if cold.summary:
        out += ["", f"codetrace said: {cold.summary}"]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, action="append", metavar="DIR",
                        help="measure this tree instead of the built corpus (repeatable)")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(),
                        help="where the corpus is built and kept (default: %(default)s)")
    parser.add_argument("--no-stdlib", action="store_true",
                        help="the corpus venv's site-packages only (as in DESIGN.md)")
    parser.add_argument("--no-precommit", action="store_true",
                        help="skip the pre-commit (one file) case")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="codetrace's --jobs, if it has that option (default: all cores)")
    parser.add_argument("--json", action="store_true", help="print a JSON document instead")
    parser.add_argument("--save", type=Path, metavar="FILE",
                        help="also write the JSON document to FILE")
    args = parser.parse_args(argv)
    cache = args.cache_dir.resolve()
    cache.mkdir(parents=True, exist_ok=True)

    site_packages: Path | None = None
    if args.corpus:
        trees = [p.resolve() for p in args.corpus]
    else:
        site_packages = ensure_corpus_venv(cache)
        trees = [site_packages] if args.no_stdlib else [site_packages, ensure_stdlib_copy(cache)]
    ruleset, config = ruleset_and_config(trees)
    files, discovery_s = list_files(trees, config)
    if not files:
        say(f"codetrace finds no files under {', '.join(map(str, trees))}: a .gitignore above "
            "them (up to the repository's top) ignores them? Use a --cache-dir outside the "
            "repository.")
        return 2
    data = [p.read_bytes() for p in files]
    prefilter = Prefilter.for_rules(ruleset)
    corpus = Corpus(
        [str(t) for t in trees], len(files), sum(d.count(b"\n") for d in data),
        sum(map(len, data)) / 1e6, sum(prefilter.may_match(d) for d in data), discovery_s,
    )
    del data
    say(f"corpus: {corpus.files:,} files, {corpus.lines:,} lines; "
        f"{corpus.candidates} pass the prefilter")

    say("floor: read + prefilter + ast.parse ...")
    floors = [floor_once(files, prefilter) for _ in range(args.repeat)]
    floor = Floor(statistics.median(f.wall_s for f in floors),
                  statistics.median(f.cpu_s for f in floors), floors[0].candidates)

    features = cli_features()
    base = [*codetrace_command(), "apply", "--diff"]
    if features.jobs:
        base += ["--jobs", str(args.jobs)]
    say(f"codetrace: {' '.join(base)} TREES ({'with' if features.cache else 'no'} cache) ...")
    with tempfile.TemporaryDirectory(prefix="codetrace-bench-") as scratch:
        cold_runs, warm_runs = codetrace_runs(
            [*base, *map(str, trees)], features, args.repeat, Path(scratch),
            keep=cache / "last-stderr.txt")
        cold = median_run(cold_runs)
        warm = median_run(warm_runs)
        assert cold is not None
        seen = cold.rewritten + cold.counts.get("unchanged", 0) + cold.counts.get("failed", 0)
        if cold.summary and seen != corpus.files:
            say(f"note: codetrace reports {seen} files, the floor read {corpus.files}")

        pre: dict[str, float] | None = None
        if not args.no_precommit:
            if site_packages is None:
                site_packages = ensure_corpus_venv(cache)
            changed = ensure_precommit_project(cache, site_packages)
            say("pre-commit: one file ...")
            one_cold, one_warm = codetrace_runs(
                [*codetrace_command(), "apply", "--diff", str(changed)], features, args.repeat,
                Path(scratch), cwd=changed.parents[2])
            one = median_run(one_warm or one_cold)
            assert one is not None
            pre = {
                "python_s": startup([sys.executable, "-c", "pass"], args.repeat),
                "import_s": startup([sys.executable, "-c", "import codetrace.cli"], args.repeat),
                "wall_s": one.wall_s,
                "cold_wall_s": statistics.median(r.wall_s for r in one_cold),
                "sites": float(one.sites),
            }

    doc: dict[str, object] = {
        "date": time.strftime("%Y-%m-%d"),
        "codetrace": codetrace_version,
        "revision": codetrace_revision(),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
        "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
        "repeat": args.repeat,
        "jobs": args.jobs if features.jobs else None,
        "cache": features.cache,
        "packages": installed_versions(cache) if not args.corpus else {},
        "corpus": asdict(corpus),
        "floor": asdict(floor),
        "codetrace_cold": asdict(cold),
        "codetrace_warm": asdict(warm) if warm else None,
        "ratio_cold_wall": cold.wall_s / floor.wall_s if floor.wall_s else None,
        "ratio_cold_cpu": cold.cpu_s / floor.cpu_s if floor.cpu_s else None,
        "precommit": pre,
    }
    if args.save is not None:
        args.save.write_text(json.dumps(doc, indent=2) + "\n")
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(report_text(doc, corpus, floor, cold, warm, pre))
    return 0


if __name__ == "__main__":
    sys.exit(main())
