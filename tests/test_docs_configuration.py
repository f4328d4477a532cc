"""The configuration reference and the CLI page cover what the code accepts, no more, no less."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from codetrace import _config
from codetrace.cli import app

DOCS = Path(__file__).parent.parent / "docs"


def test_every_config_key_is_documented_and_nothing_else() -> None:
    page = (DOCS / "configuration.md").read_text()
    documented = set(re.findall(r"^### `([a-z-]+)`$", page, re.MULTILINE))
    assert documented == set(_config._KEYS)


def test_every_cli_option_is_on_the_cli_page() -> None:
    page = (DOCS / "cli.md").read_text()
    group = typer.main.get_command(app)
    missing = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert f"## `codetrace {name}" in page, name
        for param in command.params:
            for option in param.opts:
                if option.startswith("--") and option not in ("--help",) \
                        and f"`{option}" not in page:
                    missing.append(f"{name} {option}")
    assert not missing
