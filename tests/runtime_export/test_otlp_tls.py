"""OTLP over HTTPS with a private CA and mutual TLS, against a real TLS server on 127.0.0.1.

A throwaway PKI is made for the module with the ``openssl`` command-line tool: a CA, a server
certificate for 127.0.0.1/localhost and a client certificate, both signed by the CA. The
collector (``conftest.Collector(tls=...)``) requires a client certificate signed by that CA.
"""

from __future__ import annotations

import logging
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto")

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from codetrace.runtime import _setup
from codetrace.runtime._batch import BatchSpanProcessor
from codetrace.runtime._otlp import OTLPSpanExporter, create_otlp_exporter_from_env

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")


@dataclass(frozen=True)
class PKI:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_key: Path  # a key that belongs to no certificate here


def openssl(*args: str | Path, cwd: Path) -> None:
    assert OPENSSL is not None
    subprocess.run([OPENSSL, *map(str, args)], cwd=cwd, check=True, capture_output=True, timeout=30)


def new_key(directory: Path, name: str) -> Path:
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", name, cwd=directory)  # fmt: skip
    return directory / name


def signed(directory: Path, name: str, key: Path, extensions: str) -> Path:
    (directory / f"{name}.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n" + extensions
    )
    openssl("req", "-new", "-key", key, "-subj", f"/CN={name}", "-out", f"{name}.csr",
            cwd=directory)  # fmt: skip
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-sha256", "-extfile", f"{name}.ext",
            "-out", f"{name}.pem", cwd=directory)  # fmt: skip
    return directory / f"{name}.pem"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    directory = tmp_path_factory.mktemp("pki")
    ca_key = new_key(directory, "ca.key")
    (directory / "ca.ext").write_text(
        "basicConstraints=critical,CA:TRUE\n"
        "keyUsage=critical,keyCertSign,cRLSign\n"
        "subjectKeyIdentifier=hash\n"
    )
    openssl("req", "-new", "-key", ca_key, "-subj", "/CN=codetrace test CA", "-out", "ca.csr",
            cwd=directory)  # fmt: skip
    openssl("x509", "-req", "-in", "ca.csr", "-signkey", ca_key, "-days", "2", "-sha256",
            "-extfile", "ca.ext", "-out", "ca.pem", cwd=directory)  # fmt: skip
    server_key = new_key(directory, "server.key")
    server_cert = signed(
        directory,
        "server",
        server_key,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    client_key = new_key(directory, "client.key")
    client_cert = signed(directory, "client", client_key, "extendedKeyUsage=clientAuth\n")
    return PKI(
        ca=directory / "ca.pem",
        server_cert=server_cert,
        server_key=server_key,
        client_cert=client_cert,
        client_key=client_key,
        other_key=new_key(directory, "other.key"),
    )


@pytest.fixture
def mtls_collector(pki: PKI, collector_cls: Any) -> Iterator[Any]:
    """An OTLP/HTTPS collector that wants a client certificate signed by the test CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.load_verify_locations(pki.ca)
    context.verify_mode = ssl.CERT_REQUIRED
    collector = collector_cls(tls=context)
    try:
        yield collector
    finally:
        collector.close()


def received(collector: Any) -> list[str]:
    names = []
    for request in collector.requests:
        message = ExportTraceServiceRequest()
        message.ParseFromString(request.payload)
        for resource_spans in message.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                names.extend(span.name for span in scope_spans.spans)
    return names


def warnings_of(caplog: Any) -> list[str]:
    assert all(r.exc_info is None for r in caplog.records)  # never a traceback
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize("prefix", ["OTEL_EXPORTER_OTLP_", "OTEL_EXPORTER_OTLP_TRACES_"])
def test_ca_and_client_certificate_deliver_spans(
    mtls_collector: Any,
    pki: PKI,
    span_cls: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: Any,
    prefix: str,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", mtls_collector.base_url)
    monkeypatch.setenv(f"{prefix}CERTIFICATE", str(pki.ca))
    monkeypatch.setenv(f"{prefix}CLIENT_CERTIFICATE", str(pki.client_cert))
    monkeypatch.setenv(f"{prefix}CLIENT_KEY", str(pki.client_key))
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "60000")
    with caplog.at_level(logging.DEBUG, logger="codetrace.runtime"):
        (processor,) = _setup.processors_from_env()  # OTEL_TRACES_EXPORTER unset: the endpoint
        try:
            assert isinstance(processor, BatchSpanProcessor)
            processor.on_end(span_cls(name="over-mtls"))
            assert processor.force_flush(5)
        finally:
            processor.shutdown(timeout_s=1)
    assert received(mtls_collector) == ["over-mtls"]
    assert mtls_collector.tls_errors == []
    assert warnings_of(caplog) == []


def test_signal_specific_settings_win(
    mtls_collector: Any, pki: PKI, span_cls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = str(pki.ca.parent / "missing.pem")
    for suffix, good in [
        ("CERTIFICATE", pki.ca),
        ("CLIENT_CERTIFICATE", pki.client_cert),
        ("CLIENT_KEY", pki.client_key),
    ]:
        monkeypatch.setenv(f"OTEL_EXPORTER_OTLP_TRACES_{suffix}", str(good))
        monkeypatch.setenv(f"OTEL_EXPORTER_OTLP_{suffix}", missing)  # never read
    exporter = OTLPSpanExporter(endpoint=mtls_collector.traces_url)
    assert exporter.export([span_cls(name="specific")])
    assert received(mtls_collector) == ["specific"]


def test_keyword_arguments_win_over_the_environment(
    mtls_collector: Any, pki: PKI, span_cls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(pki.ca.parent / "missing.pem"))
    exporter = OTLPSpanExporter(
        endpoint=mtls_collector.traces_url,
        certificate_file=str(pki.ca),
        client_certificate_file=str(pki.client_cert),
        client_key_file=str(pki.client_key),
    )
    assert exporter.export([span_cls(name="explicit")])
    assert received(mtls_collector) == ["explicit"]


def test_without_a_client_certificate_the_server_refuses(
    mtls_collector: Any,
    pki: PKI,
    span_cls: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: Any,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", mtls_collector.base_url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(pki.ca))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "300")  # no retry wait fits
    with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
        exporter = create_otlp_exporter_from_env()
        assert exporter.export([span_cls()]) is False
        assert exporter.export([span_cls(), span_cls()]) is False
    assert mtls_collector.requests == []
    assert mtls_collector.tls_errors  # the server refused the handshake
    (line,) = warnings_of(caplog)
    assert line.startswith(f"codetrace: could not export 1 span to {mtls_collector.traces_url}: ")
    assert "(will keep trying; further failures of this kind are counted, not logged)" in line
    assert exporter.dropped_spans == 3


def test_without_the_ca_the_default_trust_store_rejects_the_server(
    mtls_collector: Any,
    pki: PKI,
    span_cls: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: Any,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", mtls_collector.traces_url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", str(pki.client_cert))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", str(pki.client_key))
    with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
        exporter = create_otlp_exporter_from_env()
        assert exporter.export([span_cls()]) is False
        assert exporter.export([span_cls()]) is False
    assert mtls_collector.requests == []
    (line,) = warnings_of(caplog)
    assert line.startswith(f"codetrace: could not export 1 span to {mtls_collector.traces_url}: ")
    assert "certificate verify failed" in line
    assert "OTEL_EXPORTER_OTLP_CERTIFICATE" in line  # says how to trust a private CA
    assert exporter.failed_exports == 2


@pytest.mark.parametrize(
    ("variable", "what"),
    [
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", "missing"),
        ("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "garbage"),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "missing"),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "missing"),
        ("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "garbage"),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", "other key"),
    ],
)
def test_a_bad_file_is_one_warning_and_no_exporter(
    mtls_collector: Any,
    pki: PKI,
    monkeypatch: pytest.MonkeyPatch,
    caplog: Any,
    tmp_path: Path,
    variable: str,
    what: str,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", mtls_collector.base_url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(pki.ca))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", str(pki.client_cert))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", str(pki.client_key))
    if what == "missing":
        bad = tmp_path / "missing.pem"
    elif what == "garbage":
        bad = tmp_path / "garbage.pem"
        bad.write_text("not a certificate\n")
    else:
        bad = pki.other_key
    if variable.startswith("OTEL_EXPORTER_OTLP_TRACES_"):
        suffix = variable.removeprefix("OTEL_EXPORTER_OTLP_TRACES_")
        for name in ("CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY"):
            value = {"CERTIFICATE": pki.ca, "CLIENT_CERTIFICATE": pki.client_cert}.get(
                name, pki.client_key
            )
            monkeypatch.setenv(f"OTEL_EXPORTER_OTLP_TRACES_{name}", str(value))
        monkeypatch.setenv(f"OTEL_EXPORTER_OTLP_TRACES_{suffix}", str(bad))
    else:
        monkeypatch.setenv(variable, str(bad))
    with caplog.at_level(logging.DEBUG, logger="codetrace.runtime"):
        assert _setup.processors_from_env() == ()
    (line,) = warnings_of(caplog)
    assert line.startswith("codetrace: ")
    assert f"{variable}={bad}" in line
    assert line.endswith("; OTLP export is off")
    assert mtls_collector.requests == [] and mtls_collector.tls_errors == []


def test_a_client_key_without_its_certificate_is_refused(
    pki: PKI, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:9")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", str(pki.client_key))
    with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
        assert _setup.processors_from_env() == ()
    (line,) = warnings_of(caplog)
    assert "OTEL_EXPORTER_OTLP_CLIENT_KEY" in line
    assert "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE" in line
    assert line.endswith("; OTLP export is off")


def test_tls_settings_with_a_plain_http_endpoint_are_said_to_be_unused(
    collector: Any, pki: PKI, span_cls: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.base_url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", str(pki.ca))
    with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
        exporter = create_otlp_exporter_from_env()
    assert exporter.export([span_cls()])
    (line,) = warnings_of(caplog)
    assert "OTEL_EXPORTER_OTLP_CERTIFICATE" in line
    assert "http://" in line and "without TLS" in line


def test_insecure_does_not_apply_to_https(
    mtls_collector: Any, span_cls: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    # OTEL_EXPORTER_OTLP_INSECURE is for OTLP/gRPC; over HTTP the scheme decides.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", mtls_collector.base_url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
    with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
        exporter = create_otlp_exporter_from_env()
        assert exporter.export([span_cls()]) is False  # the server is still verified
    first, second = warnings_of(caplog)
    assert "OTEL_EXPORTER_OTLP_INSECURE" in first and "https://" in first
    assert "certificate verify failed" in second
