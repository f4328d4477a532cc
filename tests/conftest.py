"""Shared fixtures: the built-in rule set and engine options."""

from __future__ import annotations

import pytest

from codetrace._advice import Options
from codetrace._rules import RuleSet, builtin_rule_files, load_rules


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    return load_rules(builtin_rule_files())


@pytest.fixture(scope="session")
def options() -> Options:
    return Options()


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test gets its own codetrace cache folder (never the user's)."""
    monkeypatch.setenv("CODETRACE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
