"""OTLP export for the codetrace runtime: encoders and the OTLP/HTTP exporter.

Importing this package is nearly free: the exporter module and the encoders are loaded on
first use (module ``__getattr__``), because ``import codetrace.runtime`` must stay within a few
milliseconds and ``urllib.request`` alone costs more than that. The exporter module imports its
network stack when it is loaded, on the thread that creates the exporter, and never while
exporting on the batch processor's thread (see ``_http``: an import in progress on that thread
at a fork deadlocks the child).

The runtime's ``otlp`` exporter name (``_setup``) calls :func:`create_otlp_exporter_from_env`
the first time ``OTEL_TRACES_EXPORTER`` asks for ``otlp`` (or, with that variable unset, an
``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`` is set), with the batch processor in front: a network
exporter must never run on the application's thread. This package imports nothing of
the runtime above it. The encoders read spans through ``_protocols.SpanData``.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs milliseconds
if TYPE_CHECKING:
    from typing import Any

    from .._protocols import Attributes
    from ._http import OTLPSpanExporter
    from ._json import encode_json
    from ._protobuf import encode_protobuf

__all__ = [
    "OTLPSpanExporter",
    "create_otlp_exporter_from_env",
    "encode_json",
    "encode_protobuf",
]

_LAZY = {
    "OTLPSpanExporter": "._http",
    "encode_json": "._json",
    "encode_protobuf": "._protobuf",
}


def create_otlp_exporter_from_env(*, resource: Attributes | None = None) -> OTLPSpanExporter:
    """The ``otlp`` entry of the exporter registry: an exporter configured by ``OTEL_*``.

    Without ``resource`` the exporter uses the runtime's (``OTEL_SERVICE_NAME``,
    ``OTEL_RESOURCE_ATTRIBUTES``). Raises ``ConfigError`` when a TLS file named by a variable
    cannot be used.
    """
    from ._http import OTLPSpanExporter

    return OTLPSpanExporter(resource=resource)


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name, __name__), name)
    globals()[name] = value
    return value
