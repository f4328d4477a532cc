"""Reading SQL text: sanitizing literals away, summarizing what a statement does, and keeping a
failing statement's literals out of the exception text recorded on its span.

For the database semantic conventions (see ``_dbapi`` for why each attribute is what it is):

* :func:`sanitize`: ``db.query.text``: the text with every literal (string, number, blob, bit,
  boolean, dollar-quoted...) replaced by ``?``, placeholders and identifiers kept, and comments
  dropped (a comment is free text: ``-- password X``). The conventions leave parameterized text
  alone; codetrace sanitizes it too (``name = ? AND pw = 'X'`` holds a literal all the same),
  which costs only the constants written in it (``LIMIT 10`` reads ``LIMIT ?``).
* :func:`summarize`: ``db.query.summary``, the operations and their targets in order, as
  written (``SELECT items``, ``INSERT shipping SELECT orders``, ``CREATE TABLE items``),
  truncated to ``MAX_SUMMARY`` characters. The parse is deliberately small and leaves out what
  it cannot place (a subquery in ``FROM``, a table-valued function).
* :func:`analyse`: both at once, cached (applications repeat a small set of strings); texts
  longer than ``MAX_ANALYSED`` characters are analysed and sanitized on their first
  ``MAX_ANALYSED`` characters only, so a huge script costs bounded time and memory.
* :func:`scrub_error`: an exception message or stack trace of a failing statement, without
  the statement's literals and comments, without the parameter values drivers quote back, and
  with the fragments of SQL that drivers quote sanitized (see :data:`_SHAPES`).

The tokenizer is per dialect (:func:`dialect_for` maps ``db.system.name``):

* ``sqlite``: ``''`` escapes a quote; ``X'..'`` blobs; ``"..."`` is an identifier *or* a string
  (SQLite reads it as a string when no column has that name), so it is kept only where it can
  only be an identifier (beside a ``.``, after ``FROM``/``JOIN``/``INTO``/``UPDATE``/``TABLE``/
  ``AS``/``BY``..., in the column list of ``INSERT INTO t (...)``/``CREATE TABLE t (...)``, as
  the target of ``SET "c" =``) and replaced everywhere else; ```..``` and ``[..]`` are
  identifiers; ``$tag$..$tag$`` is no SQLite syntax but is read as a literal all the same.
* ``postgresql``: ``E'..'`` (backslash escapes), ``U&'..'``, ``B'..'``, ``X'..'``,
  ``$tag$..$tag$``; ``"..."`` is always an identifier; block comments nest.
* ``mysql`` (MySQL, MariaDB): ``'..'`` and ``"..."`` are strings with backslash escapes,
  ``_charset'..'``, ``X'..'``, ``B'..'``, ``0x``/``0b`` numbers; ``#`` comments, and ``--``
  only when a space follows; ```..``` is an identifier.
* ``other``: SQLite's rules.

In every dialect, text between typographic quotes (curly single and double quotes, angle
quotes, fullwidth quotes: :data:`_TYPOGRAPHIC`) counts as a literal (no database accepts them
as quotes: SQLite even reads them as part of a name, and says ``no such column:`` and the
quoted text), a number glued to a word (``1abc``) is one literal, and an unterminated literal
or comment runs to the end of the text.
:mod:`re` is imported with this module, i.e. on the first traced query, not at start-up.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

MAX_SUMMARY = 255
MAX_ANALYSED = 8192
MAX_SCRUB_SQL = 65536
"""A failing statement is read this far for literals to scrub from its exception text."""
_MAX_CACHED = 512
_MAX_CANDIDATES = 512  # distinct literal and parameter texts searched for in exception text
_MIN_SCRUBBED = 4  # shorter contents (a quote-less 'a', the number 10) are left in messages

# -- tokens -------------------------------------------------------------------------------------

_TYPOGRAPHIC = (
    "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a\uff02\uff07"
)
_QUOTES = "'\"`$" + _TYPOGRAPHIC  # a short literal that starts with one is searched for whole
_BLOCK = r"/\*.*?(?:\*/|\Z)"
_SHARED_TAIL = rf"""
| (?P<ustring>[{_TYPOGRAPHIC}][^{_TYPOGRAPHIC}]*[{_TYPOGRAPHIC}]?)
| (?P<placeholder>\?\d*|[:@$][A-Za-z_][\w$]*|\$\d+|%\([^)]*\)s|%s)
| (?P<number>(?:0[xX][0-9A-Fa-f]+|0[bB][01]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[\w$]*)
| (?P<word>[A-Za-z_][\w$]*)
| (?P<other>.)
"""
_DOLLAR = r"| (?P<dollar>\$(?P<tag>(?:[A-Za-z_]\w*)?)\$.*?(?:\$(?P=tag)\$|\Z))"
_PATTERNS = {
    "sqlite": rf"""
  (?P<space>\s+)
| (?P<comment>--[^\n]*|{_BLOCK})
| (?P<string>[xX]?'(?:[^']|'')*'?)
| (?P<dq>"(?:[^"]|"")*"?)
| (?P<quoted>`(?:[^`]|``)*`?|\[[^\]]*\]?)
{_DOLLAR}
""",
    "postgresql": rf"""
  (?P<space>\s+)
| (?P<comment>--[^\n]*|/\*)
| (?P<string>[eE]'(?:[^'\\]|''|\\.)*'?|(?:[uU]&|[bBxXnN])?'(?:[^']|'')*'?)
| (?P<quoted>(?:[uU]&)?"(?:[^"]|"")*"?)
{_DOLLAR}
""",
    "mysql": rf"""
  (?P<space>\s+)
| (?P<comment>--(?=[\s\x00-\x1f]|\Z)[^\n]*|\#[^\n]*|{_BLOCK})
| (?P<string>(?:[xXbBnN]|_[A-Za-z0-9]+)?(?:'(?:[^'\\]|''|\\.)*'?|"(?:[^"\\]|""|\\.)*"?))
| (?P<quoted>`(?:[^`]|``)*`?)
""",
}
_PATTERNS["other"] = _PATTERNS["sqlite"]
_NESTED_COMMENTS = frozenset(("postgresql",))
_SYSTEM_DIALECTS = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}

Token = tuple[str, str]
"""``(kind, text)``: kind is the name of the pattern group that matched."""

_LITERAL_KINDS = frozenset(("string", "number", "dollar", "ustring"))
_BOOLEANS = frozenset(("TRUE", "FALSE"))
_tokenizers: dict[str, re.Pattern[str]] = {}


def dialect_for(system: str) -> str:
    """The tokenizer dialect for a ``db.system.name`` (``other`` for systems not known)."""
    return _SYSTEM_DIALECTS.get(system, "other")


def _nested_comment_end(sql: str, start: int) -> int:
    """The end of the (PostgreSQL, nesting) block comment opened at ``start``."""
    depth = 0
    position = start
    while True:
        close = sql.find("*/", position)
        if close < 0:
            return len(sql)
        opening = sql.find("/*", position, close)
        if opening >= 0:
            depth += 1
            position = opening + 2
            continue
        depth -= 1
        position = close + 2
        if depth == 0:
            return position


def tokenize(sql: str, dialect: str) -> list[Token]:
    """The tokens of ``sql``; their texts joined spell ``sql`` exactly."""
    tokenizer = _tokenizers.get(dialect)
    if tokenizer is None:
        pattern = _PATTERNS.get(dialect, _PATTERNS["other"]) + _SHARED_TAIL
        tokenizer = _tokenizers[dialect] = re.compile(pattern, re.S | re.X)
    nested = dialect in _NESTED_COMMENTS
    found: list[Token] = []
    position, n = 0, len(sql)
    match = tokenizer.match
    while position < n:
        token = match(sql, position)
        if token is None:  # pragma: no cover - 'other' matches any character
            break
        kind = token.lastgroup or "other"
        end = token.end()
        if nested and kind == "comment" and sql.startswith("/*", position):
            end = _nested_comment_end(sql, position)
        found.append((kind, sql[position:end]))
        position = end
    return found


# -- which double-quoted tokens are names (SQLite) ---------------------------------------------

# After these words a double-quoted token names something (FROM only at a SELECT's depth, and
# not in IS DISTINCT FROM; ON only in CREATE INDEX/TRIGGER, where it names the table).
# fmt: off
_NAME_AFTER = frozenset((
    "FROM", "JOIN", "INTO", "UPDATE", "TABLE", "INDEX", "VIEW", "TRIGGER", "EXISTS", "AS",
    "REFERENCES", "TO", "COLUMN", "SAVEPOINT", "BY",
))
_COLUMN_LIST_AFTER = frozenset(("INTO", "TABLE", "EXISTS", "REFERENCES"))
_COLUMN_LIST_KEYWORDS = frozenset(("KEY", "UNIQUE"))
_SET_ENDS = frozenset(("WHERE", "FROM", "RETURNING", "ORDER", "LIMIT"))
# fmt: on
_NAME_KINDS = frozenset(("word", "dq", "quoted"))


def _names_a_column_list(words: list[Token], p: int, statement: str | None) -> bool:
    """Whether the ``(`` at ``words[p]`` opens a list of column names."""
    q = p - 1
    if q >= 0 and words[q][1].upper() in _COLUMN_LIST_KEYWORDS:
        return True  # PRIMARY KEY (...), UNIQUE (...)
    named = False
    while q >= 0 and words[q][0] in _NAME_KINDS:  # a (qualified) name
        named = True
        q -= 1
        if q >= 1 and words[q][1] == ".":
            q -= 1
            continue
        break
    if not named or q < 0:
        return False
    keyword = words[q][1].upper()
    return keyword in _COLUMN_LIST_AFTER or (keyword == "ON" and statement == "CREATE")


def _dq_names(tokens: list[Token]) -> set[int]:
    """Indexes (into ``tokens``) of the double-quoted tokens that can only be names."""
    indexes = [i for i, (kind, _) in enumerate(tokens) if kind not in ("space", "comment")]
    words = [tokens[i] for i in indexes]
    names: set[int] = set()
    depth = 0
    lists: list[int] = []  # depths of open column lists
    statement: str | None = None  # the statement's first word
    updating = False
    set_depth = -1  # depth of the SET clause of an UPDATE, -1 outside one
    for p, (kind, text) in enumerate(words):
        upper = text.upper()
        if text == "(":
            depth += 1
            if _names_a_column_list(words, p, statement):
                lists.append(depth)
        elif text == ")":
            if lists and lists[-1] == depth:
                lists.pop()
            depth -= 1
            if set_depth > depth:
                set_depth = -1
        elif text == ";":
            statement, updating, set_depth, lists, depth = None, False, -1, [], 0
        elif kind == "word":
            if statement is None:
                statement = upper
            if upper == "UPDATE":
                updating = True
            elif upper == "SET" and updating:
                set_depth = depth
            elif upper in _SET_ENDS and depth <= set_depth:
                set_depth = -1
        elif kind == "dq":
            before = words[p - 1][1].upper() if p else ""
            after = words[p + 1][1] if p + 1 < len(words) else ""
            if (
                before == "."
                or after == "."
                or (
                    before in _NAME_AFTER
                    and not (before == "FROM" and p > 1 and words[p - 2][1].upper() == "DISTINCT")
                )
                or (before == "ON" and statement == "CREATE")
                or (before in ("(", ",") and lists and lists[-1] == depth)
                or (depth == set_depth and before in ("SET", ",") and after == "=")
            ):
                names.add(indexes[p])
    return names


# -- sanitizing ---------------------------------------------------------------------------------


def _render(tokens: list[Token]) -> tuple[str, list[Token]]:
    """The sanitized text of ``tokens``, and the literal and comment tokens it left out."""
    names = _dq_names(tokens) if any(kind == "dq" for kind, _ in tokens) else set()
    out: list[str] = []
    removed: list[Token] = []
    skip_space = False
    for index, (kind, text) in enumerate(tokens):
        if kind == "space":
            if not skip_space:
                out.append(text)
            skip_space = False
            continue
        skip_space = False
        if kind == "comment":
            removed.append((kind, text))
            following = tokens[index + 1][0] if index + 1 < len(tokens) else None
            if not out:
                skip_space = True
            elif out[-1].isspace():
                if following == "space":
                    out.pop()
            elif following is not None and following != "space":
                out.append(" ")
            continue
        if (
            kind in _LITERAL_KINDS
            or (kind == "dq" and index not in names)
            or (kind == "word" and text.upper() in _BOOLEANS)
        ):
            if kind != "word":
                removed.append((kind, text))
            out.append("?")
        else:
            out.append(text)
    text = "".join(out)
    if any(kind == "comment" for kind, _ in removed):
        text = text.strip()
    return text, removed


def sanitize(tokens: list[Token]) -> str:
    """``db.query.text``: ``tokens`` without literals (each a ``?``) and without comments."""
    return _render(tokens)[0]


# -- summarizing --------------------------------------------------------------------------------

# Operations that start a statement, and those that may also follow a '(' or ')' (subqueries,
# CTEs, INSERT ... SELECT) or a trigger's BEGIN. SELECT counts anywhere; the others not after
# ON / OF / DO / OR (``ON DELETE CASCADE``, ``AFTER UPDATE OF``, ``DO UPDATE SET``,
# ``INSERT OR REPLACE``) nor as functions (``replace(x, 'a', 'b')``).
# fmt: off
_STATEMENT_OPS = frozenset((
    "ALTER", "ANALYZE", "ATTACH", "BEGIN", "CALL", "COMMIT", "COPY", "CREATE", "DETACH", "DROP",
    "EXEC", "EXECUTE", "EXPLAIN", "GRANT", "LOCK", "PRAGMA", "REINDEX", "RELEASE", "REVOKE",
    "ROLLBACK", "SAVEPOINT", "SET", "SHOW", "TRUNCATE", "USE", "VACUUM",
))
_DML_OPS = frozenset(("DELETE", "INSERT", "MERGE", "REPLACE", "UPDATE"))
_DML_AFTER = frozenset((None, ";", "(", ")", "AS", "BEGIN", "EXPLAIN", "PLAN"))
_OBJECT_OPS = frozenset(("ALTER", "CREATE", "DROP"))
_OBJECT_MODIFIERS = frozenset((
    "GLOBAL", "LOCAL", "MATERIALIZED", "OR", "REPLACE", "TEMP", "TEMPORARY", "UNIQUE",
    "UNLOGGED", "VIRTUAL",
))
_NOT_NAMES = frozenset((
    "AS", "CROSS", "DEFAULT", "EXCEPT", "FULL", "GROUP", "HAVING", "INDEXED", "INNER",
    "INTERSECT", "JOIN", "LEFT", "LIMIT", "NATURAL", "NOT", "OFFSET", "ON", "ORDER", "OUTER",
    "RETURNING", "RIGHT", "SELECT", "SET", "UNION", "USING", "VALUES", "WHERE", "WINDOW",
)) | _STATEMENT_OPS | _DML_OPS
# fmt: on
_TABLE_KINDS = frozenset(("word", "quoted", "dq", "string"))


def _name_at(words: list[Token], i: int) -> tuple[str | None, int]:
    """A (possibly qualified) object name starting at ``words[i]``, and the index after it."""
    parts: list[str] = []
    while i < len(words):
        kind, text = words[i]
        if kind not in _TABLE_KINDS or (kind == "word" and text.upper() in _NOT_NAMES):
            break
        parts.append(text)
        i += 1
        if i + 1 < len(words) and words[i][1] == ".":
            i += 1
            continue
        break
    return (".".join(parts) if parts else None), i


def _tables(words: list[Token], i: int, parts: list[str], *, listed: bool) -> int:
    """Read the table(s) at ``words[i]`` into ``parts``; return the index after them.

    ``listed``: after FROM, where ``a AS x, b y`` names two tables. A name followed by ``(``
    there is a table-valued function, and a ``(`` is a subquery: neither is named.
    """
    while True:
        name, after = _name_at(words, i)
        if name is None or (listed and after < len(words) and words[after][1] == "("):
            return i
        parts.append(name)
        i = after
        if not listed:
            return i
        if i < len(words) and words[i][1].upper() == "AS":
            i += 2
        elif (
            i < len(words)
            and words[i][0] in ("word", "quoted", "dq")
            and (words[i][1].upper() not in _NOT_NAMES)
        ):
            i += 1
        if i >= len(words) or words[i][1] != ",":
            return i
        i += 1


def summarize(tokens: list[Token]) -> str:
    """``db.query.summary``: operations and their targets, in order, as written.

    ``FROM`` names tables only at the depth of the SELECT or DELETE it belongs to, so
    ``extract(year FROM d)`` and ``IS DISTINCT FROM`` name nothing.
    """
    words = [token for token in tokens if token[0] not in ("space", "comment")]
    parts: list[str] = []
    previous: str | None = None
    depth = 0
    op_depths: list[int] = []  # depths of the SELECT/DELETE whose FROM is still to come
    i = 0
    while i < len(words):
        kind, text = words[i]
        upper = text.upper()
        i += 1
        if kind not in ("word", "other"):
            previous = upper
            continue
        if upper == "(":
            depth += 1
        elif upper == ")":
            depth -= 1
            while op_depths and op_depths[-1] > depth:
                op_depths.pop()
        elif upper in _OBJECT_OPS and previous in (None, ";"):
            while i < len(words) and words[i][1].upper() in _OBJECT_MODIFIERS:
                i += 1
            if i < len(words) and words[i][0] == "word":
                parts.append(f"{text} {words[i][1]}")
                i += 1
                while i < len(words) and words[i][1].upper() in ("IF", "NOT", "EXISTS"):
                    i += 1
                i = _tables(words, i, parts, listed=False)
            else:
                parts.append(text)
        elif (
            upper == "SELECT"
            or (upper in _DML_OPS and previous in _DML_AFTER)
            or (upper in _STATEMENT_OPS and previous in (None, ";"))
        ):
            parts.append(text)
            if upper in ("SELECT", "DELETE"):
                op_depths.append(depth)
            elif upper == "UPDATE":
                if i + 1 < len(words) and words[i][1].upper() == "OR":
                    i += 2  # UPDATE OR IGNORE t
                i = _tables(words, i, parts, listed=False)
            elif upper == "COPY":  # PostgreSQL's COPY t (...) FROM STDIN: its target
                i = _tables(words, i, parts, listed=False)
        elif upper == "FROM" and op_depths and op_depths[-1] == depth and previous != "DISTINCT":
            i = _tables(words, i, parts, listed=True)
        elif upper == "JOIN" or upper == "INTO":
            i = _tables(words, i, parts, listed=False)
        previous = upper
    summary = ""
    for part in parts:
        if len(summary) + len(part) + 1 > MAX_SUMMARY:
            break
        summary = f"{summary} {part}" if summary else part
    return summary


_analysed: dict[tuple[str, str], tuple[str, str]] = {}


def analyse(sql: str, dialect: str = "sqlite") -> tuple[str, str]:
    """``(db.query.text, db.query.summary)`` for ``sql`` (cached; see the module docstring)."""
    key = (sql, dialect)
    cached = _analysed.get(key)
    if cached is not None:
        return cached
    found = tokenize(sql[:MAX_ANALYSED], dialect)
    result = sanitize(found), summarize(found)
    if len(sql) <= MAX_ANALYSED:
        if len(_analysed) >= _MAX_CACHED:
            _analysed.clear()
        _analysed[key] = result
    return result


# -- exception text -----------------------------------------------------------------------------


def _contents(kind: str, text: str) -> list[str]:
    """What of a literal or comment token may show in a message: itself, and its inside."""
    inside = text
    if kind == "comment":
        inside = text[2:] if text.startswith(("--", "/*")) else text[1:]
        inside = inside.removesuffix("*/").strip()
    elif kind == "dollar":
        tag_end = text.find("$", 1) + 1
        inside = text[tag_end:].removesuffix(text[:tag_end])
    elif kind in ("string", "dq", "ustring"):
        start = 0
        while start < len(text) and text[start] not in "'\"" + _TYPOGRAPHIC:
            start += 1
        quote = text[start : start + 1]
        inside = text[start + 1 :]
        if kind == "ustring":
            inside = inside.rstrip(_TYPOGRAPHIC)
        elif quote and inside.endswith(quote):
            inside = inside[:-1]
    found = [text, inside]
    for doubled, single in (("''", "'"), ('""', '"'), ("\\'", "'"), ('\\"', '"'), ("\\\\", "\\")):
        if doubled in inside:
            found.append(inside.replace(doubled, single))
    return [item for item in found if len(item) >= _MIN_SCRUBBED or item is text]


def _sanitized_fragment(dialect: str) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        return match.group(1) + sanitize(tokenize(match.group(2), dialect)) + match.group(3)

    return replace


def _hidden(match: re.Match[str]) -> str:
    return match.group(1) + "?" + match.group(3)


# Messages that quote SQL or values, by driver: the quoted part is sanitized (SQL) or hidden.
_SHAPES: list[tuple[re.Pattern[str], bool]] = [
    # SQLite: the token at the error; a token it cannot read at all
    (re.compile(r'(near ")(.*)(": syntax error)'), True),
    (re.compile(r'(unrecognized token: ")(.*)(")'), False),
    # MySQL/MariaDB: the statement from the error on; values in constraint/conversion errors
    (re.compile(r"(near ')(.*)(' at line \d+)"), True),
    (re.compile(r"(Duplicate entry ')(.*)(' for key)"), False),
    (re.compile(r"(value: ')(.*?)(' for column)"), False),
    (re.compile(r"(Truncated incorrect \w+ value: ')(.*)(')"), False),
    # PostgreSQL: the statement's line under the error; values of keys, rows and conversions
    (re.compile(r"^(LINE \d+: )(.*)()$", re.M), True),
    (re.compile(r"(Key \([^\n]*?\)=\()([^\n]*)(\))"), False),
    (re.compile(r"(Failing row contains \()([^\n]*)(\))"), False),
    (re.compile(r'(invalid input [^:\n]*: ")([^\n]*)(")'), False),
]


def scrub_error(text: str, sql: str | None, dialect: str, values: Iterable[object] = ()) -> str:
    """``text`` (a failing statement's exception message or stack trace) without the literals
    and comments of ``sql``, without ``values`` (the call's parameter values), and with the
    SQL fragments and values that drivers quote (:data:`_SHAPES`) sanitized.

    What it cannot see stays: a value written into the SQL as a bare word (``WHERE pw =
    hunter2`` is a column name to the database, and to this scrubber), and values a driver
    quotes in a message shape not listed here when they are not the call's own.
    """
    for pattern, sql_fragment in _SHAPES:  # first: a shape holds whole what follows cuts up
        text = pattern.sub(_sanitized_fragment(dialect) if sql_fragment else _hidden, text)
    strings: set[str] = set()
    numbers: set[str] = set()
    if sql:
        for kind, token in _render(tokenize(sql[:MAX_SCRUB_SQL], dialect))[1]:
            if kind == "number":
                numbers.add(token)
            else:
                strings.update(_contents(kind, token))
    for value in values:
        if type(value) is str:
            strings.add(value)
        elif type(value) in (int, float):
            numbers.add(repr(value))
    candidates = sorted(
        (item for item in strings if len(item) >= _MIN_SCRUBBED or (item and item[0] in _QUOTES)),
        key=len,
        reverse=True,
    )
    for candidate in candidates[:_MAX_CANDIDATES]:
        if candidate in text:
            text = text.replace(candidate, "?")
    present = [n for n in numbers if len(n) >= _MIN_SCRUBBED and n in text]
    if present:
        alternatives = "|".join(re.escape(n) for n in sorted(present, key=len, reverse=True))
        text = re.sub(rf"(?<![\w.])(?:{alternatives})(?![\w.])", "?", text)
    if len(candidates) > _MAX_CANDIDATES:
        text = _every_quoted(text)
    return text


_QUOTED = re.compile(
    rf"'[^'\n]*'|\"[^\"\n]*\"|[{_TYPOGRAPHIC}][^{_TYPOGRAPHIC}\n]*[{_TYPOGRAPHIC}]"
)


def _every_quoted(text: str) -> str:
    """Every quoted fragment of ``text`` replaced: for statements with too many literals."""
    return _QUOTED.sub("?", text)
