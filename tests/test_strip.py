"""``strip`` (``_strip``): undo exactly what ``apply`` injected, and nothing else.

A table of files strip must leave byte for byte, and a table of input -> output pairs (with the
number of constructs removed); then ``unwrap_unit``, black mode, and what strip leaves
when it cannot undo everything.
"""

from __future__ import annotations

import libcst as cst
import pytest

from codetrace._format import BlackStyle
from codetrace._marker import has_runtime_import
from codetrace._result import Failure
from codetrace._strip import strip_module, unwrap_unit

RUNTIME = "codetrace.runtime"
IMPORT = "import codetrace.runtime as _codetrace\n"


def _strip(source: str, runtime: str = RUNTIME) -> tuple[str, int]:
    module, removed = strip_module(cst.parse_module(source), runtime)
    return module.code, removed


NOOP = [
    pytest.param("x = 1\n", id="nothing"),
    pytest.param("_codetrace.traced(f, 'x')(1)\n", id="no_runtime_import"),
    pytest.param("import os as _codetrace\n_codetrace.traced(f, 'x')(1)\n",
                 id="marker_bound_to_another_module"),
    pytest.param("import other.runtime as _codetrace\n_codetrace.traced(f, 'x')(1)\n",
                 id="runtime_import_of_another_module"),
    pytest.param("from codetrace import runtime as _codetrace\n_codetrace.traced(f, 'x')(1)\n",
                 id="runtime_from_import"),
    pytest.param("import codetrace.runtime as ct\nct.traced(f, 'x')(1)\n",
                 id="runtime_under_another_name"),
    pytest.param("import codetrace.runtime as _codetrace, os\n_codetrace.traced(f, 'x')(1)\n",
                 id="runtime_import_with_another_module"),
    pytest.param("def f():\n    import codetrace.runtime as _codetrace\n"
                 "    _codetrace.traced(f, 'x')(1)\n", id="runtime_import_in_a_function"),
    pytest.param("_codetrace.traced(f)(1)\n", id="traced_wrong_arity"),
    pytest.param("app = Flask(x)\n_codetrace.hooks.flask(app)\n", id="hook_statement"),
    pytest.param("def f():\n    return _codetrace.hooks.flask(Flask(x))\n", id="hook_expression"),
]


@pytest.mark.parametrize("source", NOOP)
def test_noop(source: str) -> None:
    module = cst.parse_module(source)
    stripped, removed = strip_module(module, RUNTIME)
    assert removed == 0
    assert stripped.code == source


STRIPPED = [
    pytest.param(IMPORT + "_codetrace.traced(f, 'x')(1)\n", "f(1)\n", 2, id="wrap_call"),
    pytest.param(
        "import requests\n" + IMPORT
        + '\nx = _codetrace.traced(requests.get, "requests.send")(u, timeout=1)  # why\n',
        "import requests\n\nx = requests.get(u, timeout=1)  # why\n", 2,
        id="wrap_call_keeps_arguments_and_comment"),
    pytest.param(IMPORT + "_codetrace.traced(\n    s.get, 'a'\n)(\n    u,  # the url\n)\n",
                 "s.get(\n    u,  # the url\n)\n", 2, id="wrap_call_multiline"),
    pytest.param(IMPORT + "x = f'{_codetrace.traced(s.get, \"a\")(u)}'\n", "x = f'{s.get(u)}'\n",
                 2, id="wrap_call_in_an_fstring"),
    pytest.param(
        IMPORT + "f(_codetrace.traced(s.get, 'a')(u), _codetrace.traced(c.execute, 'b')(q))\n",
        "f(s.get(u), c.execute(q))\n", 3, id="two_wrap_calls_in_one_statement"),
    pytest.param(IMPORT + "_codetrace.traced(a.b(c).d, 'a')(u)\n", "a.b(c).d(u)\n", 2,
                 id="wrap_call_complex_callee"),
    pytest.param(
        IMPORT + "from flask import Flask\n\n# make the app\napp = Flask(__name__)\n"
        "_codetrace.hooks.flask(app)\n\n# routes\nx = 1\n",
        "from flask import Flask\n\n# make the app\napp = Flask(__name__)\n\n# routes\nx = 1\n",
        2, id="hook_statement_blank_lines_and_comments_kept"),
    pytest.param(
        IMPORT + "app = Flask(x)\n\n# about the hook\n_codetrace.hooks.flask(app)\nx = 1\n",
        "app = Flask(x)\n\n# about the hook\nx = 1\n", 2,
        id="hook_statement_leading_comment_moves_to_next_statement"),
    pytest.param(
        IMPORT + "app = Flask(x)\n_codetrace.hooks.flask(app)\n\n# end of file\n",
        "app = Flask(x)\n\n# end of file\n", 2, id="hook_statement_last_in_module"),
    pytest.param(
        IMPORT + "def create():\n    app = Flask(x)\n    _codetrace.hooks.flask(app)\n"
        "    return app\n",
        "def create():\n    app = Flask(x)\n    return app\n", 2,
        id="hook_statement_in_a_function"),
    pytest.param(
        IMPORT + "class C:\n    def __init__(self):\n        self.app = Flask(x)\n"
        "        _codetrace.hooks.flask(self.app)\n",
        "class C:\n    def __init__(self):\n        self.app = Flask(x)\n", 2,
        id="hook_statement_attribute_target"),
    pytest.param(
        IMPORT + "if c:\n    x = 1\n\n    # about the hook\n    _codetrace.hooks.flask(app)\n",
        "if c:\n    x = 1\n\n    # about the hook\n", 2,
        id="hook_statement_last_in_block_keeps_its_comment"),
    pytest.param(IMPORT + "def f():\n    return _codetrace.hooks.flask(Flask(__name__))\n",
                 "def f():\n    return Flask(__name__)\n", 2, id="hook_expression"),
    pytest.param(IMPORT + "y = (_codetrace.hooks.flask(Flask(__name__)))\n",
                 "y = (Flask(__name__))\n", 2, id="hook_expression_parentheses_kept"),
    pytest.param(IMPORT + "if c:\n    _codetrace.hooks.flask(app)\n", "if c:\n    pass\n", 2,
                 id="empty_if_gets_pass"),
    pytest.param(IMPORT + "for x in y:\n    _codetrace.hooks.flask(app)\nelse:\n    pass\n",
                 "for x in y:\n    pass\nelse:\n    pass\n", 2, id="empty_for_gets_pass"),
    pytest.param(IMPORT + "try:\n    _codetrace.hooks.flask(app)\nexcept E:\n    pass\n",
                 "try:\n    pass\nexcept E:\n    pass\n", 2, id="empty_try_gets_pass"),
    pytest.param(IMPORT + "class C:\n    _codetrace.hooks.flask(app)\n", "class C:\n    pass\n", 2,
                 id="empty_class_gets_pass"),
    pytest.param(
        IMPORT + "if c:\n    _codetrace.hooks.flask(app)\n    # trailing comment\nx = 1\n",
        "if c:\n    pass\n    # trailing comment\nx = 1\n", 2,
        id="empty_block_keeps_trailing_comment"),
    pytest.param(
        IMPORT + "if c:\n    # lead\n    _codetrace.hooks.flask(app)\nx = 1\n",
        "if c:\n    pass\n    # lead\nx = 1\n", 2, id="empty_block_comment_moves_below_pass"),
    pytest.param('"""Doc."""\n' + IMPORT + "x = 1\n", '"""Doc."""\nx = 1\n', 1,
                 id="import_after_docstring"),
    pytest.param("# header\n" + IMPORT + "x = 1\n", "# header\nx = 1\n", 1,
                 id="import_after_header_comment"),
    pytest.param(IMPORT + "\n\n# comment after\nx = 1\n", "\n\n# comment after\nx = 1\n", 1,
                 id="import_blank_lines_after_kept"),
    pytest.param("import os\n" + IMPORT + "import sys\n", "import os\nimport sys\n", 1,
                 id="import_between_imports"),
    pytest.param(
        IMPORT + "app = Flask(x)\n_codetrace.hooks.flask(app)\n"
        "r = _codetrace.traced(s.get, 'requests.send')(u)\n",
        "app = Flask(x)\nr = s.get(u)\n", 3, id="every_shape_in_one_file"),
]


@pytest.mark.parametrize(("source", "expected", "removed"), STRIPPED)
def test_stripped(source: str, expected: str, removed: int) -> None:
    assert _strip(source) == (expected, removed)
    assert _strip(expected) == (expected, 0)


def test_configured_runtime() -> None:
    source = "import my.runtime as _codetrace\n_codetrace.traced(f, 'x')(1)\n"
    assert _strip(source, runtime="my.runtime") == ("f(1)\n", 2)
    assert _strip(source) == (source, 0)


UNWRAP = [
    pytest.param("x = _codetrace.traced(s.get, 'a')(u)  # c\n", "x = s.get(u)  # c\n",
                 id="wrap_call"),
    pytest.param("return _codetrace.hooks.flask(Flask(n))\n", "return Flask(n)\n",
                 id="hook_expression"),
    pytest.param("_codetrace.hooks.flask(app)\n", "_codetrace.hooks.flask(app)\n",
                 id="hook_statement_is_not_a_call_site_construct"),
    pytest.param("import codetrace.runtime as _codetrace\n",
                 "import codetrace.runtime as _codetrace\n", id="runtime_import_is_kept"),
    pytest.param("x = _codetrace.traced(s.get)(u)\n", "x = _codetrace.traced(s.get)(u)\n",
                 id="not_a_shape"),
]


@pytest.mark.parametrize(("statement", "expected"), UNWRAP)
def test_unwrap_statement(statement: str, expected: str) -> None:
    parsed = cst.parse_statement(statement)
    assert isinstance(parsed, cst.SimpleStatementLine)
    assert cst.Module(body=[unwrap_unit(parsed)]).code == expected


# ----- black mode -------------------------------------------------------------------------------
BLACK_WRAPPED = (
    'response = _codetrace.traced(session.get, "requests.send")(\n'
    '    "http://example.com/items", timeout=10\n'
    ")\n"
)


def test_black_mode_formats_back_a_black_clean_statement() -> None:
    module, removed = strip_module(cst.parse_module(IMPORT + BLACK_WRAPPED), RUNTIME,
                                   BlackStyle())
    assert (module.code, removed) == (
        'response = session.get("http://example.com/items", timeout=10)\n', 2)


def test_without_black_mode_layout_is_kept() -> None:
    assert _strip(IMPORT + BLACK_WRAPPED) == (
        'response = session.get(\n    "http://example.com/items", timeout=10\n)\n', 2)


def test_black_mode_leaves_a_statement_that_was_not_black_clean() -> None:
    source = IMPORT + "x = _codetrace.traced(s.get, 'a')( u )\n"
    module, removed = strip_module(cst.parse_module(source), RUNTIME, BlackStyle())
    assert (module.code, removed) == ("x = s.get( u )\n", 2)


# ----- what strip cannot undo ---------------------------------------------------------------------
LEFT_BEHIND = [
    pytest.param(IMPORT + "_codetrace.traced(f, 'x')(1)\n", id="everything_undone"),
    pytest.param(IMPORT + "x = 1\n", id="import_only"),
    pytest.param(
        IMPORT + "_codetrace.traced(f)(1)\n", id="traced_wrong_arity",
),
    pytest.param(
        IMPORT + "x = 1; _codetrace.hooks.flask(app)\n", id="hook_sharing_a_line",
),
]


@pytest.mark.parametrize("source", LEFT_BEHIND)
def test_marker_never_left_unbound(source: str) -> None:
    """Whatever strip cannot undo, it must not leave ``_codetrace`` used but unbound: it refuses
    the file, naming the line of the use it cannot undo."""
    try:
        module, _ = strip_module(cst.parse_module(source), RUNTIME)
    except Failure as failure:
        assert failure.line == 2 and "left untouched" in failure.message
        return
    assert "_codetrace" not in module.code or has_runtime_import(module, RUNTIME)
