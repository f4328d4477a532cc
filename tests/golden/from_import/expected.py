from requests import get, request as send
import codetrace.runtime as _codetrace


def fetch(url):
    first = _codetrace.traced(get, "requests.send")(url)
    second = _codetrace.traced(send, "requests.send")("PATCH", url, data=b"x")
    return first, second
