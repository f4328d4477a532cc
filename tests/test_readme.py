"""README.md must hold the commands CI runs (the example, the three-service demo, the tests); a
drift between them breaks the promise."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def _commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(python3 -m venv[^\n]*)\n```", readme)


def test_readme_has_the_example_and_test_commands() -> None:
    commands = _commands()
    assert len(commands) == 3
    example, services, tests = commands
    assert "codetrace apply" in example and "fixtures/example" in example
    assert "codetrace apply" in services and "fixtures/services" in services
    assert "pytest" in tests


def test_ci_runs_the_readme_commands_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    for command in _commands():
        assert command in ci
