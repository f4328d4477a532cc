"""Every W3C Trace Context grammar rule, swept character by character and at every boundary.

The rules are those of the specification text at w3c/trace-context acab820 (the commit whose
conformance suite ``tests/test_w3c_harness.py`` runs, ``tests/w3c_harness/VENDORED.md``):

* ``key = ( lcalpha / DIGIT ) 0*255 ( keychar )``, ``keychar = lcalpha / DIGIT / "_" / "-" /
  "*" / "/" / "@"``: one grammar, 1 to 256 characters, ``@`` anywhere but first. (Level 1's
  ``simple-key`` / ``tenant@system`` split is gone; every key it allowed is still allowed, and
  ``foo@``, ``foo@@bar``, ``a@b@c`` and a 15-character system part now are too: the suite
  expects them to be propagated.)
* ``value = 0*255(chr) nblk-chr``, ``chr = %x20 / nblk-chr``, ``nblk-chr = %x21-2B / %x2D-3C /
  %x3E-7E``: leading spaces belong to the value, trailing ones are optional whitespace.
* ``list = list-member 0*31( OWS "," OWS list-member )``, ``list-member = (key "=" value) /
  OWS``: at most 32 members; empty and whitespace-only members are allowed; OWS is spaces and
  tabs only; several header lines are one list, in order.
* A duplicate key: "vendors MAY discard duplicate keys": the first (left-most, most recent)
  member is kept, later ones are dropped (the suite accepts either; sending one key twice would
  break the "MUST NOT result in the same key being present multiple times" rule downstream).
* Any other malformed member makes the whole ``tracestate`` invalid: it is discarded, and the
  ``traceparent`` is still used.

The expected sets below are written from the ABNF, independently of the parser's own tables.
"""

from __future__ import annotations

import pytest

import codetrace.runtime as rt
from codetrace.runtime._tracecontext import (
    MAX_TRACESTATE_LENGTH,
    is_valid_key,
    is_valid_value,
    parse_traceparent,
    parse_tracestate,
)

LCALPHA = {chr(c) for c in range(0x61, 0x7B)}
DIGIT = set("0123456789")
KEYCHAR = LCALPHA | DIGIT | set("_-*/@")
NBLK_CHR = {chr(c) for c in [*range(0x21, 0x2C), *range(0x2D, 0x3D), *range(0x3E, 0x7F)]}
CHR = NBLK_CHR | {" "}
HEXDIGLC = set("0123456789abcdef")
OWS = " \t"
#: every ASCII character and some that look like ASCII or whitespace but are not
CANDIDATES = [chr(c) for c in range(0x80)] + ["\x85", "\xa0", "é", "ß", "\u2028", "\uff41"]

TRACE = "12345678901234567890123456789012"
PARENT = "1234567890123456"
TRACEPARENT = f"00-{TRACE}-{PARENT}-00"


def _extracted_state(*lines: str) -> str:
    """The ``tracestate`` ``extract`` keeps for these header lines; the traceparent must survive."""
    context = rt.extract({"traceparent": TRACEPARENT, "tracestate": list(lines)})
    assert context.trace_id == int(TRACE, 16), "tracestate must never affect traceparent"
    return context.trace_state


# -- tracestate keys ----------------------------------------------------------------------------


def test_key_first_character_is_lcalpha_or_digit() -> None:
    wrong = [c for c in CANDIDATES if is_valid_key(c + "abc") != (c in LCALPHA | DIGIT)]
    assert wrong == []


def test_key_later_characters_are_keychars() -> None:
    wrong = [
        c for c in CANDIDATES
        if is_valid_key("a" + c) != (c in KEYCHAR) or is_valid_key("a" + c + "z") != (c in KEYCHAR)
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("a", True),
        ("0", True),
        ("z" * 256, True),
        ("z" * 257, False),
        ("", False),
        ("1" + "@" * 255, True),
        ("t" * 241 + "@" + "v" * 14, True),  # Level 1's longest tenant@system
        ("t" * 242 + "@v", True),  # longer tenant: allowed since acab820
        ("t@" + "v" * 15, True),  # longer system part: allowed since acab820
        ("t" * 255 + "@", True),
        ("t" * 255 + "@v", False),  # 257 characters
    ],
    ids=["one-letter", "one-digit", "256", "257", "empty", "ats-after-digit", "l1-tenant-max",
         "long-tenant", "long-system", "trailing-at-256", "257-with-at"],
)
def test_key_length_is_1_to_256_in_total(key: str, valid: bool) -> None:
    assert is_valid_key(key) is valid
    assert (_extracted_state("foo=1", key + "=1") == f"foo=1,{key}=1") is valid
    assert (_extracted_state("foo=1", key + "=1") == "") is not valid


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("foo@", True),
        ("foo@@bar", True),
        ("foo@bar@baz", True),
        ("special@vendor", True),
        ("1tenant@vendor", True),
        ("tenant@1vendor", True),
        ("1special", True),
        ("@foo", False),
        ("@", False),
        ("foo.bar", False),
        ("FOO", False),
        ("foo@Bar", False),
        ("foo ", False),
        (" foo x", False),
    ],
)
def test_at_signs_and_illegal_keys(key: str, valid: bool) -> None:
    """The conformance suite's ``test_tracestate_key_illegal_vendor_format`` and
    ``test_tracestate_key_illegal_characters`` cases, and their neighbours."""
    assert is_valid_key(key) is valid
    expected = f"{key}=1,bar=2" if valid else ""
    assert _extracted_state(f"{key}=1,bar=2") == expected


# -- tracestate values --------------------------------------------------------------------------


def test_value_characters_are_printable_ascii_except_comma_and_equals() -> None:
    wrong = [
        c for c in CANDIDATES
        if is_valid_value("a" + c + "z") != (c in CHR) or is_valid_value(c) != (c in NBLK_CHR)
    ]
    assert wrong == []


def test_value_may_start_but_not_end_with_a_space() -> None:
    assert is_valid_value(" a")
    assert is_valid_value("  a b")
    assert not is_valid_value("a ")
    assert not is_valid_value(" ")
    assert parse_tracestate("foo=  1") == "foo=  1"  # leading spaces are part of the value


@pytest.mark.parametrize(
    ("value", "valid"),
    [("v", True), ("v" * 256, True), ("v" * 257, False), ("", False),
     (" " + "v" * 255, True), (" " + "v" * 256, False)],
    ids=["1", "256", "257", "empty", "space+255", "space+256"],
)
def test_value_length_is_1_to_256(value: str, valid: bool) -> None:
    assert is_valid_value(value) is valid
    assert (parse_tracestate(f"foo={value}") == f"foo={value}") is valid


@pytest.mark.parametrize("header", ["foo=bar=baz", "foo=,bar=3", "foo= ,bar=3", "foo=\t1"])
def test_malformed_values_discard_the_whole_tracestate(header: str) -> None:
    assert parse_tracestate(header) is None
    assert _extracted_state(header) == ""


# -- list members -------------------------------------------------------------------------------


@pytest.mark.parametrize("member", ["foo", "=1", "=", "foo:1", "foo=1=", "foo 1"])
def test_a_member_without_exactly_one_key_value_pair_is_malformed(member: str) -> None:
    assert parse_tracestate(f"bar=2,{member}") is None


def test_only_spaces_and_tabs_are_optional_whitespace() -> None:
    wrong = []
    for c in CANDIDATES:
        header = f"foo=1{c},{c}bar=2"
        expected = "foo=1,bar=2" if c in OWS else None
        if c in NBLK_CHR or c == ",":  # part of the value or key then, or a separator
            continue
        if parse_tracestate(header) != expected:
            wrong.append(c)
        if parse_tracestate(f"{c}foo=1{c}") != ("foo=1" if c in OWS else None):
            wrong.append(c)
    assert wrong == []


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", ""),
        (",", ""),
        (" , \t ,", ""),
        ("foo=1,,bar=2", "foo=1,bar=2"),
        (" , \t,foo=1, ", "foo=1"),
        ("foo=1 \t , \t bar=2, \t baz=3", "foo=1,bar=2,baz=3"),
        ("foo=1\t \t,\t \tbar=2,\t \tbaz=3", "foo=1,bar=2,baz=3"),
        ("\t foo=1 \t", "foo=1"),
    ],
)
def test_empty_members_and_ows_are_dropped(header: str, expected: str) -> None:
    assert parse_tracestate(header) == expected


def _members(first: int, last: int) -> str:
    return ",".join(f"bar{i:02d}={i:02d}" for i in range(first, last + 1))


def test_at_most_32_members() -> None:
    assert parse_tracestate(_members(1, 32)) == _members(1, 32)
    assert parse_tracestate(_members(1, 33)) is None
    lines = [_members(1, 10), _members(11, 20), _members(21, 30), _members(31, 32)]
    assert _extracted_state(*lines) == _members(1, 32)
    assert _extracted_state(*lines[:3], _members(31, 33)) == ""


def test_empty_members_do_not_count_towards_32() -> None:
    assert parse_tracestate(_members(1, 32) + ",,, ,") == _members(1, 32)


def test_duplicates_count_towards_32() -> None:
    assert parse_tracestate(_members(1, 32) + ",bar01=x") is None


# -- duplicate keys -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (("foo=1,foo=1",), "foo=1"),
        (("foo=1,foo=2",), "foo=1"),
        (("foo=1", "foo=1"), "foo=1"),
        (("foo=1", "foo=2"), "foo=1"),
        (("foo=1,bar=2,foo=3,baz=4",), "foo=1,bar=2,baz=4"),
        (("a@b=1,a@b=2,a@c=3",), "a@b=1,a@c=3"),
    ],
)
def test_a_duplicate_key_keeps_the_first_member_and_the_rest(
    lines: tuple[str, ...], expected: str
) -> None:
    """The conformance suite's ``test_tracestate_duplicated_keys``: the tracestate is inherited
    with one of the duplicates; we keep the left-most, and never send a key twice."""
    assert _extracted_state(*lines) == expected


def test_a_duplicate_does_not_excuse_a_malformed_member() -> None:
    assert parse_tracestate("foo=1,foo=2,BAD=3") is None


# -- several header lines, and the traceparent they depend on -----------------------------------


def test_header_lines_combine_in_order_whatever_the_name_case() -> None:
    carrier = {"traceparent": TRACEPARENT, "tracestate": "foo=1,bar=2", "TraceState": "baz=3"}
    assert rt.extract(carrier).trace_state == "foo=1,bar=2,baz=3"
    assert _extracted_state("foo=1,bar=2", "rojo=1,congo=2", "baz=3") == (
        "foo=1,bar=2,rojo=1,congo=2,baz=3"
    )


@pytest.mark.parametrize("lines", [("", "foo=1"), ("foo=1", ""), ("foo=1", " ", "")])
def test_empty_header_lines_are_harmless(lines: tuple[str, ...]) -> None:
    assert _extracted_state(*lines) == "foo=1"


def test_one_bad_line_discards_the_combined_tracestate() -> None:
    assert _extracted_state("foo=1", "@bar=2") == ""


@pytest.mark.parametrize("traceparent", [None, "00-bad", f"00-{'0' * 32}-{PARENT}-00"])
def test_tracestate_is_not_read_without_a_valid_traceparent(traceparent: str | None) -> None:
    carrier = {"tracestate": "foo=1"}
    if traceparent is not None:
        carrier["traceparent"] = traceparent
    assert rt.extract(carrier).trace_state == ""


def test_an_oversized_tracestate_is_refused_without_parsing_it() -> None:
    assert parse_tracestate(("a=b," * MAX_TRACESTATE_LENGTH)[: MAX_TRACESTATE_LENGTH + 1]) is None
    # the longest valid one fits: 32 members of a 256-character key and value, with OWS
    longest = " , ".join(f"{i:02d}{'k' * 254}={'v' * 256}" for i in range(32))
    assert len(longest) <= MAX_TRACESTATE_LENGTH
    assert parse_tracestate(longest) == longest.replace(" , ", ",")


# -- inject writes only what the grammar allows --------------------------------------------------


@pytest.mark.parametrize(
    ("state", "sent"),
    [
        ("foo@=1,bar=2", "foo@=1,bar=2"),
        ("foo=1,foo=2", "foo=1"),
        ("foo=1 , bar=2", "foo=1,bar=2"),
        ("@foo=1", None),
        ("foo=1\r\nx-injected: yes", None),
        ("foo=1,\x00=2", None),
    ],
)
def test_inject_sends_the_validated_tracestate(state: str, sent: str | None) -> None:
    carrier: dict[str, str] = {}
    rt.inject(carrier, span=rt.Context(int(TRACE, 16), int(PARENT, 16), 1, state))
    assert carrier.get("tracestate") == sent
    assert carrier["traceparent"] == f"00-{TRACE}-{PARENT}-01"


# -- traceparent, character by character ---------------------------------------------------------

#: (start, end) of each hex field of a version 00 traceparent
FIELDS = {"version": (0, 2), "trace-id": (3, 35), "parent-id": (36, 52), "flags": (53, 55)}


@pytest.mark.parametrize("field", list(FIELDS))
def test_every_hex_field_takes_lowercase_hex_only(field: str) -> None:
    start, end = FIELDS[field]
    base = f"01-{TRACE}-{PARENT}-01"  # version 01: a future version, parsed as 00 is
    wrong = []
    for position in (start, end - 1):
        for c in CANDIDATES:
            header = base[:position] + c + base[position + 1 :]
            valid = c in HEXDIGLC and not (field == "version" and header[:2] == "ff")
            if (parse_traceparent(header) is not None) != valid:
                wrong.append((position, c))
    assert wrong == []


@pytest.mark.parametrize("position", [2, 35, 52])
def test_separators_are_dashes(position: int) -> None:
    wrong = []
    for c in CANDIDATES:
        header = TRACEPARENT[:position] + c + TRACEPARENT[position + 1 :]
        if (parse_traceparent(header) is not None) != (c == "-"):
            wrong.append(c)
    assert wrong == []


def test_only_spaces_and_tabs_around_the_traceparent_are_ignored() -> None:
    wrong = [
        c for c in CANDIDATES
        if (parse_traceparent(c + TRACEPARENT + c) is not None) != (c in OWS)
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("header", "valid"),
    [
        (f"00-{'0' * 32}-{PARENT}-01", False),
        (f"00-{TRACE}-{'0' * 16}-01", False),
        (f"ff-{TRACE}-{PARENT}-01", False),
        (f"fe-{TRACE}-{PARENT}-01", True),
        (f"cc-{TRACE}-{PARENT}-01-what-the-future-will-be-like", True),
        (f"cc-{TRACE}-{PARENT}-01.what-the-future-will-be-like", False),
        (f"00-{TRACE}-{PARENT}-01-what-the-future-will-be-like", False),
        (f"00-{TRACE}-{PARENT}-01.", False),
        (f"00-{TRACE}-{PARENT}-1", False),
        (f"cc-{TRACE}-{PARENT}-1", False),
        (f"00-{TRACE}-{PARENT}-01,00-{TRACE}-{PARENT}-01", False),  # two header lines
    ],
)
def test_ids_versions_and_lengths(header: str, valid: bool) -> None:
    assert (parse_traceparent(header) is not None) is valid
