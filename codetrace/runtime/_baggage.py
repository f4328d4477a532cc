"""W3C Baggage: parse and serialise the ``baggage`` header.

``baggage-string = list-member *( OWS "," OWS list-member )``, each member
``key OWS "=" OWS value *( OWS ";" OWS property )``: the key is an RFC 7230 token, the value is
percent-encoded UTF-8 made of baggage octets (printable ASCII except ``"``, ``,``, ``;``, ``\\``
and space); properties are opaque and kept as written (whitespace trimmed).

Limits: at most 64 members and 8192 bytes are kept, in order, both when reading and when
writing (the specification's minimums, used here as the ceiling to keep memory bounded).
A malformed member is dropped on its own (the specification allows removing it); duplicate keys
are kept in order, as received. Entries are ``(key, decoded value, properties)`` tuples.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._values import BaggageEntry

MAX_MEMBERS = 64
MAX_BYTES = 8192
#: how much of a hostile header is looked at (8 times what may be kept)
SCAN_LIMIT = 8 * MAX_BYTES
MAX_SCANNED_MEMBERS = 8 * MAX_MEMBERS

_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_OCTETS = frozenset(
    chr(code)
    for code in (
        0x21,
        *range(0x23, 0x2C),
        *range(0x2D, 0x3B),
        *range(0x3C, 0x5C),
        *range(0x5D, 0x7F),
    )
)
_SAFE = "".join(sorted(_OCTETS - {"%"}))
_PROPERTY_CHARS = _OCTETS | {";", "="}


def _is_token(text: str) -> bool:
    return bool(text) and _TOKEN_CHARS.issuperset(text)


def _parse_member(member: str) -> BaggageEntry | None:
    from urllib.parse import unquote

    first, *properties = member.split(";")
    key, sep, value = first.partition("=")
    key = key.strip(" \t")
    value = value.strip(" \t")
    if not sep or not _is_token(key) or not _OCTETS.issuperset(value):
        return None
    try:
        decoded = unquote(value, errors="strict")
    except UnicodeDecodeError:
        return None
    kept: list[str] = []
    for prop in properties:
        prop_key, prop_sep, prop_value = prop.partition("=")
        prop_key = prop_key.strip(" \t")
        prop_value = prop_value.strip(" \t")
        if not _is_token(prop_key) or not _OCTETS.issuperset(prop_value):
            return None
        kept.append(f"{prop_key}={prop_value}" if prop_sep else prop_key)
    return key, decoded, ";".join(kept)


def parse_baggage(header: str) -> tuple[BaggageEntry, ...]:
    """The entries of a ``baggage`` header value (several headers joined with ``,``)."""
    entries: list[BaggageEntry] = []
    total = 0
    # bounded work whatever the input: at most SCAN_LIMIT characters are looked at, and a
    # member that could never fit is skipped unparsed
    for raw in header[:SCAN_LIMIT].split(",", MAX_SCANNED_MEMBERS):
        member = raw.strip(" \t")
        if not member or len(member) > MAX_BYTES:
            continue
        entry = _parse_member(member)
        if entry is None:
            continue
        size = len(member.encode("utf-8")) + (1 if entries else 0)
        if len(entries) >= MAX_MEMBERS or total + size > MAX_BYTES:
            break
        entries.append(entry)
        total += size
    return tuple(entries)


def format_baggage(entries: Iterable[BaggageEntry]) -> str:
    """The ``baggage`` header value for ``entries`` (values percent-encoded, limits applied)."""
    from urllib.parse import quote

    members: list[str] = []
    total = 0
    for key, value, properties in entries:
        if not _is_token(key) or len(members) >= MAX_MEMBERS:
            continue
        member = f"{key}={quote(value, safe=_SAFE)}"
        if properties and _PROPERTY_CHARS.issuperset(properties):
            member += ";" + properties
        size = len(member) + (1 if members else 0)
        if total + size > MAX_BYTES:
            continue
        members.append(member)
        total += size
    return ",".join(members)
