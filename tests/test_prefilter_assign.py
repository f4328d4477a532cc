"""The prefilter and ``match.assign`` rules: a Django settings module imports nothing of Django,
so it is let through on its text (it assigns ``MIDDLEWARE`` and ``INSTALLED_APPS``), and a module
that only has a list called ``MIDDLEWARE`` is not."""

from __future__ import annotations

import pytest

from codetrace._prefilter import Prefilter
from codetrace._rules import builtin_rule_files, load_rules

PASSES = [
    b'INSTALLED_APPS = ["shop"]\nMIDDLEWARE = []\n',
    b'INSTALLED_APPS: list[str] = ["shop"]\nMIDDLEWARE: list[str] = [\n    "a.B",\n]\n',
    b'from .base import *\nINSTALLED_APPS += ["x"]\nif DEBUG:\n    MIDDLEWARE = ("a.B",)\n',
]
STOPS = [
    b'MIDDLEWARE = ["myframework.Auth"]\n',  # no INSTALLED_APPS: not Django's settings
    b'INSTALLED_APPS = []\nif MIDDLEWARE == []:\n    pass\n',  # a comparison assigns nothing
    b'INSTALLED_APPS = []\nOLD_MIDDLEWARE = []\n',
]


@pytest.fixture(scope="module")
def prefilter() -> Prefilter:
    return Prefilter.for_rules(load_rules(builtin_rule_files()))


@pytest.mark.parametrize("source", PASSES)
def test_a_settings_module_passes(prefilter: Prefilter, source: bytes) -> None:
    assert prefilter.may_match(source)


@pytest.mark.parametrize("source", STOPS)
def test_other_modules_do_not(prefilter: Prefilter, source: bytes) -> None:
    assert not prefilter.may_match(source)
