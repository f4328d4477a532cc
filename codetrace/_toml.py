"""TOML loading shared by rule files and ``pyproject.toml``: tomllib from 3.11, tomli before."""

from __future__ import annotations

import re
import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

TOMLDecodeError = tomllib.TOMLDecodeError

_AT_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def loads(text: str) -> dict[str, Any]:
    """Parse TOML text into a dict (raises :data:`TOMLDecodeError`)."""
    return tomllib.loads(text)


def error_line(exc: Exception) -> int:
    """The line a TOML decode error points at (tomllib puts it in the message), or 1."""
    found = _AT_LINE.search(str(exc))
    return int(found.group(1)) if found else 1


def error_message(exc: Exception) -> str:
    """The decode error's message without the position suffix (we print file:line first)."""
    return _AT_LINE.sub("", str(exc)).strip()
