"""Rule files: every problem is one error naming the file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from codetrace import _advice
from codetrace._rules import RuleError, builtin_rule_files, load_rules
from codetrace.runtime import _catalogue

GOOD_RULE = '''[[rule]]
id = "x.send"
[rule.match]
call = ["x.get"]
[rule.do]
advice = "wrap-call"
'''

ASSIGN_RULE = '''[[rule]]
id = "x.settings"
[rule.match]
assign = ["MIDDLEWARE"]
alongside = ["INSTALLED_APPS"]
[rule.do]
advice = "hook-after"
hook = "django_settings"
'''

BROKEN = [
    ("unknown_top", 'librar = 1\n', 1, "unknown key 'librar' in the top level"),
    ("unknown_rule_key", GOOD_RULE.replace('id = "x.send"', 'id = "x.send"\nmatches = 1'),
     3, "unknown key 'matches' in [[rule]]"),
    ("bad_id", GOOD_RULE.replace('"x.send"', '"X Send"'), 2, "needs an 'id'"),
    ("no_match", '[[rule]]\nid = "x.y"\n[rule.do]\nadvice = "wrap-call"\n', 1,
     "needs a [rule.match] table"),
    ("bad_qname", GOOD_RULE.replace('["x.get"]', '["x.get()"]'), 4,
     "'x.get()' is not a qualified name"),
    ("bare_name", GOOD_RULE.replace('["x.get"]', '["get"]'), 4, "'get' is not a qualified name"),
    ("empty_call", GOOD_RULE.replace('["x.get"]', '[]'), 4, "non-empty list"),
    ("unknown_advice", GOOD_RULE.replace('"wrap-call"', '"wrap-it"'), 6,
     "unknown advice 'wrap-it' (expected one of: hook-after, span-function, wrap-call)"),
    ("hook_without_name", GOOD_RULE.replace('"wrap-call"', '"hook-after"'), 5,
     "advice 'hook-after' needs hook"),
    ("hook_on_wrap", GOOD_RULE + 'hook = "flask"\n', 7, "'hook' only goes with advice"),
    ("unknown_hook", GOOD_RULE.replace('"wrap-call"', '"hook-after"\nhook = "flaks"'), 7,
     "unknown hook 'flaks' (the runtime has: "),
    ("adapter_on_hook", GOOD_RULE.replace('"wrap-call"', '"hook-after"\nhook = "flask"')
     + 'adapter = "requests.send"\n', 8, "'adapter' only goes with advice 'wrap-call'"),
    ("unknown_adapter", GOOD_RULE + 'adapter = "http.client"\n', 7,
     "unknown adapter 'http.client' (the runtime has: "),
    ("assign_not_names", ASSIGN_RULE.replace('["MIDDLEWARE"]', '["x.MIDDLEWARE"]'), 4,
     "match.assign must be a list of names"),
    ("alongside_not_names", ASSIGN_RULE.replace('["INSTALLED_APPS"]', '"INSTALLED_APPS"'), 5,
     "match.alongside must be a list of names"),
    ("assign_with_call", ASSIGN_RULE.replace('alongside', 'call = ["x.get"]\nalongside'), 4,
     "match.assign goes in a rule of its own"),
    ("alongside_alone", ASSIGN_RULE.replace('assign = ["MIDDLEWARE"]\n', 'call = ["x.get"]\n'),
     5, "match.alongside only goes with match.assign"),
    ("assign_wraps_no_call", ASSIGN_RULE.replace('"hook-after"\nhook = "django_settings"',
                                                 '"wrap-call"'),
     7, "match.assign goes with advice = \"hook-after\""),
    ("bad_types", '[types]\n"a.b" = "not a name!"\n', 2, "must map to a qualified name"),
    ("toml_syntax", '[[rule]\n', 1, ""),
    ("not_utf8", b"\xff\xfe[[rule]]\n", 1, "not valid UTF-8"),
]


@pytest.mark.parametrize(("name", "text", "line", "message"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_rule_files(
    tmp_path: Path, name: str, text: str | bytes, line: int, message: str
) -> None:
    path = tmp_path / f"{name}.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    with pytest.raises(RuleError) as caught:
        load_rules([path])
    assert caught.value.path == path
    assert caught.value.line == line
    assert message in caught.value.message
    assert "\n" not in str(caught.value)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text(GOOD_RULE)
    second.write_text("\n\n" + GOOD_RULE)
    with pytest.raises(RuleError) as caught:
        load_rules([first, second])
    assert caught.value.path == second and caught.value.line == 3
    assert f"duplicate rule id 'x.send' (first defined at {first}:1)" in caught.value.message


def test_builtin_rules_load_and_advice_kinds_match_the_registry() -> None:
    ruleset = load_rules(builtin_rule_files())
    assert {r.id for r in ruleset.rules} >= {"requests.send", "flask.app", "httpx.send",
                                            "sqlite3.query"}
    assert set(_advice.names()) == {"wrap-call", "hook-after", "span-function"}
    for rule in ruleset.rules:  # every built-in rule names what the runtime provides
        assert rule.adapter is None or rule.adapter in _catalogue.ADAPTERS
        assert rule.hook is None or rule.hook in _catalogue.HOOKS
    assert ruleset.canonical("requests.sessions.Session.get") == "requests.Session.get"
    assert ruleset.returns["sqlite3.connect"] == "sqlite3.Connection"
    assert "requests" in ruleset.modules and "sqlite3" in ruleset.modules


def test_a_user_rule_can_name_a_builtin_adapter(tmp_path: Path) -> None:
    """The adapter, not the rule id, is what the injected call names: two rules can share one."""
    from codetrace._context import FileContext
    from codetrace._engine import instrument

    path = tmp_path / "mine.toml"
    path.write_text(GOOD_RULE.replace('call = ["x.get"]', 'call = ["myhttp.fetch"]')
                    + 'adapter = "requests.send"\n')
    ruleset = load_rules([path])
    source = b"import myhttp\nmyhttp.fetch('u')\n"
    result = instrument(source, FileContext("m.py", ruleset, module_name="m"))
    assert result.status == "changed", result.error
    assert b'_codetrace.traced(myhttp.fetch, "requests.send")(\'u\')' in (result.output or b"")
    assert [s.rule for s in result.sites] == ["x.send"]


@pytest.mark.parametrize(
    ("module_name", "instrumented"),
    [
        ("shop.db", True),  # an application using both libraries
        ("sqlalchemy_utils.engines", True),  # another package whose name only starts the same
        ("sqlalchemy.orm.session", False),  # SQLAlchemy's own module: its rules stay out
        ("flask_sqlalchemy.extension", True),  # it uses SQLAlchemy: the engine rule acts
    ],
)
def test_a_library_s_own_modules_are_not_instrumented_by_its_rules(
    module_name: str, instrumented: bool
) -> None:
    from codetrace._context import FileContext
    from codetrace._engine import instrument

    source = b"import sqlalchemy\n\nengine = sqlalchemy.create_engine('sqlite://')\n"
    result = instrument(source, FileContext("m.py", load_rules(builtin_rule_files()),
                                            module_name=module_name))
    assert result.status == ("changed" if instrumented else "unchanged")
    assert (b"sqlalchemy.engine" in (result.output or b"")) is instrumented


def test_a_library_s_own_modules_keep_the_rules_of_other_libraries() -> None:
    from codetrace._context import FileContext
    from codetrace._engine import instrument

    # SQLAlchemy's pysqlite dialect uses sqlite3: that library's rules still act there
    source = b"import sqlite3\nimport sqlalchemy\n\ncon = sqlite3.connect(':memory:')\n"
    result = instrument(source, FileContext("m.py", load_rules(builtin_rule_files()),
                                            module_name="sqlalchemy.dialects.sqlite.pysqlite"))
    assert result.status == "changed"
    assert b"sqlite3.connect" in (result.output or b"")


def test_a_library_s_own_imports_do_not_make_its_modules_candidates() -> None:
    """Inside a library's package, importing the package itself does not let a module through
    the prefilter (SQLAlchemy's 258 modules took a minute; no rule of another library applies)."""
    from codetrace._context import FileContext
    from codetrace._engine import instrument

    source = (b"from sqlalchemy.engine import Connection\n\n"
              b"def run(conn):\n    conn.execute('SELECT 1')\n    conn.commit()\n")
    ruleset = load_rules(builtin_rule_files())
    own = instrument(source, FileContext("m.py", ruleset, module_name="sqlalchemy.orm.session"))
    assert own.status == "unchanged" and not own.unresolved
    # the same text in an application: `conn` is an unresolved candidate that explain lists
    user = instrument(source, FileContext("m.py", ruleset, module_name="shop.db"))
    assert user.status == "unchanged" and len(user.unresolved) == 2


def test_an_assign_rule_loads_with_its_guard(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    path.write_text(ASSIGN_RULE)
    rule = next(r for r in load_rules([path]).rules if r.id == "x.settings")
    assert (rule.assigns, rule.alongside, rule.hook) == (
        ("MIDDLEWARE",), ("INSTALLED_APPS",), "django_settings")
