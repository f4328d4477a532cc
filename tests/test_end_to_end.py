"""The whole path on the bundled example: apply, run with real servers on 127.0.0.1, read spans.

The instrumented example must print exactly what the original prints (behaviour unchanged), and
its spans must form connected traces across each HTTP hop: demo CLIENT → shop SERVER → shop
function (the inventory client's, traced by the example's rule glob) → shop CLIENT → inventory
SERVER, each parent being the span on the other side of the wire or the function that called.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from codetrace.cli import app
from codetrace.runtime._otlp._json_records import read_json_lines

EXAMPLE = Path(__file__).parent.parent / "fixtures" / "example"


def _run_demo(script: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-W", "error", str(script)], capture_output=True, text=True,
        timeout=120, env={**os.environ, **env}, check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def spans(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], str, str]:
    out = tmp_path_factory.mktemp("e2e") / "example"
    result = CliRunner().invoke(app, ["apply", "--out", str(out), "--no-cache", str(EXAMPLE)])
    assert result.exit_code == 0, result.stderr
    jsonl = out.parent / "spans.jsonl"
    instrumented = _run_demo(out / "run_demo.py", {
        "OTEL_TRACES_EXPORTER": "jsonl", "CODETRACE_JSONL_PATH": str(jsonl),
        "OTEL_SERVICE_NAME": "example",
    })
    original = _run_demo(EXAMPLE / "run_demo.py", {"OTEL_TRACES_EXPORTER": "none"})
    found = read_json_lines(jsonl)
    return found, instrumented, original


def test_behaviour_is_unchanged(spans: tuple[list[dict[str, Any]], str, str]) -> None:
    _, instrumented, original = spans
    assert instrumented == original
    assert "order 201" in original


def _by_id(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {span["span_id"]: span for span in found}


def test_products_trace_is_connected_across_both_hops(
    spans: tuple[list[dict[str, Any]], str, str],
) -> None:
    found = spans[0]
    by_id = _by_id(found)
    server = next(s for s in found if s["name"] == "GET /products")
    assert server["kind"] == "SERVER"
    client = by_id[server["parent_span_id"]]  # the demo's requests.get, across the wire
    assert client["kind"] == "CLIENT" and client["name"] == "GET"
    assert client["parent_span_id"] is None
    assert client["attributes"]["url.full"].endswith("/products")
    assert client["attributes"]["http.response.status_code"] == 200
    assert client["trace_id"] == server["trace_id"]
    # the shop's inventory client functions are children of the shop's server span ...
    functions = [s for s in found if s["parent_span_id"] == server["span_id"]]
    assert sorted(s["name"] for s in functions) == [
        "shop.inventory_client.catalogue", *["shop.inventory_client.stock_level"] * 3]
    assert {s["kind"] for s in functions} == {"INTERNAL"}
    # ... each the parent of its HTTP call to the inventory ...
    children = [s for s in found if s["parent_span_id"] in {f["span_id"] for f in functions}]
    assert len(children) == len(functions)
    urls = sorted(s["attributes"]["url.full"].rsplit("/", 2)[-2:][-1] for s in children)
    assert urls == ["apple", "pear", "plum", "skus"]
    assert {s["kind"] for s in children} == {"CLIENT"}
    # ... and each continues into an inventory SERVER span named by its route template
    for child in children:
        inventory = [s for s in found if s["parent_span_id"] == child["span_id"]]
        assert len(inventory) == 1
        assert inventory[0]["kind"] == "SERVER"
        assert inventory[0]["name"] in ("GET /skus", "GET /stock/<sku>")
        assert inventory[0]["trace_id"] == server["trace_id"]
        assert inventory[0]["resource"]["service.name"] == "example"


def test_http_attributes_follow_semantic_conventions(
    spans: tuple[list[dict[str, Any]], str, str],
) -> None:
    found = spans[0]
    post = next(s for s in found if s["kind"] == "CLIENT"
                and s["attributes"].get("url.full", "").endswith("/reservations"))
    attributes = post["attributes"]
    assert post["name"] == "POST"
    assert attributes["http.request.method"] == "POST"
    assert attributes["server.address"] == "127.0.0.1"
    assert isinstance(attributes["server.port"], int)
    assert attributes["http.response.status_code"] == 201
    assert "error.type" not in attributes
    refused = next(s for s in found if s["kind"] == "CLIENT"
                   and s["attributes"].get("http.response.status_code") == 409)
    assert refused["attributes"]["error.type"] == "409"
    assert refused["status"]["code"] == "ERROR"


def test_server_exception_is_recorded(spans: tuple[list[dict[str, Any]], str, str]) -> None:
    found = spans[0]
    broken = next(s for s in found if s["name"] == "GET /broken")
    assert broken["attributes"]["http.response.status_code"] == 500
    assert broken["attributes"]["error.type"] == "RuntimeError"
    assert broken["status"]["code"] == "ERROR"
    event = broken["events"][0]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.message"] == "the shop broke"
    missing = next(s for s in found if s["kind"] == "CLIENT"
                   and s["attributes"].get("url.full", "").endswith("/nowhere"))
    function = _by_id(found)[missing["parent_span_id"]]
    assert function["name"] == "shop.inventory_client.missing"
    assert function["parent_span_id"] == broken["span_id"]
    assert missing["attributes"]["error.type"] == "404"
    unrouted = next(s for s in found if s["parent_span_id"] == missing["span_id"])
    assert unrouted["name"] == "GET"  # no route matched: the method alone


def test_every_request_made_a_span(spans: tuple[list[dict[str, Any]], str, str]) -> None:
    found = spans[0]
    kinds = sorted(s["kind"] for s in found)
    # 5 demo calls + 8 shop→inventory calls on the client side; as many server spans
    assert kinds.count("CLIENT") == 13
    assert kinds.count("SERVER") == 13
    assert len({s["span_id"] for s in found}) == len(found)


def test_business_functions_nest_the_library_spans(
    spans: tuple[list[dict[str, Any]], str, str],
) -> None:
    """``# codetrace: span`` on the order handler and the glob of the example's tracing.toml."""
    found = spans[0]
    by_id = _by_id(found)
    placed = [s for s in found if s["name"] == "shop.place_order"]
    assert len(placed) == 2  # the order placed and the order refused
    for span in placed:
        assert span["kind"] == "INTERNAL"
        assert by_id[span["parent_span_id"]]["name"] == "POST /orders"
        attributes = span["attributes"]
        assert attributes["shop.channel"] == "web"
        assert attributes["code.function.name"] == "shop.app.create_app.<locals>.order"
        assert attributes["code.file.path"].endswith("app.py")
    first = min(placed, key=lambda s: int(s["start_time_unix_nano"]))
    inner = sorted((s for s in found if s["parent_span_id"] == first["span_id"]),
                   key=lambda s: int(s["start_time_unix_nano"]))
    assert [s["name"] for s in inner] == ["shop.inventory_client.stock_level",
                                          "shop.inventory_client.reserve"]
    for function in inner:
        assert function["attributes"]["shop.component"] == "inventory-client"
        (client,) = [s for s in found if s["parent_span_id"] == function["span_id"]]
        assert client["kind"] == "CLIENT"
        (server,) = [s for s in found if s["parent_span_id"] == client["span_id"]]
        assert server["kind"] == "SERVER" and server["trace_id"] == first["trace_id"]
