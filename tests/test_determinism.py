"""Same input, same bytes: a run's output does not depend on how work is spread over workers.

The tree is built so that whether a module "reaches" a rule's library goes through import
cycles: the answer used to depend on which module of a cycle a worker happened to ask first,
and the unresolved count of ``apply --check`` varied from run to run (issue 11).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetrace._prefilter import Prefilter, Reach
from codetrace._rules import builtin_rule_files, load_rules
from codetrace.cli import app

RULES = Path(__file__).parent.parent / "rules"


def cyclic_tree(root: Path, count: int, seed: int = 7) -> Path:
    """``count`` modules importing one or two others at random (so cycles abound); one in 40
    imports requests. Each calls ``.get`` on the others' attributes: resolved when the other
    module's facts are read, an unresolved candidate when they are not; and on a parameter no
    caller passes (always unresolved)."""
    rnd = random.Random(seed)
    package = root / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for i in range(count):
        deps = sorted(d for d in rnd.sample(range(count), rnd.choice([1, 1, 2])) if d != i)
        lines = [f"from pkg import m{d}" for d in deps]
        if i % 40 == 0:
            lines += ["import requests", "session = requests.Session()"]
        else:
            lines += ["class Thing:", "    def get(self, u):", "        return u",
                      "session = Thing()"]
        for d in deps:
            lines += [f"def use{d}(u):", f"    return m{d}.session.get(u)"]
        lines += ["def fetch(client, u):", "    return client.get(u)"]
        (package / f"m{i}.py").write_text("\n".join(lines) + "\n")
    (root / "pyproject.toml").write_text(
        f'[tool.codetrace]\nbuiltin-rules = false\nrules = ["{RULES / "requests.toml"}"]\n')
    return root


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_reach_does_not_depend_on_the_order_of_questions(tmp_path: Path) -> None:
    """``a`` imports ``b`` and ``c``; ``b`` imports ``a``; ``c`` imports requests. Every one of
    them reaches requests, whichever is asked first."""
    for name, text in {"a": "import b\nimport c\n", "b": "import a\n",
                       "c": "import requests\n"}.items():
        (tmp_path / f"{name}.py").write_text(text)
    prefilter = Prefilter.for_rules(load_rules(builtin_rule_files()))

    def locate(name: str) -> Path | None:
        path = tmp_path / f"{name}.py"
        return path if path.is_file() else None

    for first in ("a", "b", "c"):
        reach = Reach(prefilter, locate)
        reach.module_passes(first)
        assert [reach.module_passes(n) for n in "abc"] == [True, True, True], first


@pytest.mark.slow  # several CLI runs with workers: with the slow tests, in CI
def test_apply_check_summary_is_the_same_with_workers(tmp_path: Path) -> None:
    root = cyclic_tree(tmp_path / "tree", 80)
    outputs = {_invoke("apply", "--check", "--no-cache", "--jobs", jobs, str(root))[2]
               for jobs in ("1", "2", "2", "2")}
    assert len(outputs) == 1, outputs
    assert "unresolved" in outputs.pop()


@pytest.mark.parametrize(("count", "runs"), [
    (80, (("json", "1"), ("json", "2"), ("sarif", "1"), ("sarif", "2"))),
    pytest.param(300, (("json", "1"), *(("json", "2"),) * 5, *(("sarif", "2"),) * 3),
                 marks=pytest.mark.slow, id="300-files"),
])
def test_explain_output_is_the_same_bytes_every_run(
    tmp_path: Path, count: int, runs: tuple[tuple[str, str], ...]
) -> None:
    """``explain --output-format json`` (and sarif) with workers: byte-identical each run."""
    root = cyclic_tree(tmp_path / "tree", count)
    outputs: dict[str, set[str]] = {"json": set(), "sarif": set()}
    for output_format, jobs in runs:
        code, out, err = _invoke("explain", "--output-format", output_format, "--jobs", jobs,
                                 str(root))
        assert code == 0, err
        outputs[output_format].add(out)
    assert len(outputs["json"]) == 1 and len(outputs["sarif"]) == 1
    assert '"unresolved"' in outputs["json"].pop()


def test_two_modules_of_one_name_resolve_the_same_way_whatever_the_workers(
    tmp_path: Path,
) -> None:
    """Two services, each with an ``app.py``: ``import app`` means the one the project's
    locate finds (the first root), not the one a worker happened to process first."""
    for service, body in (("s1", "import requests\nsession = requests.Session()\n"),
                          ("s2", "import requests\n\n\nclass T:\n    def get(self, u):\n"
                                 "        return u\n\n\nsession = T()\n")):
        (tmp_path / service).mkdir()
        (tmp_path / service / "app.py").write_text(body)
        for i in range(12):
            (tmp_path / service / f"use{i}.py").write_text(
                "import app\nimport requests\n\n\ndef f(u):\n    return app.session.get(u)\n")
    paths = [str(tmp_path / "s1"), str(tmp_path / "s2")]
    outputs = {_invoke("apply", "--check", "--no-cache", "--jobs", jobs, *paths)[2]
               for jobs in ("1", "2", "2")}
    assert len(outputs) == 1, outputs
