import requests
import codetrace.runtime as _codetrace

handler = lambda url: _codetrace.traced(requests.get, "requests.send")(url)
results = [_codetrace.traced(requests.get, "requests.send")(u).status_code for u in ("a", "b")]
table = {u: _codetrace.traced(requests.head, "requests.send")(u) for u in ("c",)}


def with_default(url, response=_codetrace.traced(requests.get, "requests.send")("http://example.invalid/warmup")):
    return response


def conditional(url, fast):
    return _codetrace.traced(requests.head, "requests.send")(url) if fast else _codetrace.traced(requests.get, "requests.send")(url)


def in_fstring(url):
    return f"{_codetrace.traced(requests.get, 'requests.send')(url).status_code} {url}"


def in_fstring_single(url):
    return f'{_codetrace.traced(requests.get, "requests.send")(url).status_code}'


def parenthesised(url):
    return _codetrace.traced((requests.get), "requests.send")(url)


class Client:
    default = _codetrace.traced(requests.get, "requests.send")("http://example.invalid/config")
