"""W3C Trace Context (level 2): parse and format ``traceparent`` and ``tracestate``.

Parsing follows the specification's processing rules exactly, and never raises:

``traceparent`` = ``version "-" trace-id "-" parent-id "-" trace-flags``, lowercase hex only.

* Surrounding spaces and tabs (HTTP optional whitespace) are ignored.
* Version ``00``: exactly 55 characters. Version ``ff``: invalid. A higher version: at least 55
  characters; the first four fields are parsed the same way, and anything after them must start
  with ``-`` (it is ignored: "vendors MUST NOT parse or assume anything about unknown fields").
* An all-zero trace id or parent id is invalid.
* Flags: bit 0 *sampled*, bit 1 *random* (the low 7 bytes of the trace id are random). We
  propagate those two and send the other bits as zero, as the specification requires.
* An invalid ``traceparent`` is ignored (the caller starts a new trace) and its ``tracestate``
  is not even read.

``tracestate`` = up to 32 comma-separated ``key=value`` list-members, with optional whitespace
(spaces and tabs) around members and empty members allowed (several headers are joined with ``,``
first). The grammar is the one of the specification text the W3C test suite checks (w3c/
trace-context acab820, ``tests/w3c_harness``): a key is 1 to 256 characters, a lowercase letter
or a digit, then ``a-z 0-9 _ - * / @`` (Level 1's ``tenant@system`` form, with its 241/14 split,
is one case of it; ``foo@``, ``foo@@bar`` and ``a@b@c`` are keys too, ``@foo`` is not). Values
are 1 to 256 printable ASCII characters other than ``,`` and ``=``, not ending in a space
(leading spaces belong to the value, trailing ones are whitespace). A duplicate key keeps its
first, left-most member and drops the later ones ("vendors MAY discard duplicate keys"; sending
a key twice would break the "same key present multiple times" rule downstream). A malformed
member or more than 32 members (duplicates count: they were on the wire) make the whole
``tracestate`` invalid: it is discarded, and the ``traceparent`` is still used.
"""

from __future__ import annotations

_HEX = frozenset("0123456789abcdef")
_LCALPHA = frozenset("abcdefghijklmnopqrstuvwxyz")
_KEY_FIRST = _LCALPHA | frozenset("0123456789")
_KEY_CHARS = _KEY_FIRST | frozenset("_-*/@")
MAX_KEY_LENGTH = 256
MAX_VALUE_LENGTH = 256
_VALUE_CHARS = frozenset(chr(code) for code in range(0x20, 0x7F)) - {",", "="}

TRACEPARENT_LENGTH = 55
MAX_TRACESTATE_MEMBERS = 32
#: 32 members of a 256-character key and value, with separators and some optional whitespace
MAX_TRACESTATE_LENGTH = 32 * (256 + 1 + 256) + 32 * 8


def parse_traceparent(header: str) -> tuple[int, int, int] | None:
    """``(trace_id, parent_id, flags)`` from a ``traceparent`` value, or ``None`` if invalid."""
    value = header.strip(" \t")
    if len(value) < TRACEPARENT_LENGTH:
        return None
    version = value[:2]
    if value[2] != "-" or not _HEX.issuperset(version) or version == "ff":
        return None
    if version == "00":
        if len(value) != TRACEPARENT_LENGTH:
            return None
    elif len(value) > TRACEPARENT_LENGTH and value[TRACEPARENT_LENGTH] != "-":
        return None
    if value[35] != "-" or value[52] != "-":
        return None
    trace_hex, parent_hex, flags_hex = value[3:35], value[36:52], value[53:55]
    if not (
        _HEX.issuperset(trace_hex) and _HEX.issuperset(parent_hex) and _HEX.issuperset(flags_hex)
    ):
        return None
    trace_id = int(trace_hex, 16)
    parent_id = int(parent_hex, 16)
    if not trace_id or not parent_id:
        return None
    return trace_id, parent_id, int(flags_hex, 16)


def format_traceparent(trace_id: int, span_id: int, flags: int) -> str:
    """A version ``00`` ``traceparent``; only the sampled and random flags are sent."""
    return f"00-{trace_id:032x}-{span_id:016x}-{flags & 0x03:02x}"


def is_valid_key(key: str) -> bool:
    """Whether ``key`` is a ``tracestate`` key: ``( lcalpha / DIGIT ) 0*255 ( keychar )``."""
    return 0 < len(key) <= MAX_KEY_LENGTH and key[0] in _KEY_FIRST and _KEY_CHARS.issuperset(key)


def is_valid_value(value: str) -> bool:
    """Whether ``value`` is a ``tracestate`` value."""
    return (
        0 < len(value) <= MAX_VALUE_LENGTH and value[-1] != " " and _VALUE_CHARS.issuperset(value)
    )


def parse_tracestate(header: str) -> str | None:
    """Normalised ``tracestate`` (members joined by ``,``, each key once); ``""`` if empty,
    ``None`` if invalid."""
    if len(header) > MAX_TRACESTATE_LENGTH:  # no valid one is this long: bounded work
        return None
    members: list[str] = []
    keys: set[str] = set()
    count = 0
    for raw in header.split(","):
        member = raw.strip(" \t")
        if not member:
            continue
        count += 1
        if count > MAX_TRACESTATE_MEMBERS:
            return None
        key, sep, value = member.partition("=")
        if not sep or not is_valid_key(key) or not is_valid_value(value):
            return None
        if key not in keys:
            keys.add(key)
            members.append(member)
    return ",".join(members)
