"""OTLP/HTTP span exporter on ``urllib.request``: the transport to any OpenTelemetry collector.

It runs on the batch processor's background thread, never on the application's, and it never
raises: every outcome is a ``bool`` plus counters (``exported_spans``, ``dropped_spans``,
``failed_exports``, ``failed_attempts``). The first failure of each kind (connection refused,
HTTP 503, HTTP 400, a TLS certificate the exporter does not trust, ...) is logged once at
WARNING, in one line that says how many spans, where, and why; later ones are counted and
logged at DEBUG, so a collector that is down for a day does not fill the application's log
(OpenTelemetry's SDK logs every failed batch). When the process is leaving, the batch
processor sets ``at_exit`` and says what was lost in one line of its own (see ``_batch``).

Retries follow the OTLP/HTTP specification: 429, 502, 503 and 504 and connection-level errors
are retried with exponential backoff and jitter, honouring ``Retry-After``; every other status
is final (a 400 will not get better by resending the same bytes). All attempts and the waits
between them fit in one overall ``timeout_s``, so a flush at exit has a known upper bound.
At exit a refused connection is not retried: nothing listens, and waiting for it would only
hold the process (a developer whose collector is not running would wait on every run).

TLS: an ``https://`` endpoint is verified against the system's trust store, or against the CA
bundle in ``OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE``;
``OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_CERTIFICATE`` and ``OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_KEY``
(PEM files) give the client certificate for mutual TLS. Each option's signal-specific variable
wins over the general one. The files are read when the exporter is made (with the context
built once, on that thread): one that cannot be used is a ``ConfigError`` naming the variable
and the file, which the runtime logs as one line and then exports nothing, the application
unaffected. A password-protected key is refused rather than prompted for on the terminal.
``OTEL_EXPORTER_OTLP_[TRACES_]INSECURE`` applies to OTLP/gRPC only: over HTTP the endpoint's
scheme decides (``http://`` plain, ``https://`` verified), as the specification says, so it is
read only to say, once, that it changes nothing for an ``https://`` endpoint; TLS files next to
an ``http://`` endpoint are likewise said to be unused. A failed handshake is logged with the
setting that would fix it (a private CA, a client certificate).

Everything an export needs is imported with this module, on the thread that creates the
exporter, never during an export on the batch processor's thread: a module that thread is
importing at the instant another thread forks stays locked in the child, whose next import of
it never returns (pre-fork servers and ``multiprocessing`` fork such processes). That includes
the ``idna`` codec, which the socket module loads on the first connection to a host name. The
cost (tens of milliseconds, mostly ``urllib.request``) is paid when the exporter is first
needed, never by ``import codetrace.runtime``, which does not import this module.

In a forked child the exporter starts over (``_fork``): a fresh retry-wait event and a fresh
opener. urllib opens one connection per request, so no connection is shared with the parent.

Variables read here, each ``TRACES_`` one winning over the general one beside it (the names are
built by ``_traces_names``, so they are spelled out here): ``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``,
``OTEL_EXPORTER_OTLP_TRACES_HEADERS``, ``OTEL_EXPORTER_OTLP_PROTOCOL``,
``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL``, ``OTEL_EXPORTER_OTLP_TIMEOUT``,
``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT``, ``OTEL_EXPORTER_OTLP_COMPRESSION``,
``OTEL_EXPORTER_OTLP_TRACES_COMPRESSION``, ``OTEL_EXPORTER_OTLP_CERTIFICATE``,
``OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE``, ``OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE``,
``OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE``, ``OTEL_EXPORTER_OTLP_CLIENT_KEY``,
``OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY``, ``OTEL_EXPORTER_OTLP_INSECURE``,
``OTEL_EXPORTER_OTLP_TRACES_INSECURE`` (and, through ``_resource``, ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES``).
"""

from __future__ import annotations

import codecs
import contextlib
import datetime
import gzip
import http.client
import random
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime

from .._env import ConfigError, env_flag, env_value, parse_key_values, read_number
from .._fork import register as register_for_fork
from .._log import count_of
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
    - ``certificate_file``: PEM CA bundle that verifies an ``https://`` collector; else
      ``OTEL_EXPORTER_OTLP[_TRACES]_CERTIFICATE``, else the system's trust store.
    - ``client_certificate_file``, ``client_key_file``: PEM client certificate (it may hold the
      key too) and key for mutual TLS; else ``OTEL_EXPORTER_OTLP[_TRACES]_CLIENT_CERTIFICATE``
      and ``OTEL_EXPORTER_OTLP[_TRACES]_CLIENT_KEY``.

    Raises ``ConfigError`` when a TLS file cannot be used (the message names the setting and
    the file). What the batch processor reads when the process leaves: ``target`` (where spans
    go, without credentials), ``failed_attempts`` and ``last_failure`` (why the latest attempt
    failed); it sets ``at_exit``.
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
        certificate_file: str | None = None,
        client_certificate_file: str | None = None,
        client_key_file: str | None = None,
    ) -> None:
        self.endpoint = endpoint if endpoint is not None else _endpoint_from_env()
        tls = _TLSSettings(certificate_file, client_certificate_file, client_key_file)
        self._tls = tls.context_for(self.endpoint)
        self._private_ca = tls.ca is not None
        self._client_certificate = tls.client_certificate is not None
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
        #: Requests that failed, retries included, and why the latest one did (for messages).
        self.failed_attempts = 0
        self.last_failure: str | None = None
        #: Set by the batch processor when the process leaves: it then reports what is lost,
        #: so failures are not logged here, and a refused connection is not retried.
        self.at_exit = False
        self._logged_kinds: set[str] = set()
        self._closed = threading.Event()
        self._opener = _build_opener(self._tls)
        register_for_fork(self)

    def __repr__(self) -> str:
        return f"OTLPSpanExporter(endpoint={self.target!r}, protocol={self.protocol!r})"

    @property
    def target(self) -> str:
        """Where spans go, for log lines: the endpoint without any ``user:password@``."""
        return _redact(self.endpoint)

    def export(self, spans: Sequence[SpanData]) -> bool:
        """Send one batch; ``True`` when the collector accepted it. Never raises."""
        if not spans:
            return True
        if self._closed.is_set():
            self._record_failure(len(spans), _Failure("shut down", "the exporter is shut down"))
            return False
        try:
            failure = self._send(self._encode(spans))
        except Exception as exc:  # never let an exporter bug reach the application
            failure = _Failure(type(exc).__name__, f"{type(exc).__name__}: {exc}")
            self._attempt_failed(failure)
        if failure is None:
            self.exported_spans += len(spans)
            return True
        self._record_failure(len(spans), failure)
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
        self._opener = _build_opener(self._tls)

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

    def _send(self, body: bytes) -> _Failure | None:
        """POST ``body`` with retries; ``None`` on success, else why the last attempt failed."""
        deadline = time.monotonic() + self.timeout_s
        headers = self._request_headers()
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            request = urllib.request.Request(
                self.endpoint, data=body, headers=headers, method="POST"
            )
            retry_after: float | None = None
            try:
                with self._opener.open(request, timeout=remaining) as response:
                    response.read(_RESPONSE_READ_LIMIT)
                return None
            except urllib.error.HTTPError as err:
                if err.headers is not None:
                    retry_after = _retry_after_s(err.headers.get("Retry-After"))
                _close_quietly(err)
                failure = _http_failure(err.code)
            except (OSError, http.client.HTTPException) as err:
                # Refused, reset, timed out, DNS failure, or the server closed without an answer:
                # the specification asks for a retry with backoff in all of these cases.
                failure = self._network_failure(err)
            self._attempt_failed(failure)
            if not failure.retry or (self.at_exit and failure.kind == _REFUSED):
                return failure
            delay = retry_after if retry_after is not None else self._backoff_s(attempt)
            if time.monotonic() + delay >= deadline:
                return failure.ended(f"no time left to retry within {self.timeout_s:g} s")
            if self._closed.wait(delay):
                return failure.ended("shut down while waiting to retry")
            attempt += 1

    def _network_failure(self, err: BaseException) -> _Failure:
        """What went wrong below HTTP, in words, with a hint where the fix is a setting."""
        reason = getattr(err, "reason", None)  # URLError wraps the socket error
        if isinstance(reason, BaseException):
            err = reason
        if isinstance(err, ssl.SSLCertVerificationError):
            text = f"TLS certificate verify failed: {err.verify_message or err.reason}"
            if not self._private_ca:
                text += "; to trust a private CA, set OTEL_EXPORTER_OTLP_CERTIFICATE"
            return _Failure("tls-verify", text, retry=False)
        if self._tls is not None and isinstance(
            err, (ssl.SSLError, ConnectionResetError, BrokenPipeError)
        ):
            return self._tls_closed(err)
        if isinstance(err, ConnectionRefusedError):
            return _Failure(_REFUSED, "connection refused")
        if isinstance(err, socket.gaierror):
            return _Failure("dns", f"cannot resolve the host name ({err.strerror or err})")
        if isinstance(err, TimeoutError):
            return _Failure("timeout", f"no answer within {self.timeout_s:g} s")
        if isinstance(err, http.client.RemoteDisconnected):
            return _Failure("closed", "the collector closed the connection without answering")
        if isinstance(err, ConnectionResetError):
            return _Failure("reset", "connection reset by the collector")
        if isinstance(err, OSError) and err.strerror:
            return _Failure(type(err).__name__, f"{err.strerror} ({type(err).__name__})")
        return _Failure(type(err).__name__, f"{type(err).__name__}: {err}")

    def _tls_closed(self, err: OSError) -> _Failure:
        """The collector ended a TLS connection: one kind, however it shows.

        A collector that refuses the client's certificate (or its absence) sends an alert and
        closes; with TLS 1.3 the client has finished its handshake by then, so what it sees
        depends on timing: the alert, an EOF, a reset or a broken pipe. They are one kind of
        failure for "log once", and an alert is final (the same certificate will be refused).
        """
        if isinstance(err, ssl.SSLError) and "ALERT" in str(err.reason or ""):
            alert = str(err.reason).lower().replace("_", " ")
            failure = _Failure(_TLS_CLOSED, f"the collector refused the TLS handshake ({alert})")
            failure.retry = False
        elif isinstance(err, http.client.RemoteDisconnected):
            failure = _Failure(_TLS_CLOSED, "the collector closed the connection without answering")
        else:
            detail = err.strerror or str(err) or type(err).__name__
            failure = _Failure(_TLS_CLOSED, f"the collector closed the TLS connection ({detail})")
        if not self._client_certificate:
            failure.text += (
                "; if it wants a client certificate, set OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"
                " and OTEL_EXPORTER_OTLP_CLIENT_KEY"
            )
        return failure

    def _attempt_failed(self, failure: _Failure) -> None:
        self.failed_attempts += 1
        self.last_failure = failure.text

    def _backoff_s(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random.

        The random half spreads the retries of many processes that lost the same collector at
        the same moment; the fixed half keeps a retry from coming back almost immediately.
        """
        ceiling = min(self.max_backoff_s, self.initial_backoff_s * (1 << min(attempt, 30)))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _record_failure(self, count: int, failure: _Failure) -> None:
        """Count a failed export; say so once per kind of failure, in one line.

        Not while the process leaves (``at_exit``: the batch processor says what was lost),
        nor after ``shutdown()`` (the application asked for it).
        """
        self.dropped_spans += count
        self.failed_exports += 1
        first = failure.kind not in self._logged_kinds
        if first and not self.at_exit and not self._closed.is_set():
            self._logged_kinds.add(failure.kind)
            warn(
                "codetrace: could not export %s to %s: %s (will keep trying; further failures "
                "of this kind are counted, not logged)",
                count_of(count, "span"),
                self.target,
                failure.text,
            )
        else:
            detail = f" ({failure.detail})" if failure.detail else ""
            debug(
                "codetrace: could not export %s to %s: %s%s",
                count_of(count, "span"),
                self.target,
                failure.text,
                detail,
            )


_REFUSED = "connection refused"
_TLS_CLOSED = "tls-closed"


class _Failure:
    """Why an export failed: ``kind`` groups failures for "log once", ``text`` says it."""

    __slots__ = ("detail", "kind", "retry", "text")

    def __init__(self, kind: str, text: str, *, retry: bool = True, detail: str = "") -> None:
        self.kind = kind
        self.text = text
        self.retry = retry
        self.detail = detail  # how the retries ended, for the DEBUG line

    def ended(self, detail: str) -> _Failure:
        return _Failure(self.kind, self.text, retry=self.retry, detail=detail)


def _http_failure(status: int) -> _Failure:
    phrase = http.client.responses.get(status, "")
    text = f"HTTP {status} {phrase}" if phrase else f"HTTP {status}"
    return _Failure(f"HTTP {status}", text, retry=status in RETRYABLE_STATUS)


def _build_opener(tls: ssl.SSLContext | None) -> urllib.request.OpenerDirector:
    """An opener that does not follow redirects, with the exporter's TLS context.

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

    handlers: list[urllib.request.BaseHandler] = [NoRedirect()]
    if tls is not None:
        handlers.append(urllib.request.HTTPSHandler(context=tls))
    return urllib.request.build_opener(*handlers)


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


class _TLSSettings:
    """The TLS files, each from its keyword argument or variable, remembered with its name.

    The name (``OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE``, ``certificate_file``) is what a log
    line must show, so the user finds the setting to fix.
    """

    def __init__(
        self, ca: str | None, client_certificate: str | None, client_key: str | None
    ) -> None:
        self.ca = _tls_setting(ca, "certificate_file", "CERTIFICATE")
        self.client_certificate = _tls_setting(
            client_certificate, "client_certificate_file", "CLIENT_CERTIFICATE"
        )
        self.client_key = _tls_setting(client_key, "client_key_file", "CLIENT_KEY")

    def context_for(self, endpoint: str) -> ssl.SSLContext | None:
        """The context for ``endpoint``: ``None`` unless it is ``https://``.

        Built once here, on the thread that makes the exporter, so no request loads the trust
        store again. Raises ``ConfigError`` for a file that cannot be used.
        """
        given = [s for s in (self.ca, self.client_certificate, self.client_key) if s is not None]
        if not endpoint.lower().startswith("https://"):
            if given:
                warn(
                    "codetrace: %s set, but the OTLP endpoint %s is http://: spans are sent "
                    "without TLS",
                    " and ".join(name for name, _ in given),
                    _redact(endpoint),
                )
            return None
        for name in _traces_names("INSECURE"):
            if env_flag(name):
                warn(
                    "codetrace: %s=true applies to OTLP/gRPC only; the OTLP/HTTP endpoint %s is "
                    "https://, so the collector's certificate is verified",
                    name,
                    _redact(endpoint),
                )
                break
        for name, path in given:
            _check_readable(name, path)
        try:
            context = ssl.create_default_context(cafile=self.ca[1] if self.ca else None)
        except ssl.SSLError as exc:
            if self.ca is None:  # the system's store: not the user's file to blame
                raise
            raise _file_error(self.ca, f"no CA certificate in it, PEM expected ({exc})") from None
        if self.client_key is not None and self.client_certificate is None:
            key_name = self.client_key[0]
            cert_name = key_name.replace("_KEY", "_CERTIFICATE")  # the variable beside it
            cert_name = cert_name.replace("key_file", "certificate_file")  # or the keyword
            raise ConfigError(
                f"{key_name}={self.client_key[1]} is set without {cert_name}: a client key "
                "needs its certificate; OTLP export is off"
            )
        if self.client_certificate is not None:
            self._load_client_certificate(context)
        return context

    def _load_client_certificate(self, context: ssl.SSLContext) -> None:
        assert self.client_certificate is not None
        cert_name, cert_path = self.client_certificate
        key_path = self.client_key[1] if self.client_key else None

        def no_password() -> str:
            raise _EncryptedKey  # OpenSSL would otherwise prompt on the terminal

        try:
            context.load_cert_chain(cert_path, key_path, password=no_password)
        except _EncryptedKey:
            raise _file_error(
                self.client_key or self.client_certificate,
                "the private key is encrypted; give a key without a password",
            ) from None
        except (ssl.SSLError, OSError) as exc:
            # Name the file at fault when its contents show it; otherwise both.
            if "CERTIFICATE-----" not in _head(cert_path):
                raise _file_error(self.client_certificate, "no PEM certificate in it") from None
            key = self.client_key or self.client_certificate
            if "PRIVATE KEY-----" not in _head(key[1]):
                raise _file_error(key, "no PEM private key in it") from None
            both = f"{cert_name}={cert_path}"
            if self.client_key is not None:
                both += f" and {self.client_key[0]}={self.client_key[1]}"
            raise ConfigError(
                f"{both}: not a certificate and its private key ({exc}); OTLP export is off"
            ) from None


class _EncryptedKey(Exception):
    pass


def _tls_setting(explicit: str | None, keyword: str, suffix: str) -> tuple[str, str] | None:
    """``(name, path)`` of one TLS file: the keyword argument, else the first variable set."""
    if explicit is not None:
        return (keyword, explicit)
    for name in _traces_names(suffix):
        value = env_value(name)
        if value:
            return (name, value)
    return None


def _check_readable(name: str, path: str) -> None:
    try:
        with open(path, "rb") as file:
            file.read(1)
    except OSError as exc:
        raise _file_error((name, path), f"cannot read the file ({exc.strerror or exc})") from None


def _head(path: str) -> str:
    """The start of a PEM file, as text (for telling a certificate from a key)."""
    try:
        with open(path, "rb") as file:
            return file.read(1 << 20).decode("ascii", "replace")
    except OSError:
        return ""


def _file_error(setting: tuple[str, str], problem: str) -> ConfigError:
    name, path = setting
    return ConfigError(f"{name}={path}: {problem}; OTLP export is off")


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
