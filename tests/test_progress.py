"""Progress on a real terminal (a pseudo-terminal): from the first second, never mixed into
other lines, cleared at the end; and nothing of it when stderr is not a terminal."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from codetrace._progress import CLEAR

PROGRESS = "codetrace: "


def _tree(root: Path, count: int) -> Path:
    package = root / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for i in range(count):
        calls = "\n".join(f"    requests.get(u, timeout={j})" for j in range(8))
        (package / f"m{i:03d}.py").write_text(
            f"import requests\n\n\ndef f{i}(u):\n{calls}\n")
    return root


def _run_on_pty(args: list[str], timeout: float = 120) -> tuple[float, float | None, bytes, int]:
    """Run with stderr on a pseudo-terminal; (seconds to exit, seconds to the first status
    line, what the terminal got, exit code)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    started = time.monotonic()
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=slave, close_fds=True)
    os.close(slave)
    received = b""
    first: float | None = None
    try:
        deadline = started + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the other end closed (Linux: EIO)
                    break
                if not chunk:
                    break
                received += chunk
                if first is None and PROGRESS.encode() in received:
                    first = time.monotonic() - started
            elif process.poll() is not None:
                break
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    return time.monotonic() - started, first, received, code


def _check_never_interleaved(text: str) -> list[str]:
    """Every line the run printed stands alone: a status line is cleared before it, none is
    cut into it, and no status line is left at the end. Returns the printed lines."""
    lines = []
    segments = text.split("\n")
    for segment in segments[:-1]:
        *drawn, line = segment.split(CLEAR)
        for piece in drawn:
            assert piece == "" or piece.startswith(PROGRESS), repr(segment)
        assert PROGRESS not in line, f"status text ran into a line: {segment!r}"
        lines.append(line)
    tail = segments[-1].split(CLEAR)[-1]
    assert PROGRESS not in tail, "the status line is cleared at the end"
    return lines


@pytest.mark.slow  # a run long enough to watch through a pty: with the slow tests, in CI
def test_progress_from_the_first_second_and_never_interleaved(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree", 80)
    base = [sys.executable, "-m", "codetrace"]
    startup = time.monotonic()
    subprocess.run([*base, "--version"], capture_output=True, check=True, timeout=60)
    startup = time.monotonic() - startup
    total, first, received, code = _run_on_pty(
        [*base, "apply", "--check", "--verbose", "--no-cache", "--jobs", "1", str(root)])
    assert code == 1
    text = received.decode()
    assert first is not None, text[:500]
    # the interpreter's start-up and imports, then the first draw within about a second (a
    # loaded machine stretches both: the margin is for it) ...
    assert first < startup + 2.0, (first, startup, total)
    # ... and, whatever the load, while most of the work is still to do
    before = text[:text.index(PROGRESS)].count("would instrument")
    assert before < 40, (before, first, total)
    assert "discovering files" in text or "[" in text
    lines = _check_never_interleaved(text)
    assert sum(1 for line in lines if line.startswith("would instrument")) == 80
    assert lines[-1].startswith("80 files would be instrumented")
    assert any(f"[{n}/81]" in text for n in range(1, 81))  # files n/N while they run


def test_no_progress_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    root = _tree(tmp_path / "tree", 5)
    done = subprocess.run([sys.executable, "-m", "codetrace", "apply", "--check", str(root)],
                          capture_output=True, timeout=120, check=False)
    assert done.returncode == 1
    assert b"\x1b" not in done.stderr and b"\r" not in done.stderr
    assert PROGRESS.encode() not in done.stderr
