"""What a gRPC span says, for the client (``_grpc_client``) and the server (``_grpc_server``).

The OpenTelemetry RPC conventions for gRPC, as OpenTelemetry's grpc instrumentation writes
them (so a backend's gRPC views work unchanged), with the stable general attributes added:

* Name ``{rpc.service}/{rpc.method}`` (``helloworld.Greeter/SayHello``): the full method
  without its leading ``/``, as the conventions say (OpenTelemetry's instrumentation keeps the
  slash: ``/helloworld.Greeter/SayHello``).
* ``rpc.system = "grpc"``, ``rpc.service`` (``helloworld.Greeter``), ``rpc.method``
  (``SayHello``), ``rpc.grpc.status_code`` (the status as an int, ``0`` for OK), set when the
  RPC ends.
* Failure: the CLIENT span of an RPC whose status is not OK has status ``ERROR`` and
  ``error.type`` the status name (``NOT_FOUND``, ``UNAVAILABLE``); a SERVER span only for the
  codes that mean the server failed (:data:`SERVER_ERRORS`: ``UNKNOWN``, ``DEADLINE_EXCEEDED``,
  ``UNIMPLEMENTED``, ``INTERNAL``, ``UNAVAILABLE``, ``DATA_LOSS``), as the conventions say;
  a ``NOT_FOUND`` the handler chose is the caller's problem, not the server's.

Nothing of the messages or metadata is recorded: gRPC has no header capture here.
"""

from __future__ import annotations

from ._http import host_and_port
from ._propagation import inject
from ._values import StatusCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ._span import Span

SYSTEM = "grpc"
MAX_METHODS = 1024
"""Distinct full methods whose name and attributes are kept (then forgotten all at once)."""

SERVER_ERRORS = frozenset(
    {"UNKNOWN", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS"}
)
"""Status codes that mark a SERVER span failed (any code but OK marks a CLIENT span failed)."""

_methods: dict[object, tuple[str, dict[str, object]]] = {}


def describe_method(full_method: object) -> tuple[str, dict[str, object]]:
    """Span name and attributes for ``/package.Service/Method`` (str or bytes), kept per method.

    The attribute dict is shared: callers copy it before adding to it.
    """
    described = _methods.get(full_method)
    if described is not None:
        return described
    text = full_method.decode("utf-8", "replace") if type(full_method) is bytes else str(
        full_method
    )
    name = text[1:] if text.startswith("/") else text
    service, sep, method = name.rpartition("/")
    attributes: dict[str, object] = {"rpc.system": SYSTEM}
    if sep and service:
        attributes["rpc.service"] = service
        attributes["rpc.method"] = method
    described = (name, attributes)
    if len(_methods) >= MAX_METHODS:
        _methods.clear()
    _methods[full_method] = described
    return described


def describe_target(target: object) -> dict[str, object]:
    """``server.address``/``server.port`` of a channel target.

    Targets are gRPC names (``host:port``, ``dns:///host:port``, ``dns://resolver/host``,
    ``ipv4:10.0.0.1:50051,10.0.0.2:50051`` (the first address), ``ipv6:[::1]:50051``,
    ``unix:/path``); a target without a port gets gRPC's default, 443.
    """
    if type(target) is bytes:
        target = target.decode("utf-8", "replace")
    if type(target) is not str or not target:
        return {}
    text = target
    if text.startswith(("unix:", "unix-abstract:")):
        path = text.split(":", 1)[1]
        return {"server.address": path[2:] if path.startswith("//") else path}
    _scheme, sep, rest = text.partition("://")
    if sep:
        text = rest.split("/", 1)[1] if "/" in rest else rest
    elif text.startswith(("ipv4:", "ipv6:")):
        text = text[5:].split(",", 1)[0]
    host, port = host_and_port(text, "https")
    attributes: dict[str, object] = {}
    if host:
        attributes["server.address"] = host
    if port is not None:
        attributes["server.port"] = port
    return attributes


def code_of(code: object) -> tuple[int, str] | None:
    """``(number, NAME)`` of a ``grpc.StatusCode`` (None for anything else)."""
    value = getattr(code, "value", None)
    name = getattr(code, "name", None)
    if type(value) is tuple and value and type(value[0]) is int and type(name) is str:
        return value[0], name
    return None


def end_with_status(span: Span, code: tuple[int, str], *, server: bool) -> None:
    """Record the RPC's status on ``span`` (not yet ended)."""
    number, name = code
    span.set_attribute("rpc.grpc.status_code", number)
    if number and (not server or name in SERVER_ERRORS):
        span.set_attribute("error.type", name)
        span.set_status(StatusCode.ERROR, name)


def metadata_with_context(metadata: Any, span: Span) -> list[tuple[str, Any]]:
    """A copy of ``metadata`` with the trace context of ``span`` added (keys lower-case)."""
    pairs = list(metadata) if metadata else []
    carrier: dict[str, str] = {}
    inject(carrier, span=span)
    if carrier:
        present = {str(key).lower() for key, _ in pairs}
        pairs.extend((key.lower(), value) for key, value in carrier.items()
                     if key.lower() not in present)
    return pairs
