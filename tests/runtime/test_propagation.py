"""W3C Baggage, B3, OTEL_PROPAGATORS and the inject/extract plumbing."""

from __future__ import annotations

import pytest

import codetrace.runtime as rt
from codetrace.runtime._b3 import parse_multi, parse_single
from codetrace.runtime._baggage import MAX_BYTES, MAX_MEMBERS, format_baggage, parse_baggage

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{PARENT}-01"


# -- baggage ---------------------------------------------------------------------------------------


def test_baggage_spec_example_single_header() -> None:
    entries = parse_baggage("userId=alice,serverNode=DF%2028,isProduction=false")
    assert entries == (
        ("userId", "alice", ""),
        ("serverNode", "DF 28", ""),
        ("isProduction", "false", ""),
    )


def test_baggage_spec_example_with_spaces_and_several_headers() -> None:
    context = rt.extract(
        {"baggage": ["userId =   alice", "serverNode = DF%2028, isProduction = false"]}
    )
    assert context.baggage_dict() == {
        "userId": "alice",
        "serverNode": "DF 28",
        "isProduction": "false",
    }


def test_baggage_spec_example_with_properties() -> None:
    header = (
        "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue"
    )
    assert parse_baggage(header) == (
        ("key1", "value1", "property1;property2"),
        ("key2", "value2", ""),
        ("key3", "value3", "propertyKey=propertyValue"),
    )


def test_baggage_value_may_contain_equal_signs() -> None:
    assert parse_baggage("k=a=b==") == (("k", "a=b==", ""),)


def test_baggage_utf8_percent_encoding_round_trips() -> None:
    entries = (("user", "Zoë & co, ltd; 100%", "p=1"),)
    header = format_baggage(entries)
    assert header.isascii() and "," not in header.split("=", 1)[1].split(";")[0]
    assert parse_baggage(header) == entries


@pytest.mark.parametrize(
    "member",
    [
        "no-equals",
        "=value",
        "bad key=v",
        'k="quoted"',
        "k=back\\slash",
        "k=a b",
        "k=%ff%fe",  # not UTF-8 once decoded
        "k=v;bad prop",
        "k=v;",
    ],
)
def test_invalid_baggage_members_are_dropped_alone(member: str) -> None:
    assert parse_baggage(f"a=1,{member},b=2") == (("a", "1", ""), ("b", "2", ""))


def test_baggage_duplicate_keys_kept_in_order() -> None:
    assert [e[1] for e in parse_baggage("k=1,k=2")] == ["1", "2"]


def test_baggage_member_limit() -> None:
    header = ",".join(f"k{i}=v" for i in range(100))
    entries = parse_baggage(header)
    assert len(entries) == MAX_MEMBERS
    assert entries[0][0] == "k0"
    assert len(format_baggage((f"k{i}", "v", "") for i in range(100)).split(",")) == MAX_MEMBERS


def test_baggage_byte_limit() -> None:
    big = "v" * 3000
    entries = parse_baggage(f"a={big},b={big},c={big}")
    assert [e[0] for e in entries] == ["a", "b"]
    header = format_baggage([("a", big, ""), ("b", big, ""), ("c", big, ""), ("d", "1", "")])
    assert len(header.encode()) <= MAX_BYTES
    assert header.endswith(",d=1")


def test_baggage_without_traceparent_still_propagates(exporter: rt.InMemorySpanExporter) -> None:
    context = rt.extract({"baggage": "tenant=acme"})
    assert not context.is_valid
    with rt.span("server", parent=context) as server:
        carrier: dict[str, str] = {}
        rt.inject(carrier)
    assert server.parent_id == 0
    assert carrier["baggage"] == "tenant=acme"
    assert carrier["traceparent"].split("-")[1] == f"{server.trace_id:032x}"


def test_baggage_follows_child_spans(exporter: rt.InMemorySpanExporter) -> None:
    context = rt.extract({"traceparent": VALID, "baggage": "a=1;p"})
    with rt.use_context(context), rt.span("a"), rt.span("b"):
        carrier: dict[str, str] = {}
        rt.inject(carrier)
    assert carrier["baggage"] == "a=1;p"


# -- b3 --------------------------------------------------------------------------------------------


def test_b3_single_examples() -> None:
    assert parse_single(f"{TRACE}-{PARENT}-1") == (int(TRACE, 16), int(PARENT, 16), 1)
    assert parse_single(f"{TRACE}-{PARENT}-d-{PARENT}") == (int(TRACE, 16), int(PARENT, 16), 1)
    assert parse_single(f"{TRACE}-{PARENT}-0") == (int(TRACE, 16), int(PARENT, 16), 0)
    assert parse_single(f"{TRACE}-{PARENT}") == (int(TRACE, 16), int(PARENT, 16), 0)
    assert parse_single(f"{PARENT}-{PARENT}-1") == (int(PARENT, 16), int(PARENT, 16), 1)
    assert parse_single(f"{TRACE.upper()}-{PARENT}-1") is not None


@pytest.mark.parametrize(
    "header",
    [
        "0",
        "1",
        "d",
        f"{TRACE}-{PARENT}-x",
        f"{TRACE}-123-1",
        f"{TRACE[:20]}-{PARENT}-1",
        f"{TRACE}-{PARENT}-1-zz",
        f"{'0' * 32}-{PARENT}-1",
        f"{TRACE}-{PARENT}-1-{PARENT}-x",
    ],
)
def test_b3_single_invalid(header: str) -> None:
    assert parse_single(header) is None


def test_b3_multi() -> None:
    assert parse_multi(TRACE, PARENT, "1", None) == (int(TRACE, 16), int(PARENT, 16), 1)
    assert parse_multi(TRACE, PARENT, "true", None) == (int(TRACE, 16), int(PARENT, 16), 1)
    assert parse_multi(TRACE, PARENT, None, "1") == (int(TRACE, 16), int(PARENT, 16), 1)
    assert parse_multi(TRACE, PARENT, "0", None) == (int(TRACE, 16), int(PARENT, 16), 0)
    assert parse_multi(TRACE, None, "1", None) is None
    assert parse_multi("xyz", PARENT, "1", None) is None


def test_b3_round_trip_through_the_environment(
    monkeypatch: pytest.MonkeyPatch, exporter: rt.InMemorySpanExporter
) -> None:
    monkeypatch.setenv("OTEL_PROPAGATORS", "b3")
    rt.reset()
    rt.configure(exporter=exporter)
    context = rt.extract({"B3": f"{TRACE}-{PARENT}-1"})
    assert context.trace_id == int(TRACE, 16)
    with rt.span("x", parent=context) as s:
        carrier: dict[str, str] = {}
        rt.inject(carrier)
    assert carrier == {"b3": f"{TRACE}-{s.span_id:016x}-1"}


def test_b3multi_round_trip(exporter: rt.InMemorySpanExporter) -> None:
    rt.configure(exporter=exporter, propagators="b3multi")
    context = rt.extract({"X-B3-TraceId": PARENT, "X-B3-SpanId": PARENT, "X-B3-Sampled": "0"})
    assert (context.trace_id, context.sampled) == (int(PARENT, 16), False)
    with rt.span("x", parent=context) as s:
        carrier: dict[str, str] = {}
        rt.inject(carrier)
    assert carrier == {
        "x-b3-traceid": "0" * 16 + PARENT,
        "x-b3-spanid": f"{s.span_id:016x}",
        "x-b3-sampled": "0",
    }


# -- OTEL_PROPAGATORS ------------------------------------------------------------------------------


def _injected(propagators: str | None, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    if propagators is not None:
        monkeypatch.setenv("OTEL_PROPAGATORS", propagators)
    rt.reset()
    context = rt.extract({"traceparent": VALID, "tracestate": "a=1", "baggage": "k=v"})
    with rt.use_context(context):
        carrier: dict[str, str] = {}
        rt.inject(carrier)
    return set(carrier)


def test_default_propagators_are_tracecontext_and_baggage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert _injected(None, monkeypatch) == {"traceparent", "tracestate", "baggage"}


@pytest.mark.parametrize(
    ("value", "headers"),
    [
        ("tracecontext", {"traceparent", "tracestate"}),
        ("baggage", {"baggage"}),
        ("none", set()),
        ("tracecontext,b3", {"traceparent", "tracestate", "b3"}),
        (
            " TraceContext , b3multi ",
            {"traceparent", "tracestate", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled"},
        ),
        ("xray,tracecontext", {"traceparent", "tracestate"}),  # unknown names are ignored
    ],
)
def test_otel_propagators(monkeypatch: pytest.MonkeyPatch, value: str, headers: set[str]) -> None:
    assert _injected(value, monkeypatch) == headers


def test_later_propagator_wins_on_extract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_PROPAGATORS", "tracecontext,b3")
    rt.reset()
    other = "a" * 32
    context = rt.extract({"traceparent": VALID, "b3": f"{other}-{PARENT}-1"})
    assert context.trace_id == int(other, 16)
    context = rt.extract({"traceparent": VALID, "b3": "garbage"})
    assert context.trace_id == int(TRACE, 16)


def test_unknown_propagator_is_logged_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_PROPAGATORS", "jaeger")
    rt.reset()
    rt.extract({})
    rt.extract({})
    messages = [r.getMessage() for r in caplog.records if "jaeger" in r.getMessage()]
    assert len(messages) == 1


# -- inject/extract plumbing -----------------------------------------------------------------------


def test_inject_outside_any_span_writes_nothing() -> None:
    carrier: dict[str, str] = {}
    rt.inject(carrier)
    assert carrier == {}


def test_inject_an_explicit_span_or_context(exporter: rt.InMemorySpanExporter) -> None:
    with rt.span("x") as s:
        pass
    carrier: dict[str, str] = {}
    rt.inject(carrier, span=s)
    assert carrier["traceparent"] == f"00-{s.trace_id:032x}-{s.span_id:016x}-03"
    carrier = {}
    rt.inject(carrier, span=rt.extract({"traceparent": VALID}))
    assert carrier["traceparent"] == VALID  # pass-through


def test_extract_never_raises() -> None:
    class Weird:
        def items(self) -> object:
            raise RuntimeError("no items")

    assert not rt.extract(Weird()).is_valid  # type: ignore[arg-type]
    assert not rt.extract({1: 2, None: object()}).is_valid  # type: ignore[dict-item]


def test_inject_never_raises() -> None:
    class ReadOnly(dict[str, str]):
        def __setitem__(self, key: str, value: str) -> None:
            raise TypeError("read-only")

    with rt.span("x"):
        rt.inject(ReadOnly())


def test_extract_reads_http_message_headers() -> None:
    import email.message

    message = email.message.Message()
    message["TraceParent"] = VALID
    assert rt.extract(message).trace_id == int(TRACE, 16)  # type: ignore[arg-type]


def test_context_value_semantics() -> None:
    a = rt.extract({"traceparent": VALID})
    b = rt.extract({"TRACEPARENT": VALID})
    assert a == b
    assert a != rt.Context()
    assert "4bf92f35" in repr(a)
    assert rt.Context().baggage_dict() == {}


@pytest.mark.parametrize("state", [
    "a=b\r\nX-Injected: yes", "a=b\nX: y", "a=b\rX: y", "a=b,\x00=c", "no-equals-sign",
    "UPPER=case", "a=" + "v" * 300,
])
def test_inject_never_writes_an_invalid_tracestate(state: str) -> None:
    """A ``Context`` built by user code may carry anything: a header value with CR/LF or an
    invalid member is never written into a carrier (issue 10: header injection)."""
    context = rt.Context(0x1234, 0x5678, 1, state)
    carrier: dict[str, str] = {}
    rt.inject(carrier, span=context)
    assert "traceparent" in carrier
    assert "tracestate" not in carrier
    assert not any("\r" in v or "\n" in v for v in carrier.values())


def test_inject_writes_a_valid_tracestate_normalised() -> None:
    carrier: dict[str, str] = {}
    rt.inject(carrier, span=rt.Context(0x1234, 0x5678, 1, "a=1 , b@v=2"))
    assert carrier["tracestate"] == "a=1,b@v=2"


def test_hostile_headers_are_bounded() -> None:
    """Parsing looks at a bounded prefix of any header (issue 10: one hostile carrier took
    197 ms; a 1 MB one, 243 ms): valid members in it are kept, the rest is never parsed."""
    from codetrace.runtime._baggage import SCAN_LIMIT
    from codetrace.runtime._tracecontext import MAX_TRACESTATE_LENGTH, parse_tracestate

    assert parse_tracestate("a=b," * (MAX_TRACESTATE_LENGTH // 4 + 1)) is None
    assert parse_tracestate("," * 1_000_000) is None
    assert parse_tracestate("a=1, b=2") == "a=1,b=2"
    assert [e[0] for e in parse_baggage("k=v,other=w," + "%" * 1_000_000)] == ["k", "other"]
    assert parse_baggage("k=" + "%" * 1_000_000) == ()
    junk_then_valid = "x" * SCAN_LIMIT + ",late=1"
    assert parse_baggage(junk_then_valid) == ()  # beyond the scanned prefix
