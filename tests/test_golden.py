"""Golden cases: ``fixtures/golden/<case>/input.py`` → ``expected.py`` (absent: must not change).

Every case is checked the way black checks itself: the output is exactly the expected bytes,
compiles, applying again changes nothing, and strip gives the input back byte for byte.
A case with ``error.txt`` must fail with that message; ``stripped.py`` is what strip must give.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codetrace._context import FileContext
from codetrace._engine import instrument, strip
from codetrace._options import Options
from codetrace._rules import RuleSet
from codetrace._source import compiles

GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden"
CASES = sorted(p for p in GOLDEN.iterdir() if p.is_dir())


def _apply(source: bytes, ruleset: RuleSet, options: Options) -> tuple[str, bytes]:
    result = instrument(source, FileContext("input.py", ruleset, options, module_name="input"))
    assert result.status != "error", result.error
    return result.status, result.output if result.output is not None else source


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Path, ruleset: RuleSet, options: Options) -> None:
    source = (case / "input.py").read_bytes()
    error = case / "error.txt"
    if error.exists():
        result = instrument(source, FileContext("input.py", ruleset, options, module_name="input"))
        assert result.status == "error"
        assert error.read_text().strip() in result.error
        assert result.output is None
        return
    expected_path = case / "expected.py"
    status, output = _apply(source, ruleset, options)
    if expected_path.exists():
        expected = expected_path.read_bytes()
        assert status == "changed"
        assert output == expected
        assert compiles(output, "expected.py") is None
        again_status, again = _apply(output, ruleset, options)
        assert again_status == "unchanged" and again == output
        stripped = strip(output, FileContext("expected.py", options=options))
        assert stripped.status == "changed"
        assert stripped.output == source
    else:
        assert status == "unchanged"
        assert compiles(source, "input.py") is None
    stripped_path = case / "stripped.py"
    if stripped_path.exists():
        result = strip(source, FileContext("input.py", options=options))
        assert result.output == stripped_path.read_bytes()


def test_every_case_has_an_expectation() -> None:
    """A case folder with only an input must be an intentional no-change case."""
    unchanged = {c.name for c in CASES if not (c / "expected.py").exists()
                 and not (c / "error.txt").exists()}
    assert unchanged == {
        "already_instrumented", "binds_marker_ignored", "ignore_file", "not_the_library"
    }
