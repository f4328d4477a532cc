"""Running over many files: worker processes, deterministic order, the cache, progress."""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

from typer.testing import CliRunner

from codetrace.cli import app

FIXTURES = Path(__file__).parent.parent / "fixtures"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _many(tmp_path: Path, count: int = 40) -> Path:
    root = tmp_path / "many"
    package = root / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for i in range(count):
        body = f"import requests\n\n\ndef f{i}(u):\n    return requests.get(u, timeout={i})\n"
        if i % 3 == 0:
            body = f"import os\n\nX{i} = os.sep\n"
        (package / f"m{i:03d}.py").write_text(body)
    return root


def test_jobs_give_the_same_diff_in_the_same_order(tmp_path: Path) -> None:
    root = _many(tmp_path)
    code1, one, _ = run("apply", "--diff", "--jobs", "1", "--no-cache", str(root))
    code2, two, _ = run("apply", "--diff", "--jobs", "2", "--no-cache", str(root))
    assert code1 == code2 == 0
    assert one == two
    assert one.count("+++ b/") == 26
    names = [line for line in one.splitlines() if line.startswith("+++ ")]
    assert names == sorted(names)


def test_second_run_uses_the_cache_and_stays_correct(tmp_path: Path) -> None:
    root = _many(tmp_path)
    assert run("apply", str(root))[0] == 0
    started = time.perf_counter()
    code, _, err = run("apply", "--check", str(root))
    assert code == 0
    assert "0 files would be instrumented" in err
    assert time.perf_counter() - started < 5  # generous; the benchmark measures properly
    # an edited file is seen again
    target = root / "pkg" / "m003.py"
    target.write_text("import requests\nrequests.post('u')\n")
    code, _, err = run("apply", "--check", str(root))
    assert code == 1 and "m003.py" in err


def test_cache_notices_a_change_in_another_module(tmp_path: Path) -> None:
    """Resolution crosses modules: views.py is unchanged, but what it imports changed."""
    root = tmp_path / "proj"
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "http.py").write_text("session = object()\n")
    views = root / "app" / "views.py"
    views.write_text("from app.http import session\n\n\ndef f():\n    return session.get('u')\n")
    assert run("apply", "--check", str(root))[0] == 0
    http = root / "app" / "http.py"
    http.write_text("import requests\n\nsession = requests.Session()\n")
    os.utime(http, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    code, _, err = run("apply", "--check", str(root))
    assert code == 1 and "views.py" in err


def test_no_cache_writes_nothing(tmp_path: Path) -> None:
    root = _many(tmp_path, 4)
    cache = Path(os.environ["CODETRACE_CACHE_DIR"])
    before = set(cache.iterdir()) if cache.exists() else set()
    assert run("apply", "--check", "--no-cache", str(root))[0] == 1
    after = set(cache.iterdir()) if cache.exists() else set()
    assert after == before


def test_verbose_names_each_file_with_its_time(tmp_path: Path) -> None:
    root = _many(tmp_path, 4)
    code, _, err = run("apply", "--verbose", "--no-cache", str(root))
    assert code == 0
    lines = [line for line in err.splitlines() if " ms)" in line]
    assert len(lines) == 5  # four modules and __init__.py
    assert any("m001.py: changed" in line for line in lines)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_on_a_terminal() -> None:
    """On a terminal: drawn on a beat, cleared before a line and at the end. Piped: nothing."""
    from codetrace._progress import CLEAR, Progress

    tty = _Tty()
    progress = Progress.on_terminal(tty).start()
    progress.begin(100)
    progress.step(40)
    deadline = time.monotonic() + 5
    while "[40/100]" not in tty.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "[40/100]" in tty.getvalue()
    progress.write("would instrument x.py\n")
    progress.close()
    text = tty.getvalue()
    assert "codetrace: [" not in text.rsplit("\n", 1)[-1].rsplit(CLEAR, 1)[-1]  # none left
    assert text.split("would instrument")[0].endswith(CLEAR)
    piped = io.StringIO()
    progress = Progress.on_terminal(piped).start()
    progress.begin(100)
    progress.step(100)
    progress.write("line\n")
    progress.close()
    assert piped.getvalue() == "line\n"
    assert Progress.on_terminal(_Tty(), quiet=True).enabled is False


def test_example_tree_with_two_jobs_round_trips(tmp_path: Path) -> None:
    work = tmp_path / "example"
    shutil.copytree(FIXTURES / "example", work)
    original = {p: p.read_bytes() for p in work.rglob("*.py")}
    assert run("apply", "--jobs", "2", str(work))[0] == 0
    assert run("strip", "--jobs", "2", str(work))[0] == 0
    assert {p: p.read_bytes() for p in work.rglob("*.py")} == original


def test_attribute_of_a_function_in_another_module(tmp_path: Path) -> None:
    """Regression: click's ``@cli.command()`` on an imported function used to recurse forever."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "mod.py").write_text("import requests\n\n\ndef cli():\n    pass\n")
    app_py = tmp_path / "app.py"
    app_py.write_text("import requests\nfrom pkg.mod import cli\n\n\n@cli.command()\n"
                      "def go(u):\n    return cli.get(u), requests.get(u)\n")
    code, out, err = run("explain", "--json", str(app_py))
    assert code == 0, err
    assert '"callee": "requests.get"' in out
    assert "attribute of the function pkg.mod.cli" in out


def test_a_file_edited_while_codetrace_runs_is_not_overwritten(tmp_path: Path) -> None:
    """An editor saves the file between codetrace reading it and writing its result: the
    user's edit stays, the file is reported, the run exits 2 (issue 10: a lost edit)."""
    from codetrace import _run

    target = tmp_path / "m.py"
    target.write_bytes(b"import requests\nrequests.get('u')\n")
    original_instrument = _run._engine.instrument

    def instrument_then_edit(data: bytes, file: object, **options: bool) -> object:
        result = original_instrument(data, file, **options)  # type: ignore[arg-type]
        if options.get("self_check", True):  # the outer call: the editor saves now
            target.write_bytes(b"import requests\nrequests.get('edited')\n")
        return result

    _run._engine.instrument = instrument_then_edit  # type: ignore[assignment]
    try:
        result = CliRunner().invoke(app, ["apply", str(target)])
    finally:
        _run._engine.instrument = original_instrument  # type: ignore[assignment]
    assert result.exit_code == 2
    assert "changed on disk while codetrace ran" in result.stderr
    assert target.read_bytes() == b"import requests\nrequests.get('edited')\n"


def test_leftover_temporary_files_of_dead_runs_are_removed(tmp_path: Path) -> None:
    """A run killed mid-write leaves ``.NAME.PID.RANDOM.codetrace``; the next run that writes
    in that folder removes it, unless its process is still alive (issue 10)."""
    target = tmp_path / "m.py"
    target.write_bytes(b"import requests\nrequests.get('u')\n")
    dead = tmp_path / ".m.py.999999999.k3j2.codetrace"  # no such pid
    alive = tmp_path / f".m.py.{os.getpid()}.x9y8.codetrace"
    dead.write_bytes(b"half")
    alive.write_bytes(b"half")
    assert CliRunner().invoke(app, ["apply", str(target)]).exit_code == 0
    assert not dead.exists() and alive.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, "m.py"])


def test_workers_die_with_their_parent(tmp_path: Path) -> None:
    """SIGKILL the CLI mid-run: its worker processes end within seconds (issue 10)."""
    import signal
    import subprocess
    import sys

    for index in range(60):
        (tmp_path / f"m{index}.py").write_bytes(
            b"import requests\n" + b"requests.get('u')\n" * 400)
    process = subprocess.Popen(
        [sys.executable, "-m", "codetrace", "apply", "--diff", "--jobs", "2", "--no-cache",
         str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: list[int] = []
    deadline = time.monotonic() + 30
    while not children and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
        children = _children(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert children, "the run ended before it started its workers"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _run_processes(tmp_path):
        time.sleep(0.2)
    assert not _run_processes(tmp_path)  # every process of that run, not only those seen


def _run_processes(tree: Path) -> list[int]:
    """Live processes whose command line names ``tree``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(tree).encode() in command and _running(int(entry.name)):
            found.append(int(entry.name))
    return found


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
