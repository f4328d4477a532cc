"""docs/rules.md: its schema table names every key the rule loader accepts, and its examples
are rule files that load and do what the page says."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codetrace import _advice, _rules
from codetrace.cli import app

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")

WHERE = {
    "top level": _rules._TOP_KEYS,
    "`[library]`": _rules._LIBRARY_KEYS,
    "`[[rule]]`": _rules._RULE_KEYS,
    "`[rule.match]`": _rules._MATCH_KEYS,
    "`[rule.do]`": ("advice", *sorted({k for a in _advice.all_advice() for k in a.do_keys})),
}


def _schema() -> set[tuple[str, str]]:
    section = PAGE.split("## Schema", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| (top level|`\[[^|]+\]`) \| `([a-z_-]+)` \|", section, re.M))


def _toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", PAGE, re.DOTALL)


def test_the_schema_table_lists_every_key_the_loader_accepts() -> None:
    accepted = {(where, key) for where, keys in WHERE.items() for key in keys}
    documented = _schema()
    assert not accepted - documented, (
        f"keys the loader accepts that docs/rules.md's schema table lacks: "
        f"{sorted(accepted - documented)}")
    assert not documented - accepted, (
        f"keys docs/rules.md documents that the loader refuses: "
        f"{sorted(documented - accepted)}")


@pytest.mark.parametrize("index", range(len(_toml_blocks())))
def test_every_example_rule_file_loads(index: int, tmp_path: Path) -> None:
    path = tmp_path / "example.toml"
    path.write_text(_toml_blocks()[index], encoding="utf-8")
    assert _rules.load_rules([path]).rules


def test_the_own_rules_example_instruments_calls_from_another_package(tmp_path: Path) -> None:
    block = next(b for b in _toml_blocks() if 'name = "payments"' in b)
    (tmp_path / "tracing").mkdir()
    (tmp_path / "tracing" / "payments.toml").write_text(block, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.codetrace]\nrules = ["tracing/payments.toml"]\n', encoding="utf-8")
    (tmp_path / "payments").mkdir()
    (tmp_path / "payments" / "__init__.py").write_text(textwrap.dedent("""\
        class Gateway:
            def charge(self, amount):
                return amount


        def refund(amount):
            return -amount
    """), encoding="utf-8")
    (tmp_path / "shop").mkdir()
    orders = tmp_path / "shop" / "orders.py"
    orders.write_text(textwrap.dedent("""\
        from payments import Gateway

        gateway = Gateway()


        def checkout(total):
            return gateway.charge(total)
    """), encoding="utf-8")
    result = CliRunner().invoke(app, ["apply", "--diff", str(tmp_path / "shop")])
    assert result.exit_code == 0, result.output
    assert '+    return _codetrace.traced(gateway.charge, "payments.charge")(total)' in \
        result.stdout
    # a project's own rule file acts inside its own package too (only the bundled rules, about
    # third-party libraries, leave the library's own modules alone)
    (tmp_path / "payments" / "billing.py").write_text(textwrap.dedent("""\
        from payments import Gateway


        def bill(total):
            return Gateway().charge(total)
    """), encoding="utf-8")
    result = CliRunner().invoke(app, ["apply", "--diff", str(tmp_path / "payments")])
    assert result.exit_code == 0, result.output
    assert '+    return _codetrace.traced(Gateway().charge, "payments.charge")(total)' in \
        result.stdout


def test_the_dbapi_example_registers_adapters_that_make_database_spans(tmp_path: Path) -> None:
    """The Python block of "Another DB-API driver", run against sqlite3 standing in for the
    driver: the registered adapter makes a CLIENT span named after the statement."""
    code = re.search(r"```python\n(import codetrace\.runtime\n.*?)```", PAGE, re.DOTALL)
    assert code is not None
    script = code.group(1) + textwrap.dedent("""
        import sqlite3
        from codetrace.runtime import InMemorySpanExporter, configure

        exporter = InMemorySpanExporter()
        configure(exporter=exporter)
        con = codetrace.runtime.traced(sqlite3.connect, "mydriver.connect")(":memory:")
        cur = con.cursor()
        codetrace.runtime.traced(cur.execute, "mydriver.query")("SELECT 1 WHERE 2 = 2")
        codetrace.runtime.traced(con.commit, "mydriver.transaction")()
        for span in exporter.get_finished_spans():
            print(span.name, span.kind, span.attributes.get("db.system.name"))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3, done.stdout
    assert all(line.endswith(" postgresql") for line in lines), lines
    assert lines[1].startswith("SELECT ")
    assert lines[2].startswith("COMMIT ")
