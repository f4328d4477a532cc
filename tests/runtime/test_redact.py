"""Credentials never leave the process: URLs on spans, and exception text recorded on spans.

Every documented default key is swept through every form a URL can spell it in (case,
percent-encoding, ``;`` separators, repeats, fragments, path parameters), and through the
exception text a failing call records (message, stack trace, status message). The redaction
rules are in ``codetrace/runtime/_redact.py`` and ``docs/runtime-contract.md``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import requests

import codetrace.runtime as rt
from codetrace.runtime._http import redact_query, redact_url

SECRET = "Zq9SECRETvalue"

# The semantic conventions' list (url.query / url.full, v1.42), then codetrace's wider default
# list: one example key for each documented name or pattern.
SPEC_KEYS = [
    "AWSAccessKeyId",
    "Signature",
    "sig",
    "X-Goog-Signature",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
]
WIDER_KEYS = [
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "csrftoken",
    "api_key",
    "apikey",
    "apiKey",
    "x-api-key",
    "key",
    "password",
    "db_password",
    "passwd",
    "pwd",
    "pass",
    "secret",
    "client_secret",
    "secret_key",
    "signature",
    "hmac_sig",
    "X-Goog-Credential",
    "credentials",
    "auth",
    "authorization",
    "jwt",
    "session",
    "sessionid",
    "JSESSIONID",
    "access_key",
    "private_key",
]
ALL_KEYS = SPEC_KEYS + WIDER_KEYS

# Parameters that must stay byte for byte (AWS's non-secret SigV2/SigV4 companions included).
KEPT = "q=Open%20Telemetry&page=2&SignatureVersion=2&X-Amz-Date=20240101T000000Z&keyboard=de"


def _percent(key: str) -> str:
    return "".join(f"%{ord(c):02X}" for c in key)


def _forms(key: str) -> list[tuple[str, str]]:
    """``(url, redacted key as written)`` for each way a URL can carry ``key=SECRET``."""
    first = f"%{ord(key[0]):02X}{key[1:]}"
    return [
        (f"https://h.example/p?{KEPT}&{key}={SECRET}", key),
        (f"https://h.example/p?{key}={SECRET}&{KEPT}", key),
        (f"https://h.example/p?{key.upper()}={SECRET}", key.upper()),
        (f"https://h.example/p?{key.lower()}={SECRET}#frag", key.lower()),
        (f"https://h.example/p?{first}={SECRET}", first),
        (f"https://h.example/p?{_percent(key)}={SECRET}", _percent(key)),
        (f"https://h.example/p?a=1;{key}={SECRET};b=2", key),
        (f"https://h.example/p?{key}={SECRET}&{key}={SECRET}2", key),
        (f"https://h.example/p?{key}={SECRET};more&x=1", key),
        (f"https://h.example/p#{key}={SECRET}&state=x", key),
        (f"https://h.example/p#/callback?{key}={SECRET}&state=x", key),
        (f"https://h.example/app;{key}={SECRET}/next?x=1", key),
        (f"https://user:pw@h.example:8443/p?{key}={SECRET}", key),
        (f"/relative/path?{key}={SECRET}", key),
    ]


CASES = [(key, url, written) for key in ALL_KEYS for url, written in _forms(key)]


@pytest.mark.parametrize(("key", "url", "written"), CASES)
def test_every_default_key_in_every_form_is_redacted(key: str, url: str, written: str) -> None:
    redacted = redact_url(url)
    assert SECRET not in redacted
    assert f"{written}=REDACTED" in redacted  # the key stays, in place, as written
    if KEPT in url:
        assert KEPT in redacted  # everything else byte for byte
    assert "pw@" not in redacted


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://h/p?sig", "https://h/p?sig"),  # no value: nothing to hide
        ("https://h/p?token=&x=1", "https://h/p?token=&x=1"),  # an empty value stays empty
        ("https://h/p?" + KEPT, "https://h/p?" + KEPT),
        ("https://h/p?a=1&monkey=2&keys=3", "https://h/p?a=1&monkey=2&keys=3"),
        ("https://h/p#section-2", "https://h/p#section-2"),
        ("https://u@h/", "https://REDACTED:REDACTED@h/"),
        ("https://u:p@ss@h/", "https://REDACTED:REDACTED@h/"),
        (
            "https://s3/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F2024"
            "&X-Amz-Date=20240101T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=abc123",
            "https://s3/o?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED"
            "&X-Amz-Date=20240101T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=REDACTED",
        ),
    ],
)
def test_what_is_kept(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_a_url_without_parameters_or_userinfo_is_returned_as_is() -> None:
    url = "https://api.example.com/v1/items/42"
    assert redact_url(url) is url


def test_url_query_of_a_server_span() -> None:
    assert redact_query(f"a=1;token={SECRET}&Token={SECRET}&b") == (
        "a=1;token=REDACTED&Token=REDACTED&b"
    )


# -- exception text ----------------------------------------------------------------------------


def _text_forms(key: str) -> list[str]:
    return [
        f"GET https://h.example/o?{key}={SECRET} failed",
        f"Max retries exceeded with url: /o?X=1&{key}={SECRET} (Caused by refusal)",
        f"url='https://h.example/o?{key}={SECRET}'",
        f"connect failed: host=db {key}={SECRET} port=5432",
        f"connect failed: {key}='{SECRET}' host=db",
        f"fragment https://h.example/cb#{key}={SECRET}&state=1",
        f"encoded ?{_percent(key)}={SECRET}",
    ]


TEXT_CASES = [(key, text) for key in ALL_KEYS for text in _text_forms(key)]


def _recorded_text(span: rt.Span) -> str:
    event_values = [str(value) for event in span.events for value in event.attributes.values()]
    return "\n".join([span.status_message, *event_values])


@pytest.mark.parametrize(("key", "text"), TEXT_CASES)
def test_exception_text_is_scrubbed(key: str, text: str, exporter: rt.InMemorySpanExporter) -> None:
    error = ConnectionError(text)
    with pytest.raises(ConnectionError) as raised, rt.span("call"):
        raise error
    assert raised.value is error and str(error) == text  # the application's exception untouched
    (span,) = exporter.get_finished_spans()
    recorded = _recorded_text(span)
    assert SECRET not in recorded
    assert "=REDACTED" in recorded
    assert span.events[0].attributes["exception.type"] == "ConnectionError"


def test_credentials_in_urls_of_exception_text(exporter: rt.InMemorySpanExporter) -> None:
    with pytest.raises(ValueError), rt.span("call"):
        raise ValueError(f"cannot reach postgresql://app:{SECRET}@db:5432/shop")
    (span,) = exporter.get_finished_spans()
    assert SECRET not in _recorded_text(span)
    assert "postgresql://REDACTED:REDACTED@db:5432/shop" in _recorded_text(span)


def test_plain_exception_text_is_kept(exporter: rt.InMemorySpanExporter) -> None:
    with pytest.raises(ValueError), rt.span("call"):
        raise ValueError("x == 1 and y=2 at https://h.example/p?page=3")
    (span,) = exporter.get_finished_spans()
    message = span.events[0].attributes["exception.message"]
    assert message == "x == 1 and y=2 at https://h.example/p?page=3"


@pytest.mark.parametrize("key", ["X-Amz-Signature", "X-Amz-Credential", "access_token", "sig"])
def test_a_refused_connection_does_not_record_the_signed_url(
    key: str, refused_url: str, exporter: rt.InMemorySpanExporter
) -> None:
    url = f"{refused_url}?{key}={SECRET}&X-Amz-Date=20240101"
    with pytest.raises(requests.exceptions.ConnectionError) as raised:
        rt.traced(requests.get, "requests.send")(url, timeout=5)
    assert SECRET in str(raised.value)  # requests puts it in the message: we must not
    (span,) = exporter.get_finished_spans()
    assert span.attributes["error.type"] == "requests.exceptions.ConnectionError"
    assert SECRET not in str(span.attributes["url.full"])
    recorded = _recorded_text(span)
    assert SECRET not in recorded
    assert f"{key}=REDACTED" in recorded


# -- configuration -----------------------------------------------------------------------------

ENV = "OTEL_INSTRUMENTATION_SANITIZATION_URL_EXPERIMENTAL_SENSITIVE_QUERY_PARAMETERS"


def _in_a_process(value: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "CODETRACE_"))}
    if value is not None:
        env[ENV] = value
    code = """
        from codetrace.runtime._http import redact_url
        from codetrace.runtime._redact import scrub_text
        print(redact_url("https://u:p@h/p?foo=1&xbar=2&token=3&Signature=4"))
        print(scrub_text("failed: https://h/p?foo=1&token=3"))
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.splitlines()


def test_the_environment_variable_replaces_the_list() -> None:
    default, custom, nothing = (
        _in_a_process(None),
        _in_a_process("foo, *BAR"),
        _in_a_process("none"),
    )
    assert default == [
        "https://REDACTED:REDACTED@h/p?foo=1&xbar=2&token=REDACTED&Signature=REDACTED",
        "failed: https://h/p?foo=1&token=REDACTED",
    ]
    assert custom == [  # a full override, as the semantic conventions say
        "https://REDACTED:REDACTED@h/p?foo=REDACTED&xbar=REDACTED&token=3&Signature=4",
        "failed: https://h/p?foo=REDACTED&token=3",
    ]
    assert nothing == [  # userinfo is always redacted (url.full MUST NOT carry it)
        "https://REDACTED:REDACTED@h/p?foo=1&xbar=2&token=3&Signature=4",
        "failed: https://h/p?foo=1&token=3",
    ]


def test_a_changed_list_takes_effect_at_once() -> None:
    from codetrace.runtime._http import describe_url
    from codetrace.runtime._redact import scrub_text, use_sensitive_query_parameters

    url = "https://h/p?foo=1&token=2"
    assert describe_url(url)[0] == "https://h/p?foo=1&token=REDACTED"  # now cached
    try:
        use_sensitive_query_parameters(["foo", "x-*"])
        assert describe_url(url)[0] == "https://h/p?foo=REDACTED&token=2"
        assert scrub_text("at /p?X-Trace=1&token=2") == "at /p?X-Trace=REDACTED&token=2"
        use_sensitive_query_parameters(["*"])
        assert describe_url(url)[0] == "https://h/p?foo=REDACTED&token=REDACTED"
    finally:
        use_sensitive_query_parameters(None)
    assert describe_url(url)[0] == "https://h/p?foo=1&token=REDACTED"
