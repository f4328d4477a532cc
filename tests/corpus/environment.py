"""The pinned third-party corpus of the slow corpus test: ``requirements.txt`` installed once.

``pip install --no-deps --only-binary :all: --target DIR -r requirements.txt`` into a cache folder
keyed by the requirements and the interpreter (compiled wheels differ per Python), so the files
the test walks are the same on every machine with the same Python, whatever else is installed.
The folder is built next to its final place and renamed into it, so an interrupted build is
never taken for a complete one. ``python tests/corpus/environment.py`` builds it and prints it.

The cache is ``$CODETRACE_CORPUS_CACHE`` or ``${XDG_CACHE_HOME:-~/.cache}/codetrace-test-corpus``.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REQUIREMENTS = Path(__file__).with_name("requirements.txt")


class CorpusUnavailable(Exception):
    """The pinned packages could not be installed (no registry, no wheel for this Python)."""


def cache_root() -> Path:
    explicit = os.environ.get("CODETRACE_CORPUS_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "codetrace-test-corpus"


def key() -> str:
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(f"{sys.implementation.cache_tag} {platform.machine()} {sys.platform}".encode())
    return f"{sys.implementation.cache_tag}-{digest.hexdigest()[:12]}"


def pinned_site_packages() -> Path:
    """The folder holding the pinned packages, installed first if the cache has not got it."""
    final = cache_root() / key()
    if (final / "site-packages").is_dir():
        return final / "site-packages"
    final.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--only-binary", ":all:", "--no-compile",
             "--target", str(building / "site-packages"), "-r", str(REQUIREMENTS)],
            capture_output=True, text=True, timeout=900, check=False,
        )
        if result.returncode != 0:
            raise CorpusUnavailable(
                f"pip could not install {REQUIREMENTS.name}: {result.stderr.strip()[-400:]}")
        try:
            building.rename(final)
        except OSError:  # another run finished first: use its copy
            if not (final / "site-packages").is_dir():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return final / "site-packages"


if __name__ == "__main__":
    print(pinned_site_packages())
