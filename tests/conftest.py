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
