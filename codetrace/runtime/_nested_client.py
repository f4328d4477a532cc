"""One span per HTTP request when a higher-level client's span already covers it.

requests sends through urllib3; a botocore or elasticsearch client sends through urllib3 too.
When the project traces both levels (a ``requests`` call site and a ``PoolManager`` the project
builds for its own ``HTTPAdapter``), the same request would get two CLIENT spans, the lower
one a child of the upper. OpenTelemetry's users report exactly that as noise, and its own
instrumentations avoid it: an HTTP client instrumentation sets a "suppress HTTP
instrumentation" context key while it sends, and the lower ones make no span under it.

codetrace's equivalent costs the upper adapters nothing: a client adapter makes its span
current while the request is sent, so the lower adapters (``_urllib3``, ``_urllib``) ask
whether the current span is a CLIENT span and, if so, call through without a span of their own
(and without trace headers: the upper span put its own on the request). The bridge already
reads a current CLIENT span the same way for OpenTelemetry's key (``_bridge``).

Why the current span rather than a flag the upper adapter sets (as ``_statement_cursor`` does
for SQL): the span is reset with its token however the call ends, so nothing can be left
stale, and no adapter has to change. It also covers urllib3's own recursion: a pool retries
and follows redirects by calling its ``urlopen`` again inside the first call's span.
"""

from __future__ import annotations

from ._span import current
from ._values import SpanKind

_CLIENT = SpanKind.CLIENT


def inside_client_span() -> bool:
    """Whether a CLIENT span is current: the request below it is already traced."""
    span = current.get()
    return span is not None and getattr(span, "kind", None) == _CLIENT
