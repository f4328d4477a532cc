"""Writing results: atomic replacement in place, copies under ``--out``, unified diffs."""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import re
import shutil
import stat
import tempfile
import tokenize
from pathlib import Path


class WriteError(Exception):
    """A file could not be written; the original is unchanged."""


#: temporary files are ``.NAME.PID.RANDOM.codetrace`` beside their target: a run that was
#: killed mid-write leaves one at most, and the next run recognises and removes it
_LEFTOVER = re.compile(r"^\..+\.(\d+)\.[^.]+\.codetrace$")
_swept: set[str] = set()


def remove_leftovers(directory: Path) -> None:
    """Delete temporary files that runs which are no longer alive left in ``directory``
    (once per folder per run)."""
    key = str(directory)
    if key in _swept:
        return
    _swept.add(key)
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        found = _LEFTOVER.match(entry.name)
        if found is None or _alive(int(found.group(1))):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True


def atomic_write(path: Path, data: bytes, *, like: Path | None = None) -> None:
    """Replace ``path`` with ``data`` through a temporary file and a rename: never half-written.

    The new file keeps the permission bits of ``like`` (default: ``path`` itself).
    """
    directory = path.parent
    mode: int | None = None
    try:
        mode = stat.S_IMODE((like or path).stat().st_mode)
    except OSError:
        mode = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        remove_leftovers(directory)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.",
                                         suffix=".codetrace", dir=directory)
    except OSError as exc:
        raise WriteError(f"cannot write in {directory}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as exc:  # a signal turned into an exception cleans up too
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        if isinstance(exc, OSError):
            raise WriteError(f"cannot write: {exc.strerror or exc}") from None
        raise


def copy_file(source: Path, target: Path) -> None:
    """Copy an untouched file into the ``--out`` tree."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    except OSError as exc:
        raise WriteError(f"cannot copy to {target}: {exc.strerror or exc}") from None


def _decode(data: bytes) -> str:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return data.decode("utf-8", errors="replace")


def unified_diff(path: str, before: bytes, after: bytes) -> str:
    """A ``git apply``-able unified diff between two versions of one file."""
    old = _decode(before).splitlines(keepends=True)
    new = _decode(after).splitlines(keepends=True)
    lines = []
    for line in difflib.unified_diff(old, new, f"a/{path}", f"b/{path}"):
        lines.append(line)
        if not line.endswith(("\n", "\r")):
            lines.append("\n\\ No newline at end of file\n")
    return "".join(lines)
