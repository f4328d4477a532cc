"""HTTP semantic-convention helpers: URL redaction, server address/port, methods."""

from __future__ import annotations

import pytest

from codetrace.runtime._http import host_and_port, method_attributes, redact_url, split_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.example.com/", "https://www.example.com/"),
        ("https://user:pw@www.example.com/", "https://REDACTED:REDACTED@www.example.com/"),
        ("https://user@www.example.com/a?b#c", "https://REDACTED:REDACTED@www.example.com/a?b#c"),
        ("http://a:b@c@host:8080", "http://REDACTED:REDACTED@host:8080"),
        ("https://h/p?q=OpenTelemetry&sig=abc", "https://h/p?q=OpenTelemetry&sig=REDACTED"),
        (
            "https://s3/o?AWSAccessKeyId=AK&Signature=S&Expires=1",
            "https://s3/o?AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=1",
        ),
        ("https://g/o?X-Goog-Signature=x#frag", "https://g/o?X-Goog-Signature=REDACTED#frag"),
        # keys match in any case, and beyond the conventions' list (tests/runtime/test_redact.py)
        ("https://h/p?SIG=x&signature=y", "https://h/p?SIG=REDACTED&signature=REDACTED"),
        ("https://h/p?sig", "https://h/p?sig"),
        ("https://h/p?a=1#x?sig=1", "https://h/p?a=1#x?sig=REDACTED"),  # fragments too
        ("https://h/p?q=%20x&sig=a%2Fb", "https://h/p?q=%20x&sig=REDACTED"),
        ("not a url", "not a url"),
        ("http://[::1]:8000/x", "http://[::1]:8000/x"),
        ("http://[broken/x?sig=1", "http://[broken/x?sig=REDACTED"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("http://example.com/x", "example.com", 80),
        ("https://example.com", "example.com", 443),
        ("HTTPS://example.com", "example.com", 443),
        ("http://example.com:8080/x", "example.com", 8080),
        ("http://u:p@example.com:81", "example.com", 81),
        ("http://[::1]:8000/", "::1", 8000),
        ("http://[::1]/", "::1", 80),
        ("ftp://example.com", "example.com", None),
        ("http://example.com:99999", "example.com", None),
        ("http://example.com:x", "example.com", None),
        ("http://[::1", None, None),
    ],
)
def test_host_and_port(url: str, host: str | None, port: int | None) -> None:
    parts = split_url(url)
    assert parts is not None
    assert host_and_port(parts[1], parts[0]) == (host, port)


@pytest.mark.parametrize("url", ["", "/relative", "example.com", "://x", "1http://x"])
def test_split_url_rejects_non_absolute(url: str) -> None:
    assert split_url(url) is None


def test_method_attributes() -> None:
    attributes: dict[str, object] = {}
    assert method_attributes("GET", attributes) == "GET"
    assert attributes == {"http.request.method": "GET"}
    attributes = {}
    assert method_attributes("PROPFIND", attributes) == "HTTP"
    assert attributes == {
        "http.request.method": "_OTHER",
        "http.request.method_original": "PROPFIND",
    }
