"""Fidelity: codetrace's gRPC spans cover OpenTelemetry's on one realistic program.

``fixtures/fidelity/grpc_greeter/greeter.py`` (a ``grpc.server`` and an ``insecure_channel``
imported by name, all four kinds of RPC, a handler that aborts, one that raises, a ``future``
call) and ``greeter_aio.py`` (the same on grpc.aio) each run twice, each in its own process:
under OpenTelemetry's ``GrpcInstrumentorServer``/``GrpcInstrumentorClient`` (the ``Aio`` ones
for grpc.aio; instrumented before the program is imported, their best case), and after
``codetrace apply --out``. Spans are paired by (kind, method, order) and compared: kind,
name, ``rpc.*`` attributes, status code, and the link across the hop. The documented
differences (``_grpc_spans``'s docstring) are asserted too, so a change on either side shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fidelity
import pytest

pytest.importorskip("grpc")
pytest.importorskip("opentelemetry.instrumentation.grpc")

pytestmark = pytest.mark.slow

PROGRAM = Path(__file__).parents[2] / "fixtures" / "fidelity" / "grpc_greeter"

UNDER_OPENTELEMETRY = {
    "greeter.py": fidelity.otel_script(
        "from opentelemetry.instrumentation.grpc import (\n"
        "    GrpcInstrumentorClient, GrpcInstrumentorServer)",
        "GrpcInstrumentorServer().instrument()\nGrpcInstrumentorClient().instrument()",
    ),
    "greeter_aio.py": fidelity.otel_script(
        "from opentelemetry.instrumentation.grpc import (\n"
        "    GrpcAioInstrumentorClient, GrpcAioInstrumentorServer)",
        "GrpcAioInstrumentorServer().instrument()\nGrpcAioInstrumentorClient().instrument()",
    ),
}


@pytest.fixture(scope="module")
def instrumented(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fidelity.instrumented_copy(PROGRAM, tmp_path_factory.mktemp("grpc") / "instrumented")


@pytest.fixture(scope="module", params=sorted(UNDER_OPENTELEMETRY))
def runs(request: pytest.FixtureRequest, instrumented: Path,
         tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    name = request.param
    result = fidelity.run_both(UNDER_OPENTELEMETRY[name], PROGRAM / name, instrumented / name, [],
                               tmp_path_factory.mktemp("fidelity"), stability="http")
    return {**result, "program": name}


def _key(span: dict[str, Any]) -> tuple[str, str]:
    return span["kind"], span["name"].lstrip("/")


def _paired(runs: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    theirs = sorted(runs["otel"], key=_key)
    ours = sorted(runs["ours"], key=_key)
    assert [_key(s) for s in ours] == [_key(s) for s in theirs]
    return list(zip(ours, theirs, strict=True))


def test_the_program_was_instrumented_at_its_construction_sites(runs: dict[str, Any]) -> None:
    source = runs["source"]
    if runs["program"] == "greeter.py":
        assert '_codetrace.traced(grpc.server, "grpc.server")(' in source
        assert '_codetrace.traced(insecure_channel, "grpc.channel")(target)' in source
        assert '_codetrace.traced(grpc.insecure_channel, "grpc.channel")(target)' in source
        assert source.count("_codetrace.traced(") == 3  # no RPC call site is wrapped
    else:
        assert '_codetrace.traced(grpc.aio.server, "grpc.server")()' in source
        assert '_codetrace.traced(grpc.aio.insecure_channel, "grpc.channel")(' in source
        assert source.count("_codetrace.traced(") == 2
    otel_output, ours_output = runs["outputs"]
    assert ours_output == otel_output  # same behaviour
    assert "b'nobody' StatusCode.NOT_FOUND" in ours_output


def _server_crash(span: dict[str, Any]) -> bool:
    return span["kind"] == "SERVER" and span["attributes"].get("error.type") == "UNKNOWN"


def test_codetrace_covers_every_opentelemetry_span(runs: dict[str, Any]) -> None:
    pairs = _paired(runs)
    rpcs = 7 if runs["program"] == "greeter.py" else 6
    assert len(pairs) == 2 * rpcs  # a CLIENT and a SERVER span each
    for mine, other in pairs:
        a, b = mine["attributes"], other["attributes"]
        assert mine["kind"] == other["kind"]
        assert mine["name"] == other["name"].lstrip("/")
        for key in ("rpc.system", "rpc.service", "rpc.method"):
            assert a[key] == b[key], (mine["name"], key)
        if _server_crash(mine):  # see test_the_documented_differences
            continue
        assert a["rpc.grpc.status_code"] == b["rpc.grpc.status_code"], mine["name"]
        assert mine["status"]["code"] == other["status"]["code"], mine["name"]


def test_both_connect_the_client_span_to_the_server_span(runs: dict[str, Any]) -> None:
    for spans in (runs["otel"], runs["ours"]):
        clients = {s["span_id"]: s for s in spans if s["kind"] == "CLIENT"}
        servers = [s for s in spans if s["kind"] == "SERVER"]
        assert len(servers) == len(clients) == (7 if runs["program"] == "greeter.py" else 6)
        for server in servers:
            client = clients[server["parent_span_id"]]
            assert client["trace_id"] == server["trace_id"]
            assert client["name"] == server["name"]


def test_the_documented_differences(runs: dict[str, Any]) -> None:
    pairs = _paired(runs)
    # the conventions' name has no leading slash; OpenTelemetry keeps it
    assert all(other["name"].startswith("/") for _, other in pairs)
    # codetrace names the failure; OpenTelemetry writes no error.type
    failed = [(m, o) for m, o in pairs if m["status"]["code"] == "ERROR"]
    assert sorted((m["kind"], m["attributes"]["error.type"]) for m, _ in failed) == [
        ("CLIENT", "NOT_FOUND"), ("CLIENT", "UNKNOWN"), ("SERVER", "UNKNOWN"),
    ]
    assert all("error.type" not in o["attributes"] for _, o in pairs)
    # a handler that raises: grpc sends UNKNOWN, and codetrace's server span says so (status
    # ERROR, the exception recorded once); OpenTelemetry's keeps status code 0, UNSET
    (crash,) = [(m, o) for m, o in pairs if _server_crash(m)]
    assert crash[0]["attributes"]["rpc.grpc.status_code"] == 2
    assert [e["name"] for e in crash[0]["events"]] == ["exception"]
    assert crash[1]["attributes"]["rpc.grpc.status_code"] == 0
    assert crash[1]["status"]["code"] == "UNSET"
    # OpenTelemetry records an exception event for an abort (and, sync, on the client's side of
    # a failed unary RPC); codetrace records only a handler's own exception (the status says the
    # rest)
    assert sum(e["name"] == "exception" for m, _ in pairs for e in m["events"]) == 1
    assert sum(len(o["events"]) for _, o in pairs) == (5 if runs["program"] == "greeter.py" else 4)
    # the server's peer: the stable names, where OpenTelemetry writes the old ones (as text; its
    # grpc.aio server none); OpenTelemetry's rpc.user_agent and net.peer.name are not made
    for mine, other in pairs:
        if mine["kind"] == "SERVER":
            assert mine["attributes"]["network.peer.address"] == "127.0.0.1"
            assert isinstance(mine["attributes"]["network.peer.port"], int)
            if runs["program"] == "greeter.py":
                assert other["attributes"]["net.peer.ip"] == "127.0.0.1"
                assert isinstance(other["attributes"]["net.peer.port"], str)
            assert "rpc.user_agent" in other["attributes"]
            assert not any(k.startswith(("net.", "rpc.user")) for k in mine["attributes"])
        else:  # the channel's target: OpenTelemetry's sync client records none
            assert mine["attributes"]["server.address"] == "127.0.0.1"
            assert "server.address" not in other["attributes"]
