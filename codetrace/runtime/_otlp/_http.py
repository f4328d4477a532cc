"""OTLP/HTTP span exporter on ``urllib.request``: the transport to any OpenTelemetry collector.

It runs on the batch processor's background thread, never on the application's, and it never
raises: every outcome is a ``bool`` plus counters (``exported_spans``, ``dropped_spans``,
``failed_exports``), and the first failure is logged once at WARNING (later ones at DEBUG) so a
collector that is down for a day does not fill the application's log.

Retries follow the OTLP/HTTP specification: 429, 502, 503 and 504 and connection-level errors
are retried with exponential backoff and jitter, honouring ``Retry-After``; every other status
is final (a 400 will not get better by resending the same bytes). All attempts and the waits
between them fit in one overall ``timeout_s``, so a flush at exit has a known upper bound.

Everything an export needs is imported with this module, on the thread that creates the
exporter, never during an export on the batch processor's thread: a module that thread is
importing at the instant another thread forks stays locked in the child, whose next import of
it never returns (pre-fork servers and ``multiprocessing`` fork such processes). That includes
the ``idna`` codec, which the socket module loads on the first connection to a host name. The
cost (tens of milliseconds, mostly ``urllib.request``) is paid when the exporter is first
needed, never by ``import codetrace.runtime``, which does not import this module.

In a forked child the exporter starts over (``_fork``): a fresh retry-wait event and a fresh
opener. urllib opens one connection per request, so no connection is shared with the parent.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime
import gzip
import http.client
import random
import threading
import time
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime

from .._env import env_value, parse_key_values, read_number
from .._fork import register as register_for_fork
from .._log import debug as _debug
from .._log import warn as _warn
from .._version import __version__
from ._json import encode_json
from ._protobuf import encode_protobuf

TYPE_CHECKING = False
if TYPE_CHECKING:
    import email.message
    from collections.abc import Mapping, Sequence
    from typing import IO, Any

    from .._protocols import Attributes, SpanData

__all__ = ["OTLPSpanExporter"]

LOG_CHANNEL = "otlp"  # logger ``codetrace.runtime.otlp``

DEFAULT_ENDPOINT = "http://localhost:4318"
TRACES_PATH = "/v1/traces"
DEFAULT_TIMEOUT_S = 10.0
PROTOCOLS = ("http/protobuf", "http/json")
RETRYABLE_STATUS = frozenset({429, 502, 503, 504})

# The socket module encodes host names with the idna codec, found (imported) on first use.
codecs.lookup("idna")

_CONTENT_TYPES = {"http/protobuf": "application/x-protobuf", "http/json": "application/json"}
_RESPONSE_READ_LIMIT = 64 * 1024  # we only drain the response so the connection closes cleanly
# RFC 9110 "token" characters: what an HTTP header name may contain.
_HEADER_NAME_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


class OTLPSpanExporter:
    """Send spans to an OTLP/HTTP endpoint as protobuf (default) or JSON.

    Every keyword overrides its environment variable; ``None`` means "read the environment":

    - ``endpoint``: the full URL, used as-is. Else ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` as-is,
      else ``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``, else ``http://localhost:4318/v1/traces``.
    - ``headers``: else ``OTEL_EXPORTER_OTLP[_TRACES]_HEADERS`` (``k=v,k2=v2``, percent-decoded).
    - ``protocol``: ``"http/protobuf"`` or ``"http/json"``; else
      ``OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL``, else ``"http/protobuf"``.
    - ``timeout_s``: total time for one export, retries included; else
      ``OTEL_EXPORTER_OTLP[_TRACES]_TIMEOUT`` (milliseconds, per the specification), else 10 s.
    - ``compression``: ``"gzip"`` or ``"none"``; else ``OTEL_EXPORTER_OTLP[_TRACES]_COMPRESSION``.
    - ``resource``: the resource attributes sent with every batch; else the runtime's resource
      (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``telemetry.sdk.*``).
    """

    #: First retry delay; doubled on each further retry (with jitter), capped by ``max_backoff_s``.
    initial_backoff_s: float = 1.0
    max_backoff_s: float = 32.0

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
        protocol: str | None = None,
        timeout_s: float | None = None,
        compression: str | None = None,
        resource: Attributes | None = None,
        scope_name: str = "codetrace",
        scope_version: str = __version__,
    ) -> None:
        self.endpoint = endpoint if endpoint is not None else _endpoint_from_env()
        self.protocol = _protocol(protocol)
        self.timeout_s = _timeout_s(timeout_s)
        self.compression = _compression(compression)
        self.resource: Attributes = dict(resource) if resource is not None else _env_resource()
        self.scope_name = scope_name
        self.scope_version = scope_version
        self.headers = _valid_headers(dict(headers) if headers is not None else _headers_from_env())

        self.exported_spans = 0
        self.dropped_spans = 0
        self.failed_exports = 0
        self._warned = False
        self._closed = threading.Event()
        self._opener = _build_opener()
        register_for_fork(self)

    def __repr__(self) -> str:
        return f"OTLPSpanExporter(endpoint={_redact(self.endpoint)!r}, protocol={self.protocol!r})"

    def export(self, spans: Sequence[SpanData]) -> bool:
        """Send one batch; ``True`` when the collector accepted it. Never raises."""
        if not spans:
            return True
        if self._closed.is_set():
            self._record_failure(len(spans), "exporter is shut down")
            return False
        try:
            reason = self._send(self._encode(spans))
        except Exception as exc:  # never let an exporter bug reach the application
            reason = f"{type(exc).__name__}: {exc}"
        if reason is None:
            self.exported_spans += len(spans)
            return True
        self._record_failure(len(spans), reason)
        return False

    def shutdown(self) -> None:
        """Stop exporting; a retry wait in progress ends at once. Idempotent."""
        self._closed.set()

    # -- fork (see ``_fork``) ------------------------------------------------------------------

    def _before_fork(self, deadline: float) -> bool:
        """Nothing to wait for: an export in progress goes on in the parent alone."""
        return False

    def _after_fork_in_parent(self) -> None:
        pass

    def _after_fork_in_child(self) -> None:
        """Own retry-wait event (the parent's may be mid-``wait``) and opener; same closed state."""
        closed = threading.Event()
        if self._closed.is_set():
            closed.set()
        self._closed = closed
        self._opener = _build_opener()

    # -- internals -----------------------------------------------------------------------------

    def _encode(self, spans: Sequence[SpanData]) -> bytes:
        encode = encode_json if self.protocol == "http/json" else encode_protobuf
        body = encode(spans, self.resource, self.scope_name, self.scope_version)
        if self.compression == "gzip":
            body = gzip.compress(body, compresslevel=6, mtime=0)
        return body

    def _request_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        headers["Content-Type"] = _CONTENT_TYPES[self.protocol]
        headers.setdefault("User-Agent", f"codetrace/{__version__} (python)")
        if self.compression == "gzip":
            headers["Content-Encoding"] = "gzip"
        return headers

    def _send(self, body: bytes) -> str | None:
        """POST ``body`` with retries; ``None`` on success, else why it failed."""
        deadline = time.monotonic() + self.timeout_s
        headers = self._request_headers()
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return f"timed out after {self.timeout_s:g}s"
            request = urllib.request.Request(
                self.endpoint, data=body, headers=headers, method="POST"
            )
            retry_after: float | None = None
            try:
                with self._opener.open(request, timeout=remaining) as response:
                    response.read(_RESPONSE_READ_LIMIT)
                return None
            except urllib.error.HTTPError as err:
                status = err.code
                if err.headers is not None:
                    retry_after = _retry_after_s(err.headers.get("Retry-After"))
                _close_quietly(err)
                reason = f"HTTP {status}"
                if status not in RETRYABLE_STATUS:
                    return reason
            except (OSError, http.client.HTTPException) as err:
                # Refused, reset, timed out, DNS failure, or the server closed without an answer:
                # the specification asks for a retry with backoff in all of these cases.
                reason = _describe(err)
            delay = retry_after if retry_after is not None else self._backoff_s(attempt)
            if time.monotonic() + delay >= deadline:
                return f"{reason}; no time left to retry within {self.timeout_s:g}s"
            if self._closed.wait(delay):
                return f"{reason}; exporter shut down while waiting to retry"
            attempt += 1

    def _backoff_s(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random.

        The random half spreads the retries of many processes that lost the same collector at
        the same moment; the fixed half keeps a retry from coming back almost immediately.
        """
        ceiling = min(self.max_backoff_s, self.initial_backoff_s * (1 << min(attempt, 30)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _record_failure(self, count: int, reason: str) -> None:
        self.dropped_spans += count
        self.failed_exports += 1
        if not self._warned:
            self._warned = True
            warn(
                "codetrace: could not export %d spans to %s: %s "
                "(further export failures are logged at DEBUG level)",
                count,
                _redact(self.endpoint),
                reason,
            )
        else:
            debug("codetrace: could not export %d spans: %s", count, reason)


def _build_opener() -> urllib.request.OpenerDirector:
    """An opener that does not follow redirects.

    urllib would turn a redirected POST into a GET without the body (and carry our headers,
    possibly credentials, to another host); a collector has no reason to redirect, so a 3xx is
    reported as a failure instead.
    """

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(
            self,
            req: urllib.request.Request,
            fp: IO[bytes],
            code: int,
            msg: str,
            headers: email.message.Message,
            newurl: str,
        ) -> urllib.request.Request | None:
            return None

    return urllib.request.build_opener(NoRedirect())


# -- configuration -----------------------------------------------------------------------------


def warn(message: str, *args: object) -> None:
    """Log at WARNING on ``codetrace.runtime.otlp``."""
    _warn(message, *args, channel=LOG_CHANNEL)


def debug(message: str, *args: object) -> None:
    """Log at DEBUG on ``codetrace.runtime.otlp`` (repeated failures, after the first WARNING)."""
    _debug(message, *args, channel=LOG_CHANNEL)


def _traces_names(suffix: str) -> tuple[str, str]:
    """The variables for ``suffix``, in precedence order: the signal-specific one first."""
    return f"OTEL_EXPORTER_OTLP_TRACES_{suffix}", f"OTEL_EXPORTER_OTLP_{suffix}"


def traces_env(suffix: str) -> str | None:
    """``OTEL_EXPORTER_OTLP_TRACES_<suffix>``, else ``OTEL_EXPORTER_OTLP_<suffix>``, else None."""
    specific, general = _traces_names(suffix)
    return env_value(specific) or env_value(general)


def _env_resource() -> Attributes:
    """The runtime's resource (``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, SDK info)."""
    from .._resource import resource_attributes

    return resource_attributes()


def _endpoint_from_env() -> str:
    specific = env_value("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if specific:
        return specific
    base = env_value("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_ENDPOINT
    return base.rstrip("/") + TRACES_PATH


def _headers_from_env() -> dict[str, str]:
    for name in _traces_names("HEADERS"):
        value = env_value(name)
        if value:
            pairs, malformed = parse_key_values(value)
            for entry in malformed:
                warn("codetrace: ignoring malformed entry %r in %s", entry, name)
            return pairs
    return {}


def _valid_headers(headers: dict[str, str]) -> dict[str, str]:
    """Drop headers http.client would reject at send time: one typo must not fail every export."""
    valid = {}
    for name, value in headers.items():
        name, value = str(name).strip(), str(value).strip()
        if not name or not set(name) <= _HEADER_NAME_CHARS or any(c in value for c in "\r\n\0"):
            warn("codetrace: ignoring invalid OTLP header %r", name)
            continue
        valid[name] = value
    return valid


def _protocol(explicit: str | None) -> str:
    value = (explicit if explicit is not None else traces_env("PROTOCOL")) or "http/protobuf"
    value = value.strip().lower()
    if value not in PROTOCOLS:
        warn("codetrace: OTLP protocol %r is not supported, using http/protobuf", value)
        return "http/protobuf"
    return value


def _timeout_s(explicit: float | None) -> float:
    if explicit is not None:
        if explicit > 0:
            return float(explicit)
        warn(
            "codetrace: OTLP timeout must be positive, got %r; using %gs",
            explicit,
            DEFAULT_TIMEOUT_S,
        )
        return DEFAULT_TIMEOUT_S
    for name in _traces_names("TIMEOUT"):
        raw = env_value(name)
        if raw is not None:
            default_ms = DEFAULT_TIMEOUT_S * 1000.0
            millis = read_number(
                raw, default_ms, what=name, positive=True, unit="milliseconds", channel=LOG_CHANNEL
            )
            return millis / 1000.0
    return DEFAULT_TIMEOUT_S


def _compression(explicit: str | None) -> str:
    value = (explicit if explicit is not None else traces_env("COMPRESSION")) or "none"
    value = value.strip().lower()
    if value not in ("gzip", "none"):
        warn("codetrace: OTLP compression %r is not supported, sending uncompressed", value)
        return "none"
    return value


# -- helpers -------------------------------------------------------------------------------------


def _retry_after_s(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, when.timestamp() - time.time())


def _describe(err: BaseException) -> str:
    reason = getattr(err, "reason", None)  # URLError wraps the socket error
    if isinstance(reason, BaseException):
        err = reason
    text = str(err) or type(err).__name__
    return f"{type(err).__name__}: {text}"


def _close_quietly(err: Any) -> None:
    """An ``HTTPError`` holds the open response; close it or it leaks (a ResourceWarning)."""
    with contextlib.suppress(Exception):
        err.read(_RESPONSE_READ_LIMIT)
    with contextlib.suppress(Exception):
        err.close()


def _redact(url: str) -> str:
    """The endpoint for a log line, without any ``user:password@``."""
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = "***@" + host.rpartition("@")[2]
    return f"{scheme}{sep}{host}{slash}{path}"
