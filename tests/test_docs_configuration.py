"""The configuration reference and the CLI page cover what the code accepts, no more, no less.

The key table itself is generated (tests/test_docs_generated.py); these check the prose
around it and that the types the table states are the loader's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
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


#: for each ``type`` a key of ``_config.KEYS`` declares, a value of another type
WRONG = {
    "list of patterns": "1",
    "list of paths": '"tracing/rules.toml"',
    "list of rule names": '"requests"',
    "boolean": '"yes"',
    "dotted module name": '"not a module"',
    '"black", "ruff" or "none"': '"blue"',
}


@pytest.mark.parametrize("key", _config.KEYS, ids=lambda key: key.name)
def test_a_value_of_another_type_than_the_documented_one_is_refused(
    key: _config.Key, tmp_path: Path
) -> None:
    """The generated table says each key's type; the loader must hold the same view."""
    assert key.type in WRONG, f"add a wrong value for the type {key.type!r} to WRONG"
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f"[tool.codetrace]\n{key.name} = {WRONG[key.type]}\n")
    with pytest.raises(_config.ConfigError, match=re.escape(key.name)):
        _config.load_config(pyproject)


def test_the_example_on_the_page_loads(tmp_path: Path) -> None:
    page = (DOCS / "configuration.md").read_text()
    example = re.search(r"```toml\n(\[tool\.codetrace\]\n.*?)```", page, re.DOTALL)
    assert example is not None
    (tmp_path / "tracing").mkdir()
    (tmp_path / "tracing" / "myrules.toml").write_text("")
    (tmp_path / "pyproject.toml").write_text(example.group(1))
    config = _config.load_config(tmp_path / "pyproject.toml")  # raises if it is wrong
    assert config.key_lines
