"""The console exporter: each finished trace as a tree, a waterfall people read in a terminal.

``OTEL_TRACES_EXPORTER=console`` prints to ``sys.stderr`` (looked up at each export, so
redirected or captured stderr works). A request that came from another process and called two
services, one of which refused, prints (``OTEL_SERVICE_NAME=shop``)::

    codetrace: trace 4bf92f3577b34da6a3ce929d0e0e4736  service=shop  3 spans  152.3ms  remote parent 00f067aa0ba902b7
      +0.000ms  152.3ms  |████████████████████████|  GET /orders/{id}  SERVER ERROR  url.path=/orders/42 http.response.status_code=500
      +1.200ms  40.10ms  |███████                 |  ├─ GET  CLIENT  url.full=http://inventory/items/42 http.response.status_code=200
      +45.00ms  100.0ms  |       ████████████████ |  └─ GET  CLIENT ERROR "ConnectionError: refused"  url.full=http://pricing/42 error.type=ConnectionError

The header names the trace, the service (``service.name`` of the resource), the number of spans,
the root's duration, and the remote parent when the trace came from another process. Each line
is a span: its start offset from the root, its duration, a bar placing it in the root's time,
the tree, its name, kind, status (``OK``, or ``ERROR`` and its message; nothing when unset),
and a few key attributes (the URL, status code, database, query, ``error.type``; for other spans
their first attributes), long values shortened. Children are indented under their parent in
start order. On a stream that cannot encode the box-drawing characters (an ASCII terminal) the
tree and bars are drawn with ``|-``, ```-`` and ``#``.

When the trees are printed: a span whose parent is in this process waits for it; the trace's
*local root* (a span with no parent, or a remote parent, or one whose parent was printed
already, such as a task that outlived the request that started it) prints its whole subtree
when it ends. A trace of one span prints one line, with its ids::

    codetrace: 0.412ms  SELECT orders  CLIENT  db.system.name=sqlite db.query.text='SELECT * FROM orders WHERE id = ?'  trace=0af7651916cd43dd8448eb211c80319c span=b7ad6b7169203331

Memory is bounded: at most 1,000 spans wait per trace, 1,000 traces and 10,000 spans in all;
past those, the oldest trace waiting (or the trace that overflowed) is printed as it stands, one
line per span, and its later spans follow one line each. Whatever still waits when the exporter
shuts down (at interpreter exit, or on ``configure()``/``reset()``) is printed the same way, and
in a forked child the parent's waiting spans are dropped (the parent prints them).

The OpenTelemetry SDK's console exporter prints one JSON document per span; this one is for
people (the JSON-lines and OTLP exporters are for tools).
"""  # noqa: E501 - the example lines are as wide as the output

from __future__ import annotations

import sys

from ._fork import LockedAcrossFork
from ._resource import resource_attributes
from ._values import KIND_NAMES, STATUS_NAMES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import IO

    from ._span import Span

MAX_SPANS_PER_TRACE = 1000
MAX_TRACES = 1000
MAX_SPANS = 10_000
REMEMBERED_SPANS = 10_000
"""How many printed span ids are kept, to know a late child's parent was printed already."""

BAR_WIDTH = 24
MAX_VALUE_CHARS = 60
MAX_SHOWN_ATTRIBUTES = 4

# Shown first, in this order, when a span has them; ``error.type`` is always shown.
_KEY_ATTRIBUTES = (
    "url.full",
    "url.path",
    "http.response.status_code",
    "db.system.name",
    "db.namespace",
    "db.query.text",
    "rpc.system",
    "rpc.method",
    "messaging.system",
    "messaging.destination.name",
    "server.address",
    "server.port",
)
# A URL says where the request went (or, on a server, which path it served).
_HIDDEN_BY = {
    "url.full": ("url.path", "server.address", "server.port"),
    "url.path": ("server.address", "server.port"),
}
# Namespaces of the semantic conventions: what they hold is either a key attribute above or
# detail (user agent, peer address, scheme) that a one-line summary leaves out.
_CONVENTION_PREFIXES = (
    "http.",
    "url.",
    "server.",
    "client.",
    "network.",
    "user_agent.",
    "db.",
    "rpc.",
    "messaging.",
    "error.",
    "exception.",
    "code.",
    "thread.",
)


class _Glyphs:
    """How a tree and its bars are drawn."""

    __slots__ = ("bar", "branch", "last", "pipe", "space")

    def __init__(self, branch: str, last: str, pipe: str, bar: str) -> None:
        self.branch, self.last, self.pipe, self.bar = branch, last, pipe, bar
        self.space = "   "


_UNICODE = _Glyphs("├─ ", "└─ ", "│  ", "█")
_ASCII = _Glyphs("|- ", "`- ", "|  ", "#")


def glyphs_for(stream: object) -> _Glyphs:
    """Box-drawing glyphs if ``stream`` can encode them (a stream without an encoding, such
    as ``io.StringIO``, takes any text), else ASCII ones."""
    encoding = getattr(stream, "encoding", None)
    if not isinstance(encoding, str):
        return _UNICODE
    try:
        "├─│└█".encode(encoding)
    except (LookupError, UnicodeError):
        return _ASCII
    return _UNICODE


def format_duration(ns: int) -> str:
    """A duration people read at a glance: ``0.412ms``, ``40.10ms``, ``152.3ms``, ``12.03s``."""
    ms = ns / 1e6
    if ms < 10:
        return f"{ms:.3f}ms"
    if ms < 100:
        return f"{ms:.2f}ms"
    if ms < 1000:
        return f"{ms:.1f}ms"
    seconds = ms / 1000
    return f"{seconds:.2f}s" if seconds < 100 else f"{seconds:.1f}s"


def _offset(ns: int) -> str:
    return ("-" if ns < 0 else "+") + format_duration(abs(ns))


def _short(value: object) -> str:
    """One attribute value on one line, at most ``MAX_VALUE_CHARS``, quoted if it has spaces."""
    if isinstance(value, list):
        text = "[" + ", ".join(str(item) for item in value) + "]"
    else:
        text = str(value)
    text = " ".join(text.split())
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 3] + "..."
    if not text or " " in text or "'" in text or '"' in text:
        return repr(text)
    return text


def key_attributes(attributes: Mapping[str, object]) -> list[tuple[str, object]]:
    """The attributes a line shows: key ones first (see ``_KEY_ATTRIBUTES``), then, up to
    ``MAX_SHOWN_ATTRIBUTES``, the span's own (not semantic-convention detail); ``error.type``
    always, unless it is the status code again."""
    hidden: set[str] = set()
    shown: list[tuple[str, object]] = []
    for key in _KEY_ATTRIBUTES:
        if key in attributes and key not in hidden and len(shown) < MAX_SHOWN_ATTRIBUTES:
            shown.append((key, attributes[key]))
            hidden.update(_HIDDEN_BY.get(key, ()))
    for key, value in attributes.items():
        if len(shown) >= MAX_SHOWN_ATTRIBUTES:
            break
        if isinstance(key, str) and not key.startswith(_CONVENTION_PREFIXES):
            shown.append((key, value))
    error = attributes.get("error.type")
    if error is not None and str(error) != str(attributes.get("http.response.status_code")):
        shown.append(("error.type", error))  # unless it only repeats the status code
    return shown


def _message(message: str) -> str:
    text = " ".join(message.split())
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 3] + "..."
    return '"' + text.replace('"', "'") + '"'


def describe(span: Span) -> str:
    """Name, kind, status, key attributes and events: a line's text after its times."""
    state = KIND_NAMES.get(span.kind, "INTERNAL")
    if span.status_code:
        state += " " + STATUS_NAMES.get(span.status_code, "UNSET")
        if span.status_message:
            state += " " + _message(span.status_message)
    parts = [span.name or "(unnamed)", state]
    shown = " ".join(f"{key}={_short(value)}" for key, value in key_attributes(span.attributes))
    if shown:
        parts.append(shown)
    events = [event.name for event in span.events if event.name != "exception"]
    if events:
        more = f",+{len(events) - 3}" if len(events) > 3 else ""
        parts.append("events=" + ",".join(events[:3]) + more)
    return "  ".join(parts)


def flat_line(span: Span) -> str:
    """One span on one line, with the ids that tie it to its trace."""
    ids = f"trace={span.trace_id:032x} span={span.span_id:016x}"
    if span.parent_id:
        ids += f" parent={span.parent_id:016x}"
    return f"codetrace: {format_duration(span.duration_ns)}  {describe(span)}  {ids}\n"


def format_tree(root: Span, spans: Iterable[Span], service: str, glyphs: _Glyphs) -> str:
    """The tree of ``root`` and its descendants ``spans``: a header and one line per span."""
    children: dict[int, list[Span]] = {}
    count = 1
    for span in spans:
        children.setdefault(span.parent_id, []).append(span)
        count += 1
    for siblings in children.values():
        siblings.sort(key=lambda span: (span.start_ns, span.end_ns))
    start = root.start_ns
    total = max(root.end_ns - start, 1)
    rows: list[tuple[str, str, str, str]] = []
    # Depth first, without recursion: a trace may nest deeper than Python's recursion limit.
    stack: list[tuple[Span, str, str]] = [(root, "", "")]
    while stack:
        span, prefix, connector = stack.pop()
        offset = span.start_ns - start
        left = min(max(offset * BAR_WIDTH // total, 0), BAR_WIDTH - 1)
        end = -(-(offset + span.duration_ns) * BAR_WIDTH // total)  # rounded up
        right = min(max(end, left + 1), BAR_WIDTH)
        bar = " " * left + glyphs.bar * (right - left) + " " * (BAR_WIDTH - right)
        text = prefix + connector + describe(span)
        rows.append((_offset(offset), format_duration(span.duration_ns), bar, text))
        kids = children.get(span.span_id, ())
        if not connector:
            below = ""
        elif connector == glyphs.branch:
            below = prefix + glyphs.pipe
        else:
            below = prefix + glyphs.space
        for index in range(len(kids) - 1, -1, -1):
            last = index == len(kids) - 1
            stack.append((kids[index], below, glyphs.last if last else glyphs.branch))
    header = f"codetrace: trace {root.trace_id:032x}  service={service}  {count} spans  "
    header += format_duration(root.duration_ns)
    if root.is_remote_parent and root.parent_id:
        header += f"  remote parent {root.parent_id:016x}"
    elif root.parent_id:
        header += f"  continues span {root.parent_id:016x}"
    offset_width = max(len(row[0]) for row in rows)
    duration_width = max(len(row[1]) for row in rows)
    lines = [header]
    for offset_text, duration_text, bar, text in rows:
        lines.append(
            f"  {offset_text:>{offset_width}}  {duration_text:>{duration_width}}  |{bar}|  {text}"
        )
    return "\n".join(lines) + "\n"


class ConsoleSpanExporter(LockedAcrossFork):
    """Print finished traces as trees to ``stream`` (default: the ``sys.stderr`` of the moment).

    See the module docstring for the format, when a tree is printed and the memory bounds.
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        # Read here, not while exporting: reading the resource may import and log.
        self._service = str(resource_attributes().get("service.name", "unknown_service"))
        self._waiting: dict[int, dict[int, Span]] = {}  # trace id -> span id -> span, end order
        self._waiting_count = 0
        self._printed: dict[int, None] = {}  # span ids printed lately (oldest first)
        self._flat: dict[int, None] = {}  # traces printed as they stood: later spans go flat
        self._init_fork_lock()

    def export(self, spans: Sequence[Span]) -> bool:
        stream = self._stream if self._stream is not None else sys.stderr
        with self._lock:
            glyphs = glyphs_for(stream)
            text = "".join([self._take(span, glyphs) for span in spans])
            if text and stream is not None:  # no stderr (pythonw, daemons): nowhere to write
                stream.write(text)
                stream.flush()
        return True

    def shutdown(self) -> None:
        """Print whatever still waits for its local root, one line per span."""
        stream = self._stream if self._stream is not None else sys.stderr
        with self._lock:
            text = "".join([self._release(trace_id) for trace_id in list(self._waiting)])
            if text and stream is not None:
                stream.write(text)
                stream.flush()

    def _after_fork_in_child(self) -> None:
        """A fresh lock, and none of the parent's waiting spans (the parent prints them)."""
        super()._after_fork_in_child()
        self._waiting = {}
        self._waiting_count = 0

    # -- bookkeeping (under the lock) ----------------------------------------------------------

    def _take(self, span: Span, glyphs: _Glyphs) -> str:
        """What to print now that ``span`` ended (often nothing: it waits for its root)."""
        trace_id = span.trace_id
        if trace_id in self._flat:
            self._remember(span.span_id)
            return flat_line(span)
        parent = span.parent_id
        if parent and not span.is_remote_parent and parent not in self._printed:
            return self._wait(span)
        waiting = self._waiting.get(trace_id)
        below = self._subtree(span, waiting) if waiting else []
        if waiting is not None and not waiting:
            del self._waiting[trace_id]
        for descendant in below:
            self._remember(descendant.span_id)
        self._remember(span.span_id)
        if not below:
            return flat_line(span)
        return format_tree(span, below, self._service, glyphs)

    def _wait(self, span: Span) -> str:
        """Keep ``span`` until its local root ends; what the bounds make us print instead."""
        out = ""
        waiting = self._waiting.get(span.trace_id)
        if waiting is None:
            if len(self._waiting) >= MAX_TRACES:
                out += self._release(next(iter(self._waiting)))
            waiting = self._waiting[span.trace_id] = {}
        elif len(waiting) >= MAX_SPANS_PER_TRACE:
            out += self._release(span.trace_id)
            self._remember(span.span_id)
            return out + flat_line(span)
        waiting[span.span_id] = span
        self._waiting_count += 1
        while self._waiting_count > MAX_SPANS:
            out += self._release(next(iter(self._waiting)))
        return out

    def _subtree(self, root: Span, waiting: dict[int, Span]) -> list[Span]:
        """The descendants of ``root`` among ``waiting``, taken out of it."""
        children: dict[int, list[Span]] = {}
        for span in waiting.values():
            children.setdefault(span.parent_id, []).append(span)
        found: list[Span] = []
        stack = [root.span_id]
        while stack:
            for child in children.pop(stack.pop(), ()):
                found.append(child)
                stack.append(child.span_id)
        for span in found:
            del waiting[span.span_id]
        self._waiting_count -= len(found)
        return found

    def _release(self, trace_id: int) -> str:
        """Print a waiting trace as it stands, one line per span; its later spans go flat."""
        waiting = self._waiting.pop(trace_id, {})
        self._waiting_count -= len(waiting)
        self._flat[trace_id] = None
        if len(self._flat) > MAX_TRACES:
            del self._flat[next(iter(self._flat))]
        for span_id in waiting:
            self._remember(span_id)
        return "".join([flat_line(span) for span in waiting.values()])

    def _remember(self, span_id: int) -> None:
        printed = self._printed
        printed[span_id] = None
        if len(printed) > REMEMBERED_SPANS:
            del printed[next(iter(printed))]

    def __repr__(self) -> str:
        return f"ConsoleSpanExporter({self._stream!r})"
