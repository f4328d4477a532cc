"""W3C Trace Context: one test (or table row) per rule of the traceparent and tracestate sections.

Vectors are the specification's own examples (``4bf92f35...``, ``rojo``/``congo``) and the
cases its conformance suite sends. Each rule is checked on the parser and through ``extract``.
"""

from __future__ import annotations

import pytest

import codetrace.runtime as rt
from codetrace.runtime._tracecontext import (
    format_traceparent,
    is_valid_key,
    is_valid_value,
    parse_traceparent,
    parse_tracestate,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{PARENT}-01"
SUITE_TRACE = "12345678901234567890123456789012"
SUITE_PARENT = "1234567890123456"


# -- traceparent: valid values ------------------------------------------------------------------


def test_spec_example_sampled() -> None:
    assert parse_traceparent(VALID) == (int(TRACE, 16), int(PARENT, 16), 0x01)


def test_spec_example_not_sampled() -> None:
    assert parse_traceparent(f"00-{TRACE}-{PARENT}-00") == (int(TRACE, 16), int(PARENT, 16), 0)


def test_spec_relationship_example() -> None:
    header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert parse_traceparent(header) == (
        0x0AF7651916CD43DD8448EB211C80319C,
        0xB7AD6B7169203331,
        1,
    )


def test_flags_are_a_bit_field() -> None:
    # "a flag 00000001 could be encoded as 01 in hex, or 09 in hex if present with 00001000"
    parsed = parse_traceparent(f"00-{TRACE}-{PARENT}-09")
    assert parsed is not None and parsed[2] & 0x01


def test_random_flag_is_read() -> None:
    parsed = parse_traceparent(f"00-{TRACE}-{PARENT}-03")
    assert parsed is not None and parsed[2] == 0x03


@pytest.mark.parametrize("ows", [" ", "\t", " \t"])
def test_optional_whitespace_around_the_value_is_ignored(ows: str) -> None:
    assert parse_traceparent(ows + VALID) is not None
    assert parse_traceparent(VALID + ows) is not None
    assert parse_traceparent(ows + VALID + ows) is not None


# -- traceparent: version -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        f"ff-{SUITE_TRACE}-{SUITE_PARENT}-01",  # version ff is forbidden
        f".0-{SUITE_TRACE}-{SUITE_PARENT}-01",  # illegal characters
        f"0.-{SUITE_TRACE}-{SUITE_PARENT}-01",
        f"0A-{SUITE_TRACE}-{SUITE_PARENT}-01",  # uppercase hex
        f"000-{SUITE_TRACE}-{SUITE_PARENT}-01",  # too long
        f"0000-{SUITE_TRACE}-{SUITE_PARENT}-01",
        f"0-{SUITE_TRACE}-{SUITE_PARENT}-01",  # too short
    ],
)
def test_invalid_version(header: str) -> None:
    assert parse_traceparent(header) is None


@pytest.mark.parametrize(
    "header",
    [
        f"00-{SUITE_TRACE}-{SUITE_PARENT}-01.",  # version 00: exactly 55 characters
        f"00-{SUITE_TRACE}-{SUITE_PARENT}-01-what-the-future-will-be-like",
    ],
)
def test_version_00_must_have_exactly_four_fields(header: str) -> None:
    assert parse_traceparent(header) is None


@pytest.mark.parametrize(
    "header",
    [
        f"cc-{SUITE_TRACE}-{SUITE_PARENT}-01",
        f"cc-{SUITE_TRACE}-{SUITE_PARENT}-01-what-the-future-will-be-like",
        f"01-{SUITE_TRACE}-{SUITE_PARENT}-01-",
    ],
)
def test_higher_version_parses_first_four_fields_and_ignores_the_rest(header: str) -> None:
    assert parse_traceparent(header) == (int(SUITE_TRACE, 16), int(SUITE_PARENT, 16), 1)


@pytest.mark.parametrize(
    "header",
    [
        f"cc-{SUITE_TRACE}-{SUITE_PARENT}-01.what-the-future-will-be-like",  # no dash after flags
        f"cc-{SUITE_TRACE}-{SUITE_PARENT}-0",  # shorter than 55 characters
        f"cc-{SUITE_TRACE}x{SUITE_PARENT}-01",  # trace id not followed by a dash
        f"cc-{SUITE_TRACE}-{SUITE_PARENT}x01",  # parent id not followed by a dash
        f"cc-{TRACE.upper()}-{PARENT}-01",  # still lowercase hex only
    ],
)
def test_higher_version_still_validates_what_it_parses(header: str) -> None:
    assert parse_traceparent(header) is None


def test_we_always_send_version_00_and_only_known_flags() -> None:
    assert format_traceparent(int(TRACE, 16), int(PARENT, 16), 0xFF) == f"00-{TRACE}-{PARENT}-03"
    assert format_traceparent(1, 2, 0) == "00-" + "0" * 31 + "1-" + "0" * 15 + "2-00"


# -- traceparent: trace-id, parent-id, flags ----------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        f"00-{'0' * 32}-{SUITE_PARENT}-01",  # all-zero trace id
        f"00-.{SUITE_TRACE[1:]}-{SUITE_PARENT}-01",  # illegal characters
        f"00-{SUITE_TRACE[:-1]}.-{SUITE_PARENT}-01",
        f"00-{TRACE.upper()}-{PARENT}-01",  # uppercase (not HEXDIGLC)
        f"00-{SUITE_TRACE}3-{SUITE_PARENT}-01",  # too long
        f"00-{SUITE_TRACE[:-1]}-{SUITE_PARENT}-01",  # too short
    ],
)
def test_invalid_trace_id(header: str) -> None:
    assert parse_traceparent(header) is None


@pytest.mark.parametrize(
    "header",
    [
        f"00-{SUITE_TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"00-{SUITE_TRACE}-.{SUITE_PARENT[1:]}-01",
        f"00-{SUITE_TRACE}-{SUITE_PARENT[:-1]}.-01",
        f"00-{TRACE}-{PARENT.upper()}-01",
        f"00-{SUITE_TRACE}-{SUITE_PARENT}7-01",  # too long
        f"00-{SUITE_TRACE}-{SUITE_PARENT[:-1]}-01",  # too short
    ],
)
def test_invalid_parent_id(header: str) -> None:
    assert parse_traceparent(header) is None


@pytest.mark.parametrize(
    "header",
    [
        f"00-{SUITE_TRACE}-{SUITE_PARENT}-.0",
        f"00-{SUITE_TRACE}-{SUITE_PARENT}-0.",
        f"00-{SUITE_TRACE}-{SUITE_PARENT}-0A",
        f"00-{SUITE_TRACE}-{SUITE_PARENT}-001",  # too long
        f"00-{SUITE_TRACE}-{SUITE_PARENT}-1",  # too short
    ],
)
def test_invalid_flags(header: str) -> None:
    assert parse_traceparent(header) is None


@pytest.mark.parametrize("header", ["", "garbage", "-" * 55, "\x00" * 60, "ö" * 55])
def test_garbage_never_raises(header: str) -> None:
    assert parse_traceparent(header) is None


# -- traceparent through extract -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["traceparent", "TraceParent", "TrAcEpArEnT", "TRACEPARENT"])
def test_header_name_in_any_case(name: str) -> None:
    context = rt.extract({name: VALID})
    assert (context.trace_id, context.span_id, context.trace_flags) == (
        int(TRACE, 16),
        int(PARENT, 16),
        1,
    )
    assert context.is_valid and context.sampled


@pytest.mark.parametrize("name", ["trace-parent", "trace.parent", "traceparent2"])
def test_wrong_header_names_are_not_read(name: str) -> None:
    assert not rt.extract({name: VALID}).is_valid


def test_duplicated_traceparent_is_invalid() -> None:
    carrier = {
        "traceparent": f"00-{SUITE_TRACE[:-1]}1-{SUITE_PARENT}-01",
        "TraceParent": f"00-{SUITE_TRACE}-{SUITE_PARENT}-01",
    }
    assert not rt.extract(carrier).is_valid
    assert not rt.extract({"traceparent": [VALID, VALID]}).is_valid


def test_invalid_traceparent_starts_a_new_trace(exporter: rt.InMemorySpanExporter) -> None:
    context = rt.extract({"traceparent": f"00-{'0' * 32}-{SUITE_PARENT}-01"})
    with rt.span("server", parent=context) as s:
        pass
    assert s.trace_id != 0 and s.parent_id == 0 and not s.is_remote_parent


def test_tracestate_is_not_read_when_traceparent_is_invalid() -> None:
    context = rt.extract({"traceparent": "00-bad", "tracestate": "foo=1"})
    assert context.trace_state == ""
    assert not rt.extract({"tracestate": "foo=1"}).is_valid


def test_bytes_header_values_are_read() -> None:
    assert rt.extract({b"traceparent": VALID.encode()}).is_valid  # type: ignore[dict-item]


# -- tracestate ----------------------------------------------------------------------------------


def _state(*headers: str) -> str:
    carrier: dict[str, object] = {"traceparent": f"00-{SUITE_TRACE}-{SUITE_PARENT}-00"}
    carrier["tracestate"] = list(headers)
    context = rt.extract(carrier)
    assert context.trace_id == int(SUITE_TRACE, 16)  # tracestate never affects traceparent
    return context.trace_state


def test_spec_examples() -> None:
    assert parse_tracestate("congo=t61rcWkgMzE") == "congo=t61rcWkgMzE"
    assert parse_tracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE") == (
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    )
    assert parse_tracestate("vendorname1=opaqueValue1,vendorname2=opaqueValue2") is not None


def test_tracestate_with_traceparent_is_inherited() -> None:
    assert _state("foo=1,bar=2") == "foo=1,bar=2"


@pytest.mark.parametrize("name", ["TraceState", "TrAcEsTaTe", "TRACESTATE"])
def test_tracestate_header_name_any_case(name: str) -> None:
    carrier = {"traceparent": VALID, name: "foo=1"}
    assert rt.extract(carrier).trace_state == "foo=1"


@pytest.mark.parametrize("name", ["trace-state", "trace.state"])
def test_tracestate_wrong_header_names(name: str) -> None:
    assert rt.extract({"traceparent": VALID, name: "foo=1"}).trace_state == ""


def test_empty_tracestate_is_accepted() -> None:
    assert parse_tracestate("") == ""
    assert _state("") == ""
    assert _state("foo=1", "") == "foo=1"
    assert _state("", "foo=1") == "foo=1"


def test_multiple_headers_combine_in_order() -> None:
    assert _state("foo=1,bar=2", "rojo=1,congo=2", "baz=3") == ("foo=1,bar=2,rojo=1,congo=2,baz=3")


@pytest.mark.parametrize(
    "header",
    ["foo=1 \t , \t bar=2, \t baz=3", "foo=1\t \t,\t \tbar=2,\t \tbaz=3"],
)
def test_optional_whitespace_around_commas(header: str) -> None:
    assert parse_tracestate(header) == "foo=1,bar=2,baz=3"


@pytest.mark.parametrize("header", [" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t"])
def test_optional_whitespace_around_the_list(header: str) -> None:
    assert parse_tracestate(header) == "foo=1"


def test_empty_and_whitespace_only_members_are_allowed() -> None:
    assert parse_tracestate("foo=1,,bar=2") == "foo=1,bar=2"
    assert parse_tracestate(" , \t,foo=1, ") == "foo=1"


@pytest.mark.parametrize(
    "headers",
    [("foo=1,foo=1",), ("foo=1,foo=2",), ("foo=1", "foo=1"), ("foo=1", "foo=2")],
)
def test_duplicate_keys_keep_the_first_member(headers: tuple[str, ...]) -> None:
    assert _state(*headers) == "foo=1"  # the suite's test_tracestate_duplicated_keys


def test_all_allowed_characters() -> None:
    key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/"
    value = (
        "".join(map(chr, range(0x20, 0x2C)))
        + "".join(map(chr, range(0x2D, 0x3D)))
        + "".join(map(chr, range(0x3E, 0x7F)))
    )
    assert _state(f"{key}={value}") == f"{key}={value}"
    vendor_key = key + "@a-z0-9_-*/"
    assert _state(f"{vendor_key}={value}") == f"{vendor_key}={value}"


def test_leading_space_is_part_of_the_value() -> None:
    assert parse_tracestate("foo= 1") == "foo= 1"


@pytest.mark.parametrize("header", ["foo =1", "FOO=1", "foo.bar=1", "_foo=1", "=1", "@foo=1"])
def test_illegal_keys_discard_the_tracestate(header: str) -> None:
    assert _state(header, "bar=2") == ""


@pytest.mark.parametrize("header", ["foo@=1,bar=2", "foo@@bar=1,bar=2", "foo@bar@baz=1,bar=2"])
def test_at_signs_after_the_first_character(header: str) -> None:
    """Since w3c/trace-context #584 a key is ``( lcalpha / DIGIT ) 0*255 keychar`` with ``@``
    a keychar: these are propagated (tests/runtime/test_tracecontext_grammar.py sweeps it)."""
    assert _state(header) == header


def test_keys_may_start_with_a_digit() -> None:
    assert is_valid_key("1tenant@vendor")
    assert is_valid_key("tenant@1vendor")
    assert is_valid_key("1foo")


def test_key_length_limits() -> None:
    assert _state("foo=1", "z" * 256 + "=1").startswith("foo=1,")
    assert _state("foo=1", "z" * 257 + "=1") == ""
    assert _state("foo=1", "t" * 241 + "@" + "v" * 14 + "=1") != ""
    assert _state("foo=1", "t" * 242 + "@v=1") != ""  # 256 in total: no tenant/system limits
    assert _state("foo=1", "t@" + "v" * 15 + "=1") != ""


@pytest.mark.parametrize(
    "header",
    ["foo=bar=baz", "foo=,bar=3", "foo", "foo=a\tb", "foo=\x7f", "foo=é", "foo=" + "v" * 257],
)
def test_illegal_values_discard_the_tracestate(header: str) -> None:
    assert _state(header) == ""


def test_value_length_limit() -> None:
    assert is_valid_value("v" * 256)
    assert not is_valid_value("v" * 257)
    assert not is_valid_value("")


def test_value_may_not_end_with_space_but_trailing_ows_is_stripped() -> None:
    assert not is_valid_value("a ")
    assert parse_tracestate("foo=a ") == "foo=a"


def test_member_count_limit_is_32() -> None:
    members = [f"bar{i:02d}={i:02d}" for i in range(1, 34)]
    assert _state(",".join(members[:10]), ",".join(members[10:20]), ",".join(members[20:32])) != ""
    assert len(_state(",".join(members[:32])).split(",")) == 32
    assert _state(",".join(members[:33])) == ""


def test_tracestate_propagates_unchanged(exporter: rt.InMemorySpanExporter) -> None:
    context = rt.extract(
        {"traceparent": VALID, "tracestate": "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"}
    )
    with rt.span("server", parent=context) as server, rt.span("client"):
        carrier: dict[str, str] = {}
        rt.inject(carrier)
    assert server.trace_state == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    assert carrier["tracestate"] == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    assert carrier["traceparent"].startswith(f"00-{TRACE}-")


# -- mutation rules: what we send ----------------------------------------------------------------


def test_continuing_a_trace_updates_only_the_parent_id(exporter: rt.InMemorySpanExporter) -> None:
    context = rt.extract({"traceparent": f"00-{SUITE_TRACE}-{SUITE_PARENT}-01"})
    with rt.span("server", parent=context) as server:
        carrier: dict[str, str] = {}
        rt.inject(carrier)
    version, trace_id, parent_id, flags = carrier["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", SUITE_TRACE, "01")
    assert parent_id == f"{server.span_id:016x}" != SUITE_PARENT
    assert server.parent_id == int(SUITE_PARENT, 16) and server.is_remote_parent


def test_each_outgoing_call_gets_its_own_parent_id(exporter: rt.InMemorySpanExporter) -> None:
    context = rt.extract({"traceparent": f"00-{SUITE_TRACE}-{SUITE_PARENT}-01"})
    parents = set()
    for _ in range(3):
        with rt.span("client", parent=context):
            carrier: dict[str, str] = {}
            rt.inject(carrier)
        parents.add(carrier["traceparent"].split("-")[2])
    assert len(parents) == 3


def test_higher_version_is_downgraded_to_00(exporter: rt.InMemorySpanExporter) -> None:
    context = rt.extract({"traceparent": f"cc-{SUITE_TRACE}-{SUITE_PARENT}-01-future"})
    with rt.span("x", parent=context):
        carrier: dict[str, str] = {}
        rt.inject(carrier)
    assert carrier["traceparent"].startswith(f"00-{SUITE_TRACE}-")


def test_unknown_flags_are_sent_as_zero(exporter: rt.InMemorySpanExporter) -> None:
    context = rt.extract({"traceparent": f"00-{SUITE_TRACE}-{SUITE_PARENT}-ff"})
    with rt.span("x", parent=context):
        carrier: dict[str, str] = {}
        rt.inject(carrier)
    assert carrier["traceparent"].endswith("-03")


def test_new_trace_sets_the_random_flag_and_continued_trace_keeps_the_callers(
    exporter: rt.InMemorySpanExporter,
) -> None:
    with rt.span("root") as root:
        pass
    assert root.trace_flags & 0x02
    context = rt.extract({"traceparent": f"00-{SUITE_TRACE}-{SUITE_PARENT}-01"})
    with rt.span("child", parent=context) as child:
        pass
    assert child.trace_flags == 0x01  # caller did not claim a random trace id
