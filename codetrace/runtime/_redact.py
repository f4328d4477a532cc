"""Keeping credentials in the process: URLs on spans, and any text recorded from an exception.

What is redacted, and why:

* **Userinfo** (``https://user:pass@host``) always becomes ``REDACTED:REDACTED@host``: the
  semantic conventions say ``url.full`` MUST NOT carry credentials, so no setting turns it off.
* **Parameter values** whose key is sensitive become ``REDACTED``, the key kept in place and
  everything else left byte for byte (nothing is re-encoded). A parameter is a ``key=value``
  piece of the query (separated by ``&`` or ``;``: servers split on either), of the fragment
  (OAuth's implicit flow returns ``#access_token=...``; a ``?`` or ``/`` there also starts a
  key, as in ``#/callback?token=...``) or of a path segment (``/app;jsessionid=...``). A key
  without ``=`` has no value to hide; an empty value stays empty. A sensitive value runs to the
  next ``&``, or the next ``;`` that starts another ``key=``: ``token=abc;def`` hides all of it.
* **Which keys are sensitive**: the semantic conventions' list (``AWSAccessKeyId``,
  ``Signature``, ``sig``, ``X-Goog-Signature``, ``X-Amz-Signature``, ``X-Amz-Credential``,
  ``X-Amz-Security-Token``) and a wider default list of credential-like names that no
  convention lists (:data:`DEFAULT_SENSITIVE_QUERY_PARAMETERS`). A key is compared after
  percent-decoding (``%61ccess_token``), lowercasing and dropping every character that is not a
  letter or digit, so ``api_key``, ``api-key``, ``apiKey`` and ``API.KEY`` are one name. An
  entry may start and/or end with ``*`` to match a suffix, prefix or substring (``*token*``);
  ``*`` alone matches every key. The conventions ask for case-sensitive matching; codetrace
  matches more widely on purpose: a signature that leaks costs more than a parameter that is
  hidden.
* **Configuration**:
  ``OTEL_INSTRUMENTATION_SANITIZATION_URL_EXPERIMENTAL_SENSITIVE_QUERY_PARAMETERS`` (the name
  OpenTelemetry's Java instrumentation reads, for its declarative
  ``general.sanitization.url.sensitive_query_parameters``), a comma-separated list that
  *replaces* the default list, as the conventions say; ``none`` redacts no parameter. It is read
  once, on first use (through ``_env``, not ``_state``: ``_span`` imports this module, and
  ``_state`` leads back to ``_span``); :func:`use_sensitive_query_parameters` changes the list
  while the process runs.
* **Exception text** (:func:`scrub_text`: ``exception.message``, ``exception.stacktrace`` and
  the status message of a failed span): the same rules, applied to URLs and ``key=value``
  pairs found anywhere in the text (``with url: /o?X-Amz-Signature=...``,
  ``password='...'`` in a DSN, a quoted value included). SQL literals in a failing statement's
  text are the database adapter's business (``_sql.scrub_error``). Text longer than
  :data:`MAX_SCRUBBED` is cut to it, so the cost stays bounded whatever the application raises.

URLs are cut by hand, without :mod:`urllib.parse` or :mod:`re`: :func:`redact_url` runs for
every distinct client URL and must cost next to nothing when there is nothing to redact (a URL
without ``=`` or ``@`` is returned as is, the same object). :func:`scrub_text` runs only on
recorded exceptions, and compiles its patterns on first use.
"""

from __future__ import annotations

from ._env import env_value, split_names

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from re import Pattern

REDACTED = "REDACTED"

SPEC_SENSITIVE_QUERY_PARAMETERS = (
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
)
"""The keys the semantic conventions (``url.query``, ``url.full``) list, redacted by default."""

DEFAULT_SENSITIVE_QUERY_PARAMETERS = (
    *SPEC_SENSITIVE_QUERY_PARAMETERS,
    "key",
    "auth",
    "authorization",
    "pass",
    "pwd",
    "jwt",
    "session",
    "*token*",
    "*secret*",
    "*password*",
    "*passwd*",
    "*signature",
    "*sig",
    "*credential",
    "*credentials",
    "*apikey",
    "*accesskey",
    "*accesskeyid",
    "*privatekey",
    "*sessionid",
)
"""The default list, in the syntax of the environment variable (documented in
``docs/runtime-contract.md``; keep both in step)."""

KNOWN_KEYS = 1024
"""Keys whose verdict is remembered (``Sensitive``)."""

# Every ASCII character that is not a letter or a digit: dropped when comparing keys.
_DROP = str.maketrans("", "", "".join(chr(c) for c in range(128) if not chr(c).isalnum()))


def _decoded(key: str) -> str:
    """``key`` percent-decoded (up to three times: ``%2561`` is ``%61`` is ``a``)."""
    from urllib.parse import unquote  # imports re: paid only when a key has a '%'

    for _ in range(3):
        decoded = unquote(key)
        if decoded == key:
            break
        key = decoded
    return key


def normalize(key: str) -> str:
    """The form keys are compared in: percent-decoded, lowercase, letters and digits only."""
    if "%" in key:
        key = _decoded(key)
    key = key.lower()
    return key if key.isalnum() else key.translate(_DROP)


class Sensitive:
    """Whether a parameter key is sensitive, for a list of names and ``*`` patterns.

    Verdicts are remembered per key as written (up to :data:`KNOWN_KEYS`, then forgotten all at
    once): an application sends the same few keys over and over.
    """

    __slots__ = ("contains", "everything", "exact", "known", "prefixes", "suffixes")

    def __init__(self, entries: Iterable[str]) -> None:
        exact: set[str] = set()
        prefixes: list[str] = []
        suffixes: list[str] = []
        contains: list[str] = []
        self.everything = False
        for entry in entries:
            entry = entry.strip()
            if not entry:
                continue
            head, tail = entry.startswith("*"), entry.endswith("*") and len(entry) > 1
            name = normalize(entry.strip("*"))
            if not name:
                self.everything = self.everything or "*" in entry
                continue
            if head and tail:
                contains.append(name)
            elif head:
                suffixes.append(name)
            elif tail:
                prefixes.append(name)
            else:
                exact.add(name)
        self.exact = frozenset(exact)
        self.prefixes = tuple(prefixes)
        self.suffixes = tuple(suffixes)
        self.contains = tuple(contains)
        self.known: dict[str, bool] = {}

    def __call__(self, key: str) -> bool:
        verdict = self.known.get(key)
        if verdict is None:
            verdict = self._decide(key)
            if len(self.known) >= KNOWN_KEYS:
                self.known.clear()
            self.known[key] = verdict
        return verdict

    def _decide(self, key: str) -> bool:
        if self.everything:
            return True
        name = normalize(key)
        if not name:
            return False
        return (
            name in self.exact
            or name.endswith(self.suffixes)
            or name.startswith(self.prefixes)
            or any(part in name for part in self.contains)
        )


SENSITIVE_QUERY_PARAMETERS_ENV = (
    "OTEL_INSTRUMENTATION_SANITIZATION_URL_EXPERIMENTAL_SENSITIVE_QUERY_PARAMETERS"
)


def env_sensitive_query_parameters() -> tuple[str, ...] | None:
    """The list the variable sets: ``None`` when it is unset (the defaults), ``()`` for
    ``none``."""
    raw = env_value(SENSITIVE_QUERY_PARAMETERS_ENV)
    if raw is None:
        return None
    names = split_names(raw)
    return () if names == ["none"] else tuple(names)


_sensitive: Sensitive | None = None
_on_change: list[Callable[[], None]] = []


def sensitive() -> Sensitive:
    """The key test in force (the variable's list, or the default list)."""
    found = _sensitive
    if found is None:
        found = use_sensitive_query_parameters(env_sensitive_query_parameters())
    return found


def on_change(forget: Callable[[], None]) -> None:
    """Call ``forget`` whenever the list of sensitive keys changes (to drop cached results)."""
    _on_change.append(forget)


def use_sensitive_query_parameters(names: Iterable[str] | None) -> Sensitive:
    """Redact the values of ``names`` from now on, instead of the list in force (``None``: the
    default list); cached redactions are forgotten at once. Returns the new key test."""
    global _sensitive
    _sensitive = found = Sensitive(DEFAULT_SENSITIVE_QUERY_PARAMETERS if names is None else names)
    for forget in _on_change:  # caches of redacted URLs (``_http.describe_url``)
        forget()
    return found


# -- URLs ---------------------------------------------------------------------------------------


class _Ends:
    """Where values end in one text: the next of a few characters after a position.

    Positions asked for only grow, so each character's next occurrence is searched once per
    occurrence: linear in the text, however many pairs it holds.
    """

    __slots__ = ("chars", "n", "next", "text")

    def __init__(self, text: str, chars: str) -> None:
        self.text = text
        self.n = len(text)
        self.chars = chars
        self.next = dict.fromkeys(chars, -2)  # -2: not searched yet; -1: none left

    def after(self, start: int) -> int:
        """The first position >= ``start`` holding one of the characters, or the text's end."""
        end = self.n
        following = self.next
        for char in self.chars:
            found = following[char]
            if -1 != found < start:
                found = following[char] = self.text.find(char, start)
            if 0 <= found < end:
                end = found
        return end


def redact_pairs(text: str, key_starts: str = "&;", value_ends: str = "&;") -> str:
    """``text`` with the values of its sensitive ``key=value`` pairs replaced by ``REDACTED``.

    A key starts after the last of ``key_starts`` before its ``=`` (or at the start of the
    text, or where the previous value ended); its value runs to the first of ``value_ends``,
    and a sensitive value on over any ``;`` piece that holds no ``=`` (``token=a;b``).
    """
    if "=" not in text:
        return text
    is_sensitive = sensitive()
    if key_starts == "&;" and ";" not in text:  # the common query: '&'-separated pairs
        known = is_sensitive.known
        redacted: list[str] | None = None
        for index, pair in enumerate(text.split("&")):
            key, _, value = pair.partition("=")
            if value:
                verdict = known.get(key)
                if verdict is None:
                    verdict = is_sensitive(key)
                if verdict:
                    if redacted is None:
                        redacted = text.split("&")
                    redacted[index] = f"{key}={REDACTED}"
        return text if redacted is None else "&".join(redacted)
    ends = _Ends(text, value_ends)
    n = len(text)
    pieces: list[str] = []
    last = pos = 0
    while True:
        eq = text.find("=", pos)
        if eq < 0:
            break
        start = pos
        for char in key_starts:
            found = text.rfind(char, start, eq)
            if found >= 0:
                start = found + 1
        end = ends.after(eq + 1)
        if end > eq + 1 and is_sensitive(text[start:eq]):
            while end < n and text[end] == ";":
                following = ends.after(end + 1)
                if "=" in text[end + 1 : following]:
                    break
                end = following
            pieces.append(text[last : eq + 1])
            pieces.append(REDACTED)
            last = end
        pos = end
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def redact_query(query: str) -> str:
    """``query`` (``url.query``) with the values of sensitive parameters redacted."""
    return redact_pairs(query)


def _redact_rest(rest: str) -> str:
    """Path, query and fragment of a URL, each redacted by its own rules."""
    hash_mark = rest.find("#")
    question = rest.find("?", 0, hash_mark if hash_mark >= 0 else len(rest))
    end_path = question if question >= 0 else (hash_mark if hash_mark >= 0 else len(rest))
    path = rest[:end_path]
    if "=" in path:
        path = redact_pairs(path, "/;", "/;")
    query = ""
    if question >= 0:
        query = "?" + redact_pairs(rest[question + 1 : hash_mark if hash_mark >= 0 else None])
    fragment = ""
    if hash_mark >= 0:
        fragment = "#" + redact_pairs(rest[hash_mark + 1 :], "&;?/", "&;")
    return path + query + fragment


def redact_url(url: str, parts: tuple[str, str, str] | None) -> str:
    """``url`` fit for ``url.full``; ``parts`` is ``(scheme, authority, rest)`` of an absolute
    URL, or ``None`` for anything else (then the whole text is path, query and fragment)."""
    if parts is not None:
        scheme, authority, rest = parts
        at = authority.rfind("@")
        if at >= 0:
            authority = "REDACTED:REDACTED@" + authority[at + 1 :]
            url = f"{scheme}://{authority}{rest}"
        if "=" not in rest:
            return url
        redacted = _redact_rest(rest)
        return url if redacted == rest else f"{scheme}://{authority}{redacted}"
    if "=" not in url:
        return url
    return _redact_rest(url)


# -- text ---------------------------------------------------------------------------------------

_patterns: tuple[Pattern[str], Pattern[str]] | None = None


def _compile() -> tuple[Pattern[str], Pattern[str]]:
    global _patterns
    import re

    userinfo = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#'\"<>\[\]]*@")
    # key=value where the key starts the text or follows a separator; the value is quoted, or
    # runs to a separator (a ';' only when another key= follows it, as in redact_pairs).
    pair = re.compile(
        r"""(?<![^\s?&;#/(,'"\[{|])(?P<key>[^\s=&;#?/'"<>()\[\]{},|]+)="""
        r"""(?P<value>'[^'\n]*'|"[^"\n]*"|(?![(\[{=])(?:[^&;#\s'"<>]|;(?![^&;#\s'"<>=]*=))+)"""
    )
    _patterns = userinfo, pair
    return _patterns


def _scrub_pairs(text: str, pair: Pattern[str]) -> str:
    """The values of sensitive pairs redacted; a pair that is not sensitive is searched
    again from its value on (``url='https://h/?sig=...'`` holds one)."""
    is_sensitive = sensitive()
    pieces: list[str] = []
    last = pos = 0
    while True:
        match = pair.search(text, pos)
        if match is None:
            break
        if is_sensitive(match.group("key")):
            pieces.append(text[last : match.start("value")])
            pieces.append(REDACTED)
            last = pos = match.end()
        else:
            pos = match.start("value")
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


MAX_SCRUBBED = 65536
"""Exception text longer than this is cut to it first: scrubbing must cost bounded time."""


def scrub_text(text: str) -> str:
    """``text`` (an exception's message or stack trace) without URL userinfo and without the
    values of sensitive ``key=value`` pairs (see the module docstring); cut to
    :data:`MAX_SCRUBBED` characters."""
    if len(text) > MAX_SCRUBBED:
        text = text[:MAX_SCRUBBED] + " [cut by codetrace]"
    has_pair, has_url = "=" in text, "://" in text
    if not (has_pair or has_url):
        return text
    userinfo, pair = _patterns or _compile()
    if has_url and "@" in text:
        text = userinfo.sub(r"\1REDACTED:REDACTED@", text)
    if has_pair:
        text = _scrub_pairs(text, pair)
    return text
