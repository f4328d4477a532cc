"""A module the resolver reads for another one is read the same whatever the stack depth.

Resolution crosses modules on demand: the facts of ``app.http`` are collected when a call in
``main`` needs them, possibly deep in a chain of evaluations. A module with deeply nested
expressions (libcst visits them recursively) then ran out of recursion headroom there, and the
file being instrumented failed with "too deeply nested" (the stdlib's ``pydoc.py`` in the
corpus test). The project index now reads such a module on a fresh stack.
"""

from __future__ import annotations

import sys
from pathlib import Path

from codetrace._context import FileContext
from codetrace._engine import instrument
from codetrace._options import Options
from codetrace._project import ProjectIndex
from codetrace._rules import builtin_rule_files, load_rules

DEPTH = 120  # parenthesised levels: libcst visits each with several frames


def _project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    nested = "(" * DEPTH + "1" + " + 1)" * DEPTH
    (tmp_path / "app" / "http.py").write_text(
        f"import requests\n\nWEIGHT = {nested}\nsession = requests.Session()\n")
    main = tmp_path / "main.py"
    main.write_text("from app.http import session\n\n\ndef fetch(u):\n"
                    "    return session.get(u)\n")
    return main


def _apply(main: Path, root: Path) -> tuple[str, bytes | None]:
    options = Options()
    file = FileContext("main.py", load_rules(builtin_rule_files()), options,
                       module_name="main", is_package=False,
                       project=ProjectIndex([root], runtime=options.runtime))
    result = instrument(main.read_bytes(), file)
    return result.status, result.output


def _deep(levels: int, main: Path, root: Path) -> tuple[str, bytes | None]:
    """``_apply`` called ``levels`` frames down (as from a long chain of evaluations)."""
    if levels == 0:
        return _apply(main, root)
    return _deep(levels - 1, main, root)


def test_a_module_read_deep_in_the_stack_gives_the_same_facts(tmp_path: Path) -> None:
    main = _project(tmp_path)
    shallow = _apply(main, tmp_path)
    assert shallow[0] == "changed"
    assert b'_codetrace.traced(session.get, "requests.send")(u)' in (shallow[1] or b"")
    # close enough to the limit that collecting app.http there would raise RecursionError
    headroom = 150
    depth = len(_frames())
    deep = _deep(max(sys.getrecursionlimit() - depth - headroom, 0), main, tmp_path)
    assert deep == shallow


def _frames() -> list[object]:
    frame, frames = sys._getframe(), []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back  # type: ignore[assignment]
    return frames
